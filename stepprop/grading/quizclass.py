"""A quiz's class, graded (``stepprop check QUIZ/ submissions.csv``).

Each row of the submissions is graded against that student's own variant
(the folder named by the row's id, as ``stepprop quiz`` wrote it) with the
grader of ``stepprop check`` (statuses, follow-through credit, mistakes
named): one :class:`~stepprop.grading.Checker` per variant. What a teacher
gets back is a :class:`QuizGrades` (a :class:`ClassGrades` whose students
each have their own checker): grades.csv's rows, the terminal's summary,
and each student's feedback, their worked solution with their wrong answers
marked where each is worked out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..config import Config, ConfigError, load, show, suggest
from ..document import Document, Eq, Item, Label, Section, Table, Text
from ..expr import Expr
from ..rounding import Rounding, describe, written
from ..words import count
from . import CARRIED, CORRECT, ROUNDED, UNANSWERED, WRONG, Checker, Graded, grade
from .answers import Student, load_class
from .classroom import ClassGrades, StudentGrades, _title

KEY = "key.csv"  # a quiz's folder: key.csv (an id and the asked answers per variant), a folder per variant
PROBLEM = "problem.yaml"
SCORED = (CORRECT, ROUNDED, CARRIED)  # the statuses a score counts (carried: follow-through credit)


def is_quiz(path: str) -> bool:
    """A folder ``stepprop quiz`` wrote (it holds key.csv)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, KEY))


@dataclass
class Quiz:
    """A quiz's folder as the grader reads it: the asked names (key.csv's
    header), each variant's config by id, and the rounding policy."""

    folder: str
    names: list[str]
    configs: dict[str, Config]
    rounding: Rounding


def load_quiz(folder: str) -> Quiz:
    """The quiz written in ``folder``: key.csv names the variants and the asked
    quantities; each variant's folder holds its problem.yaml."""
    from ..quiz import quiz_rounding

    key_path = os.path.join(folder, KEY)
    if not os.path.isdir(folder):
        raise ConfigError("not a folder: a quiz's folder holds key.csv and a folder per variant", folder)
    if not os.path.isfile(key_path):
        raise ConfigError(
            "a folder, not a quiz: a quiz's folder holds key.csv and a folder per variant (stepprop quiz -o FOLDER)",
            folder,
        )
    rows = load_class(key_path)
    configs: dict[str, Config] = {}
    for row in rows:
        path = os.path.join(folder, row.id, PROBLEM)
        if not os.path.isfile(path):
            raise ConfigError(f"no variant folder {row.id}/ with its {PROBLEM} for this row", key_path, row.line, 1)
        configs[row.id] = load(path)
    return Quiz(folder, [a.name for a in rows[0].answers], configs, quiz_rounding(folder))


def check_quiz(quiz: Quiz, students: list[Student], source: str) -> QuizGrades:
    """Grade each student's row against their own variant (ids: the variants' folders)."""
    checkers: dict[str, Checker] = {}

    def checker(vid: str) -> Checker:
        if vid not in checkers:
            checkers[vid] = Checker(quiz.configs[vid])
        return checkers[vid]

    first = checker(next(iter(quiz.configs)))
    asked = {first.resolve(n) or n for n in quiz.names}
    for answer in students[0].answers:
        if (first.resolve(answer.name) or answer.name) not in asked:
            raise ConfigError(
                f"{show(answer.name)} is not asked in this quiz{suggest(answer.name, quiz.names, 3)}; "
                f"it asks {', '.join(quiz.names)}",
                source,
                answer.line,
                answer.column,
            )
    seen: dict[str, int] = {}
    for s in students:
        if s.id not in quiz.configs:
            raise ConfigError(
                f"no variant '{show(s.id)}' in {quiz.folder}{suggest(s.id, list(quiz.configs), 3)}: "
                "the first column is the student's id, the name of their variant's folder",
                source,
                s.line,
                1,
            )
        if s.id in seen:
            raise ConfigError(f"'{show(s.id)}' is on line {seen[s.id]} too: each student once", source, s.line, 1)
        seen[s.id] = s.line
    graded = [StudentGrades(s, grade(checker(s.id), s.answers, source)) for s in students]
    return QuizGrades(first, graded, source, quiz)


def score(s: StudentGrades) -> int:
    """Correct, rounded and carried answers (follow-through counts in full)."""
    return sum(s.counts[status] for status in SCORED)


@dataclass
class QuizGrades(ClassGrades):
    """A class graded against a quiz: each student's grades hold their own
    variant's checker (``checker``: the first variant's, for the names)."""

    quiz: Quiz

    @property
    def missing(self) -> list[str]:
        """The variants no row of the submissions grades."""
        given = {s.student.id for s in self.students}
        return [vid for vid in self.quiz.configs if vid not in given]

    def to_dict(self) -> dict[str, Any]:
        students = []
        for s in self.students:
            mistake = s.mistake()
            students.append(
                {
                    **s.to_dict(),
                    "score": score(s),
                    "asked": len(s.grades.graded),
                    "mistake_title": mistake.title if mistake else None,
                }
            )
        return {
            "stepprop": 1,
            "command": "check",
            "quiz": self.quiz.folder,
            "answers_file": self.source,
            "round": self.quiz.rounding,
            "asked": list(self.quiz.names),
            "students": students,
            "missing": self.missing,
            "questions": self.questions(),
        }

    def rows(self) -> list[list[str]]:
        """grades.csv: per student, the score out of the asked count, the first
        wrong answer, the likely mistake (id and title) and each answer's status."""
        rows = [["id", "score", "out_of", "first_wrong", "mistake", "mistake_title", *self.names]]
        for s in self.students:
            mistake = s.mistake()
            rows.append(
                [
                    s.student.id,
                    str(score(s)),
                    str(len(s.grades.graded)),
                    s.first_wrong() or "",
                    mistake.id if mistake else "",
                    mistake.title if mistake else "",
                    *(g.status for g in s.grades.graded),
                ]
            )
        return rows

    def document(self) -> Document:
        n = len(self.students)
        asked = len(self.names)
        intro = [
            f"answers of {count(n, 'student')} from {self.source}, each against their variant of {self.quiz.folder}"
        ]
        perfect = sum(1 for s in self.students if s.counts[CORRECT] + s.counts[ROUNDED] == asked)
        intro.append(f"{perfect} with every answer right, {self.wrong} with a wrong answer")
        if self.missing:
            intro.append(f"no answers from {', '.join(self.missing)}")
        students: list[list[str | Expr]] = [
            [s.student.id, f"{score(s)}/{asked}", s.first_wrong() or "", _title(s.mistake())] for s in self.students
        ]
        return Document(
            "Grading a quiz",
            intro,
            [
                Section("The students", [Table(["id", "score", "first wrong", "likely mistake"], students)]),
                self.questions_section(),
            ],
        )


def feedback(s: StudentGrades, solution: Document, rounding: Rounding) -> Document:
    """A student's feedback: their grades, then their variant's worked solution
    with each answer that is not right marked just before the equation that
    works it out (where a TA reads what the right calculation is)."""
    graded = s.grades.graded
    name = s.grades.checker.notation.name
    rows: list[list[str | Expr]] = []
    marks: dict[str, str] = {}
    for g in graded:
        right = written(g.exact, rounding)
        rows.append([name(g.answer.name), g.answer.text, right, Label(g.status, g.status), g.note])
        mark = _mark(g, name(g.answer.name), right)
        if mark:
            marks[g.answer.name] = mark
    asked = len(graded)
    intro = [
        f"score {score(s)} of {asked} (correct, rounded and carried answers; carried: right from your own numbers)"
    ]
    first = s.first_wrong()
    if first is not None:
        intro.append(f"your first wrong answer is {name(first)}: the solution below marks it where it is worked out")
    intro.append(f"answers are rounded to {describe(rounding)}, as the sheet asks")
    placed: set[str] = set()
    worked = Section("The worked solution", _marked(list(solution.sections), marks, placed))
    unplaced = [Text(marks[n]) for n in marks if n not in placed]
    sections = [Section("Your answers", [Table(["quantity", "you wrote", "right", "status", "note"], rows), *unplaced])]
    return Document(f"Feedback for {s.student.id}", intro, [*sections, worked])


def _mark(g: Graded, shown: str, right: str) -> str:
    """The line put before an answer's equation, or '' for a right one."""
    if g.status == WRONG:
        mistake = g.mistakes[0] if g.mistakes else None
        close = " (close, not to every digit)" if g.approximate else ""
        why = f"likely {mistake.label}{close}: {mistake.explain(g.answer.name)}" if mistake else g.note
        return f"Your {shown}: you wrote {g.answer.text}; the right value is {right}. {why[0].upper()}{why[1:]}."
    if g.status == CARRIED:
        return (
            f"Your {shown}: you wrote {g.answer.text}, which is right from your own {g.follows_from} "
            f"(full credit); from the right numbers it is {right}."
        )
    if g.status == UNANSWERED:
        return f"Your {shown}: left blank; the right value is {right}."
    if g.status not in (CORRECT, ROUNDED):
        return f"Your {shown}: you wrote {g.answer.text}: {g.note}."
    return ""


def _marked(items: list[Item], marks: dict[str, str], placed: set[str]) -> list[Item]:
    """The items with each mark just before the first equation of its name."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Section):
            out.append(Section(item.title, _marked(item.items, marks, placed)))
            continue
        if isinstance(item, Eq) and item.name in marks and item.name not in placed and not item.reused:
            placed.add(item.name)
            out.append(Text(marks[item.name]))
        out.append(item)
    return out


__all__ = ["Quiz", "QuizGrades", "check_quiz", "feedback", "is_quiz", "load_quiz", "score"]
