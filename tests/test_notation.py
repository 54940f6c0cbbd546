"""The notation of the worked example: unambiguous signs in every format,
paper values rather than float noise, no repeated steps, the header's
activations in layer order, the softmax forward order, the out - target
shortcut where it holds, path names where the outputs are coupled, and the
rich view showing what the plain view shows.

Everything goes through the real command line (``stepprop explain``); the
printers are also tested directly on expression trees."""

from __future__ import annotations

import io
import json
import re

import pytest
from conftest import net_of, run
from rich.console import Console

from stepprop.api import load
from stepprop.document import Section
from stepprop.expr import (
    SPELLINGS_KEPT,
    Add,
    Const,
    Exp,
    Frac,
    Mul,
    Neg,
    Num,
    PlainPrinter,
    Pow,
    Sub,
    Sym,
    TextPrinter,
    fmt,
    plain,
)
from stepprop.step import step
from stepprop.views.html import MathMLPrinter, mathml
from stepprop.views.latex import LatexPrinter, tex
from stepprop.views.rich_view import RichDocument
from stepprop.views.text import render_plain
from stepprop.worked import explain

MINUS = "\u2212"  # the MINUS SIGN of MathML and of the HTML tables

# --------------------------------------------------------------- configs --

# net_o1 = 0.2 * (-1) + (-0.3) * 0.5 + 0.1 * 1 = -0.25: tanh gives a negative out
TANH_NEGATIVE = """\
inputs: [-1.0, 0.5]
targets: [0.5]
eta: 0.1
loss: half_squared_error
layers:
  - weights: [[0.2, -0.3]]
    bias: 0.1
    activation: tanh
"""

# a sigmoid of a negative net input
SIGMOID_NEGATIVE = """\
inputs: [1.0]
targets: [0.5]
eta: 0.5
layers:
  - weights: [[-0.0422]]
"""

# out = 0.3, target 0.35: the gradient of w1 is -0.05
NEGATIVE_GRADIENT = """\
inputs: [1.0]
targets: [0.35]
eta: 0.1
loss: half_squared_error
layers:
  - weights: [[0.3]]
    activation: linear
"""

# 0.2 * 0 + (-0.3) * 1 + 0.4 * 0.5 + 0.1 * 1 is 2.77e-17 in floating point
PAPER_ZERO = """\
inputs: [0.0, 1.0, 0.5]
targets: [0.5]
eta: 0.5
loss: half_squared_error
layers:
  - weights: [[0.2, -0.3, 0.4]]
    bias: 0.1
    activation: {act}
"""
CANCELLED = ((0.2 * 0.0 + -0.3 * 1.0) + 0.4 * 0.5) + 0.1 * 1.0

# -0.1 * 1 + (-0.2) * 1 + 0.3 * 1 is -5.55e-17 in floating point
PAPER_ZERO_BELOW = """\
inputs: [1.0, 1.0]
targets: [0.5]
eta: 0.5
loss: half_squared_error
layers:
  - weights: [[-0.1, -0.2]]
    bias: 0.3
    activation: relu
"""
CANCELLED_BELOW = (-0.1 * 1.0 + -0.2 * 1.0) + 0.3 * 1.0

# one sample, a softmax output layer, one-hot targets
SOFTMAX_ONE = """\
inputs: [1.0, 0.5]
targets: {targets}
eta: 0.5
loss: cross_entropy
layers:
  - weights: [[0.1, 0.3], [-0.2, 0.4]]
    activation: sigmoid
  - weights: [[0.3, -0.1], [-0.4, 0.2], [0.2, 0.3]]
    activation: softmax
"""

SIGMOID_BCE = """\
inputs: [1.0, 0.5]
targets: [0.2, 0.9]
eta: 0.5
loss: binary_cross_entropy
layers:
  - weights: [[0.1, 0.3], [-0.2, 0.4]]
    activation: sigmoid
"""

SIGMOID_MSE = SIGMOID_BCE.replace("binary_cross_entropy", "mean_squared_error")

# the layers' activations in an order that is not alphabetical nor the bundled one
RELU_TANH = """\
inputs: [1.0, 0.5]
targets: [0.5]
eta: 0.1
layers:
  - weights: [[0.1, 0.3], [-0.2, 0.4]]
    activation: relu
  - weights: [[0.3, -0.1], [-0.4, 0.2]]
    activation: tanh
  - weights: [[0.5, 0.6]]
    activation: linear
"""

CUSTOM = {
    "tanh-negative": TANH_NEGATIVE,
    "sigmoid-negative": SIGMOID_NEGATIVE,
    "negative-gradient": NEGATIVE_GRADIENT,
    "paper-zero-tanh": PAPER_ZERO.format(act="tanh"),
    "paper-zero-relu": PAPER_ZERO.format(act="relu"),
    "paper-zero-below": PAPER_ZERO_BELOW,
    "softmax-one": SOFTMAX_ONE.format(targets="[1, 0, 0]"),
    "sigmoid-bce": SIGMOID_BCE,
    "relu-tanh": RELU_TANH,
}
BUNDLED = ("mazur", "tanh-relu", "softmax", "xor")
EVERY = BUNDLED + tuple(CUSTOM)


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, str]:
    """The name to give the CLI for every config: a bundled name, or a file."""
    folder = tmp_path_factory.mktemp("configs")
    out = {name: name for name in BUNDLED}
    for name, text in CUSTOM.items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        out[name] = str(path)
    return out


def explain_cli(target: str, *args: str) -> str:
    result = run("explain", target, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def write(tmp_path, text: str, name: str = "net.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


NOTE = re.compile(r"   \(.*\)$")


def logical_equations(text: str, notes: bool = False) -> list[str]:
    """Each printed equation on one line (an equation broken at its '=' signs
    is joined again), without its note unless ``notes``."""
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("= ") and out and out[-1]:
            out[-1] += " " + stripped
        elif " = " in stripped:
            out.append(stripped)
        else:
            out.append("")  # not an equation: ends the one before
    return [eq if notes else NOTE.sub("", eq) for eq in out if eq]


def final(equation: str) -> str:
    return equation.rsplit(" = ", 1)[1]


# --------------------------------------------- 1. the printers, on trees --

PLAIN = [
    (Sub(Const(1), Pow(Num(-0.24), 2)), "1 - (-0.24)^2"),
    (Exp(Neg(Num(-0.0422))), "e^-(-0.0422)"),
    (Exp(Neg(Sym("net", "o1"))), "e^-net_o1"),
    (Exp(Neg(Num(0.3775))), "e^-0.3775"),
    (Exp(Num(-0.05)), "e^(-0.05)"),
    (Exp(Neg(Mul((Sym("a"), Sym("b"))))), "e^(-a * b)"),
    (Mul((Num(0.2), Num(-1.0))), "0.2 * (-1)"),
    (Sub(Num(0.3), Mul((Num(0.1), Num(-0.05)))), "0.3 - 0.1 * (-0.05)"),
    (Add((Mul((Num(0.2), Num(0.0))), Mul((Num(-0.3), Num(1.0))))), "0.2 * 0 + (-0.3) * 1"),
    (Add((Mul((Num(-0.3), Num(0.5))), Num(0.2))), "-0.3 * 0.5 + 0.2"),
    (Neg(Sub(Sym("target", "o1"), Sym("out", "o1"))), "-(target_o1 - out_o1)"),
    (Sub(Num(1.0), Num(-2.0)), "1 - (-2)"),
    (Neg(Num(-2.0)), "-(-2)"),
    (Pow(Neg(Sym("x")), 2), "(-x)^2"),
    (Frac(Num(-1.0), Num(-2.0)), "-1/(-2)"),
    (Mul((Sym("a"), Neg(Sym("b")))), "a * (-b)"),
    (Sub(Num(0.5), Num(-0.14932324)), "0.5 - (-0.14932324)"),
]


@pytest.mark.parametrize("tree, text", PLAIN, ids=[t for _, t in PLAIN])
def test_plain_text_parenthesises_a_negative_number_after_an_operator(tree, text):
    assert plain(tree) == text


LATEX = [
    (Sub(Const(1), Pow(Num(-0.24), 2)), r"1 - {\left(-0.24\right)}^{2}"),
    (Exp(Neg(Num(-0.0422))), r"e^{-\left(-0.0422\right)}"),
    (Exp(Neg(Sym("net", "o1"))), r"e^{-\mathit{net}_{o1}}"),
    (Mul((Num(0.2), Num(-1.0))), r"0.2 \cdot \left(-1\right)"),
    (Sub(Num(0.3), Mul((Num(0.1), Num(-0.05)))), r"0.3 - 0.1 \cdot \left(-0.05\right)"),
    (Add((Mul((Num(0.2), Num(0.0))), Mul((Num(-0.3), Num(1.0))))), r"0.2 \cdot 0 + \left(-0.3\right) \cdot 1"),
    (Add((Mul((Num(-0.3), Num(0.5))), Num(0.2))), r"-0.3 \cdot 0.5 + 0.2"),
    (Neg(Sub(Sym("t"), Sym("o"))), r"-\left(t - o\right)"),
]


@pytest.mark.parametrize("tree, text", LATEX, ids=[plain(t) for t, _ in LATEX])
def test_latex_parenthesises_a_negative_number_after_an_operator(tree, text):
    assert tex(tree) == text


def _mathml_signs(markup: str) -> None:
    """No number carries its own sign; every minus is U+2212 in an <mo>."""
    signed = re.findall(r"<mn[^>]*>[-\u2212][^<]*</mn>", markup)
    assert not signed, signed
    assert "<mo>-</mo>" not in markup
    # no ASCII hyphen-minus in the text at all (but in an exponent of scientific notation: 2.8e-17)
    text = re.sub(r"(?<=\d)e-(?=\d)", "e", re.sub(r"<[^>]*>", " ", markup))
    hyphens = re.findall(r".{0,30}-.{0,30}", text)
    assert not hyphens, hyphens


@pytest.mark.parametrize("printer", [TextPrinter, PlainPrinter, LatexPrinter, MathMLPrinter])
def test_a_printer_spells_each_number_and_symbol_as_a_new_one_would_and_forgets_at_its_limit(printer):
    # the shared printer remembers spellings (a long document repeats them); what it
    # remembers must be what a fresh printer writes, and its memory must stay bounded
    shared, fresh = printer.shared(5), printer(5)
    assert printer.shared(5) is shared and printer.shared(6) is not shared
    trees = [Mul((Num(0.123456789), Sym("out", "h1", "", 3))), Num(-0.5), Num(0.5), Num(-0.0), Num(0.0)]
    trees += [Num(0.5, exact=True), Num(0.5, written="0.500"), Sym("w", "5", "+"), Const(2)]
    for tree in trees * 2:
        assert shared.doprint(tree) == fresh.doprint(tree)
    for k in range(SPELLINGS_KEPT + 10):
        shared.doprint(Add((Num(k + 0.25), Sym("x", str(k)))))
    assert len(shared._numbers) <= SPELLINGS_KEPT and len(shared._syms) <= SPELLINGS_KEPT
    assert shared.doprint(Num(7.25)) == fresh.doprint(Num(7.25))


def test_mathml_writes_a_negative_number_with_the_operators_minus_sign():
    base = mathml(Sub(Const(1), Pow(Num(-0.24), 2)))
    _mathml_signs(base)
    # the subtraction and the sign of the number are the same character
    assert f"<mn>1</mn><mo>{MINUS}</mo>" in base
    assert f"<mo>(</mo><mrow><mo>{MINUS}</mo><mn>0.24</mn></mrow><mo>)</mo>" in base
    assert base.index("<mo>(</mo>") < base.index("<mn>0.24</mn>") < base.index("<mn>2</mn>")

    exponent = mathml(Exp(Neg(Num(-0.0422))))
    _mathml_signs(exponent)
    assert re.search(
        f"<mo>{MINUS}</mo><mrow><mo>\\(</mo><mrow><mo>{MINUS}</mo><mn>0.0422</mn></mrow><mo>\\)</mo>", exponent
    ), exponent

    product = mathml(Mul((Num(0.2), Num(-1.0))))
    _mathml_signs(product)
    assert f"<mn>0.2</mn><mo>·</mo><mrow><mo>(</mo><mrow><mo>{MINUS}</mo><mn>1</mn></mrow><mo>)</mo></mrow>" in product

    first = mathml(Add((Mul((Num(-0.3), Num(0.5))), Num(0.2))))
    _mathml_signs(first)
    assert "<mo>(</mo>" not in first  # at the start: no parentheses
    assert f"<mo>{MINUS}</mo><mn>0.3</mn>" in first


# ------------------------------------------ 1. the same, through the CLI --

# (config, substrings of the plain text, of the LaTeX, of the MathML)
IN_CONTEXT = [
    (
        "tanh-negative",
        [
            "= 0.2 * (-1) + (-0.3) * 0.5 + 0.1 * 1 = -0.25",
            "dout_o1/dnet_o1 = 1 - out_o1^2 = 1 - (-0.244918662)^2 = ",
            "(0.5 - (-0.244918662))^2",
        ],
        [
            r"0.2 \cdot \left(-1\right) + \left(-0.3\right) \cdot 0.5 + 0.1 \cdot 1",
            r"1 - {\left(-0.244918662\right)}^{2}",
        ],
        [
            f"<mn>0.2</mn><mo>·</mo><mrow><mo>(</mo><mrow><mo>{MINUS}</mo><mn>1</mn></mrow><mo>)</mo></mrow>",
            f"<mn>1</mn><mo>{MINUS}</mo><msup><mrow><mo>(</mo><mrow><mo>{MINUS}</mo><mn>0.244918662</mn></mrow>",
        ],
    ),
    (
        "sigmoid-negative",
        ["net_o1 = w1 * i1 = -0.0422 * 1 = -0.0422", "out_o1 = 1/(1 + e^-net_o1) = 1/(1 + e^-(-0.0422)) = "],
        [r"e^{-\left(-0.0422\right)}"],
        [f"<mo>{MINUS}</mo><mrow><mo>(</mo><mrow><mo>{MINUS}</mo><mn>0.0422</mn></mrow><mo>)</mo></mrow>"],
    ),
    (
        "negative-gradient",
        ["w1+ = w1 - eta * dE_total/dw1 = 0.3 - 0.1 * (-0.05) = 0.305"],
        [r"0.3 - 0.1 \cdot \left(-0.05\right)"],
        [
            f"<mn>0.3</mn><mo>{MINUS}</mo><mrow><mn>0.1</mn><mo>·</mo>"
            f"<mrow><mo>(</mo><mrow><mo>{MINUS}</mo><mn>0.05</mn></mrow><mo>)</mo></mrow>"
        ],
    ),
]


@pytest.mark.parametrize("name, text, latex, html", IN_CONTEXT, ids=[c[0] for c in IN_CONTEXT])
def test_negative_numbers_in_a_worked_example(configs, name, text, latex, html):
    out = explain_cli(configs[name])
    for piece in text:
        assert piece in out
    out = explain_cli(configs[name], "--format", "latex")
    for piece in latex:
        assert piece in out
    out = explain_cli(configs[name], "--format", "html")
    for piece in html:
        assert piece in out


# an operator followed straight by a sign: '0.2 * -1', '1 - -0.24', 'e^--0.04'
BARE_PLAIN = re.compile(r"(?: [+*-] |/|\^-)-")
BARE_LATEX = re.compile(r"(?: [+-] | \\cdot |\^\{-)-")


@pytest.mark.parametrize("name", EVERY)
def test_no_bare_negative_number_anywhere(configs, name):
    text = explain_cli(configs[name])
    bad = [line for line in text.splitlines() if BARE_PLAIN.search(line)]
    assert not bad, bad
    latex = explain_cli(configs[name], "--format", "latex")
    bad = [line for line in latex.splitlines() if BARE_LATEX.search(line)]
    assert not bad, bad
    html = explain_cli(configs[name], "--format", "html")
    math = "".join(re.findall(r"<math.*?</math>", html, flags=re.S))
    assert math
    _mathml_signs(math)
    cells = re.findall(r'<td class="num">([^<]*)</td>', html)
    assert cells
    assert not [c for c in cells if c.startswith("-")], cells


def test_html_tables_print_negative_numbers_with_the_minus_sign(configs):
    html = explain_cli(configs["tanh-negative"], "--format", "html")
    # w1 = 0.2 and w2 = -0.3 before the update; the gradient of w1 is negative
    cells = re.findall(r'<td class="num">([^<]*)</td>', html)
    assert f"{MINUS}0.3" in cells
    assert "0.2" in cells
    assert "-0.3" not in cells


def test_a_negative_number_at_the_start_needs_no_parentheses(configs):
    out = explain_cli(configs["tanh-negative"])
    assert "dE_total/dout_o1 = dE_o1/dout_o1 = -(target_o1 - out_o1) = -(0.5 - (-0.244918662)) = -0.744918662" in out
    net = next(line for line in out.splitlines() if line.startswith("net_o1 ="))
    assert "= -0.25" in net and "(-0.25)" not in net
    assert "= -0.0422 * 1 = -0.0422" in explain_cli(configs["sigmoid-negative"])


def test_a_negative_exponent_is_grouped(configs):
    out = explain_cli("softmax")
    assert "= e^0.236969022/(e^0.236969022 + e^(-0.0577125413) + e^0.0533078389)" in out
    assert "= e^(-0.0577125413)/(e^0.236969022 + e^(-0.0577125413) + e^0.0533078389)" in out
    assert "out_h2[1] = 1/(1 + e^-net_h2[1]) = 1/(1 + e^-(-0.2)) = 0.450166003" in out


# ------------------------------------------------------- 2. paper values --


def test_a_sum_that_cancels_is_zero_on_paper(configs):
    assert CANCELLED != 0 and abs(CANCELLED) < 1e-16  # the float noise this is about
    out = explain_cli(configs["paper-zero-tanh"])
    assert "net_o1 = w1 * i1 + w2 * i2 + w3 * i3 + b1 * 1 = 0.2 * 0 + (-0.3) * 1 + 0.4 * 0.5 + 0.1 * 1 = 0\n" in out
    assert "out_o1 = tanh(net_o1) = tanh(0) = 0\n" in out
    assert "1 - out_o1^2 = 1 - 0^2 = 1" in out
    assert not re.search(r"\de-\d", out)  # no float noise anywhere
    values = json.loads(explain_cli(configs["paper-zero-tanh"], "--format", "json"))["values"]
    assert values["net_o1"] == CANCELLED
    assert values["out_o1"] != 0 and abs(values["out_o1"]) < 1e-16


def test_the_bundled_tanh_relu_paper_zero(configs):
    out = explain_cli("tanh-relu")
    lines = out.splitlines()
    assert "net_h1_2[1] = w3 * i1[1] + w4 * i2[1] + b2 * 1 = 0.4 * 0.5 + 0.3 * (-1) + 0.1 * 1 = 0" in lines
    assert "out_h1_2[1] = tanh(net_h1_2[1]) = tanh(0) = 0" in lines
    # what follows from it: the next layer reads 0, and w8's gradient in sample 1 is 0
    assert (
        "net_h2_1[1] = w7 * out_h1_1[1] + w8 * out_h1_2[1] + w9 * out_h1_3[1] + b4 * 1"
        " = 0.3 * 0.19737532 + (-0.2) * 0 + 0.5 * (-0.500520211) + 0.2 * 1 = 0.00895249047"
    ) in logical_equations(out)
    assert "    dnet_h2_1/dw8[1] = out_h1_2[1] = 0" in lines
    assert "    dE_total/dw8[1] = delta_h2_1[1] * out_h1_2[1] = -1.32905254 * 0 = 0   (the delta rule)" in lines
    assert not re.search(r"\de-\d", out), [line for line in lines if re.search(r"\de-\d", line)]
    data = json.loads(explain_cli("tanh-relu", "--format", "json"))
    noise = 0.4 * 0.5 + 0.3 * -1.0 + 0.1 * 1.0
    assert noise != 0
    assert data["values"]["net_h1_2[1]"] == noise
    assert data["values"]["out_h1_2[1]"] != 0 and abs(data["values"]["out_h1_2[1]"]) < 1e-16
    assert data["terms"]["dE_total/dw8[1]"] != 0 and abs(data["terms"]["dE_total/dw8[1]"]) < 1e-15


def test_a_paper_zero_feeding_a_relu_is_shown_as_computed_with_a_note(configs):
    out = explain_cli(configs["paper-zero-relu"])
    shown = fmt(CANCELLED)  # 2.77555756e-17
    assert shown != "0"
    eqs = logical_equations(out)
    assert (
        "net_o1 = w1 * i1 + w2 * i2 + w3 * i3 + b1 * 1 = 0.2 * 0 + (-0.3) * 1 + 0.4 * 0.5 + 0.1 * 1"
        f" = {shown}   (0 on paper, but rounding leaves {CANCELLED:.2g}, which ReLU takes as positive)"
    ) in logical_equations(out, notes=True)
    assert f"out_o1 = max(0, net_o1) = max(0, {shown}) = {shown}" in eqs
    assert f"dout_o1/dnet_o1 = 1 if net_o1 > 0, else 0 = 1 if {shown} > 0, else 0 = 1" in eqs
    assert "max(0, 0)" not in out
    values = json.loads(explain_cli(configs["paper-zero-relu"], "--format", "json"))["values"]
    assert values["net_o1"] == CANCELLED


def test_a_paper_zero_just_below_zero_feeding_a_relu(configs):
    out = explain_cli(configs["paper-zero-below"])
    shown = fmt(CANCELLED_BELOW)
    assert CANCELLED_BELOW < 0 and shown.startswith("-")
    assert (
        f"net_o1 = w1 * i1 + w2 * i2 + b1 * 1 = -0.1 * 1 + (-0.2) * 1 + 0.3 * 1 = {shown}   "
        f"(0 on paper, but rounding leaves {CANCELLED_BELOW:.2g}, which ReLU takes as negative)"
    ) in logical_equations(out, notes=True)
    assert f"out_o1 = max(0, net_o1) = max(0, {shown}) = 0" in out
    assert f"= 1 if {shown} > 0, else 0 = 0" in out


def test_no_note_where_nothing_cancelled(configs):
    for name in ("mazur", "tanh-relu", "softmax", "tanh-negative"):
        assert "0 on paper" not in explain_cli(configs[name])


# -------------------------------------------------- 3. no repeated steps --

REPEAT = re.compile(r"= (\S+) = \1(\s|$)")


def _repeats(text: str) -> list[str]:
    found = [line for line in text.splitlines() if REPEAT.search(line)]
    for eq in logical_equations(text):
        parts = eq.split(" = ")
        found += [eq for a, b in zip(parts, parts[1:]) if a == b]
    return found


@pytest.mark.parametrize("name", EVERY)
@pytest.mark.parametrize("digits", ["9", "2"])
def test_no_step_is_repeated(configs, name, digits):
    out = explain_cli(configs[name], "--digits", digits)
    assert not _repeats(out), _repeats(out)


def test_no_step_is_repeated_in_hand_calculation_mode(configs):
    for name in ("mazur", "tanh-relu", "softmax-one", "negative-gradient"):
        out = explain_cli(configs[name], "--round", "3")
        assert not _repeats(out), _repeats(out)


def test_the_repeat_scan_finds_a_repeat():
    """The scan itself can fail."""
    assert _repeats("E_total = E_o1 = 0.13 = 0.13\n")
    assert _repeats("  dnet_o1/db3 = 1 = 1   (a note)\n")
    assert _repeats("x = a * b\n  = 0.5 * 2\n  = 0.5 * 2\n  = 1\n")
    assert not _repeats("E_total = E_o1 = 0.13\ndnet_o1/db3 = 1\n")


def test_one_output_states_each_step_once(configs):
    lines = explain_cli(configs["tanh-negative"]).splitlines()
    assert "E_total = E_o1 = 0.277451907" in lines
    assert "  dnet_o1/db1 = 1" in lines
    assert "  dE_total/db1 = delta_o1 = -0.700234604   (the delta rule)" in lines
    assert "out_o1 = net_o1 = 0.3" in explain_cli(configs["negative-gradient"]).splitlines()


def test_no_printed_equation_repeats_a_step():
    """The library: every equation of the document, as plain text."""
    for text in (TANH_NEGATIVE, NEGATIVE_GRADIENT, SOFTMAX_ONE.format(targets="[1, 0, 0]")):
        doc = explain(step(net_of(text)))
        for eq in doc.equations():
            sides = [plain(eq.lhs)] + [plain(r) for r in eq.rhs]
            assert all(a != b for a, b in zip(sides, sides[1:])), sides


# ------------------------------------------------------ 4. the header --


def test_the_header_states_each_layers_activation_in_order(configs):
    intro = explain_cli("tanh-relu").splitlines()[:8]
    line = "activation: tanh in hidden layer 1, ReLU in hidden layer 2, the identity (linear) in the output layer"
    assert line in intro
    assert line.index("tanh") < line.index("ReLU") < line.index("identity")
    reversed_order = explain_cli(configs["relu-tanh"]).splitlines()[:8]
    assert (
        "activation: ReLU in hidden layer 1, tanh in hidden layer 2, the identity (linear) in the output layer"
    ) in reversed_order
    assert "activation: the logistic function, in every layer" in explain_cli("mazur").splitlines()[:8]
    assert (
        "activation: the logistic function in the hidden layer, softmax in the output layer"
        in explain_cli("softmax").splitlines()[:8]
    )
    assert "activation: tanh" in explain_cli(configs["tanh-negative"]).splitlines()[:8]


# ------------------------------------------- 5. softmax: nets before outs --


def _first(lines: list[str], start: str) -> int:
    return next(k for k, line in enumerate(lines) if line.startswith(start))


def test_a_softmax_layers_net_inputs_come_before_its_outputs(configs):
    lines = explain_cli("softmax").splitlines()
    for k in (1, 2):
        nets = [_first(lines, f"net_o{j}[{k}] = ") for j in (1, 2, 3)]
        outs = [_first(lines, f"out_o{j}[{k}] = ") for j in (1, 2, 3)]
        assert nets == sorted(nets) and outs == sorted(outs)
        assert max(nets) < min(outs)
        # the sigmoid layer before it keeps the post's order: net_h1, out_h1, net_h2, ...
        hidden = [_first(lines, f"{q}_h{j}[{k}] = ") for j in (1, 2, 3) for q in ("net", "out")]
        assert hidden == sorted(hidden)
        assert max(hidden) < min(nets)
    lines = explain_cli(configs["softmax-one"]).splitlines()
    assert max(_first(lines, f"net_o{j} = ") for j in (1, 2, 3)) < _first(lines, "out_o1 = ")


# ------------------------------------------------------ 6. the shortcut --

SHORTCUT = "the shortcut of"


def _shortcuts(text: str) -> list[tuple[str, str]]:
    """(the shortcut equation, the chain-rule equation of the same delta above it)."""
    pairs = []
    eqs = logical_equations(text, notes=True)
    for k, eq in enumerate(eqs):
        if SHORTCUT not in eq:
            continue
        shortcut = NOTE.sub("", eq)
        lhs = shortcut.split(" = ")[0]
        chain = next(NOTE.sub("", e) for e in reversed(eqs[:k]) if e.split(" = ")[0] == lhs)
        pairs.append((shortcut, chain))
    return pairs


@pytest.mark.parametrize(
    "name, words, count",
    [
        ("softmax", "softmax with cross_entropy", 6),
        ("softmax-one", "softmax with cross_entropy", 3),
        ("sigmoid-bce", "sigmoid with binary_cross_entropy", 2),
    ],
)
def test_the_shortcut_is_shown_with_the_chain_rules_number(configs, name, words, count):
    out = explain_cli(configs[name])
    assert out.count(f"({SHORTCUT} {words}: out - target, the same number)") == count
    pairs = _shortcuts(out)
    assert len(pairs) == count
    for shortcut, chain in pairs:
        neuron = re.match(r"delta_(o\d+)(\[\d+\])?$", shortcut.split(" = ")[0])
        assert neuron, shortcut
        o, sample = neuron.group(1), neuron.group(2) or ""
        assert shortcut.split(" = ")[1] == f"out_{o}{sample} - target_{o}{sample}"
        assert f"dE_total/dnet_{o}{sample}" in chain  # the chain rule, not a '(from above)'
        assert final(shortcut) == final(chain)


def test_the_shortcut_line_of_sigmoid_with_binary_cross_entropy(configs):
    eqs = logical_equations(explain_cli(configs["sigmoid-bce"]), notes=True)
    k = eqs.index(
        "delta_o1 = out_o1 - target_o1 = 0.562176501 - 0.2 = 0.362176501   "
        "(the shortcut of sigmoid with binary_cross_entropy: out - target, the same number)"
    )
    assert eqs[k - 1] == (
        "delta_o1 = dE_total/dnet_o1 = dE_total/dout_o1 * dout_o1/dnet_o1 = 1.47146018 * 0.246134083 = 0.362176501"
    )


@pytest.mark.parametrize(
    "name, args",
    [
        ("mazur", ()),  # half squared error
        ("tanh-relu", ()),  # mean squared error
        ("sigmoid-mse", ()),  # mean squared error after a sigmoid
        ("softmax", ("--round", "4")),  # hand-calculation mode
        ("softmax-one", ("--round", "4")),
        ("sigmoid-bce", ("--round", "4")),
        ("softmax-targets-0.9", ()),  # softmax with targets that do not add up to 1
    ],
)
def test_no_shortcut_where_it_does_not_hold(configs, tmp_path, name, args):
    extra = {
        "sigmoid-mse": SIGMOID_MSE,
        "softmax-targets-0.9": SOFTMAX_ONE.format(targets="[0.5, 0.3, 0.1]"),
    }
    target = write(tmp_path, extra[name]) if name in extra else configs[name]
    out = explain_cli(target, *args)
    assert "delta_o1" in out and "dE_total/dnet_o1" in out  # the chain rule is there
    assert SHORTCUT not in out
    assert not re.search(r"delta_o\d+(\[\d+\])? = out_o\d+(\[\d+\])? - target_o", out)


# ------------------------------------------- 7. path names where coupled --


def test_coupled_outputs_print_the_share_of_a_hidden_gradient_as_a_path(configs):
    target = configs["softmax-one"]
    out = explain_cli(target)
    lines = out.splitlines()
    assert (
        "  dE_total/dout_h1 = dE_total/dout_h1 (via o1) + dE_total/dout_h1 (via o2) + dE_total/dout_h1 (via o3)"
        "   (one term per path to the error: softmax couples the outputs, so no E_o depends on it alone)"
    ) in lines
    assert (
        "  dE_total/dout_h1 (via o1) = delta_o1 * dnet_o1/dout_h1 = -0.659689599 * 0.3 = -0.19790688"
        "   (the path through o1)"
    ) in lines
    assert "  dE_total/dout_h1 (via o2) = delta_o2 * dnet_o2/dout_h1 = 0.266756056 * (-0.4) = -0.106702423" in out
    assert not re.search(r"dE_o\d/dout_h", out)
    # the name stays the post's, in JSON and in --names
    terms = json.loads(explain_cli(target, "--format", "json"))["terms"]
    assert fmt(terms["dE_o1/dout_h1"]) == "-0.19790688"
    assert fmt(terms["dE_o2/dout_h1"]) == "-0.106702423"
    names = run("explain", target, "--names")
    assert names.exit_code == 0
    assert {"dE_o1/dout_h1", "dE_o2/dout_h1", "dE_o3/dout_h2"} <= set(names.stdout.split())
    assert "via" not in names.stdout
    # the other formats: the path in the math, the post's name on the equation
    html = explain_cli(target, "--format", "html")
    assert 'data-name="dE_o1/dout_h1"' in html
    via = html[html.index('data-name="dE_o1/dout_h1"') :].split("</div>")[0]
    assert "<mtext>via o1</mtext>" in via
    latex = explain_cli(target, "--format", "latex")
    assert (
        r"\left.\frac{\partial E_{total}}{\partial \mathit{out}_{h1}}\right|_{\text{via } o1} &= "
        r"\delta_{o1} \cdot \frac{\partial \mathit{net}_{o1}}{\partial \mathit{out}_{h1}}"
    ) in latex
    assert r"\partial E_{o1}}{\partial \mathit{out}_{h1}}" not in latex


def test_the_bundled_softmax_prints_paths_and_keeps_the_names(configs):
    out = explain_cli("softmax")
    assert "    dE_total/dout_h1[1] (via o1) = delta_o1[1] * dnet_o1/dout_h1[1] = -0.61194984 * 0.3 = " in out
    assert not re.search(r"dE_o\d/dout_h", out)
    terms = json.loads(explain_cli("softmax", "--format", "json"))["terms"]
    assert fmt(terms["dE_o1/dout_h1[1]"]) == "-0.183584952"
    assert "dE_o1/dout_h1[1]" in run("explain", "softmax", "--names").stdout.split()


def test_the_posts_sigmoid_outputs_keep_the_posts_name():
    out = explain_cli("mazur")
    lines = out.splitlines()
    assert "  dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1" in lines
    assert "  dE_o1/dout_h1 = delta_o1 * dnet_o1/dout_h1 = 0.138498562 * 0.4 = 0.0553994247" in lines
    assert "(via" not in out
    terms = json.loads(explain_cli("mazur", "--format", "json"))["terms"]
    assert fmt(terms["dE_o1/dout_h1"]) == "0.0553994247"


# ---------------------------------------------------- 8. the rich view --


def _rich_text(doc) -> str:
    console = Console(record=True, width=200, color_system=None, file=io.StringIO())
    console.print(RichDocument(doc))
    return console.export_text(styles=False)


RICH = (*BUNDLED, "tanh-negative", "paper-zero-relu", "softmax-one")


@pytest.mark.parametrize("name", RICH)
def test_the_rich_view_shows_what_the_plain_view_shows(configs, name):
    doc = explain(step(load(configs[name])))
    plain_text = explain_cli(configs[name])  # the plain view, as the CLI prints it when piped
    assert plain_text == render_plain(doc)
    rich_text = _rich_text(doc)

    def equations(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if " = " in line or line.strip().startswith("= ")]

    wanted = equations(plain_text)
    assert len(wanted) > 10
    if max(len(line) for line in plain_text.splitlines()) < 190:
        # nothing wraps at 200 columns: line for line
        assert equations(rich_text) == wanted
    # in any case every intro and equation line of the plain view, in order
    # (rich wraps a line wider than the console)
    flat = " ".join(rich_text.split())
    at = 0
    for line in [*doc.intro, *(w for w in wanted if w not in doc.intro)]:
        piece = " ".join(line.split())
        found = flat.find(piece, at)
        assert found >= 0, f"not in the rich view (after position {at}): {piece!r}"
        at = found + len(piece)
    # and every section title, in order
    titles: list[str] = []

    def walk(sections) -> None:
        for sec in sections:
            titles.append(sec.title)
            walk([item for item in sec.items if isinstance(item, Section)])

    walk(doc.sections)
    at = 0
    for title in titles:
        assert title in plain_text
        found = flat.find(title, at)
        assert found >= 0, f"title not in the rich view (after position {at}): {title!r}"
        at = found + len(title)


def test_a_batch_mean_of_zeros_is_zero_on_paper():
    """Each sample's gradient of a shared output bias after a softmax is 0 here;
    floating point leaves 5.6e-17 in the batch's mean: printed as 0, with the
    bias unchanged, while the JSON keeps the float."""
    text = (
        "samples:\n  - {inputs: [0.2, -0.6, 1.0], targets: [0, 1, 0]}\n"
        "  - {inputs: [-1.0, 0.3, 0.0], targets: [0, 0, 1]}\n"
        "eta: 0.8\nloss: cross_entropy\nlayers:\n"
        "  - {weights: [[0.2, 0.0, -0.3], [-0.4, 0.1, 0.25]], bias: [0.1, -0.1], activation: tanh}\n"
        "  - {weights: [[0.5, -0.2], [-0.3, 0.7], [0.1, -0.6]], bias: 0.0, activation: softmax}\n"
    )
    trace = step(net_of(text))
    assert trace.gradients["b3"] != 0 and abs(trace.gradients["b3"]) < 1e-15
    printed = render_plain(explain(trace))
    assert "dE/db3 = (dE_total/db3[1] + dE_total/db3[2])/2 = (0 + 0)/2 = 0" in printed
    assert "b3+ = b3 - eta * dE/db3 = 0 - 0.8 * 0 = 0" in printed
