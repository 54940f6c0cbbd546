"""Plain-text (ASCII) layout of a worked example, and the pieces the rich
view styles: every expression is a list of (text, kind) segments, spelled by
:class:`stepprop.expr.PlainPrinter`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from ..document import Document, Eq, Section, Table, Text
from ..expr import DEFAULT_DIGITS, Num, PlainPrinter, Segment, Spelling, TextPrinter, plain
from . import in_pieces

T = TypeVar("T", str, list[Segment])  # a spelling: text, or segments

ONE_LINE = 100  # an equation longer than this is broken at its = signs


def equation_lines(eq: Eq, digits: int = DEFAULT_DIGITS) -> list[list[Segment]]:
    """An equation as one line, or one line per '=' when it is long: as
    segments (the rich view styles them; the result is marked as such)."""

    def result(side: list[Segment]) -> list[Segment]:
        return [(text, "result") for text, _ in side]

    return _laid_out(eq, PlainPrinter.shared(digits), result)


def equation_text(eq: Eq, digits: int = DEFAULT_DIGITS) -> list[str]:
    """The same lines as plain text."""
    return _laid_out(eq, TextPrinter.shared(digits), None)


def _laid_out(eq: Eq, printer: Spelling[T], result: Callable[[T], T] | None) -> list[T]:
    """The layout of an equation, in the printer's pieces."""
    piece, join = printer.piece, printer.join
    lhs: T = printer.doprint(eq.lhs)
    sides: list[T] = [printer.doprint(r) for r in eq.rhs]
    if result is not None and eq.result and isinstance(eq.rhs[-1], Num):
        sides[-1] = result(sides[-1])
    equals: T = piece(" = ", "op")
    note = "from above" if eq.reused else eq.note
    tail: list[T] = [piece(f"   ({note})", "note")] if note else []
    parts: list[T] = [lhs]
    for side in sides:
        parts += [equals, side]
    one: T = join(parts)
    if _width(one) <= ONE_LINE:
        return [join([one] + tail)]
    pad: T = piece(" " * _width(lhs), "text")
    lines: list[T] = [join([lhs, equals, sides[0]])]
    for side in sides[1:]:
        lines.append(join([pad, equals, side]))
    lines[-1] = join([lines[-1]] + tail)
    return lines


def _width(pieces: str | list[Segment]) -> int:
    return len(pieces) if isinstance(pieces, str) else sum(len(t) for t, _ in pieces)


def table_lines(table: Table, digits: int = DEFAULT_DIGITS) -> list[str]:
    cells = [[c if isinstance(c, str) else plain(c, digits) for c in row] for row in table.rows]
    numeric = [all(not isinstance(row[k], str) for row in table.rows) for k in range(len(table.headers))]
    widths = [max([len(h)] + [len(r[k]) for r in cells]) for k, h in enumerate(table.headers)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if numeric[k] else v.ljust(w) for k, (v, w) in enumerate(zip(values, widths))]
        return "  ".join(parts).rstrip()

    return [line(table.headers), line(["-" * w for w in widths])] + [line(r) for r in cells]


def document_lines(doc: Document, digits: int = DEFAULT_DIGITS) -> Iterator[str]:
    """The whole worked example as plain text lines."""
    yield doc.title
    yield "=" * len(doc.title)
    yield from doc.intro
    for section in doc.sections:
        yield from _section_lines(section, 1, digits)


def _section_lines(section: Section, level: int, digits: int) -> Iterator[str]:
    indent = "  " * max(level - 3, 0)
    yield ""
    if level == 1:
        yield section.title
        yield "-" * len(section.title)
    elif level == 2:
        yield f"{section.title}"
        yield "~" * len(section.title)
    else:
        yield f"{indent}{section.title}"
    inner = "  " * max(level - 2, 0)
    for item in section.items:
        if isinstance(item, Section):
            yield from _section_lines(item, level + 1, digits)
        elif isinstance(item, Eq):
            for line in equation_text(item, digits):
                yield inner + line
        elif isinstance(item, Table):
            if item.title:
                yield inner + item.title
            for line in table_lines(item, digits):
                yield inner + line
        elif isinstance(item, Text):
            yield inner + item.text


def render_plain(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    return "".join(plain_chunks(doc, digits))


def plain_chunks(doc: Document, digits: int = DEFAULT_DIGITS) -> Iterator[str]:
    """The plain text in pieces of many lines, each ending in a newline."""
    return in_pieces(document_lines(doc, digits))
