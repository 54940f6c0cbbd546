"""Expressions (issue 15): any scalar expression as a computational graph.

The evidence for the whole feature, from the config to every command:

* the bundled examples against numbers worked independently (CS231n's);
* random expressions (several assignments, names used more than once, every
  operation), written as text and worked by plain Python here: the engine's
  values, its gradients against finite differences of that plain Python and
  against PyTorch, and every printed equation (and every row of the forward
  table) evaluates to the number it states;
* JSON against the API; the commands through the real CLI: explain in every
  format, check (right answers, each slip worked out by hand, follow-through
  credit, the template filled in), verify;
* config errors at file:line:column, never a traceback; a 5,000-term sum.

The long fuzz runs are marked slow; the PyTorch comparisons, torch.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXPRESSIONS, run
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_equations import _check_notation, problems

import stepprop
from stepprop import graph, graphworked, ops, rounding, torchcheck
from stepprop.document import Document, Eq, Section, Table
from stepprop.errors import ConfigError, StepPropError
from stepprop.expr import Const, Sym
from stepprop.grading.graph import SLIPS as SLIP_WORDS
from stepprop.grading.graph import Checker
from stepprop.verification import verify_expression

needs_torch = pytest.mark.skipif(not torchcheck.available(), reason="PyTorch is an optional extra; CI installs it")


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
    )


STAGED = "expression: |\n  q = x + y\n  f = q * z\nvalues: {x: -2, y: 5, z: -4}\n"
# q = x * y = 6, f = q * z = 24: df/dq = z = 4, dq/dx = y = 3, df/dx = 4 * 3 = 12, df/dy = 4 * 2 = 8, df/dz = q = 6
PRODUCT = "expression: |\n  q = x * y\n  f = q * z\nvalues: {x: 2, y: 3, z: 4}\n"


def expression(text: str) -> stepprop.Expression:
    return stepprop.Expression.from_text(text)


# ------------------------------------------------- the bundled examples --


def test_staged_by_hand():
    """CS231n's f = (x + y) * z at x = -2, y = 5, z = -4: q = 3, f = -12;
    df/dq = z = -4, df/dz = q = 3, df/dx = df/dy = df/dq * 1 = -4."""
    e = stepprop.load("staged")
    assert e.values == {"x": -2, "y": 5, "z": -4, "q": 3, "f": -12}
    g = e.gradients
    assert (g["df/dx"], g["df/dy"], g["df/dz"], g["df/dq"], g["df/df"]) == (-4, -4, 3, -4, 1)
    assert e.local_gradients == {"dq/dx": 1, "dq/dy": 1, "df/dq": -4, "df/dz": 3}
    assert e.order == ["q", "f"]


def test_sigmoid_neuron_by_hand():
    """CS231n's neuron: w0*x0 + w1*x1 + w2 = 2*(-1) + (-3)*(-2) - 3 = 1, f = 1/(1 + e^-1) = 0.7311;
    df/d(sum) = f * (1 - f) = 0.1966, and each weight's gradient is its input times that."""
    e = stepprop.load("sigmoid-neuron")
    assert round(e.values["f"], 4) == 0.7311
    expected = {"df/dw0": -0.1966, "df/dx0": 0.3932, "df/dw1": -0.3932, "df/dx1": -0.5898, "df/dw2": 0.1966}
    assert {name: round(e.gradients[name], 4) for name in expected} == expected
    assert e.values["n4"] == 1.0 and round(e.gradients["df/dn4"], 4) == 0.1966  # (the sum, inside the line)


@pytest.mark.parametrize("path", EXPRESSIONS, ids=lambda p: p.stem)
def test_every_bundled_expression_works_in_every_command(path, workdir):
    for fmt in ("text", "json", "markdown", "latex", "html"):
        assert run("explain", path.stem, "--format", fmt, code=0).stdout.strip()
    assert "every gradient agrees" in run("verify", path.stem, "--no-torch", code=0).stdout
    e = stepprop.load(path.stem)
    assert problems(graphworked.explain(e.trace), environment(e.trace)) == []
    _all_correct(path.stem, e, workdir)


# ------------------------------------------------- random expressions --
# A tree here is a tuple: ("name", n), ("num", v), ("neg", t), ("bin", op, l, r),
# ("pow", t, p, "^" or "**"), ("call", f, t), ("call2", f, t, u).

INPUTS = ("a", "b", "c")
POWERS = (2, 3, 0.5, -1, -2, 1.5, 0)


def trees(names: tuple[str, ...]) -> st.SearchStrategy:
    leaf = st.one_of(
        st.sampled_from(names).map(lambda n: ("name", n)),
        st.sampled_from((0.5, 2.0, 3.0, 1.5, 10.0)).map(lambda v: ("num", v)),
    )

    def grow(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.tuples(st.just("bin"), st.sampled_from("+-*/"), children, children),
            st.tuples(st.just("neg"), children),
            st.tuples(st.just("pow"), children, st.sampled_from(POWERS), st.sampled_from(("^", "**"))),
            st.tuples(
                st.just("call"),
                st.sampled_from(("exp", "log", "ln", "sqrt", "abs", "sigmoid", "tanh", "relu")),
                children,
            ),
            st.tuples(st.just("call2"), st.sampled_from(("max", "min")), children, children),
        )

    return st.recursive(leaf, grow, max_leaves=6)


def text_of(t: tuple) -> str:
    kind = t[0]
    if kind == "name":
        return t[1]
    if kind == "num":
        return f"{t[1]:g}"
    if kind == "bin":
        return f"{operand(t[2])} {t[1]} {operand(t[3])}"
    if kind == "neg":
        return f"-{operand(t[1])}"
    if kind == "pow":
        return f"{operand(t[1])}{t[3]}{t[2]:g}"
    if kind == "call":
        return f"{t[1]}({text_of(t[2])})"
    return f"{t[1]}({text_of(t[2])}, {text_of(t[3])})"


def operand(t: tuple) -> str:
    return text_of(t) if t[0] in ("name", "num") else f"({text_of(t)})"


def names_in(t: tuple) -> set[str]:
    if t[0] == "name":
        return {t[1]}
    return set().union(*(names_in(c) for c in t[1:] if isinstance(c, tuple)))


class Undefined(Exception):
    """The expression has no finite value here (by plain Python)."""


class Reference:
    """An expression worked out by plain Python (math), independently of
    stepprop: its value, how near it came to a kink or to the edge of where
    an operation is defined (``margin``), and its largest number."""

    def __init__(self, env: dict[str, float]):
        self.env = env
        self.margin = math.inf
        self.biggest = 0.0

    def near(self, distance: float) -> None:
        self.margin = min(self.margin, abs(distance))

    def __call__(self, t: tuple) -> float:
        try:
            v = self._value(t)
        except (ArithmeticError, ValueError):
            raise Undefined from None
        if not math.isfinite(v):
            raise Undefined
        self.biggest = max(self.biggest, abs(v))
        return v

    def _value(self, t: tuple) -> float:
        kind = t[0]
        if kind == "name":
            return self.env[t[1]]
        if kind == "num":
            return t[1]
        if kind == "neg":
            return -self(t[1])
        if kind == "bin":
            x, y, op = self(t[2]), self(t[3]), t[1]
            if op == "/":
                self.near(y)
                return x / y
            return x + y if op == "+" else x - y if op == "-" else x * y
        if kind == "pow":
            x, p = self(t[1]), t[2]
            if p < 0 or p != int(p):  # (a pole or a square-root edge at 0)
                self.near(x)
            return math.pow(x, p)
        if kind == "call":
            f, x = t[1], self(t[2])
            if f in ("log", "ln", "sqrt", "abs", "relu"):
                self.near(x)
            functions = {
                "exp": math.exp,
                "log": math.log,
                "ln": math.log,
                "sqrt": _sqrt,
                "abs": abs,
                "relu": lambda u: max(u, 0.0),
                "sigmoid": lambda u: 1 / (1 + math.exp(-u)),
                "tanh": math.tanh,
            }
            return functions[f](x)
        x, y = self(t[2]), self(t[3])
        self.near(x - y)
        return max(x, y) if t[1] == "max" else min(x, y)


def _sqrt(u: float) -> float:
    if u <= 0:  # (at 0 its value is 0, but its slope infinite)
        raise ValueError(u)
    return math.sqrt(u)


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, list[tuple[str, tuple]], dict[str, float]]:
    """(config text, its statements as (name, tree), the inputs' values): 1-4
    assignments, each over the inputs, the names assigned before it and numbers."""
    n = draw(st.integers(1, 4))
    statements: list[tuple[str, tuple]] = []
    names = list(INPUTS)
    for k in range(n):
        name = "f" if k == n - 1 else f"q{k + 1}"
        statements.append((name, draw(trees(tuple(names)))))
        names.append(name)
    used = set().union(*(names_in(t) for _, t in statements))
    values = {i: draw(st.floats(-3, 3, allow_subnormal=False)) for i in INPUTS if i in used}
    lines = "".join(f"  {name} = {text_of(t)}\n" for name, t in statements)
    text = f"expression: |\n{lines}values: {{{', '.join(f'{k}: {v!r}' for k, v in values.items())}}}\n"
    return text, statements, values


def reference(statements: list[tuple[str, tuple]], values: dict[str, float]) -> Reference:
    ref = Reference(dict(values))
    for name, t in statements:
        ref.env[name] = ref(t)
    return ref


def recorded(case: tuple, margin: float = 0.0) -> tuple[graph.GraphTrace, Reference]:
    """The engine's trace of a random program and its plain-Python reference;
    a program with no value, or (``margin``) too near a kink or an edge, is
    assumed away."""
    text, statements, values = case
    try:
        ref = reference(statements, values)
    except Undefined:
        assume(False)
    assume(ref.margin > margin and ref.biggest < 1e8)
    try:
        trace = graph.record(graph.parse(text))
    except ConfigError:  # (a local gradient too large for floating point: near a pole)
        assume(False)
    return trace, ref


def reference_gradient(statements: list, values: dict[str, float], name: str) -> tuple[float, float]:
    """d output / d input by plain Python: central differences at h and h/2,
    extrapolated (Richardson); and h."""
    x = values[name]
    h = 1e-5 * max(1.0, abs(x))

    def f(v: float) -> float:
        return reference(statements, {**values, name: v}).env[statements[-1][0]]

    wide, narrow = (f(x + h) - f(x - h)) / (2 * h), (f(x + h / 2) - f(x - h / 2)) / h
    return (4 * narrow - wide) / 3, h


def _check_values_and_gradients(case: tuple) -> None:
    text, statements, values = case
    assume(values)
    trace, ref = recorded(case, margin=1e-2)
    output = ref.env[statements[-1][0]]
    # the rounding of each operation, carried to the output by its gradient: a bound on the engine's
    scale = math.fsum(abs(n.data * n.grad) for n in trace.nodes) + abs(output)
    assert abs(trace.output.data - output) <= 1e-12 * scale, (text, trace.output.data, output)
    for name, value in ref.env.items():  # (the inputs and every assignment)
        assert trace.values[name] == pytest.approx(value, rel=1e-9, abs=1e-12 * scale), (text, name)
    for leaf in trace.inputs:
        try:
            numeric, h = reference_gradient(statements, values, leaf.name)
        except Undefined:
            assume(False)
        noise = 1e3 * sys.float_info.epsilon * scale / h
        assert abs(leaf.grad - numeric) <= 1e-6 * abs(leaf.grad) + noise + 1e-9, (text, leaf.name, leaf.grad, numeric)
    result = verify_expression(trace.expression, use_torch=False)
    assert result.ok and [r.name for r in result.rows] == [f"df/d{n}" for n in values], (text, result.rows)
    assert not any(r.note for r in result.rows), (text, result.rows)  # (away from kinks and edges: nothing to note)


@fuzz(60)
@given(programs())
def test_random_expressions_values_and_gradients(case):
    _check_values_and_gradients(case)


@pytest.mark.slow
@fuzz(1000)
@given(programs())
def test_random_expressions_values_and_gradients_many(case):
    _check_values_and_gradients(case)


def environment(trace: graph.GraphTrace) -> dict[str, float]:
    """The numbers an expression's equations are about: every name's, the inputs'
    among them (as recorded: a hand calculation's inputs are rounded too)."""
    found = trace.names()
    assert not set(trace.expression.values) & set(found)  # (names: what check grades; an input is given)
    return {**trace.values, **found}


def forward_rows(doc: Document) -> Document:
    """The forward table's rows as equations: node = expression = with numbers = value."""
    rows = []
    for section in doc.sections:
        for item in section.items:
            if isinstance(item, Table) and item.headers[:2] == ["node", "as written"]:
                rows += [Eq(Sym(name), [named, numbers, value]) for name, _, named, numbers, value in item.rows]
    assert rows
    return Document("the forward table", [], [Section("rows", rows)])


def _check_equations(case: tuple, digits: int, places: int | str | None) -> None:
    """``places``: a hand calculation, rounded at every step (explain --round)."""
    trace, _ = recorded(case)
    if places is not None:
        try:
            trace = graph.record(trace.expression, rounding.rounder(places), places)
        except (ConfigError, ArithmeticError, ValueError):  # (rounded to 0, then divided by)
            assume(False)
    doc = graphworked.explain(trace)
    env = environment(trace)
    assert problems(doc, env, digits, places) == [], case[0]
    assert problems(forward_rows(doc), env, digits, places) == [], case[0]
    _check_notation(doc, digits)


@fuzz(40)
@given(programs(), st.sampled_from([9, 6, 15]), st.sampled_from([None, None, 3, "3sf"]))
def test_random_expressions_print_true_equations(case, digits, places):
    _check_equations(case, digits, places)


@pytest.mark.slow
@fuzz(500)
@given(programs(), st.sampled_from([9, 4, 6, 12, 15]), st.sampled_from([None, None, 2, 4, "2sf", "4sf"]))
def test_random_expressions_print_true_equations_many(case, digits, places):
    _check_equations(case, digits, places)


def _torch_agrees(case: tuple) -> None:
    """At kinks too: PyTorch's relu, abs, maximum and minimum have the engine's
    derivatives there (0, sign(0) = 0, half each for a tie)."""
    trace, _ = recorded(case)
    theirs = torchcheck.expression_gradients(trace)
    for leaf in trace.inputs:
        mine = leaf.grad
        assert abs(mine - theirs[f"df/d{leaf.name}"]) <= 1e-9 * (1 + abs(mine)), (case[0], leaf.name, theirs)


@pytest.mark.torch
@needs_torch
@fuzz(60)
@given(programs())
def test_pytorch_agrees_on_random_expressions(case):
    _torch_agrees(case)


@pytest.mark.torch
@pytest.mark.slow
@needs_torch
@fuzz(600)
@given(programs())
def test_pytorch_agrees_on_random_expressions_many(case):
    _torch_agrees(case)


PRODUCT_CASE = (
    "expression: |\n  f = a * b\nvalues: {a: 2.0, b: 3.0}\n",
    [("f", ("bin", "*", ("name", "a"), ("name", "b")))],
    {"a": 2.0, "b": 3.0},
)


@settings(max_examples=1, database=None)
@given(st.just(PRODUCT_CASE))
def _check_the_product(case):
    _check_values_and_gradients(case)


def test_the_reference_is_independent_and_can_fail(monkeypatch):
    """The plain-Python reference disagrees with a sabotaged engine: the checks can fail."""
    _check_the_product()
    mul = ops.OPS["mul"]
    monkeypatch.setattr(mul, "_partials", lambda a, out, at: [a[1] * Const(1.01), a[0]])
    monkeypatch.setitem(mul.__dict__, "_compiled", {})
    with pytest.raises(AssertionError, match="'a', 3.03"):
        _check_the_product()


# ----------------------------------------------------------------- JSON --


@pytest.mark.parametrize(
    "source",
    ["staged", "sigmoid-neuron", "expression: |\n  q = x * x\n  f = max(q, y) - q / y\nvalues: {x: 1.5, y: 2}\n"],
)
def test_json_matches_the_api(source, workdir):
    if source.startswith("expression"):
        Path("e.yaml").write_text(source, encoding="utf-8")
        source = "e.yaml"
    data = json.loads(run("explain", source, "--format", "json", code=0).stdout)
    e = stepprop.load(source)
    assert data["values"] == e.values and data["gradients"] == e.gradients
    assert data["local_gradients"] == e.local_gradients and data["order"] == e.order
    assert data["backward_order"] == [n.name for n in e.trace.backward_order]
    assert data["output"] == e.output and data["inputs"] == e.config.values
    assert [n["name"] for n in data["nodes"]] == [n.name for n in e.trace.nodes]
    for node, entry in zip(e.trace.nodes, data["nodes"]):
        assert entry["value"] == node.data and entry["local_gradients"] == node.partials
        assert entry["parents"] == [p.name for p in node.parents]
        assert entry["op"] == (node.op.name if node.op else None)
        assert entry["gradient"] == (node.grad if entry["kind"] != "constant" else None)
    assert e.to_dict() == data


# ------------------------------------------------------------- the CLI --


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "latex", "html"])
def test_explain_in_every_format(fmt):
    out = run("explain", "sigmoid-neuron", "--format", fmt, code=0).stdout
    digits = "0.73105857863" if fmt == "json" else "0.731058579"  # f (JSON: every digit)
    assert digits in out and "0.1966119" in out  # and df/dw2 (= df/d(the sum))


def test_names_lists_every_checkable_name():
    out = run("explain", "staged", "--names", code=0).stdout.split()
    assert sorted(out) == sorted(
        ["q", "f", "dq/dx", "dq/dy", "df/dq", "df/dz", "df/dx", "df/dy", "df/df"]  # (not the inputs: given)
    )


def graded(config: str, answers: str, workdir: Path, code: int) -> dict[str, dict]:
    """check's JSON for these answers, by name."""
    Path("config.yaml").write_text(config, encoding="utf-8")
    Path("answers.yaml").write_text(answers, encoding="utf-8")
    data = json.loads(run("check", "config.yaml", "answers.yaml", "--format", "json", code=code).stdout)
    return {a["name"]: a for a in data["answers"]}


def test_check_right_answers(workdir):
    answers = 'q: 3\nf: -12\n"df/dq": -4\n"df/dz": 3\n"dq/dx": 1\n"df/dx": -4\n"dq/dy": 1\n"df/dy": -4\n'
    found = graded(STAGED, answers, workdir, 0)
    assert {a["status"] for a in found.values()} == {"correct"} and len(found) == 8


SLIPS = [
    # (config, name, the student's number, the slip): every number worked by hand
    # df/dx = df/dq * dq/dx = 4 * 3 = 12; df/dq passed on as it is: 4
    (PRODUCT, "df/dx", "4", "local_left_out"),
    # ... dq/dx = y = 3 alone, not multiplied by df/dq
    (PRODUCT, "df/dx", "3", "upstream_left_out"),
    # f = x*y + x at x = 2, y = 3: df/dx = y + 1 = 4; only the path through q: 3; only through f: 1
    ("expression: |\n  q = x * y\n  f = q + x\nvalues: {x: 2, y: 3}\n", "df/dx", "3", "one_path"),
    ("expression: |\n  q = x * y\n  f = q + x\nvalues: {x: 2, y: 3}\n", "df/dx", "1", "one_path"),
    # f = x * x at 3: 2x = 6; d(x*x)/dx taken as x (one of its two paths): 3
    ("expression: |\n  f = x * x\nvalues: {x: 3}\n", "df/dx", "3", "one_path"),
    # q = x - y, f = q * z: df/dy = z * (-1) = -4; the minus dropped: 4
    ("expression: |\n  q = x - y\n  f = q * z\nvalues: {x: 2, y: 3, z: 4}\n", "df/dy", "4", "sign_lost"),
    # f = x / y at 2, 4: df/dy = -x/y^2 = -0.125
    ("expression: |\n  f = x / y\nvalues: {x: 2, y: 4}\n", "df/dy", "0.125", "sign_lost"),
    # f = -x * y at 2, 4: df/dx = -y = -4
    ("expression: |\n  f = -x * y\nvalues: {x: 2, y: 4}\n", "df/dx", "4", "sign_lost"),
    # f = max(x, y) * z at 2, 1, 3: df/dx = z = 3, df/dy = 0; sent to the smaller operand instead
    ("expression: |\n  f = max(x, y) * z\nvalues: {x: 2, y: 1, z: 3}\n", "df/dy", "3", "wrong_branch"),
    ("expression: |\n  f = max(x, y) * z\nvalues: {x: 2, y: 1, z: 3}\n", "df/dx", "0", "wrong_branch"),
    # f = min(x, y) * z: df/dy = z = 3 (y the smaller), df/dx = 0
    ("expression: |\n  f = min(x, y) * z\nvalues: {x: 2, y: 1, z: 3}\n", "df/dx", "3", "wrong_branch"),
    # f = relu(x) * z at x = -2: blocked, df/dx = 0; let through: 3
    ("expression: |\n  f = relu(x) * z\nvalues: {x: -2, z: 3}\n", "df/dx", "3", "wrong_branch"),
]


@pytest.mark.parametrize("config, name, number, slip", SLIPS)
def test_check_names_each_slip(config, name, number, slip, workdir):
    found = graded(config, f'"{name}": {number}\n', workdir, 1)[name]
    assert found["status"] == "wrong" and found["mistake"] == slip, found
    assert found["note"].startswith(SLIP_WORDS[slip][0] + ": "), found


def test_check_explains_a_slip_in_text(workdir):
    Path("config.yaml").write_text(PRODUCT, encoding="utf-8")
    Path("answers.yaml").write_text('"df/dx": 4\n', encoding="utf-8")
    out = run("check", "config.yaml", "answers.yaml", code=1).stdout
    assert "df/dx = df/dq * dq/dx = 4 * 3 = 12" in out  # the worked line
    assert "Likely the local gradient left out: dq/dx = 3 left out" in out


def test_check_a_number_no_slip_gives_is_wrong_and_says_so(workdir):
    found = graded(PRODUCT, '"df/dx": 7\n"df/dy": -8\n', workdir, 1)
    assert found["df/dx"]["mistake"] is None and found["df/dx"]["note"] == "no common mistake gives this number"
    assert found["df/dy"]["note"] == "the sign is wrong"


def test_check_gives_follow_through_credit(workdir):
    """df/dq written as 5 (it is 4): df/dx = 5 * 3 = 15 and df/dy = 5 * 2 = 10 are
    right from it (carried), and df/dz = q = 6, which does not use it, is correct."""
    found = graded(PRODUCT, '"df/dq": 5\n"df/dx": 15\n"df/dy": 10\n"df/dz": 6\n', workdir, 1)
    assert found["df/dq"]["status"] == "wrong"
    for name in ("df/dx", "df/dy"):
        assert found[name]["status"] == "carried" and found[name]["follows_from"] == ["df/dq"]
    assert found["df/dz"]["status"] == "correct"
    # a wrong local gradient carries too: dq/dx written as 2, df/dx = 4 * 2 = 8
    found = graded(PRODUCT, '"dq/dx": 2\n"df/dx": 8\n', workdir, 1)
    assert found["df/dx"]["status"] == "carried" and found["df/dx"]["follows_from"] == ["dq/dx"]


def _fill_template(config: str, e: stepprop.Expression, path: Path) -> None:
    """check --template, every blank filled with the exact number."""
    template = run("check", "--template", config, code=0).stdout
    lines = []
    for line in template.splitlines():
        if line and not line.startswith("#"):
            key = line.split(":   ", 1)[0].rstrip(":")
            name = yaml.safe_load(key) if key.startswith('"') else key
            line = f"{key}: {e.names[name]!r}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _all_correct(config: str, e: stepprop.Expression, workdir: Path) -> None:
    """The template filled with the exact numbers: every name but the inputs and the
    constant local gradients the worked example writes inline (dq/dx = 1), each correct."""
    _fill_template(config, e, workdir / "answers.yaml")
    data = json.loads(run("check", config, "answers.yaml", "--format", "json", code=0).stdout)
    named = {eq.name for eq in graphworked.explain(e.trace).equations()}
    asked = {n for n in e.names if n in named or n not in e.local_gradients}
    assert [a["status"] for a in data["answers"]] == ["correct"] * len(asked)
    assert {a["name"] for a in data["answers"]} == asked  # (the inputs are given, not among them)


def test_check_template_filled_with_the_exact_numbers_is_all_correct(workdir):
    Path("config.yaml").write_text(PRODUCT.replace("f = q * z", "f = max(q, x) * z - q / x"), encoding="utf-8")
    _all_correct("config.yaml", stepprop.load("config.yaml"), workdir)


def test_verify_an_expression():
    out = run("verify", "sigmoid-neuron", "--no-torch", code=0).stdout
    assert "the expression from the bundled sigmoid-neuron.yaml" in out
    for name in ("df/dw0", "df/dx0", "df/dw1", "df/dx1", "df/dw2"):
        assert name in out
    data = json.loads(run("verify", "staged", "--format", "json", "--no-torch", code=0).stdout)
    assert data["ok"] and data["kind"] == "expression" and data["output"] == "f"
    assert [(g["name"], g["engine"]) for g in data["gradients"]] == [("df/dx", -4), ("df/dy", -4), ("df/dz", 3)]
    assert all(abs(g["numeric"] - g["engine"]) < 1e-8 for g in data["gradients"])


def test_verify_batch_is_for_a_network():
    assert "--batch: for a network, not an expression" in run("verify", "staged", "--batch", "2", code=2).stderr
    with pytest.raises(StepPropError, match="an expression has no batches"):
        stepprop.verify("staged", batch=2)


def test_verify_catches_a_wrong_local_gradient(monkeypatch):
    """mul's recorded partial 1% off: its finite difference says so, and verify fails."""
    mul = ops.OPS["mul"]
    monkeypatch.setattr(mul, "_partials", lambda a, out, at: [a[1] * Const(1.01), a[0]])
    monkeypatch.setitem(mul.__dict__, "_compiled", {})
    result = run("verify", "staged", "--no-torch", code=1)
    assert "DISAGREES" in result.stdout and "SOME GRADIENTS DISAGREE" in result.stdout
    # (df/dx and df/dy pass through df/dq, which is 1% off; df/dz = q does not)
    assert [r.ok for r in stepprop.verify("staged", use_torch=False).rows] == [False, False, True]


def test_verify_notes_a_kink_and_an_edge_without_failing():
    """relu at 0: a finite difference crosses its kink (noted, not failed); log at 1e-7: a
    step h away has no value, and smaller steps (Ridders' extrapolation) agree."""
    kinked = verify_expression(graph.parse("expression: f = relu(x) + y\nvalues: {x: 0, y: 1}\n"), use_torch=False)
    rows = {r.name: r for r in kinked.rows}
    assert kinked.ok and "kink" in rows["df/dx"].note and rows["df/dy"].note == ""
    edge = verify_expression(graph.parse("expression: f = log(x)\nvalues: {x: 1e-7}\n"), use_torch=False)
    (row,) = edge.rows
    assert edge.ok and row.engine == pytest.approx(1e7) and row.numeric == pytest.approx(1e7, rel=1e-9)
    assert "Ridders" in row.note and "agrees" in row.note
    # a large curvature: the difference at h is 10% off, the extrapolation exact
    steep = verify_expression(graph.parse("expression: f = log(x)\nvalues: {x: 2e-6}\n"), use_torch=False)
    assert steep.ok and steep.rows[0].numeric == pytest.approx(5e5, rel=1e-9)


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("path", EXPRESSIONS, ids=lambda p: p.stem)
def test_verify_with_pytorch(path):
    result = stepprop.verify(path.stem)
    assert result.ok and result.torch_available
    assert max(r.torch_error for r in result.rows) < 1e-12


# -------------------------------------------------------- config errors --

ERRORS = [
    # (the config, where the error is, what it says): each place counted by hand
    (
        "# a comment first\nexpression: |\n  q = x + y\n  f = q * * z\nvalues: {x: 1, y: 2, z: 3}\n",
        "4:11",
        "in the expression: expected a number, a name or '(' after '*', found '*'",
    ),
    (  # a folded block: its lines are one, but the place is the file's
        "expression: >\n  q = x + y\n  f = q * z\nvalues: {x: 1, y: 2, z: 3}\n",
        "3:3",
        "missing an operator between 'y' and 'f'",
    ),
    ('expression: "f = x +* y"\nvalues: {x: 1, y: 2}\n', "1:21", "expected a number, a name or '(' after '+'"),
    ("expression: |\n  q = x + y\n  f = q * w\nvalues: {x: 1, y: 2}\n", "3:11", "'w' has no value"),
    (
        "expression: |\n  f = q * z\n  q = x + y\nvalues: {x: 1, y: 2, z: 3}\n",
        "2:7",
        "'q' is used before it is assigned",
    ),
    (
        "expression: |\n  q = x + y\n  q = q * z\nvalues: {x: 1, y: 2, z: 3}\n",
        "3:3",
        "'q' is assigned twice (first at line 2)",
    ),
    ("expression: |\n  f = x + y\nvalues: {x: 1, y: 2, z: 3}\n", "3:22", "values: 'z' is not used in the expression"),
    (
        "expression: |\n  f = x + y\noutput: g\nvalues: {x: 1, y: 2}\n",
        "3:9",
        "output 'g' is not assigned in the expression",
    ),
    ("expression: |\n  f = __import__('os')\n", "2:7", "unknown function '__import__'"),
    (
        "expression: |\n  f = os.system(x)\nvalues: {x: 1}\n",
        "2:9",
        "unexpected character '.': there is no attribute access",
    ),
    ("expression: |\n  f = a[0]\nvalues: {a: 1}\n", "2:8", "unexpected character '[': there are no subscripts"),
    ("expression: |\n  f = lambda x: x\n", "2:7", "'lambda' is not allowed in an expression"),
    (  # refused where the 101st parenthesis opens
        "expression: |\n  f = " + "(" * 10_000 + "x" + ")" * 10_000 + "\nvalues: {x: 1}\n",
        "2:107",
        "nested more than 100 levels deep",
    ),
    (
        "expression: |\n  f = log(x)\nvalues: {x: -1}\n",
        "2:7",
        "log(x) has no real value here (the natural logarithm of -1)",
    ),
    (
        "expression: |\n  q = x + 1\n  f = y / (q - 2)\nvalues: {x: 1, y: 2}\n",
        "3:7",
        "y / (q - 2) cannot be worked out here: it divides by 0",
    ),
    ("expression: |\n  f = 3 * sqrt(x)\nvalues: {x: 0}\n", "2:11", "the local gradient of sqrt(x) is not finite here"),
    ("expression: |\n  f = x ^ y\nvalues: {x: 1, y: 2}\n", "2:11", "the power of ^ must be a number"),
    # the other YAML styles: a plain scalar over two lines, a double-quoted one with an escape
    ("expression: f = x +\n  y * * z\nvalues: {x: 1, y: 2, z: 3}\n", "2:7", "after '*', found '*'"),
    ('expression: "q = x + y\\nf = q ** * z"\nvalues: {x: 1, y: 2, z: 3}\n', "1:34", "after '**', found '*'"),
    ("expression: |\n  f = log(x)\nvalues: {x: 0}\n", "2:7", "log(x) is -inf here (the natural logarithm of 0)"),
    (  # the value is 1e200, its local gradient -1e400: too large for floating point
        "expression: |\n  f = x / y\nvalues: {x: 1, y: 1e-200}\n",
        "2:7",
        "the local gradient of x / y with respect to y is -inf here (at 1e-200)",
    ),
]


@pytest.mark.parametrize("config, place, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_config_errors_are_placed_in_the_file(config, place, message, workdir):
    Path("e.yaml").write_text(config, encoding="utf-8")
    for command in (["explain"], ["verify"], ["check", "--template"]):
        result = run(*command, "e.yaml", code=1)
        assert result.stderr.startswith(f"Error: e.yaml:{place}: "), (command, result.stderr)
        assert message in result.stderr, result.stderr
        assert result.stdout == ""


def test_api_config_errors_say_where():
    with pytest.raises(ConfigError) as info:
        stepprop.Expression.from_text("expression: |\n  f = x ^ y\nvalues: {x: 1, y: 2}\n", "mine.yaml")
    assert (info.value.line, info.value.column) == (2, 11) and str(info.value).startswith("mine.yaml:2:11: ")


# ------------------------------------------------------------- large --


def _sum_of(n: int) -> str:
    terms = " + ".join(f"{k % 5}*x{k}" if k % 3 else f"x{k}" for k in range(n))
    values = ", ".join(f"x{k}: {k % 7 - 3}" for k in range(n))
    return f"expression: |\n  f = {terms}\nvalues: {{{values}}}\n"


def test_a_5000_term_sum_explains_in_text_and_json(workdir):
    """Its tree is 5,000 deep on its left: nothing recurses on it (no RecursionError),
    and the worked example grows with it, not with its square."""
    Path("sum.yaml").write_text(_sum_of(5000), encoding="utf-8")
    text = run("explain", "sum.yaml", code=0).stdout
    data = json.loads(run("explain", "sum.yaml", "--format", "json", code=0).stdout)
    expected_f = sum((k % 5 if k % 3 else 1) * (k % 7 - 3) for k in range(5000))
    assert data["values"]["f"] == expected_f and data["gradients"]["df/dx4"] == 4 and data["gradients"]["df/dx3"] == 1
    assert len(text) < 10_000_000 and len(json.dumps(data)) < 10_000_000
    assert "x0 + 1*x1 + 2*x2 + x3 + ... 2*x4997 + x4998 + 4*x4999" in text  # (a long step, shortened in the middle)


def test_deep_but_allowed_nesting_works_everywhere(workdir):
    """100 levels: parentheses, signs, calls and powers; the engine, the worked
    example, JSON, check's template and verify."""
    for inner in (
        "(" * 99 + "x" + ")" * 99,
        "-" * 99 + "x",
        "sqrt(" * 40 + "x" + ")" * 40 + " + " + "tanh(" * 99 + "x" + ")" * 99,
        "(" * 98 + "x" + "^1)" * 98,  # (x^1^1 is x^(1^1): a power that is not a number)
    ):
        Path("deep.yaml").write_text(f"expression: |\n  f = {inner}\nvalues: {{x: 0.001}}\n", encoding="utf-8")
        for fmt in ("text", "json", "html"):
            run("explain", "deep.yaml", "--format", fmt, code=0)
        run("check", "--template", "deep.yaml", code=0)
        run("verify", "deep.yaml", "--no-torch", code=0)


def test_latex_and_mathml_write_an_expressions_powers():
    """x^1.5 as written stays text in LaTeX (not x^1 then .5); MathML's x^-0.5 has one minus sign."""
    config = "expression: f = x^1.5 + x^-0.5\nvalues: {x: 2}\n"
    latex = expression(config).render("latex")
    assert "$x^{1}$.5" not in latex and "x\\textasciicircum{}1.5" in latex and "{x}^{1.5}" in latex
    html = expression(config).render("html")
    assert "<mn>-" not in html and "<msup><mi>x</mi><mrow><mo>−</mo><mn>0.5</mn></mrow></msup>" in html


def test_x_to_the_0_at_0():
    """x^0 is 1 everywhere, its slope 0, also at 0 (where x^-1 has no value)."""
    e = expression("expression: f = x^0 + x\nvalues: {x: 0}\n")
    assert e.values["f"] == 1 and e.gradients["df/dx"] == 1 and e.local_gradients["dn1/dx"] == 0


def test_an_operand_used_twice_by_one_operation():
    """f = -(a * a) at 1.5: n1 = a * a has one local gradient for a, a term for each
    use (the product rule): dn1/da = a + a = 3, as check and JSON name it; df/da = -3."""
    e = expression("expression: f = -(a * a)\nvalues: {a: 1.5}\n")
    assert e.local_gradients["dn1/da"] == 3 and e.gradients["df/da"] == -3
    text = e.render("text")
    assert "dn1/da = a + a = 1.5 + 1.5 = 3" in text and "df/da = df/dn1 * dn1/da = -1 * 3 = -3" in text
    assert problems(graphworked.explain(e.trace), environment(e.trace)) == []


def test_a_false_printed_line_is_caught(monkeypatch):
    """The equations' check can fail: mul's printed local gradient 1% off makes a
    backward line false; sigmoid's printed formula 1% off, a row of the forward table."""
    staged = stepprop.load("staged").trace
    monkeypatch.setattr(ops.OPS["mul"], "_derivatives", lambda a, out, at: [a[1] * Const(1.01), a[0]])
    assert problems(graphworked.explain(staged), environment(staged)) != []
    neuron = expression("expression: f = sigmoid(x)\nvalues: {x: 0.5}\n").trace
    assert problems(forward_rows(graphworked.explain(neuron)), environment(neuron)) == []
    formula = ops.SIGMOID._formula
    monkeypatch.setattr(ops.SIGMOID, "_formula", lambda x: formula(x) * Const(1.01))
    assert problems(forward_rows(graphworked.explain(neuron)), environment(neuron)) != []


def test_an_output_before_the_last_step(workdir):
    """output: q, with f = q * z worked after it: dq/dz is 0, and f's local
    gradients are no part of the backward pass, nor of check's template."""
    Path("o.yaml").write_text("expression: |\n  q = x * y\n  f = q * z\noutput: q\nvalues: {x: 2, y: 3, z: 4}\n")
    e = stepprop.load("o.yaml")
    assert e.output == "q" and (e.gradients["dq/dx"], e.gradients["dq/dy"], e.gradients["dq/dz"]) == (3, 2, 0)
    template = run("check", "--template", "o.yaml", code=0).stdout
    assert '"df/dq"' not in template and '"dq/dx":' in template
    _fill_template("o.yaml", e, workdir / "answers.yaml")
    data = json.loads(run("check", "o.yaml", "answers.yaml", "--format", "json", code=0).stdout)
    assert [a["name"] for a in data["answers"]] == ["q", "f", "dq/dq", "dq/dy", "dq/dx"]
    rows = {r.name: (r.engine, r.ok) for r in stepprop.verify("o.yaml", use_torch=False).rows}
    assert rows == {"dq/dx": (3, True), "dq/dy": (2, True), "dq/dz": (0, True)}


def _check_slips_are_named(case: tuple) -> None:
    trace, _ = recorded(case, margin=1e-3)
    e = stepprop.Expression(trace.expression)
    checker = Checker(trace.expression)
    for leaf in trace.inputs:
        name = trace.gradient_name(leaf)
        for slip, grads in checker.slipped(leaf):
            slipped = grads.get(leaf, 0.0)
            if abs(slipped - leaf.grad) <= 1e-9 * max(1.0, abs(slipped)):
                continue  # (a slip that changes nothing here)
            (answer,) = stepprop.check(e, {name: repr(slipped)}).to_dict()["answers"]
            assert answer["status"] == "wrong" and slip.id in answer["mistakes"], (case[0], name, slip, answer)


@fuzz(15)
@given(programs())
def test_every_slip_of_a_random_expression_is_named(case):
    """Each slip check knows, made at one place of a random expression, gives a
    number that check, given it as the answer, names that slip for."""
    _check_slips_are_named(case)


@pytest.mark.slow
@fuzz(300)
@given(programs())
def test_every_slip_of_a_random_expression_is_named_many(case):
    _check_slips_are_named(case)
