"""The worked example as data: symbols, expressions, equations and sections.

``derivation`` builds a :class:`Document` from a recorded step; each view
(plain text, rich, ...) only lays it out.  Numbers are kept as floats in
:class:`Num` and formatted by the view, so ``--digits`` is a view option and
every printed number is a number the engine recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sym:
    """A named quantity: base with subscript (and ``+`` for an updated value).

    ``Sym("out", "h1")`` is out_h1; ``Sym("w", "5", "+")`` is w5+;
    ``sample`` (1-based) marks a quantity of one sample of a batch.
    """

    base: str
    sub: str = ""
    sup: str = ""
    sample: int | None = None

    @property
    def ascii(self) -> str:
        if self.base in ("w", "b", "i") and self.sub.isdigit():
            text = self.base + self.sub
        elif self.sub:
            text = f"{self.base}_{self.sub}"
        else:
            text = self.base
        return text + self.sup + (f"[{self.sample}]" if self.sample is not None else "")

    def updated(self) -> Sym:
        return Sym(self.base, self.sub, "+", self.sample)


@dataclass(frozen=True)
class D:
    """The partial derivative d num / d den."""

    num: Sym
    den: Sym

    @property
    def ascii(self) -> str:
        # the sample mark goes once, at the end: dE_total/dout_o1[2]
        sample = self.num.sample if self.num.sample is not None else self.den.sample
        num = Sym(self.num.base, self.num.sub, self.num.sup).ascii
        den = Sym(self.den.base, self.den.sub, self.den.sup).ascii
        return f"d{num}/d{den}" + (f"[{sample}]" if sample is not None else "")


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Const:
    """A literal in a formula: 1, 2, 1/2."""

    text: str


@dataclass(frozen=True)
class Add:
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Sub:
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Mul:
    factors: tuple[Expr, ...]


@dataclass(frozen=True)
class Neg:
    x: Expr


@dataclass(frozen=True)
class Frac:
    num: Expr
    den: Expr


@dataclass(frozen=True)
class Paren:
    x: Expr


@dataclass(frozen=True)
class Pow:
    x: Expr
    power: int


@dataclass(frozen=True)
class Exp:
    """e to the power x."""

    x: Expr


@dataclass(frozen=True)
class Func:
    """A named function: ln, tanh, max."""

    name: str
    args: tuple[Expr, ...]


Expr = Sym | D | Num | Const | Add | Sub | Mul | Neg | Frac | Paren | Pow | Exp | Func


def is_atomic(e: Expr, fraction: bool = False) -> bool:
    """Needs no parentheses around it (a fraction too, where it is drawn as a
    built-up fraction: LaTeX, MathML)."""
    return isinstance(e, (Sym, D, Num, Const, Paren, Func)) or (fraction and isinstance(e, Frac))


def add(*terms: Expr) -> Expr:
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


def mul(*factors: Expr) -> Expr:
    return factors[0] if len(factors) == 1 else Mul(tuple(factors))


# ------------------------------------------------------------- documents --


@dataclass
class Eq:
    """lhs = rhs[0] = rhs[1] = ...; ``name`` is the checkable name it defines."""

    lhs: Expr
    rhs: list[Expr]
    name: str | None = None
    note: str = ""
    result: bool = False  # the main result of its block (shown emphasised)
    reused: bool = False  # derived earlier in the document; repeated for reference


@dataclass
class Text:
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str | Expr]]
    title: str = ""


@dataclass
class Section:
    title: str
    items: list[Section | Eq | Text | Table] = field(default_factory=list)


Item = Section | Eq | Text | Table


@dataclass
class Document:
    title: str
    intro: list[str]
    sections: list[Section]
