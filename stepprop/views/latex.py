"""LaTeX: the math of a worked example, and a complete, compilable document."""

from __future__ import annotations

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


def _atomic(e: Expr) -> bool:
    return is_atomic(e, fraction=True)


def tex(e: Expr, digits: int = DEFAULT_DIGITS) -> str:
    """An expression in LaTeX math, in the post's notation."""

    def wrap(x: Expr, when: bool) -> str:
        inner = tex(x, digits)
        return rf"\left({inner}\right)" if when else inner

    if isinstance(e, Sym):
        return sym(e)
    if isinstance(e, D):
        return rf"\frac{{\partial {sym(e.num)}}}{{\partial {sym(e.den)}}}"
    if isinstance(e, Num):
        return fmt(e.value, digits)
    if isinstance(e, Const):
        if "/" in e.text:
            a, b = e.text.split("/", 1)
            return rf"\frac{{{a}}}{{{b}}}"
        return e.text
    if isinstance(e, Add):
        return " + ".join(wrap(t, isinstance(t, Add)) for t in e.terms)
    if isinstance(e, Sub):
        return f"{tex(e.a, digits)} - {wrap(e.b, isinstance(e.b, (Add, Sub)))}"
    if isinstance(e, Mul):
        return r" \cdot ".join(wrap(f, isinstance(f, (Add, Sub))) for f in e.factors)
    if isinstance(e, Neg):
        return "-" + wrap(e.x, not _atomic(e.x) or (isinstance(e.x, Num) and e.x.value < 0))
    if isinstance(e, Frac):
        return rf"\frac{{{tex(e.num, digits)}}}{{{tex(e.den, digits)}}}"
    if isinstance(e, Paren):
        return wrap(e.x, True)
    if isinstance(e, Pow):
        return "{" + wrap(e.x, not _atomic(e.x) or isinstance(e.x, Frac)) + "}^{" + str(e.power) + "}"
    if isinstance(e, Exp):
        return "e^{" + tex(e.x, digits) + "}"
    if isinstance(e, Func):
        name = {"ln": r"\ln", "tanh": r"\tanh", "max": r"\max"}.get(e.name, rf"\operatorname{{{e.name}}}")
        return name + r"\left(" + ", ".join(tex(a, digits) for a in e.args) + r"\right)"
    raise TypeError(f"cannot write {e!r} as LaTeX")  # pragma: no cover


def equation(eq: Eq, digits: int = DEFAULT_DIGITS, align: bool = True) -> str:
    """``lhs &= a \\\\ &= b``: one line per equals sign (for align*/aligned)."""
    amp = "&" if align else ""
    lines = [f"{tex(eq.lhs, digits)} {amp}= {tex(eq.rhs[0], digits)}"]
    lines += [f"{amp}= {tex(r, digits)}" for r in eq.rhs[1:]]
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
    out = [rf"\section*{{{escape(doc.title)}}}", r"\begin{itemize}"]
    out += [rf"  \item {escape(line)}" for line in doc.intro]
    out.append(r"\end{itemize}")

    def section(sec: Section, level: int) -> None:
        command = ["subsection*", "subsubsection*", "paragraph*", "subparagraph*"][min(level - 1, 3)]
        out.append(rf"\{command}{{{escape(sec.title)}}}")
        run: list[str] = []

        def flush() -> None:
            if run:
                out.append(r"\begin{align*}")
                out.append(" \\\\\n".join(run))
                out.append(r"\end{align*}")
                run.clear()

        for item in sec.items:
            if isinstance(item, Eq):
                run.append(equation(item, digits))
                continue
            flush()
            if isinstance(item, Section):
                section(item, level + 1)
            elif isinstance(item, Table):
                out.extend(_table(item, digits))
            elif isinstance(item, Text):
                out.append(escape(item.text) + r"\par")
        flush()

    for sec in doc.sections:
        section(sec, 1)
    return "\n".join(out) + "\n"


def document(doc: Document, digits: int = DEFAULT_DIGITS) -> str:
    """A complete LaTeX document (pdflatex, amsmath)."""
    return "\n".join(
        [
            r"\documentclass[10pt]{article}",
            r"\usepackage{amsmath}",
            r"\usepackage[a4paper,margin=1.6cm]{geometry}",
            r"\allowdisplaybreaks",
            r"\setlength{\parindent}{0pt}",
            r"\begin{document}",
            body(doc, digits),
            r"\end{document}",
            "",
        ]
    )
