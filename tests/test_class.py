"""``stepprop check CONFIG class.csv``: a whole class's answers at once.

The class below is built from the post's printed figures (out_h1 = 0.593269992,
dE_total/dw5 = 0.082167041, w5+ = 0.35891648, E_total = 0.298371109) and
two wrong calculations worked out by hand: w5+ with the gradient added
(0.4 + 0.5 * 0.082167041 = 0.44108352), and a wrong out_h1 (0.61) carried on
correctly through the forward pass to dE_total/dw5 and w5+.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from conftest import run

import stepprop
from stepprop.errors import ConfigError, StepPropError
from stepprop.grading.answers import load_class


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# bob's out_h1 is 0.61 and he works on right from it: his out_o1 (not written) is then
# sigmoid(w5 * 0.61 + w6 * out_h2 + b2), his delta_o1 from that, dE/dw5 = delta_o1 * 0.61
BOB_OUT_O1 = sigmoid(0.40 * 0.61 + 0.45 * sigmoid(0.25 * 0.05 + 0.30 * 0.10 + 0.35) + 0.60)
BOB_GRADIENT = f"{(BOB_OUT_O1 - 0.01) * BOB_OUT_O1 * (1 - BOB_OUT_O1) * 0.61:.5f}"
BOB_UPDATE = f"{0.40 - 0.5 * float(BOB_GRADIENT):.5f}"

HEADER = ["student", "out_h1", "dE/dw5", "w5+", "E_total"]
CLASS = {
    "ada": ["0.593269992", "0.082167041", "0.35891648", "0.298371109"],  # every answer right
    "bob": ["0.61", BOB_GRADIENT, BOB_UPDATE, ""],  # out_h1 wrong, carried on; E_total left blank
    "cy": ["0.593269992", "0.082167041", "0.44108352", "0.298371109"],  # gradient added
    "dee": ["0.593269992", "0.082167041", "0.44108352", "0.29837111"],  # the same, E_total to 8 decimals
}


def class_file(tmp_path, rows=CLASS, delimiter=",", name="class.csv", header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for sid, cells in rows.items():
        writer.writerow([sid, *cells])
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def by_id(data: dict) -> dict[str, dict]:
    return {s["id"]: s for s in data["students"]}


def statuses(student: dict) -> dict[str, str]:
    return {a["name"]: a["status"] for a in student["answers"]}


def test_each_student_is_graded(tmp_path):
    data = json.loads(run("check", str(class_file(tmp_path)), "--format", "json", code=1).stdout)
    students = by_id(data)
    assert list(students) == ["ada", "bob", "cy", "dee"]
    assert statuses(students["ada"]) == dict.fromkeys(["out_h1", "dE_total/dw5", "w5+", "E_total"], "correct")
    assert statuses(students["bob"]) == {
        "out_h1": "wrong",
        "dE_total/dw5": "carried",
        "w5+": "carried",
        "E_total": "unanswered",
    }
    assert students["bob"]["first_wrong"] == "out_h1" and students["bob"]["mistake"] is None
    assert students["cy"]["first_wrong"] == "w5+" and students["cy"]["mistake"] == "gradient_added"
    assert students["ada"]["first_wrong"] is None and students["ada"]["counts"]["correct"] == 4
    # a student's answers keep the spelling of the header: dE/dw5 is dE_total/dw5
    (written,) = [a for a in students["cy"]["answers"] if a["name"] == "dE_total/dw5"]
    assert written["written_as"] == "dE/dw5"
    questions = {q["name"]: q for q in data["questions"]}
    assert questions["w5+"]["counts"]["wrong"] == 2 and questions["w5+"]["mistake"] == "gradient_added"
    assert questions["w5+"]["mistake_students"] == 2
    assert questions["E_total"]["counts"]["unanswered"] == 1


def test_a_class_is_graded_as_each_student_alone(tmp_path):
    """One shared checker: the same grades as checking each student's file."""
    whole = by_id(stepprop.check_class(None, class_file(tmp_path)).to_dict())
    for sid, cells in CLASS.items():
        mine = {name: cell for name, cell in zip(HEADER[1:], cells)}
        alone = stepprop.check(None, {k: (v or None) for k, v in mine.items()}).to_dict()["answers"]
        together = whole[sid]["answers"]
        keys = ("name", "status", "given", "exact", "mistake", "follows_from", "also_from", "note")
        assert [{k: a[k] for k in keys} for a in together] == [{k: a[k] for k in keys} for a in alone], sid


def test_the_class_shares_one_set_of_calculations(tmp_path, monkeypatch):
    """Twenty students cost the runs of one: the exact numbers and each mistake's
    are worked out once for the class."""
    from stepprop.grading import Checker

    computed: list[object] = []
    original = Checker._compute

    def counting(self, *args):
        computed.append(args)
        return original(self, *args)

    monkeypatch.setattr(Checker, "_compute", counting)
    stepprop.check_class(None, class_file(tmp_path, {"cy": CLASS["cy"]}))
    one = len(computed)
    computed.clear()
    stepprop.check_class(None, class_file(tmp_path, {f"s{k}": CLASS["cy"] for k in range(20)}))
    assert one > 1 and len(computed) == one


def test_the_text_has_a_line_per_student_and_per_question(tmp_path):
    out = run("check", str(class_file(tmp_path)), code=1).stdout
    assert "answers of 4 students from" in out
    assert "1 with every answer right, 3 with a wrong answer" in out
    assert "the first wrong answer most often: w5+ (2 students)" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert lines["cy"].split()[-6:] == ["w5+", "4:", "gradient", "added,", "not", "subtracted"]
    assert "out_h1" in lines["bob"] and "carried" in out
    assert lines["w5+"].endswith("4: gradient added, not subtracted (2)")


def test_every_grade_as_a_spreadsheet(tmp_path):
    path = class_file(tmp_path)
    target = tmp_path / "grades.csv"
    result = run("check", str(path), "-o", str(target), code=1)
    assert f"wrote {target}" in result.stderr
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0] == [
        "student",
        "correct",
        "rounded",
        "carried",
        "ambiguous",
        "wrong",
        "unanswered",
        "first_wrong",
        "mistake",
        "out_h1",
        "dE_total/dw5",
        "w5+",
        "E_total",
    ]
    table = {row[0]: row for row in rows[1:]}
    assert table["bob"][1:9] == ["0", "0", "2", "0", "1", "1", "out_h1", ""]
    assert table["bob"][9:] == ["wrong", "carried", "carried", "unanswered"]
    assert table["cy"][7:9] == ["w5+", "gradient_added"]
    # the same rows on standard output, and an existing file is not replaced without --force
    assert run("check", str(path), "--format", "csv", code=1).stdout.replace("\r\n", "\n") == target.read_text(
        encoding="utf-8"
    ).replace("\r\n", "\n")
    refused = run("check", str(path), "-o", str(target), code=1)
    assert "exists; pass --force" in refused.stderr


def test_a_spreadsheet_never_runs_an_id_as_a_formula(tmp_path):
    path = class_file(tmp_path, {"=HYPERLINK(1)": CLASS["ada"], "@x": CLASS["cy"]})
    text = stepprop.check_class(None, path).to_csv()
    ids = [row[0] for row in csv.reader(io.StringIO(text))][1:]
    assert ids == ["'=HYPERLINK(1)", "'@x"]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolons_and_tabs_with_decimal_commas(tmp_path, delimiter):
    """A European spreadsheet saves 0,593269992;0,082167041: the header, which
    never holds a decimal comma, says the delimiter."""
    rows = {sid: [c.replace(".", ",") for c in cells] for sid, cells in CLASS.items()}
    name = "class.tsv" if delimiter == "\t" else "class.csv"
    data = stepprop.check_class(None, class_file(tmp_path, rows, delimiter, name)).to_dict()
    assert statuses(by_id(data)["ada"]) == dict.fromkeys(["out_h1", "dE_total/dw5", "w5+", "E_total"], "correct")
    assert statuses(by_id(data)["cy"])["w5+"] == "wrong"


def test_what_spreadsheets_add_is_read(tmp_path):
    """A byte-order mark, blank lines, empty trailing columns, an empty id."""
    path = tmp_path / "class.csv"
    path.write_text(
        "\ufeffstudent,out_h1,w5+,,\n\nada,0.593269992,0.35891648,,\n,0.61,,,\n\n",
        encoding="utf-8",
    )
    students = load_class(path)
    assert [s.id for s in students] == ["ada", "line 4"]
    assert [a.name for a in students[1].answers] == ["out_h1", "w5+"]
    assert students[1].answers[1].blank


def error_of(tmp_path, text: str) -> ConfigError:
    path = tmp_path / "class.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        stepprop.check_class(None, path)
    return caught.value


def test_a_cell_that_is_not_a_number_is_placed(tmp_path):
    exc = error_of(tmp_path, "student,out_h1,w5+\nada,0.5933,about 0.36\nbob,?,0.35\ncy,1,x\n")
    assert (exc.line, exc.column) == (2, 12)
    assert "w5+" in exc.message and "'about 0.36'" in exc.message and "0,5933" in exc.message
    assert "also not numbers: 3:5, 4:6" in exc.message


def test_the_cli_places_a_bad_cell_and_exits_nonzero(tmp_path):
    path = tmp_path / "class.csv"
    path.write_text("student,out_h1\nada,0.5933\nbob,lots\n", encoding="utf-8")
    result = run("check", str(path), code=1)
    assert f"{path}:3:5:" in result.stderr


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("student,out_h1,out_h1\nada,1,2\n", (1, 16), "named twice"),
        ("student,out_h1,,w5+\nada,1,2,3\n", (1, 16), "column 3 has no name"),
        ("student\nada\n", (1, None), "the first row names the answers"),
        ("student,out_h1\n", (None, None), "no students"),
        ("\n\n", (None, None), "empty"),
        ("student,out_h1\nada,0.5,0.6\n", (2, 9), "this row has 2 answers and the first row names 1"),
        ("student,out_h1,w55\nada,0.5,0.6\n", (1, 16), "unknown quantity 'w55'"),
    ],
)
def test_a_malformed_class_file_says_where(tmp_path, text, where, words):
    exc = error_of(tmp_path, text)
    assert (exc.line, exc.column) == where, exc
    assert words in exc.message


def test_the_api_takes_a_mapping_and_refuses_a_csv_for_one_student(tmp_path):
    grades = stepprop.check_class("mazur", {"ada": {"out_h1": "0.5933"}, "bob": {"out_h1": "0.61"}})
    assert [s.student.id for s in grades.students] == ["ada", "bob"]
    assert grades.wrong == 1 and repr(grades) == "<stepprop.ClassGrades 2 students, 1 with a wrong answer>"
    with pytest.raises(StepPropError, match="check_class"):
        stepprop.check(None, class_file(tmp_path))
    with pytest.raises(StepPropError, match="same names"):
        stepprop.check_class(None, {"ada": {"out_h1": "0.5933"}, "bob": {"w5+": "0.35"}})


def test_csv_output_is_for_a_class(tmp_path):
    answers = tmp_path / "mine.yaml"
    answers.write_text("out_h1: 0.5933\n", encoding="utf-8")
    result = run("check", str(answers), "--format", "csv", code=2)
    assert "for a class's answers" in result.stderr


def test_a_class_after_training(tmp_path):
    """--epochs applies to every student."""
    trained = stepprop.load().train(3).network.step().values["out_o1"]
    path = class_file(tmp_path, {"ada": [f"{trained:.9f}"]}, header=["student", "out_o1"])
    data = json.loads(run("check", str(path), "--epochs", "3", "--format", "json", code=0).stdout)
    assert data["epochs"] == 3 and statuses(data["students"][0]) == {"out_o1": "correct"}


def test_the_readmes_class_grades_as_it_says(tmp_path):
    import re

    from conftest import REPO

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### A whole class\n.*?```\n(.*?)```", text, re.S).group(1)
    path = tmp_path / "class.csv"
    path.write_text(block, encoding="utf-8")
    students = by_id(stepprop.check_class(None, path).to_dict())
    assert statuses(students["ada"]) == dict.fromkeys(["out_h1", "dE_total/dw5", "w5+"], "correct")
    assert statuses(students["bob"]) == {"out_h1": "wrong", "dE_total/dw5": "carried", "w5+": "carried"}
    assert students["cy"]["mistake"] == "gradient_added"


def test_a_rosters_name_column_is_not_an_answer(workdir):
    """A teacher copies the roster's id and name columns: the name is skipped."""
    (workdir / "class.csv").write_text('student,name,out_h1\nada,Ada Lovelace,0.593269992\nbob,"Chen, Yu",0.61\n')
    result = run("check", "class.csv", "--format", "json", code=1)
    import json

    data = json.loads(result.stdout)
    assert [s["id"] for s in data["students"]] == ["ada", "bob"]
    assert all(len(s["answers"]) == 1 for s in data["students"])
