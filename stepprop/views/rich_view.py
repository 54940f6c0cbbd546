"""The terminal view: the same document, with headings, colour and tables.

Used only when stdout is a terminal; rich drops colour by itself under
``NO_COLOR`` or a dumb terminal.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Console, ConsoleOptions, ConsoleRenderable, Group, RenderResult
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text as RichText

from ..document import Document, Eq, Label, Section, Table, Text
from ..expr import DEFAULT_DIGITS, Expr, plain
from .text import equation_lines

# a grade's status: right green, not sure yellow, wrong red
LABELS = {
    "correct": "bold green",
    "rounded": "green",
    "carried": "yellow",
    "ambiguous": "yellow",
    "wrong": "bold red",
    "unanswered": "dim",
}

STYLES = {
    "sym": "cyan",
    "num": "",
    "result": "bold green",
    "op": "",
    "note": "dim italic",
    "text": "",
}


class RichDocument:
    """A worked example as a rich renderable."""

    def __init__(self, doc: Document, digits: int = DEFAULT_DIGITS):
        self.doc = doc
        self.digits = digits

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield RichText(self.doc.title, style="bold")
        for line in self.doc.intro:
            yield RichText(line, style="dim")
        for section in self.doc.sections:
            yield from self._section(section, 1)

    def _section(self, section: Section, level: int) -> Iterator[ConsoleRenderable]:
        if level == 1:
            yield RichText("")
            yield Rule(RichText(section.title, style="bold"), align="left")
        elif level == 2:
            yield RichText("")
            yield RichText(section.title, style="bold underline")
        else:
            yield RichText("")
            yield Padding(RichText(section.title, style="bold magenta"), (0, 0, 0, 2 * (level - 3)))
        indent = 2 * max(level - 2, 0)
        body: list[ConsoleRenderable] = []
        for item in section.items:
            if isinstance(item, Section):
                if body:
                    yield Padding(Group(*body), (0, 0, 0, indent))
                    body = []
                yield from self._section(item, level + 1)
            elif isinstance(item, Eq):
                for segs in equation_lines(item, self.digits):
                    text = RichText()
                    for chunk, kind in segs:
                        text.append(chunk, style=STYLES.get(kind, ""))
                    body.append(text)
            elif isinstance(item, Table):
                body.append(self._table(item))
            elif isinstance(item, Text):
                body.append(RichText(item.text))
        if body:
            yield Padding(Group(*body), (0, 0, 0, indent))

    def _table(self, table: Table) -> RichTable:
        out = RichTable(title=table.title or None, show_edge=False, header_style="bold")
        numeric = [all(not isinstance(row[k], str) for row in table.rows) for k in range(len(table.headers))]
        for header, num in zip(table.headers, numeric):
            # a narrow terminal folds a long name or number onto two lines; it never cuts one short
            out.add_column(header, justify="right" if num else "left", style="" if num else "cyan", overflow="fold")
        for row in table.rows:
            out.add_row(*[self._cell(c) for c in row])
        return out

    def _cell(self, c: str | Expr) -> str | RichText:
        if isinstance(c, Label):
            return RichText(c, style=LABELS.get(c.kind, ""))
        return c if isinstance(c, str) else plain(c, self.digits)
