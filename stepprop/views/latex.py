"""LaTeX: the math of a worked example, and a complete, compilable document."""

from __future__ import annotations

from collections.abc import Iterator

from ..document import Document, Eq, Section, Table, Text
from ..expr import DEFAULT_DIGITS, D, Expr, Printer, Sym, Via, fmt
from . import in_pieces
from .text import equation_text

_GREEK = {"delta": r"\delta", "eta": r"\eta"}
_SPECIAL = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "<": r"\textless{}",
        ">": r"\textgreater{}",
        "|": r"\textbar{}",
    }
)


def escape(text: str) -> str:
    """Plain text made safe for LaTeX (outside math)."""
    return "$\\to$".join(part.translate(_SPECIAL) for part in text.split("->"))


def sym(s: Sym) -> str:
    if s.base == "change":  # a parameter's change: Delta w_5
        return r"\Delta " + sym(Sym(s.sub[0], s.sub[1:], s.sup, s.sample))
    base = _GREEK.get(s.base) or (s.base if len(s.base) == 1 else rf"\mathit{{{s.base}}}")
    out = base
    if s.sub:
        out += "_{" + s.sub.replace("_", r"\_") + "}"
    sups = []
    if s.sup:
        sups.append(s.sup)
    if s.sample is not None:
        sups.append(f"({s.sample})")
    if sups:
        out += "^{" + "".join(sups) + "}"
    return out


_FUNCTIONS = {"ln": r"\ln", "tanh": r"\tanh", "max": r"\max", "exp": r"\exp"}
_OPS = {"+": "+", "-": "-", "*": r"\cdot", "/": "/", ">": ">", ">=": r"\geq", "<": "<", "==": "=", "!=": r"\neq"}


class LatexPrinter(Printer[str]):
    """LaTeX math: built-up fractions, raised exponents, the post's symbols."""

    built_up = True
    raised = True

    def sym(self, s: Sym) -> str:
        return sym(s)

    def d(self, d: D) -> str:
        spelled = self.spelled
        return rf"\frac{{\partial {spelled(d.num)}}}{{\partial {spelled(d.den)}}}"

    def via(self, v: Via) -> str:
        return rf"\left.{self.d(v.d)}\right|_{{\text{{via }} {escape(v.through)}}}"

    def number(self, x: float, digits: int | None = None) -> str:
        mantissa, _, exponent = fmt(x, digits or self.digits).partition("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}" if exponent else mantissa

    def written(self, text: str) -> str:
        return text

    def op(self, text: str) -> str:
        return f" {_OPS[text] if text in _OPS else escape(text)} "

    def minus(self) -> str:
        return "-"

    def group(self, inner: str) -> str:
        return rf"\left({inner}\right)"

    def concat(self, parts: list[str]) -> str:
        return "".join(parts)

    def frac(self, num: str, den: str) -> str:
        return rf"\frac{{{num}}}{{{den}}}"

    def power(self, base: str, exponent: int) -> str:
        return "{" + base + "}^{" + str(exponent) + "}"

    def exp(self, x: str) -> str:
        return "e^{" + x + "}"

    def func(self, name: str, args: list[str]) -> str:
        head = _FUNCTIONS.get(name, rf"\operatorname{{{name}}}")
        return head + r"\left(" + ", ".join(args) + r"\right)"

    def where(self, then: str, cond: str, other: str) -> str:
        return rf"{then} \text{{ if }} {cond}\text{{, else }} {other}"


def tex(e: Expr, digits: int = DEFAULT_DIGITS) -> str:
    """An expression in LaTeX math, in the post's notation."""
    return LatexPrinter.shared(digits).doprint(e)


def equation(eq: Eq, digits: int = DEFAULT_DIGITS, align: bool = True, compact: bool = False) -> str:
    """``lhs &= a \\\\ &= b``: one line per equals sign (for align*/aligned);
    ``compact``: ``lhs &= a = b`` on one line where it fits, as the text view
    sets it."""
    amp = "&" if align else ""
    spell = LatexPrinter.shared(digits).doprint
    if compact and len(equation_text(eq, digits)) == 1:
        lines = [f"{spell(eq.lhs)} {amp}= " + " = ".join(spell(r) for r in eq.rhs)]
    else:
        lines = [f"{spell(eq.lhs)} {amp}= {spell(eq.rhs[0])}"]
        lines += [f"{amp}= {spell(r)}" for r in eq.rhs[1:]]
    note = "from above" if eq.reused else eq.note
    if note:
        lines[-1] += rf" \quad \text{{({escape(note)})}}"
    return " \\\\\n".join(lines)


def _table(table: Table, digits: int) -> list[str]:
    numeric = [all(not isinstance(row[k], str) for row in table.rows) for k in range(len(table.headers))]
    spec = "".join("r" if n else "l" for n in numeric)
    out = [
        r"\begin{center}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\hline",
        " & ".join(escape(h) for h in table.headers) + r" \\",
        r"\hline",
    ]
    for row in table.rows:
        cells = [escape(c) if isinstance(c, str) else f"${tex(c, digits)}$" for c in row]
        out.append(" & ".join(cells) + r" \\")
    out += [r"\hline", r"\end{tabular}", r"\end{center}"]
    return out


def body(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    """The document's content, without preamble (``--fragment``)."""
    return "".join(in_pieces(body_lines(doc, digits)))


def body_lines(doc: Document, digits: int = DEFAULT_DIGITS) -> Iterator[str]:
    yield rf"\section*{{{escape(doc.title)}}}"
    yield r"\begin{itemize}"
    for line in doc.intro:
        yield rf"  \item {escape(line)}"
    yield r"\end{itemize}"

    def section(sec: Section, level: int) -> Iterator[str]:
        command = ["subsection*", "subsubsection*", "paragraph*", "subparagraph*"][min(level - 1, 3)]
        yield rf"\{command}{{{escape(sec.title)}}}"
        run: list[str] = []

        def flush() -> Iterator[str]:
            if run:
                yield r"\begin{align*}"
                yield " \\\\\n".join(run)
                yield r"\end{align*}"
                run.clear()

        for item in sec.items:
            if isinstance(item, Eq):
                run.append(equation(item, digits, compact=doc.compact))
                continue
            yield from flush()
            if isinstance(item, Section):
                yield from section(item, level + 1)
            elif isinstance(item, Table):
                yield from _table(item, digits)
            elif isinstance(item, Text):
                yield escape(item.text) + r"\par"
        yield from flush()

    for sec in doc.sections:
        yield from section(sec, 1)


def document(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    """A complete LaTeX document (pdflatex, amsmath)."""
    return "".join(chunks(doc, digits))


def chunks(doc: Document, digits: int = DEFAULT_DIGITS, fragment: bool = False) -> Iterator[str]:
    """The document (``fragment``: its body) in pieces, each ending in a newline."""
    return in_pieces(body_lines(doc, digits) if fragment else _whole(doc, digits))


def _whole(doc: Document, digits: int) -> Iterator[str]:
    yield from (
        r"\documentclass[10pt]{article}",
        r"\usepackage{amsmath}",
        rf"\usepackage[a4paper,margin={'1' if doc.compact else '1.6'}cm]{{geometry}}",
        r"\allowdisplaybreaks",
        r"\setlength{\parindent}{0pt}",
    )
    if doc.compact:  # a handout: tighter lines and displays, so that the post's step fits on two pages
        yield from (
            r"\setlength{\jot}{1pt}",
            r"\AtBeginDocument{\setlength{\abovedisplayskip}{3pt}\setlength{\belowdisplayskip}{3pt}}",
        )
    yield r"\begin{document}"
    if doc.compact:
        yield r"\small"
    yield from body_lines(doc, digits)
    yield ""
    yield r"\end{document}"
