"""One self-contained HTML page: the diagram and the derivation, with the math
in MathML (legible without JavaScript, no network access, printable).

``math="tex"`` writes the same page with each equation and math cell as the
LaTeX view's TeX between ``\\( \\)`` or ``\\[ \\]``, HTML-escaped, for a
MathJax filter (a learning platform's HTML cleaner strips MathML); ``src``
links the picture as an ``<img>`` of that file instead of inline SVG."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from html import escape

from ..document import Document, Eq, Label, Section, Table, Text
from ..expr import DEFAULT_DIGITS, D, Expr, Num, Printer, Sym, Via, fmt
from . import GREEK, HAT, in_pieces

_GREEK = {name: letter for name, (letter, _) in GREEK.items()}


def _mi(text: str) -> str:
    return f"<mi>{escape(text)}</mi>"


def _base(name: str) -> str:
    if name.endswith(HAT):  # m_hat: m with a hat
        return f'<mover accent="true">{_base(name[: -len(HAT)])}<mo>^</mo></mover>'
    return _mi(_GREEK.get(name, name))


def _sym(s: Sym) -> str:
    if s.base == "change":  # a parameter's change: Δw5
        return f"<mrow><mi>Δ</mi>{_sym(Sym(s.sub[0], s.sub[1:], s.sup, s.sample))}</mrow>"
    if s.base.startswith("change_"):  # the same in Nielsen's names: Δw^3_11
        return f"<mrow><mi>Δ</mi>{_sym(Sym(s.base[7:], s.sub, s.sup, s.sample, s.layer))}</mrow>"
    base = _base(s.base)
    sub = s.sub
    sup = s.sup + (f"({s.sample})" if s.sample is not None else "")
    if s.layer:  # Nielsen's w^3_11: the layer above, then anything more outside it
        inner = f"<mn>{escape(s.layer)}</mn>"
        base = f"<msubsup>{base}<mn>{escape(sub)}</mn>{inner}</msubsup>" if sub else f"<msup>{base}{inner}</msup>"
        return f"<msup><mrow>{base}</mrow><mo>{escape(sup)}</mo></msup>" if sup else base
    if sub and sup:
        return f"<msubsup>{base}<mi>{escape(sub)}</mi><mo>{escape(sup)}</mo></msubsup>"
    if sub:
        return f"<msub>{base}<mi>{escape(sub)}</mi></msub>"
    if sup:
        return f"<msup>{base}<mo>{escape(sup)}</mo></msup>"
    return base


_OPS = {
    "+": "+",
    "-": "−",
    "*": "·",
    "matmul": "&#8290;",
    "hadamard": "⊙",
    "/": "/",
    ">": "&gt;",
    ">=": "≥",
    "<": "&lt;",
    "==": "=",
    "!=": "≠",
}


class MathMLPrinter(Printer[str]):
    """Presentation MathML: built-up fractions, raised exponents, and one
    minus sign (U+2212) for numbers and operators alike."""

    built_up = True
    raised = True

    def sym(self, s: Sym) -> str:
        return _sym(s)

    def d(self, d: D) -> str:
        spelled = self.spelled
        return f"<mfrac><mrow><mo>∂</mo>{spelled(d.num)}</mrow><mrow><mo>∂</mo>{spelled(d.den)}</mrow></mfrac>"

    def via(self, v: Via) -> str:
        return f"<msub><mrow>{self.d(v.d)}<mo>|</mo></mrow><mtext>via {escape(v.through)}</mtext></msub>"

    def number(self, x: float, digits: int | None = None) -> str:
        mantissa, _, exponent = fmt(x, digits or self.digits).partition("e")
        if not exponent:
            return f"<mn>{mantissa}</mn>"
        power = int(exponent)
        sign = "<mo>−</mo>" if power < 0 else ""
        exponent_ml = f"<mrow>{sign}<mn>{abs(power)}</mn></mrow>"
        return f"<mrow><mn>{mantissa}</mn><mo>×</mo><msup><mn>10</mn>{exponent_ml}</msup></mrow>"

    def written(self, text: str) -> str:
        return f"<mn>{escape(text)}</mn>"

    def op(self, text: str) -> str:
        return f"<mo>{_OPS[text] if text in _OPS else escape(text)}</mo>"

    def minus(self) -> str:
        return "<mo>−</mo>"

    def group(self, inner: str) -> str:
        return f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"

    def concat(self, parts: list[str]) -> str:
        return "<mrow>" + "".join(parts) + "</mrow>"

    def frac(self, num: str, den: str) -> str:
        return f"<mfrac>{num}{den}</mfrac>"

    def power(self, base: str, exponent: int | float) -> str:
        if exponent < 0:  # (an expression's x^-1: a minus sign, as everywhere, then the number)
            return f"<msup>{base}<mrow><mo>−</mo><mn>{-exponent}</mn></mrow></msup>"
        return f"<msup>{base}<mn>{exponent}</mn></msup>"

    def exp(self, x: str) -> str:
        return f"<msup><mi>e</mi><mrow>{x}</mrow></msup>"

    def func(self, name: str, args: list[str]) -> str:
        if name == "abs":  # |x|
            return f'<mrow><mo fence="true">|</mo>{args[0]}<mo fence="true">|</mo></mrow>'
        if name == "sqrt":
            return f"<msqrt>{args[0]}</msqrt>"
        return f"<mrow><mi>{escape(name)}</mi><mo>(</mo>{'<mo>,</mo>'.join(args)}<mo>)</mo></mrow>"

    def where(self, then: str, cond: str, other: str) -> str:
        return f"<mrow>{then}<mtext>&#160;if&#160;</mtext>{cond}<mtext>, else&#160;</mtext>{other}</mrow>"

    def matrix(self, rows: list[list[str]]) -> str:
        cells = "".join("<mtr>" + "".join(f"<mtd>{x}</mtd>" for x in row) + "</mtr>" for row in rows)
        return f"<mrow><mo>[</mo><mtable>{cells}</mtable><mo>]</mo></mrow>"

    def transpose(self, x: str) -> str:
        return f"<msup>{x}<mi>T</mi></msup>"


def mathml(e: Expr, digits: int = DEFAULT_DIGITS) -> str:
    return MathMLPrinter.shared(digits).doprint(e)


def number_text(x: float, digits: int, written: str | None = None) -> str:
    """A number for a table cell, with the same minus sign as the math."""
    return ("−" if x < 0 else "") + (written if written is not None else fmt(abs(x), digits))


MATH = ("mathml", "tex")  # the HTML view's ways of writing math


def _math(e: Expr, digits: int, math: str) -> str:
    """An expression inline: MathML, or TeX for a MathJax filter."""
    if math == "tex":
        from .latex import tex

        return escape(rf"\({tex(e, digits)}\)", quote=False)
    return mathml(e, digits)


def _display(eq: Eq, digits: int) -> str:
    """The equation's math, one line per equals sign, as MathML."""
    spell = MathMLPrinter.shared(digits).doprint
    rows = []
    last = len(eq.rhs) - 1
    left = spell(eq.lhs)
    for k, r in enumerate(eq.rhs):
        right = spell(r)
        if k == last and eq.result and isinstance(r, Num):
            right = right.replace("<mn>", '<mn class="result">', 1)
        rows.append(f"<mtr><mtd>{left}</mtd><mtd><mo>=</mo>{right}</mtd></mtr>")
        left = ""
    return (
        '<math display="block"><mtable columnalign="right left" columnspacing="0.2em">'
        + "".join(rows)
        + "</mtable></math>"
    )


def _display_tex(eq: Eq, digits: int) -> str:
    """The same as the LaTeX view sets it (its note left to the page), in
    \\[ \\] for a MathJax filter, HTML-escaped."""
    from . import latex

    lines = latex.equation(replace(eq, note="", reused=False), digits)
    return escape(rf"\[\begin{{aligned}}{lines}\end{{aligned}}\]", quote=False)


def equation(eq: Eq, digits: int = DEFAULT_DIGITS, math: str = "mathml") -> str:
    formula = _display_tex(eq, digits) if math == "tex" else _display(eq, digits)
    note = "from above" if eq.reused else eq.note
    cls = "eq result" if eq.result else ("eq reused" if eq.reused else "eq")
    title = f' data-name="{escape(eq.name)}"' if eq.name else ""
    extra = f'<span class="note">({escape(note)})</span>' if note else ""
    return f'<div class="{cls}"{title}>{formula}{extra}</div>'


# every rule is scoped to the page's own <div class="stepprop">: the same page is a
# notebook cell's output (_repr_html_), which must not restyle the notebook around it
CSS = """
.stepprop { font-family: Georgia, 'Times New Roman', serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
            color: #222; line-height: 1.4; }
.stepprop h1 { font-size: 1.6rem; } .stepprop h2 { border-bottom: 1px solid #ccc; margin-top: 2rem; }
.stepprop h3 { margin-top: 1.5rem; } .stepprop h4 { color: #6a2c70; margin: 1.2rem 0 0.3rem; }
.stepprop h5 { margin: 0.8rem 0 0.2rem; }
.stepprop ul.intro { color: #555; }
.stepprop .eq { display: flex; align-items: center; gap: 1rem; margin: 0.15rem 0 0.15rem 1rem; }
.stepprop .eq math { margin: 0.2rem 0; font-size: 1.05rem; }
.stepprop .eq math, .stepprop .eq math * { math-style: normal; }
.stepprop .eq mtd { text-align: left; padding: 0.12rem 0; }
.stepprop .eq mtr > mtd:first-child { text-align: right; }
.stepprop .eq mn.result { font-weight: bold; }
.stepprop .eq.reused { color: #777; }
.stepprop .note { color: #777; font-style: italic; font-size: 0.9rem; }
.stepprop table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
.stepprop th, .stepprop td { padding: 0.2rem 0.7rem; border-bottom: 1px solid #ddd; text-align: left; }
.stepprop td.num { text-align: right; font-variant-numeric: tabular-nums; }
.stepprop td.status { font-weight: bold; }
.stepprop td.correct, .stepprop td.rounded { color: #17803d; }
.stepprop td.carried, .stepprop td.ambiguous { color: #a15c00; }
.stepprop td.wrong { color: #c0262d; }
.stepprop td.unanswered { color: #888; font-weight: normal; }
.stepprop figure { margin: 1rem 0; text-align: center; }
.stepprop figure svg { max-width: 100%; height: auto; }
@media print { .stepprop { margin: 0; max-width: none; font-size: 10pt; }
               .stepprop h2, .stepprop h3, .stepprop h4 { break-after: avoid; }
               .stepprop .eq, .stepprop tr, .stepprop figure { break-inside: avoid; } }
"""


def render(doc: Document, digits: int = DEFAULT_DIGITS, svg: str | None = None, caption: str = "") -> str:
    return "".join(chunks(doc, digits, svg, caption))


def chunks(
    doc: Document,
    digits: int = DEFAULT_DIGITS,
    svg: str | None = None,
    caption: str = "",
    math: str = "mathml",
    src: str | None = None,
) -> Iterator[str]:
    """The page in pieces, each ending in a newline (written as they come: a
    classroom-sized batch's page is tens of megabytes); ``svg``: a picture
    after the introduction, with its ``caption`` (``src``: shown as an
    ``<img>`` of that file, which holds the SVG); ``math``: "mathml" or "tex"."""
    if math not in MATH:
        raise ValueError(f"math must be one of {', '.join(MATH)}, not {math!r}")
    figure = ""
    if svg:
        shown = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
        if src is not None:
            svg = f'<img src="{escape(src)}" alt="{escape(caption or doc.title)}">'
        figure = f"<figure>{svg}{shown}</figure>"
    return in_pieces(lines(doc, digits, figure, math))


def lines(doc: Document, digits: int = DEFAULT_DIGITS, figure: str = "", math: str = "mathml") -> Iterator[str]:
    """The page's lines; ``figure``: the picture's, after the introduction."""
    yield from [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(doc.title)}</title>",
        "</head>",
        "<body>",
        '<div class="stepprop">',
        f"<style>{CSS}</style>",
        f"<h1>{escape(doc.title)}</h1>",
        '<ul class="intro">',
    ]
    yield from [f"<li>{escape(line)}</li>" for line in doc.intro]
    yield "</ul>"
    if figure:
        yield figure

    def section(sec: Section, level: int) -> Iterator[str]:
        h = min(level + 1, 6)
        yield f"<section><h{h}>{escape(sec.title)}</h{h}>"
        for item in sec.items:
            if isinstance(item, Section):
                yield from section(item, level + 1)
            elif isinstance(item, Eq):
                yield equation(item, digits, math)
            elif isinstance(item, Table):
                yield _table(item, digits, math)
            elif isinstance(item, Text):
                yield f"<p>{escape(item.text)}</p>"
        yield "</section>"

    for sec in doc.sections:
        yield from section(sec, 1)
    yield from ("</div>", "</body>", "</html>")


def body(page: str) -> str:
    """The page's own part, ``<div class="stepprop">`` with its styles: what a
    notebook cell shows (the page around it is only a frame)."""
    start = page.index('<div class="stepprop">')
    end = page.rindex("</div>") + len("</div>")
    return page[start:end]


def _table(table: Table, digits: int, math: str = "mathml") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    rows = []
    for row in table.rows:
        cells = []
        for c in row:
            if isinstance(c, Label):
                cells.append(f'<td class="status {escape(c.kind)}">{escape(c)}</td>')
            elif isinstance(c, str):
                cells.append(f"<td>{escape(c)}</td>")
            elif isinstance(c, Num):
                cells.append(f'<td class="num">{escape(number_text(c.value, digits, c.written))}</td>')
            else:
                cells.append(f'<td class="num">{_math(c, digits, math)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<caption>{escape(table.title)}</caption>" if table.title else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
