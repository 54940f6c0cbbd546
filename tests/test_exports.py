"""Markdown, LaTeX and HTML worked examples, the network diagram and the loss curve.

The golden files in tests/golden/ were written by `stepprop explain --format
markdown|latex` and read through line by line against the post before they
were committed (notation and every number); the tests below also check the
post's figures in them independently.  No test writes them: after a
deliberate change, write them with that command and check the diff by hand.
"""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import BUNDLED, run
from hypothesis import given, settings
from hypothesis import strategies as st

from stepprop import config, network
from stepprop import step as steps
from stepprop.diagram import diagram
from stepprop.views import diagram as draw
from stepprop.views import plot

GOLDEN = Path(__file__).parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("fmt,golden", [("markdown", "mazur.md"), ("latex", "mazur.tex")])
def test_golden_worked_example(fmt, golden):
    result = run("explain", "--format", fmt, code=0)
    # the golden files are written by hand-checked runs, never by the tests
    assert result.stdout == (GOLDEN / golden).read_text(encoding="utf-8")


def test_markdown_has_the_posts_lines():
    md = (GOLDEN / "mazur.md").read_text(encoding="utf-8")
    # $$ blocks are balanced and every one holds math
    assert md.count("$$") % 2 == 0
    assert (
        "w_{5}^{+} &= w_{5} - \\eta \\cdot \\frac{\\partial E_{total}}{\\partial w_{5}} \\\\\n"
        "&= 0.4 - 0.5 \\cdot 0.0821670406 \\\\\n&= 0.35891648" in md
    )
    assert "&= 0.0553994247 + \\left(-0.0190491183\\right)" in md  # dE_o1/dout_h1 + dE_o2/dout_h1
    for figure in ["0.593269992", "0.75136507", "0.298371109", "0.186815602", "0.149780716", "0.291027774"]:
        assert figure in md


def test_latex_numbers_match_the_terminal_output():
    text = run("explain").stdout
    tex = run("explain", "--format", "latex", "--fragment").stdout
    numbers = lambda s: sorted(set(re.findall(r"-?\d+\.\d+", s)))  # noqa: E731
    assert numbers(text) == numbers(tex)


def test_latex_fragment_is_the_body_only():
    frag = run("explain", "--format", "latex", "--fragment").stdout
    assert "\\documentclass" not in frag and "\\begin{align*}" in frag
    # the whole document's body, but for the picture (which needs TikZ, loaded by the preamble)
    assert "tikzpicture" not in frag
    whole = (GOLDEN / "mazur.tex").read_text(encoding="utf-8")
    picture = re.search(
        r"\\begin\{center\}\n\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}\n\\end\{center\}\n", whole, re.S
    )
    assert picture is not None
    assert frag in whole.replace(picture.group(0), "")


def _compiled(folder: Path, name: str, *args: str) -> int:
    """``stepprop explain ARGS -o NAME.tex`` compiled by pdflatex: its pages."""
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine (pdflatex) is installed here, so the LaTeX is not compiled")
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is None or not subprocess.run([kpsewhich, "tikz.sty"], capture_output=True, text=True).stdout:
        pytest.skip("TeX is installed without TikZ (pgf), which the LaTeX export's picture needs")
    src = folder / f"{name}.tex"
    assert run("explain", *args, "--format", "latex", "-o", str(src)).exit_code == 0
    return _pdflatex(engine, folder, name)


def _pdflatex(engine: str, folder: Path, name: str) -> int:
    """NAME.tex in ``folder`` compiled: its pages."""
    src = folder / f"{name}.tex"
    proc = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", src.name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (folder / f"{name}.pdf").stat().st_size > 1000
    pages = re.search(rf"Output written on {name}\.pdf \((\d+) pages?", proc.stdout)
    assert pages is not None, proc.stdout[-500:]
    return int(pages.group(1))


def test_latex_compiles(tmp_path):
    for name in ("mazur", "softmax", "tanh-relu"):
        _compiled(tmp_path, name, name)


@pytest.mark.parametrize("view", [["--compact"], ["--view", "matrix"], []], ids=["compact", "matrix", "full"])
def test_a_wide_networks_latex_stays_on_the_page(tmp_path, view):
    """4-8-8-3: a long sum or wide matrix is shrunk to the page, the parameters'
    table runs over pages, the neuron tables stack: nothing is cut off."""
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine (pdflatex) is installed here, so the LaTeX is not compiled")
    config = tmp_path / "wide.yaml"
    run("init", "4-8-8-3", "-o", str(config))
    run("explain", str(config), *view, "--format", "latex", "-o", str(tmp_path / "wide.tex"))
    _pdflatex(engine, tmp_path, "wide")
    log = (tmp_path / "wide.log").read_text(encoding="latin-1")
    assert "Overfull" not in log, [line for line in log.splitlines() if "Overfull" in line][:5]


def test_names_in_the_latex_prose_are_typeset():
    """A name with a layer above it (W^[1], w^3_11) and a size (2 x 2) in a line
    of text are math, not W\\textasciicircum{}[1]."""
    matrix = run("explain", "--view", "matrix", "--format", "latex").stdout
    assert r"$W^{[1]}$ is $2 \times 2$, $a^{[0]}$ $2 \times 1$" in matrix and r"W\textasciicircum" not in matrix
    nielsen = run("explain", "nielsen", "--format", "latex").stdout
    assert r"${w^{3}_{11}}$: the weight ${a^{2}_{1}}$ $\to$ ${a^{3}_{1}}$" in nielsen
    assert r"w\textasciicircum" not in nielsen and r"a\textasciicircum" not in nielsen


def test_a_check_report_of_greek_names_compiles(tmp_path):
    """Answers named as on paper (δ_o1, Δw5 and ∆w6 with the increment sign,
    ∂E/∂w7) reach the report's text: pdflatex's text fonts have none of them."""
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine (pdflatex) is installed here, so the LaTeX is not compiled")
    answers = tmp_path / "a.yaml"
    answers.write_text("δ_o1: 0.1385\nΔw5: -0.0411\n∆w6: 0.04\n∂E/∂w7: 0.0227\n", encoding="utf-8")
    out = tmp_path / "report.tex"
    run("check", str(answers), "--format", "latex", "-o", str(out), code=1)
    assert "δ" not in out.read_text(encoding="utf-8")
    _pdflatex(engine, tmp_path, "report")


def test_the_latex_picture_is_the_svgs(tmp_path):
    """The TikZ picture is drawn from the SVG's own layout: the same labels at
    the same places (one scale apart), the same nodes."""
    from stepprop.views.diagram import TIKZ_SCALE

    tex = run("explain", "--format", "latex").stdout
    picture = tex[tex.index("\\begin{tikzpicture}") : tex.index("\\end{tikzpicture}")]
    svg_text = run("diagram", "--format", "svg").stdout
    svg_labels = re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]*/><text[^>]*>([^<]*)</text>', svg_text
    )
    tikz_labels = re.findall(r"at \(([-\d.]+),([-\d.]+)\) \{(w\d+ = [-\d.]+)\}", picture)
    assert len(svg_labels) == len(tikz_labels) == 8
    for (x, y, w, h, text), (tx, ty, ttext) in zip(svg_labels, tikz_labels):
        assert text == ttext
        assert float(tx) == pytest.approx((float(x) + float(w) / 2) * TIKZ_SCALE, abs=0.01)
        assert float(ty) == pytest.approx(-(float(y) + float(h) / 2) * TIKZ_SCALE, abs=0.01)
    assert picture.count("circle") == svg_text.count("<circle")


def test_the_compact_handout_of_the_posts_step_is_two_pages(tmp_path):
    assert _compiled(tmp_path, "step", "--compact") == 2


class _Strict(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "link", "input", "line", "circle", "rect", "path"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.problems = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


@pytest.mark.parametrize("name", BUNDLED)
def test_html_is_well_formed_self_contained_and_holds_the_diagram(name):
    page = run("explain", name, "--format", "html").stdout
    parser = _Strict()
    parser.feed(page)
    parser.close()
    assert parser.problems == [] and parser.stack == []
    tags = [t for t, _ in parser.tags]
    assert "svg" in tags and "math" in tags
    assert "script" not in tags and "link" not in tags and "img" not in tags
    urls = set(re.findall(r"https?://[^\"' )]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    # the diagram in the page is the same drawing `stepprop diagram` makes
    svg = run("diagram", name, "--format", "svg").stdout
    assert svg.strip() in page


def _geometry(svg_text):
    """(node centres and radii by id, labels, every edge as (x1, y1, x2, y2))."""
    root = ET.fromstring(svg_text)
    centers = {}
    for g in root.iter(f"{SVG}g"):
        if "node" in (g.get("class") or "").split():
            c = g.find(f"{SVG}circle")
            centers[g.get("data-id")] = (float(c.get("cx")), float(c.get("cy")), float(c.get("r")))
    labels = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "label":
            r = g.find(f"{SVG}rect")
            box = tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
            labels.append(
                (g.get("data-param"), g.get("data-source"), g.get("data-target"), g.find(f"{SVG}text").text, box)
            )
    edges = [tuple(float(line.get(k)) for k in ("x1", "y1", "x2", "y2")) for line in root.iter(f"{SVG}line")]
    return centers, labels, edges


def _distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def _check_layout(svg_text):
    centers, labels, edges = _geometry(svg_text)
    for name, source, target, text, (x, y, w, h) in labels:
        cx, cy = x + w / 2, y + h / 2
        sx, sy, _ = centers[source]
        tx, ty, _ = centers[target]
        # the label sits on the segment it names ...
        assert _distance(cx, cy, sx, sy, tx, ty) < 1.0, (name, text)
        assert (sx, sy, tx, ty) in edges, (name, "no such edge")
        # ... and clearly closer to it than to any other edge (half its height away at least)
        for edge in edges:
            if edge != (sx, sy, tx, ty):
                assert _distance(cx, cy, *edge) >= h / 2, (name, text, "on another edge", edge)
        # ... and covers no node
        for node, (nx, ny, r) in centers.items():
            nearest_x, nearest_y = min(max(nx, x), x + w), min(max(ny, y), y + h)
            assert (nearest_x - nx) ** 2 + (nearest_y - ny) ** 2 > r * r, (name, node)
    boxes = [b for *_, b in labels]
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, "labels overlap"
    return centers, labels


def test_post_diagram_labels_every_weight_at_its_edge():
    svg_text = run("diagram", "--format", "svg").stdout
    centers, labels = _check_layout(svg_text)
    found = {name: (source, target, text) for name, source, target, text, _ in labels}
    expect = {
        "w1": ("i1", "h1", "0.15"),
        "w2": ("i2", "h1", "0.2"),
        "w3": ("i1", "h2", "0.25"),
        "w4": ("i2", "h2", "0.3"),
        "w5": ("h1", "o1", "0.4"),
        "w6": ("h2", "o1", "0.45"),
        "w7": ("h1", "o2", "0.5"),
        "w8": ("h2", "o2", "0.55"),
    }
    for name, (source, target, value) in expect.items():
        assert found[name] == (source, target, f"{name} = {value}")
    # the shared biases are drawn as the post draws them: a node with edges to its neurons
    assert "b1 = 0.35" in svg_text and "b2 = 0.6" in svg_text
    assert "target 0.01" in svg_text and "0.05" in svg_text


def test_diagram_after_and_gradients():
    after = run("diagram", "--after", "--format", "svg").stdout
    assert "w5+ = 0.358916" in after and "w1+ = 0.149781" in after
    grads = run("diagram", "--gradients", "--format", "svg").stdout
    assert "dE_total/dw5 = 0.082167<" in grads
    assert run("diagram", "--after", "--gradients").exit_code == 2


def test_diagram_text_version():
    out = run("diagram", "--format", "text").stdout
    assert "h1 <- i1 (w1 = 0.15), i2 (w2 = 0.2), bias b1 = 0.35" in out
    assert "o2 <- h1 (w7 = 0.5), h2 (w8 = 0.55), bias b2 = 0.6   target 0.99" in out


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=2, max_size=5),
    st.sampled_from(["shared", "per-neuron", "none"]),
    st.integers(0, 10_000),
)
def test_diagram_labels_never_overlap(shape, bias, seed):
    import random

    rnd = random.Random(seed)
    layers = []
    for prev, size in zip(shape, shape[1:]):
        layer = {"weights": [[round(rnd.uniform(-2, 2), rnd.randint(1, 6)) for _ in range(prev)] for _ in range(size)]}
        if bias == "shared":
            layer["bias"] = round(rnd.uniform(-1, 1), 3)
        elif bias == "per-neuron":
            layer["bias"] = [round(rnd.uniform(-1, 1), 3) for _ in range(size)]
        layers.append(layer)
    import yaml

    text = yaml.safe_dump({"inputs": [0.5] * shape[0], "targets": [0.5] * shape[-1], "eta": 0.5, "layers": layers})
    trace = steps.step(network.Net(config.parse(text)))
    centers, labels = _check_layout(draw.svg(diagram(trace)))
    d = diagram(trace)
    n_labelled = sum(1 for e in d.edges if e.label)
    # every label placed, clear of the others; or, beyond what a picture shows legibly, none
    assert len(labels) == (n_labelled if draw.labelled(d) else 0)


def test_a_wide_network_is_drawn_with_its_weights_in_tables():
    """4-8-8-3: 32, 64 and 24 connections between the columns, too many to label
    legibly; each line shows its weight's sign and size, and a table per layer
    gives every weight, row by neuron, column by source."""
    import random

    import yaml

    rnd = random.Random(7)
    shape = [4, 8, 8, 3]
    layers = [
        {"weights": [[round(rnd.uniform(-1, 1), 2) for _ in range(a)] for _ in range(b)], "bias": 0.1}
        for a, b in zip(shape, shape[1:])
    ]
    text = yaml.safe_dump({"inputs": [0.5] * 4, "targets": [0.5] * 3, "eta": 0.5, "layers": layers})
    trace = steps.step(network.Net(config.parse(text)))
    d = diagram(trace)
    assert not draw.labelled(d)
    picture = draw.svg(d)
    ET.fromstring(picture)  # well-formed
    assert 'class="label"' not in picture and "the tables below give the numbers" in picture
    colours = re.findall(r'<line [^>]*stroke="(#[0-9a-f]+)" stroke-width="([\d.]+)"', picture)
    assert len(colours) == 4 * 8 + 8 * 8 + 8 * 3
    weights = [w for layer in layers for row in layer["weights"] for w in row]
    assert sorted(c for c, _ in colours) == sorted(
        "#1a73e8" if w > 0 else "#d93025" if w < 0 else "#9aa0a6" for w in weights
    )
    tables = re.findall(r'<g class="matrix">(.*?)</g>', picture, re.S)
    assert len(tables) == 3
    for layer, table in zip(layers, tables):
        cells = re.findall(r'fill="#1a1a8c">([^<]*)<', table)
        assert [float(c) for c in cells] == [w for row in layer["weights"] for w in row]


def test_loss_curve_image(tmp_path):
    pytest.importorskip("matplotlib")
    for suffix in ("svg", "png"):
        path = tmp_path / f"loss.{suffix}"
        run("train", "--epochs", "2000", "--plot", str(path), code=0)
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in data
    svg_text = (tmp_path / "loss.svg").read_text()
    assert "epoch" in svg_text


def test_loss_curve_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = run("train", "--epochs", "10", "--plot", str(tmp_path / "loss.png"))
    assert result.exit_code == 1
    assert "pip install 'stepprop[plot]'" in result.stderr
    assert not (tmp_path / "loss.png").exists()


def test_plot_file_type_is_checked_before_training(tmp_path):
    result = run("train", "--plot", str(tmp_path / "loss.gif"))
    assert result.exit_code == 1 and ".svg, .png or .pdf" in result.stderr


def test_the_loss_curve_is_bounded_and_log_scaled(post_trained):
    result = post_trained
    assert 1000 <= len(result.curve) <= 1002
    assert result.curve[0][0] == 1 and result.curve[-1] == (10_000, result.error)
    errors = [e for _, e in result.curve]
    assert plot.use_log_scale(errors)
    line = plot.sparkline(result.curve)
    assert line[0] == "█" and line[-1] == "▁" and set(line) <= set(plot.BLOCKS)
    assert not plot.use_log_scale([0.5, 0.4, 0.3])


def test_check_details_export_as_markdown(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("net_h1: 0.3825\nout_h1: 0.593269992\n")
    result = run("check", str(answers), "--format", "markdown")
    assert result.exit_code == 1
    assert "| net_h1 | 0.3825 | 0.3775 | wrong |" in result.stdout
    assert "w_{1} \\cdot i_{1} + w_{3} \\cdot i_{2}" in result.stdout  # the mistaken line, as math


def test_output_file_is_written_once_and_not_overwritten(tmp_path):
    path = tmp_path / "step.md"
    assert run("explain", "--format", "markdown", "-o", str(path)).exit_code == 0
    first = path.read_text()
    path.write_text("mine")
    again = run("explain", "--format", "markdown", "-o", str(path))
    assert again.exit_code == 1 and "exists" in again.stderr and path.read_text() == "mine"
    assert run("explain", "--format", "markdown", "-o", str(path), "--force").exit_code == 0
    assert path.read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step.md"]


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html"])
@pytest.mark.parametrize("compact", [False, True])
def test_a_rendered_document_is_freed_at_once(fmt, compact):
    """No view keeps the worked example in a reference cycle: a long document
    (millions of objects) would otherwise wait for the garbage collector, a
    second and more at the end of every command."""
    import gc
    import weakref

    from stepprop.api import load, render_chunks

    step = load().step()
    doc = step.explain(compact=compact)
    alive = weakref.ref(doc)
    gc.disable()
    try:
        for _ in render_chunks(doc, fmt, 9, False, step._picture):
            pass
        del doc
        assert alive() is None
    finally:
        gc.enable()
