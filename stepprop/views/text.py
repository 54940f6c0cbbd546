"""Plain-text (ASCII) layout of a worked example, and the pieces the rich
view styles: every expression becomes a list of (text, kind) segments."""

from __future__ import annotations

from collections.abc import Iterator

from ..expr import (
    Add,
    Const,
    D,
    Document,
    Eq,
    Exp,
    Expr,
    Frac,
    Func,
    Mul,
    Neg,
    Num,
    Paren,
    Pow,
    Section,
    Sub,
    Sym,
    Table,
    Text,
    is_atomic,
)
from .numbers import DEFAULT_DIGITS, fmt

Segment = tuple[str, str]  # (text, kind): kind is sym, num, op or text

ONE_LINE = 100  # an equation longer than this is broken at its = signs


def _atomic(e: Expr) -> bool:
    return is_atomic(e, fraction=False)


def segments(e: Expr, digits: int = DEFAULT_DIGITS) -> list[Segment]:
    """The ASCII spelling of an expression, as styled segments."""
    out: list[Segment] = []

    def wrap(x: Expr, when: bool) -> None:
        if when:
            out.append(("(", "op"))
            walk(x)
            out.append((")", "op"))
        else:
            walk(x)

    def walk(x: Expr) -> None:
        if isinstance(x, (Sym, D)):
            out.append((x.ascii, "sym"))
        elif isinstance(x, Num):
            out.append((fmt(x.value, digits), "num"))
        elif isinstance(x, Const):
            out.append((x.text, "num"))
        elif isinstance(x, Add):
            for k, term in enumerate(x.terms):
                if k:
                    out.append((" + ", "op"))
                wrap(term, isinstance(term, Add))
        elif isinstance(x, Sub):
            walk(x.a)
            out.append((" - ", "op"))
            wrap(x.b, isinstance(x.b, (Add, Sub)))
        elif isinstance(x, Mul):
            for k, f in enumerate(x.factors):
                if k:
                    out.append((" * ", "op"))
                wrap(f, isinstance(f, (Add, Sub)))
        elif isinstance(x, Neg):
            out.append(("-", "op"))
            wrap(x.x, not _atomic(x.x) or (isinstance(x.x, Num) and x.x.value < 0))
        elif isinstance(x, Frac):
            wrap(x.num, not _atomic(x.num))
            out.append(("/", "op"))
            wrap(x.den, not _atomic(x.den))
        elif isinstance(x, Paren):
            wrap(x.x, True)
        elif isinstance(x, Pow):
            wrap(x.x, not _atomic(x.x))
            out.append((f"^{x.power}", "op"))
        elif isinstance(x, Exp):
            out.append(("e^", "op"))
            wrap(x.x, not (_atomic(x.x) or (isinstance(x.x, Neg) and _atomic(x.x.x))))
        elif isinstance(x, Func):
            out.append((x.name, "op"))
            out.append(("(", "op"))
            for k, a in enumerate(x.args):
                if k:
                    out.append((", ", "op"))
                walk(a)
            out.append((")", "op"))
        else:  # pragma: no cover - every expression type is handled above
            raise TypeError(f"cannot lay out {x!r}")

    walk(e)
    return out


def plain(e: Expr, digits: int = DEFAULT_DIGITS) -> str:
    return "".join(text for text, _ in segments(e, digits))


def equation_lines(eq: Eq, digits: int = DEFAULT_DIGITS) -> list[list[Segment]]:
    """An equation as one line, or one line per '=' when it is long."""
    lhs = segments(eq.lhs, digits)
    sides = [segments(r, digits) for r in eq.rhs]
    last = len(sides) - 1
    for k, side in enumerate(sides):
        if k == last and eq.result and side and side[0][1] == "num":
            sides[k] = [(text, "result" if kind == "num" else kind) for text, kind in side]
    one: list[Segment] = list(lhs)
    for side in sides:
        one += [(" = ", "op")] + side
    tail: list[Segment] = []
    if eq.reused:
        tail = [("   (from above)", "note")]
    elif eq.note:
        tail = [(f"   ({eq.note})", "note")]
    if sum(len(t) for t, _ in one) <= ONE_LINE:
        return [one + tail]
    pad = " " * sum(len(t) for t, _ in lhs)
    lines = [list(lhs) + [(" = ", "op")] + sides[0]]
    for side in sides[1:]:
        lines.append([(pad, "text"), (" = ", "op")] + side)
    lines[-1] += tail
    return lines


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
            for segs in equation_lines(item, digits):
                yield inner + "".join(t for t, _ in segs)
        elif isinstance(item, Table):
            if item.title:
                yield inner + item.title
            for line in table_lines(item, digits):
                yield inner + line
        elif isinstance(item, Text):
            yield inner + item.text


def render_plain(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    return "\n".join(document_lines(doc, digits)) + "\n"
