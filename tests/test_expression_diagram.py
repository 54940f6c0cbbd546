"""`stepprop diagram` of an expression: its graph as CS231n draws it, a box
per operation, each edge with the value flowing forward above it and the
gradient flowing back below it (SVG, TikZ in the LaTeX export, text).

Every number drawn is checked against the trace: an edge's value is its
parent's value, its gradient the edge's path share (for a parent used once,
the parent's gradient); and no label covers a box, a caption or another label,
for the bundled examples and for random 30-operation expressions."""

import random
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
import yaml
from conftest import run
from test_exports import _pdflatex

import stepprop
from stepprop.api import Expression
from stepprop.graphdiagram import MAX_SLOTS, symbol
from stepprop.views import graphdiagram as draw
from stepprop.views.diagram import CHAR

SVG = "{http://www.w3.org/2000/svg}"
# shapes of assignments, each over names already made ({a}, {b}); their numbers stay moderate
FORMS = (
    "{a} * {b}",
    "{a} + {b}",
    "{a} - {b}",
    "tanh({a})",
    "sigmoid({a}) * {b}",
    "{a} / (1 + {b}^2)",
    "max({a}, {b})",
    "exp(-{a}^2)",
    "log(1 + {a}^2)",
    "relu({a}) - {b}",
    "tanh({a} * {a})",
    "sqrt(1 + {a}^2)",
    "abs({a}) + min({a}, {b})",
    "-{a}",
    "{a} * 0.5",
)


def random_expression(seed: int, operations: int = 30) -> Expression:
    """An expression of at least ``operations`` operations, every one of them
    feeding the output (names used once and several times, operands used twice)."""
    rnd = random.Random(seed)
    inputs = ["x", "y", "z", "w"]
    values = {n: round(rnd.uniform(-2, 2), rnd.randint(1, 4)) for n in inputs}
    made = list(inputs)
    lines: list[str] = []
    unused = set(inputs)
    while True:
        a = rnd.choice(sorted(unused)) if unused and rnd.random() < 0.6 else rnd.choice(made)
        b = rnd.choice(made[-5:])
        name = f"s{len(lines) + 1}"
        form = rnd.choice(FORMS)
        lines.append(f"{name} = " + form.format(a=a, b=b))
        unused -= {a, b} if "{b}" in form else {a}
        unused.add(name)
        made.append(name)
        e = _expression(lines + [f"f = {' + '.join(sorted(unused))}"] if len(unused) > 1 else lines, values)
        if len(e.trace.operations) >= operations:
            return e


def _expression(lines: list[str], values: dict[str, float]) -> Expression:
    body = "".join(f"  {line}\n" for line in lines)
    shown = ", ".join(f"{k}: {v!r}" for k, v in values.items())
    return Expression.from_text(f"expression: |\n{body}values: {{{shown}}}\n")


def examples() -> list[Expression]:
    return [
        stepprop.load("staged"),
        stepprop.load("sigmoid-neuron"),
        _expression(["f = x * x + exp(x) / max(x, y)"], {"x": 0.5, "y": -1.5}),
        random_expression(7),
    ]


def _labels(svg_text: str) -> list[tuple[str, str, int, str, tuple[float, ...]]]:
    """Every label: (value or gradient, its edge's target, operand position, text, box)."""
    root = ET.fromstring(svg_text)
    found = []
    for g in root.iter(f"{SVG}g"):
        kind = (g.get("class") or "").split()
        if kind[:1] == ["label"]:
            r = g.find(f"{SVG}rect")
            box = tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
            found.append((kind[1], g.get("data-target"), int(g.get("data-position")), g.find(f"{SVG}text").text, box))
    return found


# ------------------------------------------------------------ the numbers --


@pytest.mark.parametrize("expression", examples(), ids=["staged", "sigmoid-neuron", "x*x", "random"])
def test_every_label_is_the_traces_number(expression):
    """Above an edge the value of its parent, below it the gradient flowing
    back along it (the edge's path share); out of the output, its value and 1."""
    t = expression.trace
    labels = _labels(draw.svg(expression.diagram(), 17))  # every digit: each label reads back exactly
    expected = {}
    for child in t.operations:
        for j, parent in enumerate(child.parents):
            expected[("value", child.name, j)] = parent.data
            if t.named(parent):
                expected[("gradient", child.name, j)] = t.contributions[(child, j)]
                if len(t.uses[parent]) == 1:  # used once: the share is the parent's gradient
                    assert t.contributions[(child, j)] == parent.grad
    expected[("value", "", 0)] = t.output.data
    expected[("gradient", "", 0)] = 1.0
    found = {(kind, target, j): float(text) for kind, target, j, text, _ in labels}
    assert len(found) == len(labels) == len(expected)
    assert found == expected


def test_the_numbers_of_cs231n_figures():
    staged = draw.text(stepprop.load("staged").diagram())
    for line in ["x --(-2 / -4)--> q (+)", "y --(5 / -4)--> q (+)", "q --(3 / -4)--> f (*)", "z --(-4 / 3)--> f (*)"]:
        assert line + "\n" in staged
    assert "f --(-12 / 1)-->" in staged
    neuron = {(kind, target, j): text for kind, target, j, text, _ in _labels(draw.svg(load_neuron(), 2))}
    # CS231n: w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3; gradients -0.20, 0.39, -0.39, -0.59, 0.20; f = 0.73
    assert neuron[("gradient", "n1", 0)] == "-0.2" and neuron[("gradient", "n1", 1)] == "0.39"
    assert neuron[("gradient", "n2", 0)] == "-0.39" and neuron[("gradient", "n2", 1)] == "-0.59"
    assert neuron[("gradient", "n4", 1)] == "0.2" and neuron[("value", "", 0)] == "0.73"
    # the constants (1 + e^-x, 1 / ...) carry their value and no gradient
    assert neuron[("value", "n7", 0)] == neuron[("value", "f", 0)] == "1"
    assert ("gradient", "n7", 0) not in neuron and ("gradient", "f", 0) not in neuron


def load_neuron():
    return stepprop.load("sigmoid-neuron").diagram()


def test_the_boxes_and_what_they_show():
    e = _expression(["q = x", "f = sigmoid(q)^2 - tanh(relu(-q)) + abs(sqrt(2)) * log(exp(q)) / min(q, 3)"], {"x": 0.5})
    d = e.diagram()
    root = ET.fromstring(draw.svg(d))
    boxes = {}
    for g in root.iter(f"{SVG}g"):
        kind = (g.get("class") or "").split()
        if kind[:1] == ["node"]:
            texts = [x.text for x in g.iter(f"{SVG}text")]
            boxes.setdefault(kind[1], []).append((g.get("data-name"), texts))
    ops = {name: texts for name, texts in boxes["operation"]}
    # one box per operation, each with its symbol and, under it, its name
    assert len(ops) == len(e.trace.operations) == len(boxes["operation"])
    for node in e.trace.operations:
        assert ops[node.name] == [symbol(node), node.name]
    assert [symbol(n) for n in e.trace.operations if n.op.name == "pow"] == ["^2"]
    assert ops["q"][0] == "=" and ops["f"][0] == "+"
    assert {symbol(n) for n in e.trace.operations} >= {"σ", "tanh", "relu", "-x", "abs", "sqrt", "log", "exp", "min"}
    assert boxes["input"] == [("x", ["x"])]
    assert sorted(texts[0] for _, texts in boxes["constant"]) == ["2", "3"]


def test_a_power_shows_its_exponent():
    d = _expression(["f = x^0.5 + x^-1 + x^3"], {"x": 4}).diagram()
    assert sorted(n.label for n in d.nodes if n.label and n.label.startswith("^")) == ["^-1", "^0.5", "^3"]


# ------------------------------------------------------------- the layout --


def _overlap(a, b):
    return not (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y)


def _check_layout(d, digits=6):
    lay = draw.Layout(d, digits)
    solid = list(lay.boxes.values()) + list(lay.captions.values())
    labels = [lab.box for lab in lay.labels]
    for i, a in enumerate(labels):
        for b in labels[i + 1 :] + solid:
            assert not _overlap(a, b), (lay.labels[i].text, a, b)
    for i, a in enumerate(solid):
        for b in solid[i + 1 :]:
            assert not _overlap(a, b), (a, b)
    # each number fits its box, and sits on its own edge: the value above, the gradient below
    for n in d.nodes:
        assert lay.boxes[n.id].w >= len(draw.node_text(n, digits)) * CHAR
    for lab in lay.labels:
        assert lab.box.w >= len(lab.text) * CHAR
        cx = lab.box.x + lab.box.w / 2
        route = lay.routes[lab.edge]
        under = [(a, b) for a, b in zip(route, route[1:]) if a[0] <= cx <= b[0] and b[0] > a[0]]
        assert under, lab
        ys = [a[1] + (b[1] - a[1]) * (cx - a[0]) / (b[0] - a[0]) for a, b in under]
        if lab.kind == "value":
            assert any(lab.box.y + lab.box.h <= y <= lab.box.y + lab.box.h + 4 * 17 for y in ys), lab
        else:
            assert any(lab.box.y - 4 * 17 <= y <= lab.box.y for y in ys), lab
    assert len(lay.labels) == sum(2 if e.gradient is not None else 1 for e in d.edges)
    return lay


@pytest.mark.parametrize("name", ["staged", "sigmoid-neuron"])
def test_the_bundled_graphs_are_drawn_clear(name):
    d = stepprop.load(name).diagram()
    lay = _check_layout(d)
    # the same layout in the SVG: one box per operation and per input and constant, every label
    root = ET.fromstring(draw.svg(d))
    nodes = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("node ")]
    assert len(nodes) == len(d.nodes)
    assert len([g for g in nodes if "operation" in g.get("class")]) == len(stepprop.load(name).trace.operations)
    assert len(_labels(draw.svg(d))) == len(lay.labels)
    assert "value" in root.find(f"{SVG}text[@class='legend']").itertext()


@pytest.mark.parametrize("seed", range(6))
def test_a_30_operation_expression_is_drawn_clear(seed):
    e = random_expression(seed)
    assert len(e.trace.operations) >= 30
    _check_layout(e.diagram())


def test_long_names_and_every_digit_fit():
    names = {"learning_rate_of_the_first_layer": 0.123456789, "momentum_coefficient": -1.5e-7, "b": 3}
    e = _expression(
        [
            "scaled_input_times_rate = learning_rate_of_the_first_layer * momentum_coefficient",
            "f = sigmoid(scaled_input_times_rate) / (b + scaled_input_times_rate^2)",
        ],
        names,
    )
    lay = _check_layout(e.diagram(), 17)
    assert max(len(lab.text) for lab in lay.labels) >= 20


def test_the_order_keeps_edges_from_crossing():
    d = _expression(["f = x * z + y * w"], {"x": 1, "y": 2, "z": 3, "w": 4}).diagram()
    first = [d.nodes[s.node].name for s in d.columns[0]]
    assert first in (["x", "z", "y", "w"], ["y", "w", "x", "z"])
    # columns by depth: the longest path from the inputs
    assert [sorted(d.nodes[s.node].name for s in c if s.node is not None) for c in d.columns[1:]] == [
        ["n1", "n2"],
        ["f"],
    ]


def test_a_graph_too_large_to_draw_is_listed_in_text(workdir):
    terms = [f"a{k}" for k in range(120)]
    (workdir / "big.yaml").write_text(
        "expression: |\n  f = " + " + ".join(terms) + "\nvalues: {" + ", ".join(f"{t}: 1" for t in terms) + "}\n"
    )
    d = stepprop.load("big.yaml").diagram()
    assert not d.drawable and d.columns == []
    assert len(d.nodes) + sum(k for k in range(119)) > MAX_SLOTS
    result = run("diagram", "big.yaml", "--format", "svg", code=1)
    assert "too large to draw" in result.stderr and "--format text" in result.stderr
    assert run("diagram", "big.yaml", "--format", "text", code=0).stdout.count("-->") == 2 * 119 + 1
    page = run("explain", "big.yaml", "--format", "html", code=0).stdout
    assert "<svg" not in page


# --------------------------------------------------------- the exports, CLI --


def test_the_cli_draws_an_expression(workdir):
    svg = run("diagram", "staged", "--format", "svg", code=0).stdout
    assert svg == draw.svg(stepprop.load("staged").diagram())
    ET.fromstring(svg)
    assert run("diagram", "staged", "-o", "graph.svg", code=0).stderr == "wrote graph.svg\n"
    assert (workdir / "graph.svg").read_text() == svg
    text = run("diagram", "sigmoid-neuron", "--format", "text", code=0).stdout
    assert "n6 --(0.367879 / -0.534447)--> n7 (+)" in text and "1 --(1)--> f (/)" in text
    assert "value / gradient" in text.splitlines()[1]


@pytest.mark.parametrize("option", ["--after", "--gradients"])
def test_a_networks_options_are_a_usage_error(option):
    result = run("diagram", "staged", option, code=2)
    assert f"{option}: for a network, not an expression" in result.stderr
    assert result.stdout == ""


def test_the_html_export_holds_the_graph():
    page = run("explain", "staged", "--format", "html", code=0).stdout
    svg = run("diagram", "staged", "--format", "svg", code=0).stdout
    assert svg.strip() in page
    assert f"<figcaption>{draw.CAPTION.replace(chr(39), '&#x27;')}</figcaption>" in page
    # a network's page keeps its own caption
    assert (
        "<figcaption>The network, every edge labelled with its weight.</figcaption>"
        in run("explain", "--format", "html", code=0).stdout
    )


def test_the_latex_export_draws_the_graph_and_compiles(tmp_path):
    tex = run("explain", "sigmoid-neuron", "--format", "latex", code=0).stdout
    picture = tex[tex.index(r"\begin{tikzpicture}") : tex.index(r"\end{tikzpicture}")]
    assert r"\textcolor{red!75!black}{gradient} below" in picture
    # the SVG's labels, from the same layout
    d = load_neuron()
    drawn = re.findall(r"text=(?:green|red)[^]]*\] at \([-\d.]+,[-\d.]+\) \{([^}]*)\};", picture)
    assert sorted(drawn) == sorted(text for *_, text, _ in _labels(draw.svg(d)))
    assert "tikzpicture" not in run("explain", "sigmoid-neuron", "--format", "latex", "--fragment", code=0).stdout
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine (pdflatex) is installed here, so the LaTeX is not compiled")
    run("explain", "sigmoid-neuron", "--format", "latex", "-o", str(tmp_path / "x.tex"), code=0)
    _pdflatex(engine, tmp_path, "x")
    # names with underscores, sigma and a power, in TikZ; and a 30-operation graph
    e = tmp_path / "odd.yaml"
    e.write_text(
        "expression: |\n  rate_1 = sigmoid(x_in)^0.5\n  f = rate_1 * max(x_in, 2)\nvalues: {x_in: 0.1234567}\n"
    )
    run("explain", str(e), "--format", "latex", "--digits", "12", "-o", str(tmp_path / "odd.tex"), code=0)
    _pdflatex(engine, tmp_path, "odd")
    # the picture is shrunk to the page where it is wider (the lines from its start to its end)
    lines = (tmp_path / "odd.tex").read_text().splitlines()
    start = next(k for k, line in enumerate(lines, 1) if "tikzpicture" in line)
    end = max(k for k, line in enumerate(lines, 1) if "tikzpicture" in line)
    log = (tmp_path / "odd.log").read_text(encoding="latin-1")
    for a, b in re.findall(r"Overfull \\hbox .* at lines (\d+)--(\d+)", log):
        assert int(b) < start - 1 or int(a) > end, (a, b)
    (tmp_path / "random.yaml").write_text(yaml.safe_dump(random_expression(3).config.to_dict()))
    run("explain", str(tmp_path / "random.yaml"), "--format", "latex", "-o", str(tmp_path / "random.tex"), code=0)
    _pdflatex(engine, tmp_path, "random")
