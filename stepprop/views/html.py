"""One self-contained HTML page: the diagram and the derivation, with the math
in MathML (legible without JavaScript, no network access, printable)."""

from __future__ import annotations

from html import escape

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
from .text import plain

_GREEK = {"delta": "δ", "eta": "η"}


def _mi(text: str) -> str:
    return f"<mi>{escape(text)}</mi>"


def _sym(s: Sym) -> str:
    base = _mi(_GREEK.get(s.base, s.base))
    sup = s.sup + (f"({s.sample})" if s.sample is not None else "")
    if s.sub and sup:
        return f"<msubsup>{base}<mi>{escape(s.sub)}</mi><mo>{escape(sup)}</mo></msubsup>"
    if s.sub:
        return f"<msub>{base}<mi>{escape(s.sub)}</mi></msub>"
    if sup:
        return f"<msup>{base}<mo>{escape(sup)}</mo></msup>"
    return base


def _atomic(e: Expr) -> bool:
    return is_atomic(e, fraction=True)


def mathml(e: Expr, digits: int = DEFAULT_DIGITS) -> str:
    def wrap(x: Expr, when: bool) -> str:
        inner = mathml(x, digits)
        return f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>" if when else inner

    if isinstance(e, Sym):
        return _sym(e)
    if isinstance(e, D):
        return f"<mfrac><mrow><mo>∂</mo>{_sym(e.num)}</mrow><mrow><mo>∂</mo>{_sym(e.den)}</mrow></mfrac>"
    if isinstance(e, Num):
        return f"<mn>{escape(fmt(e.value, digits))}</mn>"
    if isinstance(e, Const):
        if "/" in e.text:
            a, b = e.text.split("/", 1)
            return f"<mfrac><mn>{escape(a)}</mn><mn>{escape(b)}</mn></mfrac>"
        return f"<mn>{escape(e.text)}</mn>"
    if isinstance(e, Add):
        return "<mrow>" + "<mo>+</mo>".join(wrap(t, isinstance(t, Add)) for t in e.terms) + "</mrow>"
    if isinstance(e, Sub):
        return f"<mrow>{mathml(e.a, digits)}<mo>−</mo>{wrap(e.b, isinstance(e.b, (Add, Sub)))}</mrow>"
    if isinstance(e, Mul):
        return "<mrow>" + "<mo>·</mo>".join(wrap(f, isinstance(f, (Add, Sub))) for f in e.factors) + "</mrow>"
    if isinstance(e, Neg):
        return "<mrow><mo>−</mo>" + wrap(e.x, not _atomic(e.x) or (isinstance(e.x, Num) and e.x.value < 0)) + "</mrow>"
    if isinstance(e, Frac):
        return f"<mfrac>{mathml(e.num, digits)}{mathml(e.den, digits)}</mfrac>"
    if isinstance(e, Paren):
        return wrap(e.x, True)
    if isinstance(e, Pow):
        return f"<msup>{wrap(e.x, not _atomic(e.x) or isinstance(e.x, Frac))}<mn>{e.power}</mn></msup>"
    if isinstance(e, Exp):
        return f"<msup><mi>e</mi><mrow>{mathml(e.x, digits)}</mrow></msup>"
    if isinstance(e, Func):
        args = "<mo>,</mo>".join(mathml(a, digits) for a in e.args)
        return f"<mrow><mi>{escape(e.name)}</mi><mo>(</mo>{args}<mo>)</mo></mrow>"
    raise TypeError(f"cannot write {e!r} as MathML")  # pragma: no cover


def equation(eq: Eq, digits: int = DEFAULT_DIGITS) -> str:
    rows = []
    last = len(eq.rhs) - 1
    for k, r in enumerate(eq.rhs):
        left = mathml(eq.lhs, digits) if k == 0 else ""
        right = mathml(r, digits)
        if k == last and eq.result and isinstance(r, Num):
            right = right.replace("<mn>", '<mn class="result">', 1)
        rows.append(f"<mtr><mtd>{left}</mtd><mtd><mo>=</mo>{right}</mtd></mtr>")
    math = (
        '<math display="block"><mtable columnalign="right left" columnspacing="0.2em">'
        + "".join(rows)
        + "</mtable></math>"
    )
    note = "from above" if eq.reused else eq.note
    cls = "eq result" if eq.result else ("eq reused" if eq.reused else "eq")
    title = f' data-name="{escape(eq.name)}"' if eq.name else ""
    extra = f'<span class="note">({escape(note)})</span>' if note else ""
    return f'<div class="{cls}"{title}>{math}{extra}</div>'


CSS = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2rem; }
h3 { margin-top: 1.5rem; } h4 { color: #6a2c70; margin: 1.2rem 0 0.3rem; } h5 { margin: 0.8rem 0 0.2rem; }
ul.intro { color: #555; }
.eq { display: flex; align-items: center; gap: 1rem; margin: 0.15rem 0 0.15rem 1rem; }
.eq math { margin: 0.2rem 0; font-size: 1.05rem; }
.eq math, .eq math * { math-style: normal; }
.eq mtd { text-align: left; padding: 0.12rem 0; }
.eq mtr > mtd:first-child { text-align: right; }
.eq mn.result { font-weight: bold; }
.eq.reused { color: #777; }
.note { color: #777; font-style: italic; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { padding: 0.2rem 0.7rem; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; text-align: center; }
figure svg { max-width: 100%; height: auto; }
@media print { body { margin: 0; max-width: none; font-size: 10pt; } h2, h3, h4 { break-after: avoid; }
               .eq, tr, figure { break-inside: avoid; } }
"""


def render(doc: Document, digits: int = DEFAULT_DIGITS, svg: str | None = None) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(doc.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(doc.title)}</h1>",
        '<ul class="intro">',
    ]
    out += [f"<li>{escape(line)}</li>" for line in doc.intro]
    out.append("</ul>")
    if svg:
        out.append(f"<figure>{svg}<figcaption>The network, every edge labelled with its weight.</figcaption></figure>")

    def section(sec: Section, level: int) -> None:
        h = min(level + 1, 6)
        out.append(f"<section><h{h}>{escape(sec.title)}</h{h}>")
        for item in sec.items:
            if isinstance(item, Section):
                section(item, level + 1)
            elif isinstance(item, Eq):
                out.append(equation(item, digits))
            elif isinstance(item, Table):
                out.append(_table(item, digits))
            elif isinstance(item, Text):
                out.append(f"<p>{escape(item.text)}</p>")
        out.append("</section>")

    for sec in doc.sections:
        section(sec, 1)
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _table(table: Table, digits: int) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    rows = []
    for row in table.rows:
        cells = []
        for c in row:
            if isinstance(c, str):
                cells.append(f"<td>{escape(c)}</td>")
            else:
                cells.append(f'<td class="num">{escape(plain(c, digits))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<caption>{escape(table.title)}</caption>" if table.title else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
