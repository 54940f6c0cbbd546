"""The matrix view (explain --view matrix): its equations hold entry by entry
as printed, its numbers are the trace's, and check grades whole vectors and
matrices entry by entry."""

from __future__ import annotations

import json
import math

import pytest
from conftest import CONFIGS, net_of, networks, run
from hypothesis import HealthCheck, assume, given, settings
from test_equations import environment, problems

import stepprop
from stepprop.document import Document, Eq, Section
from stepprop.errors import StepPropError, TrainingDiverged
from stepprop.expr import Const, Hadamard, MatMul, Matrix, Num, Sym, Transpose, entry, evaluate, plain, shape
from stepprop.matrix import MatrixForm, canonical
from stepprop.step import step

# ------------------------------------------------------- what the nodes mean --


def _numbers(rows):
    return Matrix(tuple(tuple(Num(x) for x in row) for row in rows))


def _value(e, bound):
    rows, cols = shape(e, bound)
    return [[evaluate(entry(e, i, j, bound)) for j in range(cols)] for i in range(rows)]


def test_the_matrix_nodes_mean_what_courses_write():
    w = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    a = [[7.0], [8.0], [9.0]]
    b = [[0.5], [-0.5]]
    bound = {"W": _numbers(w).rows, "a": _numbers(a).rows, "b": _numbers(b).rows}
    z = MatMul(Sym("W"), Sym("a")) + Sym("b")
    assert shape(z, bound) == (2, 1)
    assert _value(z, bound) == [[1 * 7 + 2 * 8 + 3 * 9 + 0.5], [4 * 7 + 5 * 8 + 6 * 9 - 0.5]]
    assert shape(Transpose(Sym("W")), bound) == (3, 2)
    assert _value(MatMul(Transpose(Sym("W")), Sym("b")), bound) == [[0.5 - 2.0], [1.0 - 2.5], [1.5 - 3.0]]
    assert _value(Hadamard((Sym("b"), Sym("b"))), bound) == [[0.25], [0.25]]
    # the outer product, and a one-column matrix added to every column
    outer = MatMul(Sym("a"), Transpose(Sym("a")))
    assert _value(outer, bound)[1][2] == 8 * 9
    two = _numbers([[1.0, 2.0], [3.0, 4.0]])
    assert _value(two + Sym("b"), bound) == [[1.5, 2.5], [2.5, 3.5]]
    assert _value(Sym("eta") * two, {**bound, "eta": ((Const(2),),)}) == [[2, 4], [6, 8]]


def test_matrices_print_in_every_notation():
    from stepprop.views.html import mathml
    from stepprop.views.latex import tex

    m = _numbers([[1.0, -2.0], [3.0, 4.0]])
    e = Hadamard((MatMul(Transpose(Sym("W")), m), Sym("f")))
    assert plain(e) == "(W^T * [1, -2; 3, 4]) .* f"
    assert tex(e) == r"\left({W}^{\top} \, \begin{bmatrix}1 & -2 \\ 3 & 4\end{bmatrix}\right) \odot f"
    assert "<mtable>" in mathml(e) and "⊙" in mathml(e)


def test_layer_names_are_read_in_the_ways_courses_write_them():
    assert canonical("z^(2)") == canonical("z^{[2]}") == canonical("z^2") == "z^[2]"
    assert canonical("dE/dW^{(1)}") == "dE/dW^[1]"
    assert Sym("z", "", "[2]").ascii == "z^[2]"
    assert Sym("change", "W", "[1]").ascii == "change_W^[1]"


# --------------------------------------------------------------- the post --


def _text(network=None, **options):
    net = network or stepprop.load()
    return net.step().matrix().render("text", **options)


def test_the_posts_step_in_matrix_form():
    text = _text()
    assert "z^[1] = W^[1] * a^[0] + b1 = [0.15, 0.2; 0.25, 0.3] * [0.05; 0.1] + 0.35 = [0.3775; 0.3925]" in text
    assert "= [0.75136507; 0.772928465]" in text  # out_o1, out_o2
    assert "delta^[1] = (W^[2]^T * delta^[2]) .* da^[1]/dz^[1]" in text
    assert "dE_total/dW^[2] = delta^[2] * a^[1]^T" in text
    # the post's updated weights, every printed digit
    assert "= [0.35891648, 0.408666186; 0.51130127, 0.561370121]" in text
    assert "= [0.149780716, 0.199561432; 0.249751144, 0.299502287]" in text
    assert "The biases are not updated" in text


def test_the_json_is_the_traces_numbers_in_the_configs_shapes():
    s = stepprop.load().step()
    data = s.matrix().to_dict()
    out = json.loads(s.matrix().render("json"))
    assert out == json.loads(json.dumps(data))
    first, second = data["layers"]
    assert first["z"] == [[s.values["net_h1"]], [s.values["net_h2"]]]
    assert second["a"] == [[s.values["out_o1"]], [s.values["out_o2"]]]
    assert second["delta"] == [[s.terms["delta_o1"]], [s.terms["delta_o2"]]]
    assert second["grad_weights"] == [[s.gradients["w5"], s.gradients["w6"]], [s.gradients["w7"], s.gradients["w8"]]]
    assert second["weights_after"] == [[s.updated["w5"], s.updated["w6"]], [s.updated["w7"], s.updated["w8"]]]
    assert second["weights"] == [list(row) for row in s.trace.config.layers[1].weights]
    assert second["bias"] == 0.6 and second["grad_bias"] == s.gradients["b2"]  # one shared bias: a number
    assert second["bias_after"] == 0.6  # the post keeps its biases: the same after the step
    assert data["inputs"] == [[0.05], [0.1]]
    assert data["names"]["dE_total/dW^[2]"] == [["dE_total/dw5", "dE_total/dw6"], ["dE_total/dw7", "dE_total/dw8"]]


def test_a_batch_has_a_column_per_sample_and_the_mean_over_them():
    net = net_of(
        """
samples:
  - {inputs: [0.05, 0.1], targets: [0.01, 0.99]}
  - {inputs: [0.2, -0.3], targets: [0.5, 0.2]}
  - {inputs: [1, 0.5], targets: [0.9, 0.1]}
eta: 0.5
layers:
  - weights: [[0.15, 0.2], [0.25, 0.3]]
    bias: [0.35, 0.1]
  - weights: [[0.4, 0.45], [0.5, 0.55]]
    bias: [0.6, -0.2]
"""
    )
    s = stepprop.Network(net.config).step()
    data = s.matrix().to_dict()
    assert len(data["layers"][0]["z"][0]) == 3
    assert data["layers"][0]["z"][1][2] == s.values["net_h2[3]"]
    assert data["layers"][1]["grad_bias"] == [s.gradients["b3"], s.gradients["b4"]]
    assert data["layers"][1]["bias_after"] == [s.updated["b3"], s.updated["b4"]]
    text = s.matrix().render("text")
    assert "dE/dW^[2] = 1/3 * delta^[2] * a^[1]^T" in text
    assert "dE/db^[2] = 1/3 * delta^[2] * [1; 1; 1]" in text


def test_the_textbook_convention_writes_the_update_with_the_error_term():
    """delta: error (Mitchell): W+ = W + eta * delta a^T, and with a bias on an
    input of -1, b+ = b - eta * delta (its input is -1): minus the gradient, as
    the scalar view writes w + eta * delta * input."""
    net = net_of(
        """
samples:
  - {inputs: [0.5, 0.1], targets: [0.2, 0.9]}
  - {inputs: [0.3, -0.2], targets: [0.7, 0.1]}
eta: 0.5
delta: error
bias_input: -1
layers:
  - weights: [[0.1, 0.2], [0.3, 0.4]]
    bias: [0.1, -0.2]
  - weights: [[0.5, 0.6], [-0.3, 0.2]]
    bias: 0.3
"""
    )
    text = stepprop.Network(net.config).step().matrix().render("text")
    assert "W^[2]+ = W^[2] - eta * dE/dW^[2]\n       = W^[2] + eta * 1/2 * delta^[2] * a^[1]^T" in text
    assert "b^[2]+ = b^[2] - eta * dE/db^[2]\n       = b^[2] - eta * 1/2 * [1; 1]^T * delta^[2] * [1; 1]" in text
    assert "b^[1]+ = b^[1] - eta * dE/db^[1]\n       = b^[1] - eta * 1/2 * delta^[1] * [1; 1]" in text
    # the default convention keeps the one line
    assert "= W^[2] +" not in _text()


# ------------------------------------------- every equation, entry by entry --


def _entry_equations(doc: Document, bound) -> Document:
    """Each matrix equation as the scalar equations of its entries."""
    scalar: list = []

    def walk(items):
        for item in items:
            if isinstance(item, Section):
                walk(item.items)
            elif isinstance(item, Eq):
                if not any(isinstance(x, Matrix) for x in item.rhs) and item.lhs.ascii not in bound:
                    scalar.append(item)  # (the error's lines are the scalar view's)
                    continue
                rows, cols = shape(item.rhs[-1], bound)
                for i in range(rows):
                    for j in range(cols):
                        rhs = [entry(r, i, j, bound) for r in item.rhs]
                        scalar.append(Eq(entry(item.lhs, i, j, bound), rhs, note=item.note))

    walk(doc.sections)
    return Document("entries", [], [Section("entries", scalar)])


def _check_matrix_view(trace, digits=9):
    form = MatrixForm(trace)
    doc = form.document(inputs=True)  # (every section: the inputs' gradient too)
    entries = _entry_equations(doc, form.entries)
    assert len(entries.equations()) > 0
    assert problems(entries, environment(trace), digits) == []
    data = form.to_dict()
    for layer in data["layers"]:
        for key in ("z", "a", "delta", "grad_weights", "weights_after"):
            assert all(math.isfinite(x) for row in layer[key] for x in row)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_bundled_configs(path):
    net = net_of(path.read_text(), str(path))
    _check_matrix_view(step(net, 0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_samples=3))
def test_random_networks(case):
    text, batch = case
    try:
        trace = step(net_of(text), batch)
    except TrainingDiverged:
        assume(False)
    _check_matrix_view(trace)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_many(case):
    text, batch = case
    try:
        trace = step(net_of(text), batch)
    except TrainingDiverged:
        assume(False)
    _check_matrix_view(trace, 6)


def test_a_wrong_matrix_step_is_caught():
    trace = stepprop.load().step().trace
    form = MatrixForm(trace)
    doc = form.document()
    eq = next(e for e in doc.equations() if e.name == "z^[2]")
    numbers = eq.rhs[-1]
    assert isinstance(numbers, Matrix)
    eq.rhs[-1] = Matrix(((Num(1.2),), numbers.rows[1]))
    assert problems(_entry_equations(doc, form.entries), environment(trace)) != []


# ---------------------------------------------------------------- command --


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "latex", "html"])
def test_every_format(fmt):
    result = run("explain", "--view", "matrix", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "0.3589164" in result.output  # w5+ (every digit in JSON)


def test_the_scalar_options_are_refused_with_the_matrix_view():
    result = run("explain", "--view", "matrix", "--only", "w5", "--compact", code=2)
    assert "--only, --compact: for the scalar view" in result.output


def test_the_inputs_gradient_in_matrix_form(workdir):
    """--inputs: dE_total/da^[0] = W^[1]^T delta^[1], each entry dE_total/di_k;
    checkable as a vector."""
    text = run("explain", "--view", "matrix", "--inputs").output
    assert "dE_total/da^[0] = W^[1]^T * delta^[1]\n" in text
    assert "= [0.00380426688; 0.00474054735]" in text
    assert "dE_total/da^[0]" not in run("explain", "--view", "matrix").output
    (workdir / "a.yaml").write_text("dE_total/da^[0]: [0.0038, 0.0047]\n")
    graded = stepprop.check(None, "a.yaml").graded
    assert [g.answer.name for g in graded] == ["dE_total/di1", "dE_total/di2"]


def test_cs230s_gradient_names_are_read(workdir):
    """dW^[2] (or dW2), db^[2], dA^[2] for the gradients, dZ^[2] for delta^[2]
    where delta is the gradient."""
    (workdir / "a.yaml").write_text(
        "dW^[2]: [[0.0822, 0.0827], [-0.0226, -0.0227]]\ndW1: [[0.000439, 0.000877], [0.000498, 0.000995]]\n"
        "dZ^[2]: [0.1385, -0.0381]\ndA2: [0.7414, -0.2171]\n"
    )
    graded = stepprop.check(None, "a.yaml").graded
    assert [g.answer.name for g in graded][::2] == [
        "dE_total/dw5",
        "dE_total/dw7",
        "dE_total/dw1",
        "dE_total/dw3",
        "delta_o1",
        "dE_total/dout_o1",
    ]
    assert all(g.status == "correct" for g in graded)
    (workdir / "e.yaml").write_text((CONFIGS[0].parent / "mazur.yaml").read_text(encoding="utf-8") + "\ndelta: error\n")
    (workdir / "z.yaml").write_text("dZ^[2]: [0.1385, -0.0381]\n")
    assert "unknown quantity" in run("check", "e.yaml", "z.yaml", code=1).output  # dZ is not delta there


def test_a_fixed_bias_after_the_step_is_itself(workdir):
    """The post keeps its biases: b^[2]+ is b^[2] (the JSON's bias_after, as the
    scalar b2+), and change_b^[1] is 0; no update of them is written."""
    data = stepprop.load().step().matrix().to_dict()
    assert [layer["bias_after"] for layer in data["layers"]] == [0.35, 0.6]
    assert "b^[2]+ =" not in _text() and "The biases are not updated" in _text()
    (workdir / "a.yaml").write_text("b^[2]+: 0.6\nchange_b^[1]: 0\n")
    graded = stepprop.check(None, "a.yaml").graded
    assert [(g.answer.name, g.status) for g in graded] == [("b2+", "correct"), ("change_b1", "correct")]


def test_a_hand_calculation_is_refused_with_the_matrix_view():
    result = run("explain", "--view", "matrix", "--round", "4", code=2)
    assert "--round" in result.output and "Traceback" not in result.output
    with pytest.raises(StepPropError):
        stepprop.load().step(round=4).matrix()


def test_names_lists_the_matrices():
    """What check grades: each matrix the step works out, with its entries' names
    (not the config's own W, b, a^[0] and t)."""
    lines = run("explain", "--view", "matrix", "--names").output.splitlines()
    names = {line.split(" = ")[0] for line in lines}
    assert {"z^[1]", "a^[2]", "delta^[2]", "dE_total/dW^[2]", "W^[2]+", "dE_total/da^[2]"} <= names
    assert not names & {"W^[1]", "W^[2]", "b^[2]", "a^[0]", "t"}
    assert "dE_total/dW^[2] = [dE_total/dw5, dE_total/dw6; dE_total/dw7, dE_total/dw8]" in lines
    data = json.loads(run("explain", "--view", "matrix", "--names", "--format", "json").output)
    assert set(data["names"]) == names and data["entries"]["z^[2]"] == [["net_o1"], ["net_o2"]]
    known = stepprop.load().step().names
    assert all(n in known for grid in data["entries"].values() for row in grid for n in row)


def test_a_matrix_written_transposed_is_named(workdir):
    """delta a^T written as its transpose: each wrong entry is its mirror's value,
    said so, not put down to a mistake whose number it happens to match."""
    (workdir / "a.yaml").write_text(
        "dE_total/dW^[2]: [[0.0822, -0.0226], [0.0827, -0.0227]]\nW^[2]+: [[0.3589, 0.4087], [0.5113, 0.5614]]\n"
    )
    graded = {g.answer.name: g for g in stepprop.check(None, "a.yaml").graded}
    assert graded["dE_total/dw6"].status == "wrong" and graded["dE_total/dw6"].mistakes == []
    assert graded["dE_total/dw6"].note == "the matrix written transposed: this is entry (2, 1), dE_total/dw7"
    assert graded["dE_total/dw7"].note == "the matrix written transposed: this is entry (1, 2), dE_total/dw6"
    assert graded["dE_total/dw5"].status == graded["w6+"].status == "correct"


def test_a_one_by_one_matrix_is_answered_as_its_number(workdir):
    """The post's shared bias: dE_total/db^[2] is 1 x 1, one number."""
    (workdir / "a.yaml").write_text("dE_total/db^[2]: 0.100400325\ndE_total/db^[1]: [0.0187256094]\n")
    graded = {g.answer.name: g for g in stepprop.check(None, "a.yaml").graded}
    assert graded["dE_total/db2"].status == "correct" and graded["dE_total/db1"].status == "correct"


# ------------------------------------------------------------------ check --


def test_check_grades_a_matrix_entry_by_entry(workdir):
    (workdir / "a.yaml").write_text(
        "z^(2): [1.1059, 1.2249]\n"
        "dE_total/dW^[2]: [[0.08217, 0.08267], [-0.02260, -0.02274]]\n"
        "delta^[1]: [0.0095, 0.00995]\n"
        "W^{[2]}+: [[0.3589, 0.4087], [0.5113, 0.5614]]\n"
    )
    grades = stepprop.check(None, "a.yaml")
    by_name = {g.answer.name: g for g in grades.graded}
    assert by_name["net_o2"].answer.written_as == "z^(2)(2)"
    assert by_name["dE_total/dw8"].status == "correct"
    assert by_name["delta_h1"].status == "wrong"  # 0.0095 is not 0.00877...
    assert by_name["w5+"].status == "correct"
    result = run("check", "a.yaml", "--format", "json", code=1)
    data = json.loads(result.output)
    assert any(a.get("written_as") == "W^{[2]}+(1,2)" for a in data["answers"])


@pytest.mark.parametrize(
    "text, message, where",
    [
        ("z^[2]: [1.1, 1.2, 1.3]\n", "z^[2] is 2 x 1: it has no entry (3, 1)", ":1:19"),
        ("W^[2]: [1, 2, 3, 4]\n", "W^[2] is a 2 x 2 matrix: write it as a list of its rows", ":1:9"),
        ("W^[2]: [[1, 2], [3]]\n", "the rows of W^[2] have different lengths", ":1:17"),
        ("W^[2]: [[1, 2], 3]\n", "write a vector as [1, 2] or a matrix as [[1, 2], [3, 4]]", ":1:8"),
        ("z^[2]: []\n", "is an empty list", ":1:8"),
        ("z^[9]: [1, 2]\n", "unknown quantity 'z^[9](1)'", ":1:9"),
        ("z^[2]: [1.1059]\n", "z^[2] is 2 x 1: the answer gives 1 of its 2 entries; write them all", ":1:9"),
        ("a^[1]: [[0.59, 0.6]]\n", "a^[1] is 2 x 1: it has no entry (1, 2)", ":1:16"),
        ("dE/dW^[2]: [[0.08], [0.02]]\n", "dE/dW^[2] is 2 x 2: the answer gives 2 of its 4 entries", ":1:14"),
        ("z^[2]: 1.1059\n", "z^[2] is 2 x 1: write its answer as a list, [1, 2]", ":1:1"),
        ("W^[2]+: 0.4\n", "W^[2]+ is 2 x 2: write its answer as a list, [[1, 2], [3, 4]]", ":1:1"),
        # the config's own numbers are given, not worked out
        ("W^[2]: [[0.4, 0.45], [0.5, 0.55]]\n", "W^[2] is given in the config, not worked out by the step", ":1:10"),
        ("t: [0.01, 0.99]\n", "t is given in the config, not worked out by the step: there is nothing", ":1:5"),
        (
            "w5: 0.4\n",
            "w5 is given in the config, not worked out by the step: there is nothing to check; its update is w5+",
            ":1:1",
        ),
    ],
)
def test_a_matrix_answer_of_the_wrong_shape_is_a_located_error(workdir, text, message, where):
    (workdir / "a.yaml").write_text(text)
    result = run("check", "a.yaml", code=1)
    assert message in result.output and f"a.yaml{where}" in result.output, result.output
    assert "Traceback" not in result.output
