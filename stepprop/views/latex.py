"""LaTeX: the math of a worked example, and a complete, compilable document."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..document import Document, Eq, Section, Table, Text
from ..expr import DEFAULT_DIGITS, D, Expr, Printer, Sym, Via, fmt
from . import GREEK, HAT, in_pieces
from .text import equation_text

_GREEK = {name: tex for name, (_, tex) in GREEK.items()}
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
        # the math a name may be written with (an answer's δ_o1, Δw5 or ∂E/∂w5): pdflatex
        # reads UTF-8 but has no Greek or mathematical letters in its text fonts
        "δ": r"$\delta$",
        "Δ": r"$\Delta$",
        "∆": r"$\Delta$",
        "∂": r"$\partial$",
        "η": r"$\eta$",
        "σ": r"$\sigma$",
        "ε": r"$\varepsilon$",
        "λ": r"$\lambda$",
        "∇": r"$\nabla$",
        "⊙": r"$\odot$",
        "·": r"$\cdot$",
        "×": r"$\times$",
        "−": "-",
        "′": "'",
        "ᵀ": r"$^{T}$",
    }
)


# a name with a layer written above it, in a text: W^[1], a^[0], z^3, w^3_11+ (typeset as math),
# and a matrix's size, 2 x 3 (an expression's x^1.5, as written, stays text: not x^1 and .5)
_RAISED = r"(?<![\w\\])([A-Za-z]+)\^(\[\d+\]|\d+(?![.\d]))(?:_(\d[\d,]*))?(\+)?|(?<![\w.])(\d+) x (\d+)(?![\w.])"


def escape(text: str) -> str:
    """Plain text made safe for LaTeX (outside math); the names with a layer
    above them (W^[1], w^3_11) and sizes (2 x 3) in it typeset as math."""
    if "^" not in text and " x " not in text:
        return _plain_text(text)
    out, at = [], 0
    for m in re.finditer(_RAISED, text):
        out.append(_plain_text(text[at : m.start()]))
        base, layer, sub, plus, rows, cols = m.groups()
        if rows is not None:
            out.append(rf"${rows} \times {cols}$")
        elif sub:  # as the symbol is typeset: {w^{3}_{11}}^{+}
            out.append(f"${{{base}^{{{layer}}}_{{{sub}}}}}" + ("^{+}" if plus else "") + "$")
        else:
            out.append(f"${base}^{{{layer}{plus or ''}}}$")
        at = m.end()
    out.append(_plain_text(text[at:]))
    return "".join(out)


def _plain_text(text: str) -> str:
    return "$\\to$".join(part.translate(_SPECIAL) for part in text.split("->"))


def _base(name: str) -> str:
    if name.endswith(HAT):  # m_hat: m with a hat
        return rf"\hat{{{_base(name[: -len(HAT)])}}}"
    if name in _GREEK:
        return _GREEK[name]
    return name if len(name) == 1 else r"\mathit{" + name.replace("_", r"\_") + "}"


def sym(s: Sym) -> str:
    if s.base == "change":  # a parameter's change: Delta w_5
        return r"\Delta " + sym(Sym(s.sub[0], s.sub[1:], s.sup, s.sample))
    if s.base.startswith("change_"):  # the same in Nielsen's names: Delta w^3_11
        return r"\Delta " + sym(Sym(s.base[7:], s.sub, s.sup, s.sample, s.layer))
    base = _base(s.base)
    out = base
    if s.layer:  # Nielsen's w^{3}_{11}: the layer above, then anything more outside it
        out = "{" + base + "^{" + s.layer + "}" + ("_{" + s.sub + "}" if s.sub else "") + "}"
    elif s.sub:
        out += "_{" + s.sub.replace("_", r"\_") + "}"
    sups = []
    if s.sup:
        sups.append(s.sup)
    if s.sample is not None:
        sups.append(f"({s.sample})")
    if sups:
        out += "^{" + "".join(sups) + "}"
    return out


_FUNCTIONS = {"ln": r"\ln", "tanh": r"\tanh", "max": r"\max", "min": r"\min", "exp": r"\exp", "sigmoid": r"\sigma"}
_OPS = {
    "+": "+",
    "-": "-",
    "*": r"\cdot",
    "matmul": r"\,",
    "hadamard": r"\odot",
    "/": "/",
    ">": ">",
    ">=": r"\geq",
    "<": "<",
    "==": "=",
    "!=": r"\neq",
}


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
        named = re.fullmatch(r"([A-Za-z]+)\^(\w+)_(\w+)", v.through)  # a^3_1 (Nielsen's): as math
        through = rf"{named[1]}^{{{named[2]}}}_{{{named[3]}}}" if named else escape(v.through)
        return rf"\left.{self.d(v.d)}\right|_{{\text{{via }} {through}}}"

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

    def power(self, base: str, exponent: int | float) -> str:
        return "{" + base + "}^{" + str(exponent) + "}"

    def exp(self, x: str) -> str:
        return "e^{" + x + "}"

    def func(self, name: str, args: list[str]) -> str:
        if name == "abs":  # |x|
            return r"\left|" + args[0] + r"\right|"
        if name == "sqrt":
            return r"\sqrt{" + args[0] + "}"
        head = _FUNCTIONS.get(name, rf"\operatorname{{{name}}}")
        return head + r"\left(" + ", ".join(args) + r"\right)"

    def where(self, then: str, cond: str, other: str) -> str:
        return rf"{then} \text{{ if }} {cond}\text{{, else }} {other}"

    def matrix(self, rows: list[list[str]]) -> str:
        return r"\begin{bmatrix}" + r" \\ ".join(" & ".join(row) for row in rows) + r"\end{bmatrix}"

    def transpose(self, x: str) -> str:
        return "{" + x + r"}^{\top}"


def tex(e: Expr, digits: int = DEFAULT_DIGITS) -> str:
    """An expression in LaTeX math, in the post's notation."""
    return LatexPrinter.shared(digits).doprint(e)


# an equation whose plain text is wider than this is set on its own, shrunk to the
# page where it is wider (graphicx's \resizebox: the whole document loads it)
WIDE = 100


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


# a table longer than this may run over a page: a longtable, its header on every page
LONG_TABLE = 40


def _table(table: Table, digits: int, compact: bool = False, breakable: bool = True) -> list[str]:
    numeric = [all(not isinstance(row[k], str) for row in table.rows) for k in range(len(table.headers))]
    spec = "".join("r" if n else "l" for n in numeric)
    header = [r"\hline", " & ".join(escape(h) for h in table.headers) + r" \\", r"\hline"]
    rows = [
        " & ".join(escape(c) if isinstance(c, str) else f"${tex(c, digits)}$" for c in row) + r" \\"
        for row in table.rows
    ]
    if breakable and len(rows) > LONG_TABLE:
        size = [r"\footnotesize" if compact else r"\small"]
        return [r"\begingroup", *size, rf"\begin{{longtable}}{{{spec}}}", *header, r"\endhead", *rows] + [
            r"\hline",
            r"\end{longtable}",
            r"\endgroup",
        ]
    out = [r"\begin{center}" + (r"\footnotesize" if compact else ""), rf"\begin{{tabular}}{{{spec}}}", *header]
    return [*out, *rows, r"\hline", r"\end{tabular}", r"\end{center}"]


def body(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    """The document's content, without preamble (``--fragment``)."""
    return "".join(in_pieces(body_lines(doc, digits)))


def body_lines(doc: Document, digits: int = DEFAULT_DIGITS, picture: str | None = None) -> Iterator[str]:
    yield rf"\section*{{{escape(doc.title)}}}"
    intro = [r"\begin{itemize}", *(rf"  \item {escape(line)}" for line in doc.intro), r"\end{itemize}"]
    if picture is None:
        yield from intro
    elif doc.compact:  # a handout: the picture beside the introduction, to save the page it would take
        yield r"\noindent\begin{minipage}[c]{0.56\textwidth}"
        yield from [r"\begin{itemize}\setlength{\itemsep}{0pt}\setlength{\parskip}{0pt}", *intro[1:]]
        yield r"\end{minipage}\hfill\begin{minipage}[c]{0.42\textwidth}\centering"
        yield rf"\resizebox{{\linewidth}}{{!}}{{{picture}}}"
        yield r"\end{minipage}"
    else:
        yield from intro
        yield from (r"\begin{center}", picture, r"\end{center}")

    compact = doc.compact  # (the nested function must not hold the document: it refers to itself)

    def section(sec: Section, level: int) -> Iterator[str]:
        command = ["subsection*", "subsubsection*", "paragraph*", "subparagraph*"][min(level - 1, 3)]
        yield rf"\{command}{{{escape(sec.title)}}}"
        tables = [
            t for t in sec.items if isinstance(t, Section) and len(t.items) == 1 and isinstance(t.items[0], Table)
        ]
        if compact and 1 < len(tables) == len(sec.items) <= 2:  # a handout: two small tables side by side
            yield r"\begin{center}\footnotesize"
            for k, t in enumerate(tables):
                table = t.items[0]
                assert isinstance(table, Table)
                width = f"{0.96 / len(tables):.2f}"
                yield rf"\begin{{minipage}}[t]{{{width}\textwidth}}\centering\textbf{{{escape(t.title)}}}\par"
                yield from _table(table, digits, compact, breakable=False)[1:-1]  # (no center of its own)
                yield r"\end{minipage}" + (r"\hfill" if k < len(tables) - 1 else "")
            yield r"\end{center}"
            return
        run: list[str] = []

        def flush() -> Iterator[str]:
            if run:
                yield r"\begin{align*}"
                yield " \\\\\n".join(run)
                yield r"\end{align*}"
                run.clear()

        for item in sec.items:
            if isinstance(item, Eq) and max(map(len, equation_text(item, digits))) > WIDE:
                # a line wider than the page (a wide layer's sum, its matrices): set on its
                # own and shrunk to the page's width where it is wider, never cut off
                yield from flush()
                yield r"\[\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{$\displaystyle"
                yield r"\begin{aligned}"
                yield equation(item, digits, compact=compact)
                yield r"\end{aligned}$}\]"
                continue
            if isinstance(item, Eq):
                run.append(equation(item, digits, compact=compact))
                continue
            yield from flush()
            if isinstance(item, Section):
                yield from section(item, level + 1)
            elif isinstance(item, Table):
                yield from _table(item, digits, compact)
            elif isinstance(item, Text):
                yield escape(item.text) + r"\par"
        yield from flush()

    for sec in doc.sections:
        yield from section(sec, 1)


def document(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    """A complete LaTeX document (pdflatex, amsmath)."""
    return "".join(chunks(doc, digits))


def chunks(
    doc: Document, digits: int = DEFAULT_DIGITS, fragment: bool = False, picture: str | None = None
) -> Iterator[str]:
    """The document (``fragment``: its body) in pieces, each ending in a newline;
    ``picture``: a TikZ picture of the network, drawn after the introduction
    (in the whole document, which loads TikZ)."""
    return in_pieces(body_lines(doc, digits) if fragment else _whole(doc, digits, picture))


def _whole(doc: Document, digits: int, picture: str | None = None) -> Iterator[str]:
    yield from (
        r"\documentclass[10pt]{article}",
        r"\usepackage{amsmath}",
        r"\usepackage{graphicx}",
        r"\usepackage{longtable}",
        rf"\usepackage[a4paper,margin={'1' if doc.compact else '1.6'}cm]{{geometry}}",
        r"\allowdisplaybreaks",
        r"\setlength{\parindent}{0pt}",
    )
    if doc.compact:  # a handout: tighter lines and displays, so that the post's step fits on two pages
        yield from (
            r"\setlength{\jot}{1.5pt}",
            r"\renewcommand{\arraystretch}{0.92}",
            r"\AtBeginDocument{\setlength{\abovedisplayskip}{2pt}\setlength{\belowdisplayskip}{2pt}"
            r"\setlength{\abovedisplayshortskip}{0pt}\setlength{\belowdisplayshortskip}{2pt}}",
        )
    if picture is not None:
        yield r"\usepackage{tikz}"
    yield r"\begin{document}"
    if doc.compact:
        yield r"\small"
    yield from body_lines(doc, digits, picture)
    yield ""
    yield r"\end{document}"
