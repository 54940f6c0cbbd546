"""Markdown with $$ math: renders on GitHub and in Jupyter."""

from __future__ import annotations

from collections.abc import Iterator

from ..document import Document, Eq, Section, Table, Text
from ..expr import DEFAULT_DIGITS, plain
from . import in_pieces
from .latex import equation


def _text(text: str) -> str:
    """Plain text that Markdown must not read as HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: str) -> str:
    return _text(text).replace("|", r"\|")


def _table(table: Table, digits: int) -> list[str]:
    numeric = [all(not isinstance(row[k], str) for row in table.rows) for k in range(len(table.headers))]
    out = [
        "| " + " | ".join(_cell(h) or " " for h in table.headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for row in table.rows:
        out.append("| " + " | ".join(_cell(c if isinstance(c, str) else plain(c, digits)) for c in row) + " |")
    return out


def render(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    return "".join(chunks(doc, digits))


def chunks(doc: Document, digits: int = DEFAULT_DIGITS) -> Iterator[str]:
    """The Markdown in pieces, each ending in a newline (written as they come)."""
    return in_pieces(lines(doc, digits))


def lines(doc: Document, digits: int = DEFAULT_DIGITS) -> Iterator[str]:
    yield f"# {doc.title}"
    yield ""
    for line in doc.intro:
        yield f"- {_text(line)}"
    yield ""

    compact = doc.compact  # (the nested function must not hold the document: it refers to itself)

    def section(sec: Section, level: int) -> Iterator[str]:
        yield "#" * min(level + 1, 6) + " " + sec.title
        yield ""
        for item in sec.items:
            if isinstance(item, Section):
                yield from section(item, level + 1)
            elif isinstance(item, Eq):
                body = equation(item, digits, align=len(item.rhs) > 1, compact=compact)
                if len(item.rhs) > 1:
                    body = "\\begin{aligned}\n" + body + "\n\\end{aligned}"
                yield from ("$$", body, "$$", "")
            elif isinstance(item, Table):
                yield from _table(item, digits)
                yield ""
            elif isinstance(item, Text):
                yield from (_text(item.text), "")

    for sec in doc.sections:
        yield from section(sec, 1)
