"""stepprop quiz: a variant per student, its key, sheet and solution; no degenerate draws."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import run

import stepprop
from stepprop import lms, quiz
from stepprop.config import parse
from stepprop.init import new_config
from stepprop.rounding import written

FILES = [
    "problem.yaml",
    "sheet.md",
    "sheet.html",
    "sheet.tex",
    "answers-template.yaml",
    "key.yaml",
    "solution.md",
    "solution.html",
    "solution.tex",
]
TOP = ["canvas-qti.zip", "key.csv", "moodle.xml", "quiz.yaml"]  # the files at the top of a quiz
ASK = "out_o1 E_total dE_total/dw5 w5+ dE_total/dw1 w1+"


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def written_quiz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("q") / "quiz"
    result = run("quiz", "2-2-2", "--count", "3", "--seed", "2027", "--ask", ASK, "--round", "4", "-o", str(folder))
    assert result.exit_code == 0, result.output
    return folder


def test_writes_a_folder_per_variant_and_the_class_key(written_quiz: Path):
    """A folder per variant, key.csv, and the learning platforms' files."""
    assert sorted(p.name for p in written_quiz.iterdir()) == ["01", "02", "03", *TOP]
    for variant in ("01", "02", "03"):
        assert sorted(p.name for p in (written_quiz / variant).iterdir()) == sorted(FILES)
    rows = list(csv.reader(io.StringIO((written_quiz / "key.csv").read_text())))
    assert "round: 4\n" in (written_quiz / "quiz.yaml").read_text()
    assert rows[0] == ["id", *ASK.split()]
    assert [r[0] for r in rows[1:]] == ["01", "02", "03"]


def test_same_seed_same_bytes_and_the_variants_differ(written_quiz: Path, tmp_path: Path):
    again = tmp_path / "again"
    run("quiz", "2-2-2", "--count", "3", "--seed", "2027", "--ask", ASK, "--round", "4", "-o", str(again), code=0)
    assert tree(again) == tree(written_quiz)
    sheets = {(written_quiz / v / "sheet.md").read_text() for v in ("01", "02", "03")}
    keys = {tuple(r[1:]) for r in csv.reader(io.StringIO((written_quiz / "key.csv").read_text()))}
    assert len(sheets) == 3 and len(keys) == 4
    other = tmp_path / "other"
    run("quiz", "2-2-2", "--count", "3", "--seed", "2028", "--ask", ASK, "-o", str(other), code=0)
    assert tree(other)["01/key.yaml"] != tree(written_quiz)["01/key.yaml"]


@pytest.mark.parametrize("variant", ["01", "02", "03"])
def test_every_key_grades_all_correct(written_quiz: Path, variant: str):
    folder = written_quiz / variant
    result = run("check", str(folder / "problem.yaml"), str(folder / "key.yaml"), "--format", "json", code=0)
    grades = json.loads(result.stdout)["answers"]
    assert [g["name"] for g in grades] == ASK.split()
    assert {g["status"] for g in grades} == {"correct"}


@pytest.mark.parametrize("variant", ["01", "02", "03"])
def test_the_key_is_the_engines_number_for_the_problem(written_quiz: Path, variant: str):
    folder = written_quiz / variant
    step = stepprop.load(str(folder / "problem.yaml")).step()
    by_hand = stepprop.load(str(folder / "problem.yaml")).step(round=4)
    key = (folder / "key.yaml").read_text()
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO((written_quiz / "key.csv").read_text()))}
    for k, name in enumerate(ASK.split()):
        line = next(line for line in key.splitlines() if line.startswith(f"{name}:"))
        shown, exact = line.split(":", 1)[1].split("# exact")
        assert float(exact) == step.names[name]
        assert shown.strip() == written(step.names[name], 4) == written(by_hand.names[name], 4) == rows[variant][k]
    solution = (folder / "solution.md").read_text()
    assert "4 decimals" in solution  # hand-calculation mode, as the sheet asks


def test_the_sheet_and_the_templates(written_quiz: Path):
    folder = written_quiz / "01"
    cfg = parse((folder / "problem.yaml").read_text(), "problem.yaml")
    sheet = (folder / "sheet.md").read_text()
    for w in ("w1", "w8", "b2", "i1", "target_o2", "eta"):
        assert f"| {w} |" in sheet
    assert f"| w1 | {cfg.layers[0].weights[0][0]!r} |" in sheet
    assert "to 4 decimals" in sheet and "dE_total/dw5" in sheet
    assert "<svg" in (folder / "sheet.html").read_text()
    assert "tikzpicture" in (folder / "sheet.tex").read_text()
    assert "\\documentclass" in (folder / "solution.tex").read_text()
    template = yaml.safe_load((folder / "answers-template.yaml").read_text())
    assert list(template) == ASK.split() and set(template.values()) == {None}
    # the sheet gives no answer away
    key = yaml.safe_load((folder / "key.yaml").read_text())
    assert not any(f" {written(float(v), 4)} " in sheet for v in key.values())


def test_the_variants_for_a_learning_platform():
    made = stepprop.make_quiz(count=2, seed=5, ask="forward", round="3sf")
    variants = made.lms()
    assert [v.id for v in variants] == ["01", "02"]
    v = variants[0]
    assert isinstance(v, lms.Variant) and isinstance(v.questions[0], lms.Question)
    assert v.problem_html.startswith('<div class="stepprop">') and "<svg" in v.problem_html
    assert v.solution_html.startswith('<div class="stepprop">')
    step = stepprop.Network(made.variants[0].config).step()
    assert [q.name for q in v.questions][:2] == ["net_h1", "net_h2"]
    for q in v.questions:
        assert q.answer == step.names[q.name]
        assert abs(q.answer) * 1e-3 < q.tolerance * 1.0000001 and q.tolerance <= abs(q.answer) * 1e-2  # the 3rd figure
        assert q.prompt.startswith(q.name + " (")


def test_tolerance_is_a_unit_in_the_last_place():
    assert quiz.tolerance(0.75136, 4) == pytest.approx(1e-4)
    assert quiz.tolerance(0.0123456, "3sf") == pytest.approx(1e-4)
    assert quiz.tolerance(12.345, "3sf") == pytest.approx(0.1)


def test_groups_spell_out_the_names():
    step = stepprop.Network(parse(new_config("2-2-2"), "x")).step().trace
    assert quiz.asked_names(step, ["output-layer"]) == [f"dE_total/d{p}" for p in ("w5", "w6", "w7", "w8", "b2")]
    assert quiz.asked_names(step, ["hidden-layer"])[0] == "dE_total/dw1"
    assert quiz.asked_names(step, ["updates"])[::9] == ["w1+", "b2+"]
    assert quiz.asked_names(step, ["forward", "out_o1"])[-1] == "E_total"  # each name once


# -- degenerate draws --------------------------------------------------------


def forced(monkeypatch: pytest.MonkeyPatch, bad) -> list[int]:
    """The first draw made bad by ``bad(config)``; the rest as drawn. The calls' count."""
    real = quiz.draw_config
    calls = [0]

    def drawing(template, rnd):
        calls[0] += 1
        cfg = real(template, rnd)
        return bad(cfg) if calls[0] == 1 else cfg

    monkeypatch.setattr(quiz, "draw_config", drawing)
    return calls


def test_a_dead_relu_is_redrawn(monkeypatch: pytest.MonkeyPatch):
    def dead(cfg):
        hidden = cfg.layers[0]
        weights = tuple(tuple(-abs(w) for w in row) for row in hidden.weights)
        inputs = tuple(abs(x) for x in cfg.samples[0].inputs)
        layers = (hidden._replace(weights=weights, bias=-0.5), *cfg.layers[1:])
        return cfg._replace(layers=layers, samples=(cfg.samples[0]._replace(inputs=inputs),))

    calls = forced(monkeypatch, dead)
    made = stepprop.make_quiz(count=1, seed=1, activation="relu", ask="out_o1 dE_total/dw5")
    assert calls[0] >= 2 and made.variants[0].redrawn[quiz.DEAD_RELU] >= 1
    assert made.variants[0].config.layers[0].bias != -0.5


def test_a_coincidence_is_redrawn(monkeypatch: pytest.MonkeyPatch):
    def twins(cfg):  # o1 and o2: the same weights, bias and target
        out = cfg.layers[1]
        layers = (cfg.layers[0], out._replace(weights=(out.weights[0], out.weights[0])))
        sample = cfg.samples[0]._replace(targets=(0.3, 0.3))
        return cfg._replace(layers=layers, samples=(sample,))

    forced(monkeypatch, twins)
    made = stepprop.make_quiz(count=1, seed=1, ask="out_o1 out_o2")
    v = made.variants[0]
    assert v.redrawn[quiz.COINCIDE] >= 1 and v.text(v.questions[0]) != v.text(v.questions[1])


def test_saturation_and_small_quantities(monkeypatch: pytest.MonkeyPatch):
    def saturated(cfg):
        hidden = cfg.layers[0]
        return cfg._replace(layers=(hidden._replace(bias=9.0), *cfg.layers[1:]))

    forced(monkeypatch, saturated)
    made = stepprop.make_quiz(count=1, seed=3, ask="out_o1")
    assert made.variants[0].redrawn[quiz.SATURATES] >= 1
    cfg = parse(new_config("2-2-2"), "x")
    step = stepprop.Network(cfg).step().trace
    questions = quiz.questions_of(step, ["dE_total/dw1"], 4)  # the post-like range: 0.0001-ish
    assert abs(questions[0].answer) < 1e-3
    assert quiz.degenerate(step, stepprop.Network(cfg).step(round=4).trace, questions, 4) == quiz.TOO_SMALL


def test_a_mistake_within_the_tolerance_is_rejected(monkeypatch: pytest.MonkeyPatch):
    made = stepprop.make_quiz(count=1, seed=2027, ask="dE_total/dw5 w5+")
    cfg = made.variants[0].config
    questions = made.variants[0].questions
    assert not quiz._mistaken(cfg, questions)
    wide = [q._replace(tolerance=10.0) for q in questions]  # every mistake's number within it
    assert quiz._mistaken(cfg, wide)
    # a mistake that does not change a quantity is no mistake of it
    assert not quiz._mistaken(cfg, quiz.questions_of(made.variants[0].exact, ["out_o1"], 4))
    # when every draw fails, the message names the constraint
    monkeypatch.setattr(quiz, "MAX_DRAWS", 3)
    monkeypatch.setattr(quiz, "draw_config", lambda template, rnd: cfg)
    monkeypatch.setattr(quiz, "tolerance", lambda answer, rounding: 10.0)
    with pytest.raises(stepprop.StepPropError, match="3 tries for variant 01.*catalogued mistake"):
        stepprop.make_quiz(count=1, ask="dE_total/dw5 w5+")


# -- rosters, templates, the folder ------------------------------------------


def test_a_roster_names_the_folders(tmp_path: Path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\nada,Ada Lovelace\nbob,Bob\n")
    out = tmp_path / "quiz"
    result = run("quiz", "--students", str(roster), "--seed", "1", "-o", str(out), code=0)
    assert sorted(p.name for p in out.iterdir()) == ["ada", "bob", *TOP]
    assert "for Ada Lovelace" in result.stdout
    assert "Ada Lovelace" in (out / "ada" / "sheet.md").read_text()
    assert (out / "key.csv").read_text().splitlines()[1].startswith("ada,")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("student,name\nada,Ada\n", "roster.csv:1: a roster's first row"),
        ("id,name\nada,Ada\nbob,Bob\nADA,Ada again\n", "roster.csv:4: the id 'ADA' is on line 2 too"),
        ("id,name\nada,Ada\n../x,Eve\n", "roster.csv:3: the id '../x'"),
        ("id,name\n", "roster.csv: the roster has no students"),
    ],
)
def test_a_bad_roster_is_a_located_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str):
    monkeypatch.chdir(tmp_path)
    Path("roster.csv").write_text(text)
    result = run("quiz", "--students", "roster.csv", "-o", "quiz", code=1)
    assert where in result.stderr
    assert not Path("quiz").exists()


def test_a_template_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    Path("roster.csv").write_text("id,name\nada,Ada\nbob,Bob\n")
    Path("quiz.yaml").write_text(
        "shape: 2-2-2\nask: [out_o1, dE_total/dw5]\nround: 3sf\nseed: 9\nstudents: roster.csv\nrange: [-1, 1]\n"
    )
    run("quiz", "--template", "quiz.yaml", "-o", "a", code=0)
    assert sorted(p.name for p in Path("a").iterdir()) == ["ada", "bob", *TOP]
    assert Path("a/key.csv").read_text().splitlines()[0] == "id,out_o1,dE_total/dw5"
    assert "3 significant figures" in Path("a/ada/sheet.md").read_text()
    run("quiz", "--template", "quiz.yaml", "--seed", "10", "-o", "b", code=0)  # an option given wins
    assert Path("b/ada/key.yaml").read_text() != Path("a/ada/key.yaml").read_text()
    Path("bad.yaml").write_text("shape: 2-2-2\ncount: 2\nasks: out_o1\n")
    bad = run("quiz", "--template", "bad.yaml", "-o", "c", code=1).stderr
    assert "bad.yaml:3:1: unknown option 'asks' (did you mean 'ask'?)" in bad
    Path("bad.yaml").write_text("count: two\n")
    assert "bad.yaml:1:8: count: a whole number" in run("quiz", "--template", "bad.yaml", "-o", "c", code=1).stderr


def test_a_folder_that_is_not_empty_needs_force(tmp_path: Path):
    out = tmp_path / "quiz"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run("quiz", "--count", "1", "-o", str(out), code=1)
    assert "is not empty; pass --force" in result.stderr and not (out / "01").exists()
    run("quiz", "--count", "1", "-o", str(out), "--force", code=0)
    assert (out / "01" / "key.yaml").is_file() and (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--count", "2", "--students", "r.csv", "-o", "q"], 2, "not both"),
        (["-o", "q"], 2, "give --count N"),
        (["--count", "2"], 2, "-o"),
        (["--count", "2", "--round", "x", "-o", "q"], 2, "--round"),
        (["--count", "2", "--range", "1,-1", "-o", "q"], 2, "LOW below HIGH"),
        (["--count", "2", "--ask", "dE_total/dw9", "-o", "q"], 1, "did you mean"),
        (["--count", "2", "--ask", "w5", "-o", "q"], 1, "it is given"),
        (["2-x", "--count", "2", "-o", "q"], 1, "should look like 2-3-1"),
    ],
)
def test_usage_and_other_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args, code, says):
    monkeypatch.chdir(tmp_path)
    result = run("quiz", *args, code=code)
    assert says in result.stderr


def test_the_learning_platforms_files_hold_each_variants_questions(written_quiz: Path):
    """moodle.xml: a category per variant and a numerical question per asked
    quantity, with key.csv's answers; canvas-qti.zip: an assessment per variant."""
    import xml.etree.ElementTree as ET
    import zipfile

    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO((written_quiz / "key.csv").read_text()))}
    asked = rows.pop("id")
    root = ET.parse(written_quiz / "moodle.xml").getroot()
    numerical = [q for q in root.findall("question") if q.get("type") == "numerical"]
    assert len([q for q in root.findall("question") if q.get("type") == "category"]) == 3
    assert len(numerical) == 3 * len(asked)
    for q in numerical:
        variant, name = q.findtext("name/text").split(": ", 1)
        exact = float(q.findtext("answer/text"))
        tolerance = float(q.findtext("answer/tolerance"))
        assert abs(exact - float(rows[variant][asked.index(name)])) <= tolerance
    with zipfile.ZipFile(written_quiz / "canvas-qti.zip") as z:
        assessments = [n for n in z.namelist() if n != "imsmanifest.xml"]
        assert len(assessments) == 3 and "imsmanifest.xml" in z.namelist()


def _equations(tex: str) -> dict[str, str]:
    """The LaTeX view's equations (its align* lines, a line not starting with
    &= starting one) by their left-hand side."""
    found: dict[str, list[str]] = {}
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", tex, re.S):
        for line in block.split(" \\\\\n"):
            if not line.startswith("&="):
                lhs = line.split(" &= ")[0]
                found[lhs] = []
            found[lhs].append(line)
    return {lhs: " \\\\\n".join(lines) for lhs, lines in found.items()}


def test_moodle_xml_shows_in_a_default_moodle(written_quiz: Path):
    """moodle.xml holds no MathML and no inline SVG (Moodle's HTML cleaner
    strips both): the math is the LaTeX view's TeX for Moodle's MathJax filter,
    HTML-escaped, and the diagram an <img> of diagram.svg, a file each text
    carries (base64, as Moodle's exporter writes one): the sheet's own SVG."""
    import base64
    import html
    import xml.etree.ElementTree as ET

    root = ET.parse(written_quiz / "moodle.xml").getroot()
    numerical = [q for q in root.findall("question") if q.get("type") == "numerical"]
    assert numerical
    for q in numerical:
        variant = q.findtext("name/text").split(": ", 1)[0]
        sheet = (written_quiz / variant / "sheet.html").read_text()
        embedded = re.search(r"<figure>(<svg.*?</svg>\n?)<figcaption>", sheet, re.S)
        assert embedded and "<math" in (written_quiz / variant / "solution.html").read_text()  # unchanged
        for part in ("questiontext", "generalfeedback"):
            text = q.findtext(f"{part}/text")
            assert "<math" not in text and "<svg" not in text
            assert '<img src="@@PLUGINFILE@@/diagram.svg" alt="' in text
            (file,) = q.findall(f"{part}/file")
            assert (file.get("name"), file.get("path"), file.get("encoding")) == ("diagram.svg", "/", "base64")
            svg = base64.b64decode(file.text, validate=True).decode("utf-8")
            assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
            assert svg == embedded.group(1)
        # the worked solution's equations as the LaTeX view writes them, in \[ \]
        feedback = q.findtext("generalfeedback/text")
        assert "&amp;= " in feedback and "\\[\\begin{aligned}" in feedback
        shown = re.findall(r"\\\[\\begin\{aligned\}(.*?)\\end\{aligned\}\\\]", html.unescape(feedback), re.S)
        tex = _equations((written_quiz / variant / "solution.tex").read_text())
        out_o1 = tex["\\mathit{out}_{o1}"]
        assert out_o1.startswith("\\mathit{out}_{o1} &= \\frac{1}{1 + e^{-\\mathit{net}_{o1}}} \\\\\n&= ")
        assert out_o1 in shown
