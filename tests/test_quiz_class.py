"""stepprop check QUIZ/ submissions.csv (issue 16, item 4): each student's row
graded against their own variant; grades.csv and feedback files written."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import stepprop
from stepprop.cli import main
from stepprop.config import load
from stepprop.grading import Checker
from stepprop.rounding import written

NAMES = ["out_o1", "E_total", "dE_total/dw5", "w5+", "dE_total/dw1", "w1+"]


@pytest.fixture(scope="module")
def quiz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quiz of three variants, and submissions: 01 all right (key.csv's row),
    02 with w5+ worked with the gradient added (the engine's catalogued mistake)
    and w1+ blank, 03 with a wrong dE_total/dw5 and the w5+ that follows from it."""
    folder = tmp_path_factory.mktemp("quiz") / "quiz"
    stepprop.make_quiz(count=3, seed=5).write(folder)
    key = list(csv.reader(io.StringIO((folder / "key.csv").read_text())))
    assert key[0] == ["id", *NAMES]
    rows = {r[0]: r[1:] for r in key[1:]}
    checker = Checker(load(folder / "02" / "problem.yaml"))
    checker.want(["w5+"])
    added = next(m for m in checker.tried() if m.id == "gradient_added")
    two = list(rows["02"])
    two[NAMES.index("w5+")] = written(checker.run(added).values["w5+"], 4)
    two[NAMES.index("w1+")] = ""
    three = list(rows["03"])
    w5 = Checker(load(folder / "03" / "problem.yaml")).run().trace.before["w5"]
    three[NAMES.index("dE_total/dw5")] = "0.2000"
    three[NAMES.index("w5+")] = written(w5 - 0.5 * 0.2, 4)
    lines = [",".join(key[0]), ",".join(["01", *rows["01"]]), ",".join(["02", *two]), ",".join(["03", *three])]
    (folder.parent / "submissions.csv").write_text("\n".join(lines) + "\n")
    return folder


def run(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(main, list(args))
    return done.exit_code, done.stdout, done.stderr


@pytest.fixture(scope="module")
def graded(quiz: Path) -> tuple[int, str, Path]:
    """The command run once; the grades and feedback written into the quiz."""
    code, out, _ = run("check", str(quiz), str(quiz.parent / "submissions.csv"))
    return code, out, quiz


def test_grades_csv_has_a_row_per_student(graded: tuple[int, str, Path]):
    code, _, quiz = graded
    assert code == 1  # a wrong answer
    rows = list(csv.reader(io.StringIO((quiz / "grades.csv").read_text())))
    assert rows[0] == ["id", "score", "out_of", "first_wrong", "mistake", "mistake_title", *NAMES]
    one, two, three = rows[1:]
    assert one[:6] == ["01", "6", "6", "", "", ""] and set(one[6:]) == {"correct"}
    assert two[:6] == ["02", "4", "6", "w5+", "gradient_added", "gradient added, not subtracted"]
    assert two[6:] == ["correct", "correct", "correct", "wrong", "correct", "unanswered"]
    # the w5+ right from the student's own wrong gradient is carried: it counts in the score
    assert three[:4] == ["03", "5", "6", "dE_total/dw5"]
    assert three[6:] == ["correct", "correct", "wrong", "carried", "correct", "correct"]


def test_the_terminal_shows_a_line_per_student_and_per_question(graded: tuple[int, str, Path]):
    _, out, _ = graded
    assert "02  4/6    w5+" in out and "4: gradient added, not subtracted" in out
    assert "03  5/6    dE_total/dw5" in out
    assert "w1+ " in out and "The questions" in out


def test_feedback_marks_the_wrong_answers_before_their_equation(graded: tuple[int, str, Path]):
    _, _, quiz = graded
    names = sorted(p.name for p in (quiz / "feedback").iterdir())
    assert names == ["01.html", "01.md", "02.html", "02.md", "03.html", "03.md"]
    two = (quiz / "feedback" / "02.md").read_text()
    key = {r[0]: r[1:] for r in csv.reader(io.StringIO((quiz / "key.csv").read_text()))}
    right = key["02"][NAMES.index("w5+")]
    mark = next(line for line in two.splitlines() if line.startswith("Your w5+"))
    assert f"the right value is {right}" in mark and "mistake 4" in mark
    # placed in the worked solution, before the update of w5 (its equation's line: w_{5}^{+})
    assert two.index("## The worked solution") < two.index(mark) < two.index("w_{5}^{+}", two.index(mark))
    assert "Your w1+: left blank" in two
    assert "\nYour " not in (quiz / "feedback" / "01.md").read_text()  # all right: nothing marked
    assert "right from your own dE_total/dw5" in (quiz / "feedback" / "03.md").read_text()
    html = (quiz / "feedback" / "02.html").read_text()
    assert "<svg" in html and "Your w5+" in html


def test_json_gives_everything(quiz: Path, tmp_path: Path):
    code, out, err = run(
        "check", str(quiz), str(quiz.parent / "submissions.csv"), "--format", "json", "-o", str(tmp_path)
    )
    assert code == 1, err
    data = json.loads(out)
    assert data["asked"] == NAMES and data["round"] == 4 and data["missing"] == []
    two = data["students"][1]
    assert (two["id"], two["score"], two["asked"], two["first_wrong"], two["mistake"]) == (
        "02",
        4,
        6,
        "w5+",
        "gradient_added",
    )
    assert [a["status"] for a in two["answers"]][3] == "wrong"
    assert [q["name"] for q in data["questions"]] == NAMES
    assert (tmp_path / "grades.csv").exists() and (tmp_path / "feedback" / "03.html").exists()


def test_same_input_same_bytes_and_existing_files_need_force(graded: tuple[int, str, Path], tmp_path: Path):
    _, _, quiz = graded
    before = {p.name: p.read_bytes() for p in [quiz / "grades.csv", *(quiz / "feedback").iterdir()]}
    code, _, err = run("check", str(quiz), str(quiz.parent / "submissions.csv"))
    assert code == 1 and "exists" in err and "--force" in err
    code, _, _ = run("check", str(quiz), str(quiz.parent / "submissions.csv"), "--force")
    after = {p.name: p.read_bytes() for p in [quiz / "grades.csv", *(quiz / "feedback").iterdir()]}
    assert code == 1 and after == before


def test_all_right_exits_0(quiz: Path, tmp_path: Path):
    lines = (quiz / "key.csv").read_text()
    (tmp_path / "key-as-answers.csv").write_text(lines)
    code, out, _ = run("check", str(quiz), str(tmp_path / "key-as-answers.csv"), "-o", str(tmp_path / "out"))
    assert code == 0, out
    assert "3 with every answer right, 0 with a wrong answer" in out


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("id,out_o1\n01,0.5\n99,0.5\n", "submissions.csv:3:1: no variant '99'"),
        ("id,out_o1,out_h1\n01,0.5,0.5\n", "submissions.csv:1:11: out_h1 is not asked in this quiz"),
        ("id,out_o1\n01,0.5\n01,0.6\n", "submissions.csv:3:1: '01' is on line 2 too"),
    ],
)
def test_a_bad_submission_is_a_located_error(quiz: Path, tmp_path: Path, text: str, says: str):
    path = tmp_path / "submissions.csv"
    path.write_text(text)
    code, _, err = run("check", str(quiz), str(path), "-o", str(tmp_path / "out"))
    assert code == 1 and says in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_quiz_folder_without_variants(quiz: Path, tmp_path: Path):
    broken = tmp_path / "broken"
    broken.mkdir()
    code, _, err = run("check", str(broken), str(quiz.parent / "submissions.csv"))
    assert code == 1 and "a folder, not a quiz" in err
    shutil.copy(quiz / "key.csv", broken / "key.csv")
    code, _, err = run("check", str(broken), str(quiz.parent / "submissions.csv"))
    assert code == 1 and "key.csv:2:1: no variant folder 01/ with its problem.yaml" in err


def test_the_api(quiz: Path, tmp_path: Path):
    found = stepprop.check_class(quiz, quiz.parent / "submissions.csv")
    assert isinstance(found, stepprop.api.QuizClassGrades)
    assert [s.student.id for s in found.students] == ["01", "02", "03"]
    assert "Your w5+" in found.feedback("02")
    assert found.write(tmp_path)[0] == str(tmp_path / "grades.csv")
