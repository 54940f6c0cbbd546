"""A whole class's answers, graded together (``stepprop check CONFIG class.csv``).

Every student is graded as ``stepprop check`` grades one (follow-through
credit included), with one Checker: the exact numbers and each mistake's are
worked out once for the class, so a class costs little more than a student.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..document import Document, Section, Table
from ..expr import Expr
from ..words import count
from . import (
    CARRIED,
    CORRECT,
    ROUNDED,
    STATUSES,
    UNANSWERED,
    WRONG,
    Checker,
    Grades,
    counts_of,
    grade,
    report_header,
    tried_line,
)
from .answers import Student
from .catalogue import Mistake

# the statuses a class's tables always show a column for (the others where they occur)
ALWAYS = (CORRECT, WRONG)


@dataclass
class StudentGrades:
    """One student's grades, and what a teacher reads first about them."""

    student: Student
    grades: Grades

    @property
    def counts(self) -> dict[str, int]:
        return counts_of(self.grades.graded)

    @property
    def wrong(self) -> int:
        return self.grades.wrong

    def first_wrong(self) -> str | None:
        return self.grades.first_wrong()

    def mistake(self) -> Mistake | None:
        """The likely mistake: the one named for the first wrong answer, else the
        one named most often among the wrong answers."""
        graded = {g.answer.name: g for g in self.grades.graded}
        first = self.first_wrong()
        if first is not None and graded[first].mistakes:
            return graded[first].mistakes[0]
        named = [g.mistakes[0] for g in self.grades.graded if g.status == WRONG and g.mistakes]
        if not named:
            return None
        top = Counter(m.id for m in named).most_common(1)[0][0]
        return next(m for m in named if m.id == top)

    def to_dict(self) -> dict[str, Any]:
        mistake = self.mistake()
        return {
            "id": self.student.id,
            "line": self.student.line,
            "counts": self.counts,
            "first_wrong": self.first_wrong(),
            "mistake": mistake.id if mistake else None,
            "answers": [g.to_dict() for g in self.grades.graded],
        }


def check_class(config: Config, students: list[Student], epochs: int | None = None, source: str = "") -> ClassGrades:
    """Grade every student of a class (``students``, as ``load_class`` reads them)."""
    checker = Checker(config, epochs)
    return ClassGrades(checker, [StudentGrades(s, grade(checker, s.answers, source)) for s in students], source)


@dataclass
class ClassGrades:
    """The grades of a class: one StudentGrades per student, in the file's order."""

    checker: Checker
    students: list[StudentGrades]
    source: str

    @property
    def wrong(self) -> int:
        """How many students have a wrong answer."""
        return sum(1 for s in self.students if s.wrong)

    @property
    def names(self) -> list[str]:
        """The answers' names (canonical), in the file's order."""
        return [g.answer.name for g in self.students[0].grades.graded] if self.students else []

    def _shown(self) -> list[str]:
        """The statuses a table has a column for: always correct and wrong, the
        others where some answer has them."""
        found = {g.status for s in self.students for g in s.grades.graded}
        return [s for s in STATUSES if s in ALWAYS or s in found]

    def questions(self) -> list[dict[str, Any]]:
        """Each question (answer name): how many students got each status, and
        the mistake named most often for it."""
        found = []
        for k, name in enumerate(self.names):
            graded = [s.grades.graded[k] for s in self.students]
            named = Counter(g.mistakes[0].id for g in graded if g.status == WRONG and g.mistakes)
            top = named.most_common(1)[0] if named else None
            found.append(
                {
                    "name": name,
                    "counts": counts_of(graded),
                    "mistake": top[0] if top else None,
                    "mistake_students": top[1] if top else 0,
                }
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            **report_header(self.checker, self.source),
            "students": [s.to_dict() for s in self.students],
            "questions": self.questions(),
        }

    def rows(self) -> list[list[str]]:
        """The grades as a spreadsheet's rows (``-o grades.csv``): one per student,
        with the counts, the first wrong answer, the likely mistake and each
        answer's status."""
        name = self.checker.notation.name  # (a spreadsheet is shown: the config's names)
        rows = [["student", *STATUSES, "first_wrong", "mistake", *(name(n) for n in self.names)]]
        for s in self.students:
            mistake = s.mistake()
            first = s.first_wrong()
            rows.append(
                [
                    s.student.id,
                    *(str(s.counts[status]) for status in STATUSES),
                    name(first) if first else "",
                    mistake.id if mistake else "",
                    *(g.status for g in s.grades.graded),
                ]
            )
        return rows

    def document(self) -> Document:
        cfg = self.checker.config
        epochs = self.checker.epochs
        when = f"after {count(epochs, 'epoch')} of training and one more step" if epochs else "one training step"
        n = len(self.students)
        intro = [f"answers of {count(n, 'student')} from {self.source} for {cfg.source}: {when}"]
        perfect = sum(1 for s in self.students if s.counts[CORRECT] + s.counts[ROUNDED] == len(s.grades.graded))
        intro.append(f"{perfect} with every answer right, {self.wrong} with a wrong answer")
        untried = tried_line(self.checker)
        if untried:
            intro.append(untried)
        firsts = Counter(s.first_wrong() for s in self.students if s.first_wrong())
        name, often = firsts.most_common(1)[0] if firsts else ("", 0)
        if often > 1:
            intro.append(f"the first wrong answer most often: {name} ({count(often, 'student')})")
        shown = self._shown()
        students: list[list[str | Expr]] = []
        for s in self.students:
            mistake = s.mistake()
            students.append(
                [s.student.id, *(str(s.counts[status]) for status in shown), s.first_wrong() or "", _title(mistake)]
            )
        labels = [_LABELS.get(status, status) for status in shown]
        return Document(
            "Checking a class",
            intro,
            [
                Section(
                    "The students",
                    [Table(["student", *labels, "first wrong", "likely mistake"], students)],
                ),
                self.questions_section(),
            ],
        )

    def questions_section(self) -> Section:
        """The table of the questions: each one's counts of the statuses shown,
        and the mistake named most for it."""
        shown = self._shown()
        questions: list[list[str | Expr]] = []
        mistakes = {m.id: m for s in self.students for g in s.grades.graded for m in g.mistakes}
        for q in self.questions():
            top = mistakes.get(q["mistake"]) if q["mistake"] else None
            why = f"{_title(top)} ({q['mistake_students']})" if top else ""
            questions.append([q["name"], *(str(q["counts"][status]) for status in shown), why])
        labels = [_LABELS.get(status, status) for status in shown]
        return Section("The questions", [Table(["name", *labels, "mistake named most"], questions)])


_LABELS = {UNANSWERED: "blank", CARRIED: "carried"}


def _title(mistake: Mistake | None) -> str:
    return f"{mistake.numbers}: {mistake.title}" if mistake is not None else ""
