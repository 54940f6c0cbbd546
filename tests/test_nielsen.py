"""notation: nielsen: Nielsen's names (w^l_jk, z^l_j, a^l_j, delta^l_j, C, layers
numbered from 1 for the inputs) in every output, read back in answers and
options; the numbers are the post's, and every printed line still holds."""

from __future__ import annotations

import json
import re

import pytest
from conftest import CONFIGS, net_of, networks, run
from hypothesis import HealthCheck, assume, given, settings
from test_equations import environment, problems

import stepprop
from stepprop import config, names, worked
from stepprop.errors import TrainingDiverged
from stepprop.network import Net
from stepprop.nielsen import Nielsen
from stepprop.step import step

POST = (config.BUNDLED_DIR / "mazur.yaml").read_text(encoding="utf-8")
NIELSEN = POST + "\nnotation: nielsen\n"
# a name of the post's notation, as a word of a text (none may be left in Nielsen's)
POSTS_NAMES = re.compile(r"(?<![\w^])(net_|out_|target_|delta_[ho]|E_total|E_o\d|w\d+\b|b\d+\b|i\d\b|[ho]\d\b)")


def _nielsen(text: str) -> str:
    return re.sub(r"^notation:.*$", "", text, flags=re.M) + "\nnotation: nielsen\n"


def test_the_posts_names_in_nielsens():
    net = Net(config.parse(NIELSEN))
    n = Nielsen(net)
    expected = {
        "w5": "w^3_11",
        "w6": "w^3_12",
        "w7": "w^3_21",
        "w1": "w^2_11",
        "b1": "b^2",
        "net_h1": "z^2_1",
        "out_o2": "a^3_2",
        "delta_h2": "delta^2_2",
        "E_o1": "C_1",
        "E_total": "C",
        "i2": "x2",
        "target_o1": "y1",
        "dE_total/dw5": "dC/dw^3_11",
        "dE_o1/dout_h1": "dC_1/da^2_1",
        "w5+": "w^3_11+",
        "change_w5": "change_w^3_11",
        "out_o1[2]": "a^3_1[2]",
        "z^[2](1,2)": "z^3(1,2)",
        "dE_total/dW^[2]": "dC/dw^3",
        "a^[0]": "a^1",
    }
    for post, nielsen in expected.items():
        assert n.name(post) == nielsen
        assert n.canonical(nielsen) == post
    # as students write them
    for written, post in {
        "w^{3}_{11}": "w5",
        "w_{11}^{3}": "w5",
        "∂C/∂w^3_11": "dE_total/dw5",
        "δ^3_1": "delta_o1",
        "Δw^3_12": "change_w6",
        "w^3_11'": "w5+",
        "x_1": "i1",
        "W^3": "W^[2]",
    }.items():
        assert n.canonical(written) == post, written
    # two-digit indices are written apart: (1, 12) and (11, 2) are not both w^3_112
    wide = Net(
        config.parse(
            "inputs: [" + ", ".join(["0.1"] * 12) + "]\ntargets: [0.5]\neta: 1\nlayers:\n"
            "  - weights: [" + ", ".join(["[" + ", ".join(["0.1"] * 12) + "]"] * 11) + "]\n"
            "  - weights: [[" + ", ".join(["0.1"] * 11) + "]]\nnotation: nielsen\n"
        )
    )
    spelled = {Nielsen(wide).name(p) for p in wide.params}
    assert len(spelled) == len(wide.params) and "w^2_1,12" in spelled and "w^2_11,2" in spelled


def test_the_posts_step_in_nielsens_names():
    text = run("explain", _write(NIELSEN)).output
    assert "z^2_1 = w^2_11 * x1 + w^2_12 * x2 + b^2 * 1 = 0.15 * 0.05 + 0.2 * 0.1 + 0.35 * 1 = 0.3775" in text
    assert "C = C_1 + C_2 = 0.274811083 + 0.0235600256 = 0.298371109" in text
    assert "delta^3_1 = dC/dz^3_1 = dC/da^3_1 * da^3_1/dz^3_1 = 0.74136507 * 0.186815602 = 0.138498562" in text
    assert "w^3_11+ = w^3_11 - eta * dC/dw^3_11 = 0.4 - 0.5 * 0.0821670406 = 0.35891648" in text
    assert not POSTS_NAMES.findall(text), sorted(set(POSTS_NAMES.findall(text)))
    # the same numbers, by their new names
    post, nielsen = stepprop.load().step(), stepprop.Network(config.parse(NIELSEN)).step()
    n = nielsen.notation
    assert nielsen.values == {n.name(k): v for k, v in post.values.items()}
    assert nielsen.terms == {n.name(k): v for k, v in post.terms.items()}
    assert nielsen.updated["w^3_11"] == post.updated["w5"]


def _write(text: str, name: str = "nielsen.yaml") -> str:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _nielsen_holds(trace, digits=9, places=None):
    """Every equation of the Nielsen documents evaluates, by Nielsen's names."""
    n = Nielsen(trace.net, trace.graph.multi)
    env = n.values(environment(trace))
    for doc in (
        worked.explain(trace),
        worked.explain(trace, compact=True),
        worked._Builder(trace).document(None, inputs=True, changes=True),
    ):
        shown = n.document(doc)
        assert problems(shown, env, digits, places) == []
        text = "".join(t for eq in shown.equations() for t in [eq.name or ""])
        assert not POSTS_NAMES.findall(text), text


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_bundled_configs_hold_in_nielsens_names(path):
    net = Net(config.parse(_nielsen(path.read_text(encoding="utf-8")), folder=path.parent))
    for b in range(len(net.config.batches())):
        _nielsen_holds(step(net, b))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_hold_in_nielsens_names(case):
    text, batch = case
    net = net_of(_nielsen(text))
    try:
        trace = step(net, batch)
    except TrainingDiverged:
        assume(False)
    _nielsen_holds(trace)
    # every name is Nielsen's, and reads back as the post's
    n = Nielsen(net, trace.graph.multi)
    known = names.checkable(trace)
    spelled = {n.name(k): k for k in known}
    assert len(spelled) == len(known)
    for nielsen, post in spelled.items():
        if post not in ("error", "error_after"):
            assert n.canonical(nielsen) == post, (nielsen, post)


def test_json_and_names_are_nielsens():
    path = _write(NIELSEN)
    data = json.loads(run("explain", path, "--format", "json").output)
    assert data["values"]["a^3_1"] == stepprop.load().step().values["out_o1"]
    assert data["gradients"]["w^3_11"] == pytest.approx(0.0821670406, abs=1e-10)
    assert data["network"]["inputs"] == ["x1", "x2"]
    assert not POSTS_NAMES.findall(json.dumps(data))
    listed = run("explain", path, "--names").output.split()
    assert {"z^2_1", "a^3_2", "delta^3_1", "dC/dw^3_11", "w^3_11+", "C", "C+"} <= set(listed)
    assert not POSTS_NAMES.findall(" ".join(listed))
    # --only in Nielsen's names; an unknown one is suggested in them
    only = run("explain", path, "--only", "w^3_11").output
    assert "dC/dw^3_11 = " in only and "dC/dw^3_12 =" not in only
    wrong = run("explain", path, "--only", "w^3_99", code=1).output
    assert "w^3_99" in wrong and not POSTS_NAMES.findall(wrong)


def test_the_matrix_view_numbers_layers_from_the_input():
    path = _write(NIELSEN)
    text = run("explain", path, "--view", "matrix").output
    assert "Layer 2 (hidden layer: sigmoid)" in text and "Layer 1 (" not in text
    assert "z^3 = w^3 * a^2 + b^3" in text
    assert "delta^2 = (w^3^T * delta^3) .* da^2/dz^2" in text
    assert not POSTS_NAMES.findall(text)
    data = json.loads(run("explain", path, "--view", "matrix", "--names", "--format", "json").output)
    assert data["entries"]["z^3"] == [["z^3_1"], ["z^3_2"]]


def test_check_reads_and_writes_nielsens_names(workdir):
    (workdir / "net.yaml").write_text(NIELSEN)
    (workdir / "a.yaml").write_text(
        "z^2_1: 0.3775\nδ^3_1: 0.1385\ndC/dw^3_11: 0.0822\nw^3_11+: 0.3589\nΔw^3_12: -0.0413\nC: 0.2984\n"
        "z^3: [1.1059, 1.2249]\na^2_2: 0.61\n"
    )
    result = run("check", "net.yaml", "a.yaml", code=1)
    assert "0 rounded, 1 wrong" in result.output and "the first wrong answer is a^2_2" in result.output
    assert not POSTS_NAMES.findall(result.output), sorted(set(POSTS_NAMES.findall(result.output)))
    graded = {
        a["name"]: a
        for a in json.loads(run("check", "net.yaml", "a.yaml", "--format", "json", code=1).output)["answers"]
    }
    assert graded["delta^3_1"]["status"] == graded["z^3_1"]["status"] == "correct"
    assert graded["a^2_2"]["status"] == "wrong"
    (workdir / "b.yaml").write_text("w^3_21: 0.5\n")
    given = run("check", "net.yaml", "b.yaml", code=1).output
    assert "w^3_21 is given in the config" in given and "its update is w^3_21+" in given


def test_a_filled_in_template_is_all_correct(workdir):
    """The template names every quantity in Nielsen's names; filled with the
    exact numbers, every answer is correct."""
    (workdir / "net.yaml").write_text(NIELSEN)
    template = run("check", "--template", "net.yaml").output
    assert "z^2_1:   # = w^2_11 * x1 + w^2_12 * x2 + b^2 * 1" in template
    known = stepprop.Network(config.parse(NIELSEN)).step().names
    lines = []
    for line in template.splitlines():
        key = line.split(":")[0].strip('"') if line and not line.startswith("#") else None
        if key:
            assert key in known, key
            lines.append(f'"{key}": {known[key]!r}')
    (workdir / "filled.yaml").write_text("\n".join(lines) + "\n")
    grades = stepprop.check("net.yaml", "filled.yaml")
    assert grades.wrong == 0 and all(g.status == "correct" for g in grades.graded)


def test_the_diagram_and_training_in_nielsens_names():
    path = _write(NIELSEN)
    svg = run("diagram", path, "--format", "svg").output
    assert "w^3_11 = 0.4" in svg and not re.search(r">w\d", svg)
    trained = json.loads(run("train", path, "--epochs", "3", "--format", "json").output)
    assert "w^3_11" in json.dumps(trained) and not POSTS_NAMES.findall(json.dumps(trained))
    verified = run("verify", path, "--no-torch").output
    assert "w^3_11" in verified and not POSTS_NAMES.findall(verified)


TWO_HIDDEN = """
notation: nielsen
inputs: [0.5, -0.2]
targets: [0.3]
eta: 0.5
layers:
  - weights: [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.2]]
    bias: [0.1, 0.2, -0.1]
  - weights: [[0.2, -0.3, 0.1], [0.4, 0.1, -0.2]]
    bias: [0.05, -0.05]
  - weights: [[0.3, -0.6]]
    bias: [0.1]
"""


def test_two_hidden_layers_are_numbered_from_the_input(workdir):
    """Layers 2 and 3 hidden, 4 the output, in every view; a file's name is no name."""
    (workdir / "b3.yaml").write_text(TWO_HIDDEN)
    text = run("explain", "b3.yaml").output
    assert "network 2-3-2-1 from b3.yaml" in text
    assert "\nHidden layer 3\n" in text and "\nHidden layer 2\n" in text and "Hidden layer 1" not in text
    assert "dC/da^2_1 (via a^3_1)" in text and not POSTS_NAMES.findall(text.replace("b3.yaml", ""))
    drawn = run("diagram", "b3.yaml", "--format", "text").output
    assert "hidden layer 2 (sigmoid):" in drawn and "  a^2_1 <- x1 (w^2_11 = 0.1)" in drawn
    assert not POSTS_NAMES.findall(drawn.replace("b3.yaml", ""))
    # the share through a^3_1 read back as printed, and as named
    (workdir / "a.yaml").write_text('"dC/da^2_1 (via a^3_1)": 0.1\ndC^3_1/da^2_1: 0.1\n')
    graded = stepprop.check("b3.yaml", "a.yaml").graded
    assert [g.answer.name for g in graded] == ["dE_h2_1/dout_h1_1"] * 2


def test_the_latex_of_two_hidden_layers_compiles(workdir):
    import shutil
    import subprocess

    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine (pdflatex) is installed here, so the LaTeX is not compiled")
    (workdir / "b3.yaml").write_text(TWO_HIDDEN)
    run("explain", "b3.yaml", "--compact", "--format", "latex", "-o", "b3.tex")
    assert r"\text{via } a^{3}_{1}" in (workdir / "b3.tex").read_text(encoding="utf-8")
    done = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", "b3.tex"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize(
    "written, meant",
    [
        ("dC/dw_11^3: 0.0822", "dE_total/dw5"),
        ("dC/dw_{11}^{3}: 0.0822", "dE_total/dw5"),
        ("da_1^3/dz_1^3: 0.1868", "dout_o1/dnet_o1"),
        ("w^3': [[0.3589, 0.4087], [0.5113, 0.5614]]", "w5+"),
    ],
)
def test_answers_as_nielsen_readers_write_them(workdir, written, meant):
    (workdir / "a.yaml").write_text(written + "\n")
    assert stepprop.check("nielsen", "a.yaml").graded[0].answer.name == meant


@pytest.mark.parametrize(
    "written, message",
    [
        ("z^3: 1.1059", "z^3 is 2 x 1: write its answer as a list, [1, 2]"),
        ("a^1_1: 0.05", "a^1_1 is given in the config, not worked out by the step"),
        ('"dC/dw^3": [[0.08, 0.02], [0.08, 0.02], [0.1, 0.1]]', "dC/dw^3 is 2 x 2: it has no entry (3, 1)"),
    ],
)
def test_answer_errors_in_nielsens_names(workdir, written, message):
    (workdir / "a.yaml").write_text(written + "\n")
    assert message in run("check", "nielsen", "a.yaml", code=1).output


def test_explanations_say_it_in_nielsens_words(workdir):
    (workdir / "a.yaml").write_text("a^3_1: 0.7514\nw^3_11+: 0.4411\n")
    report = run("check", "nielsen", "a.yaml", code=1).output
    assert "w+ = w - eta * dC/dw" in report and "(as " not in report
    assert "C = the sum over outputs of 1/2 (y - a)^2" in run("explain", "nielsen").output


@pytest.mark.parametrize("extra", ["optimizer: adam\nweight_decay: 0.01\npenalty: l2\n", "optimizer: momentum\n"])
def test_an_optimisers_quantities_carry_their_parameters_indices(extra, workdir):
    """v_w5 is v^3_11, m_hat_w5 m_hat^3_11, E_reg C_reg; their equations hold over
    two updates, JSON names them so, and check reads them."""
    text = NIELSEN + extra
    net = Net(config.parse(text))
    from stepprop.step import steps

    for trace in steps(net, 2):
        _nielsen_holds(trace)
    out = run("explain", _write(text), "--steps", "2").output
    assert not POSTS_NAMES.findall(out), sorted(set(POSTS_NAMES.findall(out)))
    assert not re.search(r"\b[gvms]_w\d|m_hat_w|E_reg", out)
    if "adam" in extra:
        assert "m_hat^3_11 = m^3_11/(1 - beta_1^2)" in out
        assert "C_reg = C + lambda/2 * (w^2_11^2 + " in out
    else:
        assert "v^3_11 = mu * v^3_11(t-1) + dC/dw^3_11" in out
    data = json.loads(run("explain", _write(text), "--steps", "2", "--format", "json").output)
    second = data["steps"][1]["optimizer"]
    assert not POSTS_NAMES.findall(json.dumps(second)), second
    kind = "m" if "adam" in extra else "v"
    assert second["state_before"][f"{kind}^3_11(t-1)"] == data["steps"][0]["optimizer"]["quantities"][f"{kind}^3_11"]
    (workdir / "net.yaml").write_text(text)
    value = stepprop.Network(config.parse(text)).steps(2)[1].names[f"{kind}^3_11"]
    (workdir / "a.yaml").write_text(f"step: 2\n{kind}^3_11: {value!r}\n")
    graded = json.loads(run("check", "net.yaml", "a.yaml", "--format", "json").output)["answers"]
    assert [(a["name"], a["status"]) for a in graded] == [(f"{kind}^3_11", "correct")]
