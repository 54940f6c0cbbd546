"""Markdown with $$ math: renders on GitHub and in Jupyter."""

from __future__ import annotations

from ..document import Document, Eq, Section, Table, Text
from ..expr import DEFAULT_DIGITS, plain
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
    out = [f"# {doc.title}", ""]
    out += [f"- {_text(line)}" for line in doc.intro]
    out.append("")

    def section(sec: Section, level: int) -> None:
        out.append("#" * min(level + 1, 6) + " " + sec.title)
        out.append("")
        for item in sec.items:
            if isinstance(item, Section):
                section(item, level + 1)
            elif isinstance(item, Eq):
                body = equation(item, digits, align=len(item.rhs) > 1)
                if len(item.rhs) > 1:
                    body = "\\begin{aligned}\n" + body + "\n\\end{aligned}"
                out.extend(["$$", body, "$$", ""])
            elif isinstance(item, Table):
                out.extend(_table(item, digits) + [""])
            elif isinstance(item, Text):
                out.extend([_text(item.text), ""])

    for sec in doc.sections:
        section(sec, 1)
    return "\n".join(out).rstrip("\n") + "\n"
