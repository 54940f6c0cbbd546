"""Every printed equation evaluates to the number it states.

A worked example is a list of equations ``lhs = step = step = result``.  Each
step is taken as the reader sees it, in plain text, and evaluated by the
usual precedence (Python's, with ``^`` a power): numbers as printed, and
each symbol replaced by the number the document prints for it (its defining
equation's result), or, for the givens (weights, inputs, targets, eta), by
its value.  The evaluation uses interval arithmetic: every printed number
stands for the interval of numbers that print that way, so the cancellation
in a sum or the rounding of a long product never hides, and never fakes, a
wrong line.  Hand-calculation mode (--round) allows the rounding of the result and of
each intermediate result (one operation: the result's rounding only).

Bundled configs and random networks (every activation and loss, shared /
per-neuron / absent biases, several samples and batches, --round, several
--digits) are checked, and so are LaTeX and MathML: no negative number
follows an operator unparenthesised, and MathML has one minus sign.
"""

from __future__ import annotations

import ast
import math
import re
from typing import NamedTuple

import pytest
from conftest import CONFIGS, net_of, networks
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stepprop import config, names, ops, rounding, worked
from stepprop.document import Document, Eq
from stepprop.errors import TrainingDiverged
from stepprop.expr import D, Neg, Num, Sym, Via, segments, substitute, symbols
from stepprop.network import Net
from stepprop.step import StepTrace, step, steps
from stepprop.views.html import mathml
from stepprop.views.latex import tex

# ------------------------------------------------------ interval arithmetic --


class Interval(NamedTuple):
    lo: float
    hi: float

    @property
    def mid(self) -> float:
        return (self.lo + self.hi) / 2


def _number(text: str, digits: int) -> Interval:
    """Every number that prints as ``text`` to ``digits`` significant digits
    (trailing zeros dropped: '1' may be 0.99996)."""
    x = float(text)
    written = len(text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0"))
    u = 0.5 * 10 ** (1 - max(digits, written)) * abs(x)  # printed with every digit where it must be
    return Interval(x - u, x + u)


def _mul(a: Interval, b: Interval) -> Interval:
    products = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return Interval(min(products), max(products))


def _pow(a: Interval, n: int) -> Interval:
    ends = [a.lo**n, a.hi**n]
    if n % 2 == 0 and a.lo <= 0 <= a.hi:
        return Interval(0.0, max(ends))
    return Interval(min(ends), max(ends))


def _constant(node: ast.AST) -> int | float | None:
    """A printed power: a number, or minus a number (x^-1, x^0.5)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant(node.operand)
        return None if inner is None else -inner
    return None


def _real_pow(a: Interval, p: float) -> Interval:
    """a^p for a negative or fractional power (an expression's x^-1, x^0.5):
    monotone where it has a value (a > 0, or a of one sign for a whole power)."""
    if a.lo <= 0 <= a.hi and (p < 0 or p != int(p)):
        return Interval(-math.inf, math.inf)  # (a pole inside, or no real value: says nothing)
    ends = [math.copysign(abs(x) ** p, x) if p == int(p) and int(p) % 2 else abs(x) ** p for x in (a.lo, a.hi)]
    return Interval(min(ends), max(ends))


class Overflow(Exception):
    """A step whose numbers overflow floating point: it cannot be checked this way."""


def _monotone(f) -> callable:
    def apply(a: Interval) -> Interval:
        try:
            return Interval(f(a.lo), f(a.hi))
        except OverflowError:
            raise Overflow from None

    return apply


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _abs(a: Interval) -> Interval:
    if a.lo <= 0 <= a.hi:
        return Interval(0.0, max(-a.lo, a.hi))
    return Interval(min(abs(a.lo), abs(a.hi)), max(abs(a.lo), abs(a.hi)))


def _sign(x: float) -> float:
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


FUNCTIONS = {
    "log": _monotone(_log),
    "tanh": _monotone(math.tanh),
    "exp": _monotone(math.exp),
    "abs": _abs,  # (the mean absolute error, the Huber loss)
    "sign": _monotone(_sign),  # (their derivatives: non-decreasing, so monotone)
    "sqrt": _monotone(math.sqrt),  # (RMSprop's and Adam's step)
}


class Evaluator:
    """Evaluates printed arithmetic over intervals; also counts its operations."""

    def __init__(self, digits: int, values: dict[str, Interval]):
        self.digits = digits
        self.values = values
        self.ops = 0
        self.biggest = 0.0  # the largest magnitude met on the way (for float slack)
        self.text = ""  # the text evaluated (its numbers as printed)

    def __call__(self, text: str) -> Interval:
        self.text = text
        return self.walk(ast.parse(text, mode="eval").body)

    def walk(self, node: ast.AST) -> Interval:
        out = self._walk(node)
        self.biggest = max(self.biggest, abs(out.lo), abs(out.hi)) if math.isfinite(out.lo + out.hi) else self.biggest
        return out

    def _walk(self, node: ast.AST) -> Interval:
        if isinstance(node, ast.Constant):  # (as printed: 2.203e+04 has 4 digits, not repr(22030.0)'s 6)
            printed = ast.get_source_segment(self.text, node) or repr(node.value)
            return _number(node.value if isinstance(node.value, str) else printed, self.digits)
        if isinstance(node, ast.Name):
            if node.id == "E":
                return Interval(math.e, math.e)
            return self.values[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            a = self.walk(node.operand)
            return Interval(-a.hi, -a.lo)
        if isinstance(node, ast.BinOp):
            self.ops += 1
            a, b = self.walk(node.left), self.walk(node.right)
            if isinstance(node.op, ast.Add):
                return Interval(a.lo + b.lo, a.hi + b.hi)
            if isinstance(node.op, ast.Sub):
                return Interval(a.lo - b.hi, a.hi - b.lo)
            if isinstance(node.op, ast.Mult):
                return _mul(a, b)
            if isinstance(node.op, ast.Div):
                if b.lo <= 0 <= b.hi:
                    return Interval(-math.inf, math.inf)
                return _mul(a, Interval(1 / b.hi, 1 / b.lo))
            if isinstance(node.op, ast.Pow):
                if isinstance(node.left, ast.Name) and node.left.id == "E":
                    return FUNCTIONS["exp"](b)
                power = _constant(node.right)
                assert power is not None, "constant powers only"
                if isinstance(power, int) and power >= 0:
                    return _pow(a, power)
                return _real_pow(a, power)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            self.ops += 1
            args = [self.walk(a) for a in node.args]
            if node.func.id == "max":
                return Interval(max(a.lo for a in args), max(a.hi for a in args))
            if node.func.id == "min":  # (an expression's min)
                return Interval(min(a.lo for a in args), min(a.hi for a in args))
            return FUNCTIONS[node.func.id](*args)
        if isinstance(node, ast.IfExp):
            return self.walk(node.body) if self.walk(node.test).mid else self.walk(node.orelse)
        if isinstance(node, ast.Compare):
            a, b = self.walk(node.left), self.walk(node.comparators[0])
            op = node.ops[0]
            result = {
                ast.Gt: a.mid > b.mid,
                ast.GtE: a.mid >= b.mid,
                ast.Lt: a.mid < b.mid,
                ast.LtE: a.mid <= b.mid,
                ast.Eq: a.mid == b.mid,  # (max's and min's tie: 1/2 each)
            }[type(op)]
            return Interval(float(result), float(result))
        raise AssertionError(f"unexpected in a printed step: {ast.dump(node)}")


# --------------------------------------------------- reading a worked example --


def python_text(expr, digits: int, symbol: callable) -> str:
    """A printed step, as Python with the usual precedence: each symbol replaced
    by ``symbol(name)`` (a variable), ^ a power, e^x the number e to x."""
    out = []
    leaves = iter(symbols(expr))  # the symbols, in the order they are printed
    for text, kind in segments(expr, digits):
        if kind == "sym":
            out.append(symbol(next(leaves).ascii))
        else:
            out.append(text.replace("e^", "E**").replace("^", "**").replace(", else ", " else ").replace("ln", "log"))
    return "".join(out)


def printed_results(doc: Document, digits: int) -> dict[str, str]:
    """name -> the number its defining equation prints."""
    found: dict[str, str] = {}
    for eq in doc.equations():
        if eq.name and not eq.reused and isinstance(eq.rhs[-1], Num) and eq.name not in found:
            printed = "".join(t for t, _ in segments(eq.rhs[-1], digits))
            found[eq.name] = printed
            # a step that is a single symbol is the same number: delta_o1 = dE_total/dnet_o1 = ...
            for rhs in eq.rhs:
                if isinstance(rhs, (Sym, D, Via)):
                    found.setdefault(rhs.ascii, printed)
                # and minus a symbol its negative (delta_o1 = -dE_total/dnet_o1, delta: error)
                if isinstance(rhs, Neg) and isinstance(rhs.x, (Sym, D, Via)):
                    found.setdefault(rhs.x.ascii, printed[1:] if printed.startswith("-") else "-" + printed)
    return found


def problems(doc: Document, env: dict[str, float], digits: int = 9, places: int | None = None) -> list[str]:
    """Every step of every equation that does not evaluate to what the line states."""
    shown = printed_results(doc, digits)
    found = []
    for eq in doc.equations():
        values = Values(shown, env, digits)
        variables, symbol = values.variables, values.symbol

        try:
            if isinstance(eq.rhs[-1], Num):
                target = Evaluator(digits, variables)(python_text(eq.rhs[-1], digits, symbol))
            else:
                target = Evaluator(digits, variables)(python_text(eq.lhs, digits, symbol))
        except KeyError as exc:
            found.append(f"{_line(eq, digits)}: no value for {exc}")
            continue
        for k, rhs in enumerate(eq.rhs):
            if k == len(eq.rhs) - 1 and isinstance(rhs, Num):
                continue
            text = python_text(rhs, digits, symbol)
            evaluator = Evaluator(digits, variables)
            try:
                got = evaluator(text)
            except KeyError as exc:
                found.append(f"{_line(eq, digits)}: no value for {exc}")
                continue
            except Overflow:
                # e^800 / (e^800 + e^-800): true, but not in floating point; only a step of
                # symbols may be like that (a step of numbers is printed only if it evaluates)
                assert not any(isinstance(leaf, Num) for leaf in numbers_of(rhs)), _line(eq, digits)
                continue
            if not math.isfinite(got.lo + got.hi) and "not shown with numbers" in eq.note:
                continue  # an output exactly 0 in floating point (e^-1600): the line says so
            slack = 1e-12 * max(1e-300, evaluator.biggest, abs(target.lo), abs(target.hi))
            if places is not None:  # a hand calculation rounds its result, and each intermediate one
                if isinstance(places, str):  # significant figures: half a unit of the last one
                    figures = int(places[:-2])
                    size = max(abs(target.lo), abs(target.hi), 1e-300)
                    half = 0.5 * 10.0 ** (math.floor(math.log10(size)) - figures + 1)
                    # an intermediate result as large as the largest met is rounded as coarsely
                    inner = 0.5 * 10.0 ** (math.floor(math.log10(max(evaluator.biggest, size))) - figures + 1)
                    slack += half * (1 + 1e-9) + max(0, evaluator.ops - 1) * inner * max(1.0, evaluator.biggest)
                else:
                    half = 0.5 * 10.0**-places
                    slack += half * (1 + 1e-9) + max(0, evaluator.ops - 1) * half * max(1.0, evaluator.biggest)
            if got.hi + slack < target.lo or got.lo - slack > target.hi:
                found.append(f"{_line(eq, digits)}: step {k + 1} gives {got.lo:.12g}..{got.hi:.12g}")
    return found


class Values:
    """The symbols of one equation, as variables s0, s1 ... with their numbers:
    as the document prints them where they are derived, else their values."""

    def __init__(self, shown: dict[str, str], env: dict[str, float], digits: int):
        self.shown, self.env, self.digits = shown, env, digits
        self.spelled: dict[str, str] = {}
        self.variables: dict[str, Interval] = {}

    def symbol(self, name: str) -> str:
        if name not in self.spelled:
            self.spelled[name] = key = f"s{len(self.spelled)}"
            if name in self.shown:
                self.variables[key] = _number(self.shown[name], self.digits)
            else:
                self.variables[key] = Interval(self.env[name], self.env[name])
        return self.spelled[name]


def numbers_of(e) -> list:
    found: list = []
    substitute(e, lambda leaf: found.append(leaf))
    return found


def _line(eq: Eq, digits: int) -> str:
    from stepprop.views.text import equation_lines

    return " / ".join("".join(t for t, _ in line) for line in equation_lines(eq, digits))


def environment(trace: StepTrace) -> dict[str, float]:
    return names.environment(trace)


# ----------------------------------------------------------------- tests --


def _traces(net: Net, places: int | str | None = None):
    rounder = rounding.rounder(places) if places is not None else None
    if not net.config.optim.plain:  # an optimiser: consecutive steps (from the second, its state is not 0)
        yield from steps(net, 3, rounder, places)
        return
    for b in range(len(net.config.batches())):
        yield step(net, b, rounder, places)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
@pytest.mark.parametrize("places", [None, 4, "3sf"])
@pytest.mark.parametrize("digits", [9, 4, 15])
def test_bundled_configs(path, places, digits):
    net = Net(config.load(path))
    if places == 4 and net.config.optim.name in ("adam", "rmsprop"):
        # epsilon (1e-8) and Adam's small second moment round to 0 at 4 decimals: said, never a crash
        with pytest.raises(TrainingDiverged, match=r"cannot be worked out at update 1: rounded to 4 decimals"):
            list(_traces(net, places))
        return
    for trace in _traces(net, places):
        doc = worked.explain(trace)
        assert problems(doc, environment(trace), digits, places) == []
        assert problems(_whole(trace), environment(trace), digits, places) == []
        assert problems(worked.explain(trace, compact=True), environment(trace), digits, places) == []


def _whole(trace):
    """The worked example with every optional line: the gradients with respect
    to the inputs, and each parameter's change before its update."""
    return worked._Builder(trace).document(None, inputs=True, changes=True)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_named_result_is_the_recorded_number(path):
    """The number an equation states is the engine's (0 where it is 0 on paper)."""
    net = Net(config.load(path))
    for trace in _traces(net):
        known = names.checkable(trace)
        doc = _whole(trace)
        named = [eq for eq in doc.equations() if eq.name]
        assert named
        for eq in named:
            assert eq.name in known, eq.name
            last = eq.rhs[-1]
            assert isinstance(last, Num), eq
            paper_zero = last.value == 0.0 and abs(known[eq.name]) < 1e-12
            assert last.value == known[eq.name] or paper_zero, (eq.name, last.value, known[eq.name])
        # every parameter gets its derivation and its update
        defined = {eq.name for eq in named}
        for p in net.params:
            assert f"{p}+" in defined
            assert (f"dE/d{p}" if trace.graph.multi else f"dE_total/d{p}") in defined


def _check_random(text: str, batch: int, places: int | str | None, digits: int) -> None:
    net = net_of(text)
    rounder = rounding.rounder(places) if places is not None else None
    try:
        trace = step(net, batch, rounder, places)
    except TrainingDiverged:
        assume(False)
    doc = worked.explain(trace)
    assert problems(doc, environment(trace), digits, places) == []
    _check_notation(doc, digits)
    assert problems(_whole(trace), environment(trace), digits, places) == []
    if trace.graph.multi:
        # the other samples by the delta rule alone (as in a batch of more than 10)
        brief = worked.explain(trace, samples=trace.graph.sample_numbers[-1] + 1)
        assert any(s.title.endswith("by the delta rule") for s in _sections(brief))
        assert problems(brief, environment(trace), digits, places) == []


def _sections(doc: Document) -> list:
    out, todo = [], list(doc.sections)
    while todo:
        section = todo.pop()
        out.append(section)
        todo += [item for item in section.items if hasattr(item, "items")]
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_samples=3), st.sampled_from([None, None, 3, "3sf"]), st.sampled_from([9, 6]))
def test_random_networks(case, places, digits):
    _check_random(*case, places, digits)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.sampled_from([None, 2, 4, 6, "2sf", "4sf"]), st.sampled_from([9, 4, 12]))
def test_random_networks_many(case, places, digits):
    _check_random(*case, places, digits)


# ------------------------------------------------ LaTeX and MathML notation --

_LATEX_OPERATOR_THEN_MINUS = re.compile(r"(?:[+\-/]|\\cdot|\\geq|>)\s*-\s*[\d\\]")
_LATEX_NEGATIVE_BASE = re.compile(r"\{-[^{}]*\}\^")
_MATHML_OPERATOR_THEN_MINUS = re.compile(r"<mo>[+−·/]</mo>(?:<mrow>)*<mo>−</mo>")


def _check_notation(doc: Document, digits: int) -> None:
    for eq in doc.equations():
        for e in [eq.lhs, *eq.rhs]:
            latex = tex(e, digits)
            assert not _LATEX_OPERATOR_THEN_MINUS.search(latex), latex
            assert not _LATEX_NEGATIVE_BASE.search(latex), latex
            html = mathml(e, digits)
            assert "<mn>-" not in html and "<mo>-</mo>" not in html, html
            assert not _MATHML_OPERATOR_THEN_MINUS.search(html), html


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_latex_and_mathml_parenthesise_negative_numbers(path):
    for trace in _traces(Net(config.load(path))):
        _check_notation(worked.explain(trace), 9)


# --------------------------------------------- the checks can fail ----------


TANH_NET = """
inputs: [0.5, -1.0]
targets: [0.2]
eta: 0.5
layers:
  - {weights: [[0.3, 0.4], [-0.2, 0.6]], bias: 0.1, activation: tanh}
  - {weights: [[0.7, -0.5]], bias: 0.2}
"""


def test_the_issues_false_line_would_be_caught():
    """'1 - -0.244918662^2 = 0.940014849' evaluates to 1.06 by the usual precedence."""
    stated = 1 - 0.244918662**2
    got = Evaluator(9, {})(python_text_of("1 - -0.244918662^2"))
    assert not (got.lo <= stated <= got.hi)
    got = Evaluator(9, {})(python_text_of("1 - (-0.244918662)^2"))
    assert got.lo <= stated <= got.hi


def python_text_of(text: str) -> str:
    return text.replace("e^", "E**").replace("^", "**")


@pytest.mark.parametrize("op_name", ["sigmoid", "softmax", "cross_entropy", "binary_cross_entropy"])
def test_a_wrong_printed_formula_is_caught(op_name, monkeypatch):
    """Where the printed formula is not the computed one (an overflow-safe form,
    a value taken from the net inputs), a wrong printed formula is a false line."""
    op = ops.OPS[op_name]
    texts = {
        "sigmoid": TANH_NET.replace("bias: 0.2}", "bias: 0.2, activation: sigmoid}"),
        "softmax": "inputs: [0.5, -1.0]\ntargets: [1, 0]\neta: 0.5\nloss: cross_entropy\n"
        "layers:\n  - {weights: [[0.3, 0.4], [-0.2, 0.6]], bias: 0.1, activation: softmax}\n",
        "cross_entropy": "inputs: [0.5, -1.0]\ntargets: [1, 0]\neta: 0.5\nloss: cross_entropy\n"
        "layers:\n  - {weights: [[0.3, 0.4], [-0.2, 0.6]], bias: 0.1, activation: softmax}\n",
        "binary_cross_entropy": "inputs: [0.5, -1.0]\ntargets: [0.3]\neta: 0.5\nloss: binary_cross_entropy\n"
        "layers:\n  - {weights: [[0.3, 0.4]], bias: 0.1}\n",
    }
    trace = step(net_of(texts[op_name]))
    assert problems(worked.explain(trace), environment(trace)) == []
    original = op.formula
    monkeypatch.setattr(op, "formula", lambda args, attrs: original(args, attrs) * 1.01)
    assert problems(worked.explain(trace), environment(trace)) != []


def test_a_wrong_derivative_is_caught_by_finite_differences(monkeypatch):
    """tanh's printed derivative is the one the engine computes: a wrong one
    makes every printed line consistent but the gradients wrong, which
    finite differences catch (the issue's 1 - out for 1 - out^2)."""
    from stepprop.verification import verify

    cfg = config.parse(TANH_NET)
    assert verify(cfg, use_torch=False).ok
    monkeypatch.setattr(ops.TANH, "_derivative", lambda x, out: 1 - out)
    monkeypatch.setitem(ops.TANH.__dict__, "_compiled", {})
    assert not verify(cfg, use_torch=False).ok


# --------------------------------------------- at the edge of floating point --

SATURATED = {
    # out = 1 - 1.4e-11: nine digits print 1, and ln(1 - 1) is not what ln(1 - out) is
    "near": "inputs: [1]\ntargets: [0]\neta: 0.5\nloss: binary_cross_entropy\nlayers:\n  - weights: [[25]]\n",
    # outputs exactly 1 and 0 in floating point: e^800 overflows, ln(0) is -inf
    "exact": "inputs: [1]\ntargets: [0, 1]\neta: 0.5\nloss: cross_entropy\n"
    "layers:\n  - {weights: [[800], [-800]], activation: softmax}\n",
}


@pytest.mark.parametrize("case", SATURATED)
def test_saturated_outputs_never_print_a_false_line(case):
    trace = step(net_of(SATURATED[case]))
    doc = worked.explain(trace)
    assert problems(doc, environment(trace)) == []
    text = "".join("".join(t for t, _ in segments(step_, 9)) for eq in doc.equations() for step_ in eq.rhs)
    assert "ln(1 - 1)" not in text and "ln(0)" not in text
    if case == "near":  # printed with every digit where nine would say what it is not
        assert "0.99999999998611" in text
    else:  # the numbers cannot show it: left out, and said so
        notes = [eq.note for eq in doc.equations() if "not shown with numbers" in eq.note]
        assert notes
