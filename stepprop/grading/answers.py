"""A student's answers: the file, and what "agrees to the digits written" means."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal
from typing import TYPE_CHECKING, Any

from ..config import MAX_CHECK_EPOCHS, MAX_STEPS, ConfigError, Validator, compose, read_text, show
from ..table import NUMBER_FORMS, Row, number_problem, read_number, rows

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class Answer:
    name: str  # the quantity's name (see Checker.resolve: what the student wrote, made canonical)
    text: str  # the number as written in the file
    value: float
    line: int | None  # where it is written (None: not in a file)
    column: int | None
    written_as: str = ""  # the name as written, where it differs
    number: str = ""  # the number as a plain decimal (0,5933 and 5.933 x 10^-1 are 0.5933)
    part_of: str = ""  # an entry of a list answer: the list's name (z^[2] for z^[2](1))

    @property
    def blank(self) -> bool:
        """Left blank (unanswered)."""
        return not self.text

    def unplaced(self) -> Answer:
        """The same answer, not in any file (written in Python)."""
        return dataclasses.replace(self, line=None, column=None)

    def graded(self, status: str, exact: float, note: str) -> dict[str, Any]:
        """The JSON of its grade that every check shares: the answer, the exact value, the status."""
        return {
            "name": self.name,
            "written_as": self.written_as or self.name,
            "given": None if self.blank else self.value,
            "given_text": self.text,
            "exact": exact,
            "status": status,
            "note": note,
        }

    @property
    def digits_text(self) -> str:
        return (self.number or self.text).strip().replace("_", "")

    @property
    def decimals(self) -> int:
        """Decimal places written: 0.5933 -> 4, 3.51e-5 -> 7."""
        t = self.digits_text.lower().lstrip("+-")
        mantissa, _, exponent = t.partition("e")
        places = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return max(0, places - (int(exponent) if exponent else 0))

    @property
    def significant(self) -> int:
        """Significant digits written: 0.5933 -> 4, 0.4 -> 1, 0 -> 0."""
        t = self.digits_text.lower().lstrip("+-").partition("e")[0].replace(".", "")
        return len(t.lstrip("0"))


# an answer with fewer significant digits than this can't tell a mistake apart
FEW_DIGITS = 3


def agrees(x: float, answer: Answer) -> bool:
    """Is the answer ``x`` rounded to the digits the student wrote (half up, as
    on paper: 0.45 is 0.5, not 0.4)?"""
    if not math.isfinite(x):
        return False
    return to_places(x, answer.decimals) == Decimal(answer.digits_text)


_WIDE = Context(prec=800)  # quantize never runs out of digits (1e308 to 325 decimals)


def to_places(x: float, places: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``x`` to ``places`` decimals (half up, as on paper, unless ``rounding``
    says otherwise), however many digits that takes."""
    return Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=rounding, context=_WIDE)


# from this many significant digits, an answer is right within 1e-9 (relative) of the
# exact value: a computer's last bits (1/(1 + exp(-x)) against an overflow-safe form) differ
PRECISE_DIGITS = 10
PRECISE = 1e-9


def right(x: float, answer: Answer) -> bool:
    """The exact value ``x`` rounded to the digits written, or, with ten or more
    significant digits, within 1e-9 of it (relative)."""
    if agrees(x, answer):
        return True
    return answer.significant >= PRECISE_DIGITS and math.isfinite(x) and abs(answer.value - x) <= PRECISE * abs(x)


class Answers(list[Answer]):
    """The answers of a file, and its settings (``epochs: N`` for answers
    about the network after N epochs of training)."""

    epochs: int | None = None
    step: int | None = None  # ``step: K``: answers about the K-th consecutive update (an optimiser's state)


def load_answers(path: str | Path | None = None, text: str | None = None, source: str | None = None) -> Answers:
    """The answers of a file (or of ``text``): a YAML mapping of quantity
    names to numbers, and optionally ``epochs: N``."""
    source = source or str(path)
    root = compose(
        text if text is not None else read_text(path or "", "an answers"),
        source,
        "the answers file is empty: write one 'name: number' per line, e.g. out_h1: 0.5933",
    )
    check = Validator(source)
    pairs = check.mapping(root, "the answers (a mapping of names to numbers, e.g. out_h1: 0.5933)", None)
    if not pairs:
        raise ConfigError("no answers: write one 'name: number' per line, e.g. out_h1: 0.5933", source)
    if "layers" in pairs:
        raise ConfigError(
            "this is a config, not an answers file: the command is stepprop check [CONFIG] ANSWERS", source
        )
    answers = Answers()
    if "epochs" in pairs:
        answers.epochs = check.integer(pairs["epochs"][1], "epochs")
        if not 1 <= answers.epochs <= MAX_CHECK_EPOCHS:
            raise check.error(pairs["epochs"][1], f"epochs must be 1 to {MAX_CHECK_EPOCHS:,}")
    if "step" in pairs:
        answers.step = check.integer(pairs["step"][1], "step")
        if not 1 <= answers.step <= MAX_STEPS:
            raise check.error(pairs["step"][1], f"step must be 1 to {MAX_STEPS:,} (the update the answers are about)")
        if answers.epochs is not None:
            raise check.error(pairs["step"][0], "give either epochs (answers after training) or step, not both")
    for key, (knode, vnode) in pairs.items():
        if key in ("epochs", "step"):
            continue
        if vnode.tag == _SEQ:  # a whole vector or matrix (z^[2]: [0.1, 0.2]), entry by entry
            answers += _entries(check, key, vnode)
            continue
        answers.append(_answer(check, key, knode, vnode))
    return answers


MAX_ENTRIES = 100_000  # of one matrix answer


def _entries(check: Validator, key: str, vnode: Any) -> list[Answer]:  # noqa: ANN401
    """A list answer's entries, each its own answer named key(i) (a vector's)
    or key(i,j) (a list of rows), 1-based, at the entry's place in the file."""
    found: list[Answer] = []
    rows = vnode.value
    if not rows:
        raise check.error(vnode, f"the answer for {show(key)} is an empty list")
    nested = [row.tag == _SEQ for row in rows]
    if any(nested) and not all(nested):
        raise check.error(
            vnode, f"the answer for {show(key)}: write a vector as [1, 2] or a matrix as [[1, 2], [3, 4]]"
        )
    for i, row in enumerate(rows, 1):
        if len(found) > MAX_ENTRIES:
            raise check.error(vnode, f"the answer for {show(key)} has over {MAX_ENTRIES:,} entries")
        if row.tag != _SEQ:
            found.append(dataclasses.replace(_answer(check, f"{key}({i})", row, row), part_of=key))
            continue
        if len(row.value) != len(rows[0].value):
            raise check.error(row, f"the rows of {show(key)} have different lengths")
        for j, cell in enumerate(row.value, 1):
            if cell.tag == _SEQ:
                raise check.error(cell, f"the answer for {show(key)}: a matrix is a list of rows of numbers")
            found.append(dataclasses.replace(_answer(check, f"{key}({i},{j})", cell, cell), part_of=key))
    return found


def _answer(check: Validator, key: str, knode: Any, vnode: Any) -> Answer:  # noqa: ANN401
    """The answer ``key: vnode`` (``knode``: where the name is written)."""
    source = check.source
    written = str(vnode.value) if isinstance(vnode.value, str) else ""
    if vnode.tag == _NULL:  # left blank, as in a template: unanswered
        return Answer(key, "", math.nan, knode.start_mark.line + 1, knode.start_mark.column + 1, key)
    found = read_number(written) if vnode.tag in (_STR, _INT, _FLOAT) else None
    problem = number_problem(written) if found is None and vnode.tag in (_STR, _INT, _FLOAT) else None
    if problem is not None:
        raise check.error(vnode, f"the answer for {show(key)}: {problem}")
    if found is None:
        if vnode.tag != _STR:
            check.number(vnode, key)  # says what YAML made of it (a boolean, nothing, a list ...)
        mark = vnode.start_mark
        raise ConfigError(
            f"write the answer for {show(key)} as a number, like {NUMBER_FORMS}; not '{show(written)}'",
            source,
            mark.line + 1,
            mark.column + 1,
        )
    value, number = found
    return Answer(key, written.strip(), value, knode.start_mark.line + 1, knode.start_mark.column + 1, key, number)


_STR, _INT, _FLOAT, _NULL, _SEQ = ("tag:yaml.org,2002:" + t for t in ("str", "int", "float", "null", "seq"))


@dataclass(frozen=True)
class Student:
    """One row of a class's answers: the student's id (the first column), the
    line it is on, and their answers (a blank cell is unanswered)."""

    id: str
    line: int
    answers: Answers


UNREADABLE_SHOWN = 5  # the unreadable cells a message names by position


def load_class(path: str | Path | None = None, text: str | None = None, source: str | None = None) -> list[Student]:
    """A class's answers, a CSV file: a header row of answer names (the first
    column's header is anything: the students' ids), then one row per student.
    Comma, semicolon and tab delimited files are read (the header says which)."""
    source = source or str(path)
    raw = text if text is not None else read_text(path or "", "a class's answers")
    header: list[tuple[str | None, int]] = []  # (name, column) of each answer column (None: a roster's)
    header_line = 0
    students: list[Student] = []
    unreadable: list[tuple[int, int, str, str]] = []
    for row in rows(raw, source):
        if not header:
            header_line = row.line
            header = _header(row, source)
            continue
        students.append(_student(row, header, header_line, source, unreadable))
    if not header:
        raise ConfigError("the class's answers file is empty: a header row of names, then one row per student", source)
    if unreadable:
        line, column, name, cell = unreadable[0]
        more = ", ".join(f"{ln}:{col}" for ln, col, _, _ in unreadable[1:UNREADABLE_SHOWN])
        rest = len(unreadable) - UNREADABLE_SHOWN
        also = f"; also not numbers: {more}" + (f" and {rest} more" if rest > 0 else "") if more else ""
        raise ConfigError(
            f"write the answer for {show(name)} as a number, like {NUMBER_FORMS}; not '{show(cell)}'{also}",
            source,
            line,
            column,
        )
    if not students:
        raise ConfigError("no students: after the header row of names, one row per student", source)
    return students


ROSTER_COLUMNS = ("name", "student name", "full name", "email")  # the columns of a roster, not answers


def _header(row: Row, source: str) -> list[tuple[str | None, int]]:
    line = row.line
    names = [cell.strip() for cell in row.cells[1:]]
    while names and not names[-1]:
        names.pop()  # the empty columns a spreadsheet adds
    if not names:
        raise ConfigError(
            "the first row names the answers: an id column, then one column per name (out_h1, w5+, ...)",
            source,
            line,
        )
    seen: set[str] = set()
    header: list[tuple[str | None, int]] = []
    for k, name in enumerate(names, start=1):
        column = row.column(k)
        if name.lower() in ROSTER_COLUMNS:  # (a roster's column copied along with the ids: not an answer)
            header.append((None, column))
            continue
        if not name:
            raise ConfigError(f"column {k + 1} has no name: the first row names every answer", source, line, column)
        if name in seen:
            raise ConfigError(f"{show(name)} is named twice in the first row", source, line, column)
        seen.add(name)
        header.append((name, column))
    return header


def _student(
    row: Row,
    header: list[tuple[str | None, int]],
    header_line: int,
    source: str,
    unreadable: list[tuple[int, int, str, str]],
) -> Student:
    line, cells = row.line, row.cells
    extra = [k for k in range(len(header) + 1, len(cells)) if cells[k].strip()]
    if extra:
        raise ConfigError(
            f"this row has {len(cells) - 1} answers and the first row names {len(header)}",
            source,
            line,
            row.column(extra[0]),
        )
    answers = Answers()
    for k, (name, name_column) in enumerate(header, start=1):
        if name is None:
            continue
        cell = cells[k].strip() if k < len(cells) else ""
        if not cell:
            answers.append(Answer(name, "", math.nan, header_line, name_column, name))
            continue
        found = read_number(cell)
        if found is None:
            unreadable.append((line, row.column(k), name, cell))
            continue
        value, number = found
        answers.append(Answer(name, cell, value, header_line, name_column, name, number))
    return Student(cells[0].strip() or f"line {line}", line, answers)


# a parameter's change as students write it: Δw5, Δ_w5, delta_w5, delta w5, Delta_w5
_CHANGE = re.compile(r"(?:Δ|(?i:delta))_?([wbWB](?:\d+|\^\S+))")  # Δw5, delta_w5; ΔW^[2], a matrix's

# an updated parameter as students write it: w5+, w5_new, w5', w5^+, w5(new)
_UPDATED = ("_new", "(new)", " new", "^+", "_+", "'", "′")


def spellings(written: str) -> list[str]:
    """What a student may mean by a name, most likely first: ∂ for d, δ for
    delta, w5_new or w5' for w5+, and E and E_total for each other (a
    sample's error and a batch's).  Matched without regard to case."""
    via = re.fullmatch(r"[d∂]E(?:_total)?/[d∂](\S+)\s*\(via\s+(\w+)\)", written.strip())
    if via:  # a path's share as the worked example prints it: dE_total/dout_h1 (via o1)
        return [f"dE_{via[2]}/d{via[1]}"]
    # the increment sign ∆ (U+2206, what keyboards type) for Δ; w_5 for w5 (dw_5, Δw_5)
    t = re.sub(r"(?<![A-Za-ce-z])([wbWB])_(\d+)", r"\1\2", written.strip().replace("∆", "Δ"))
    change = _CHANGE.fullmatch(t.replace(" ", ""))
    if change:  # Δw5, delta_w5, Δ_w5+: the change of a parameter in the update
        return [f"change_{change.group(1)}"]
    t = re.sub("δ(?=\\^)", "delta", t)  # a matrix's δ^[2]: delta^[2]
    t = t.replace("∂", "d").replace("δ", "delta_").replace("Δ", "delta_").replace("delta__", "delta_")
    for mark in _UPDATED:
        if t.endswith(mark) and len(t) > len(mark):
            t = t[: -len(mark)].rstrip() + "+"
            break
    t = t.replace(" ", "")
    found = [t]
    swaps = (("dE_total/", "dE/"), ("dE/", "dE_total/"))
    for a, b in swaps:
        if t.lower().startswith(a.lower()):
            found.append(b + t[len(a) :])
    base, plus = (t[:-1], "+") if t.endswith("+") else (t, "")
    if base.lower() == "e":
        found.append("E_total" + plus)
    elif base.lower() == "e_total":
        found.append("E" + plus)
    return found


def truncated(exact: float, answer: Answer) -> bool:
    """Is the answer the exact value with its digits cut off, not rounded?"""
    if answer.significant < FEW_DIGITS or not math.isfinite(exact):
        return False
    return to_places(exact, answer.decimals, ROUND_DOWN) == Decimal(answer.digits_text)
