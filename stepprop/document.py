"""A worked example as data: sections, equations, tables and text.

Equations hold expression trees (:mod:`stepprop.expr`), so each view lays
them out in its own notation and a test can evaluate every one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .expr import Const, Expr, Num


def _same(a: Expr, b: Expr) -> bool:
    """The same step, as a reader sees it: equal trees, or equal plain numbers."""
    if a is b:
        return True
    kind = type(a)
    if kind in _PLAIN and type(b) in _PLAIN:
        return float(a.value) == float(b.value)  # type: ignore[attr-defined]
    return kind is type(b) and a == b


_PLAIN = (Num, Const)


@dataclass
class Eq:
    """lhs = rhs[0] = rhs[1] = ...; ``name`` is the checkable name it defines.

    A step that only repeats the next one (``E_o1 = 0.13 = 0.13``,
    ``1 = 1``) is dropped: every '=' of a printed equation says something."""

    lhs: Expr
    rhs: list[Expr]
    name: str | None = None
    note: str = ""
    result: bool = False  # the main result of its block (shown emphasised)
    reused: bool = False  # derived earlier in the document; repeated for reference

    def __post_init__(self) -> None:
        steps: list[Expr] = []
        for step in self.rhs:
            if steps and _same(steps[-1], step):
                steps[-1] = step  # keep the later one: a recorded number rather than a literal
            else:
                steps.append(step)
        if steps and _same(self.lhs, steps[0]) and len(steps) > 1:
            steps = steps[1:]
        self.rhs = steps


@dataclass
class Text:
    text: str


class Label(str):
    """The text of a table cell, with a kind a view may style (a grade's
    status: correct, rounded, ambiguous, wrong, unanswered)."""

    kind: str

    def __new__(cls, text: str, kind: str) -> Label:
        label = super().__new__(cls, text)
        label.kind = kind
        return label


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str | Expr]]
    title: str = ""


@dataclass
class Section:
    title: str
    items: list[Section | Eq | Text | Table] = field(default_factory=list)


Item = Section | Eq | Text | Table


@dataclass
class Document:
    title: str
    intro: list[str]
    sections: list[Section]
    compact: bool = False  # a handout: a view sets an equation on one line where it fits

    def equations(self) -> list[Eq]:
        """Every equation, in document order."""
        out: list[Eq] = []

        def walk(items: Sequence[Item]) -> None:
            for item in items:
                if isinstance(item, Section):
                    walk(item.items)
                elif isinstance(item, Eq):
                    out.append(item)

        walk(self.sections)
        return out
