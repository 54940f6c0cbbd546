"""Expression trees: printed, evaluated and compiled from one definition.

Every formula stepprop knows is a small tree of these nodes: the operations'
values and derivatives (:mod:`stepprop.ops`), the update rule, and every
equation of a worked example.  A tree can be

* printed, by a :class:`Printer` (plain text, LaTeX and MathML are its
  subclasses in :mod:`stepprop.views`), with one rule for parentheses;
* evaluated, by :func:`evaluate`, from the values of its symbols;
* turned into Python source, by :func:`python`, which the engine and the
  training compiler run.

Printing and evaluating the same tree is what makes "every printed equation
evaluates to its result" something a test can check.

The parenthesis rule, as in SymPy's printers: a child is wrapped when its
precedence is lower than its place needs, and a negative number (or a
unary minus) is wrapped wherever it follows an operator, so that
``0.2 * (-1)``, ``1 - (-0.24)^2`` and ``e^-(-0.04)`` read as they evaluate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

# ------------------------------------------------------------------ nodes --


class Expr:
    """Base of every node: a tree compares and hashes by its fields, and the
    operators build trees (``1 - out * out``)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _key(self) -> tuple:
        return (type(self), *(getattr(self, f) for f in self._fields))

    def __eq__(self, other: object) -> bool:
        # field by field, stopping at the first difference (the same as comparing
        # _key()s, without building a tuple of every subtree first)
        if self is other:
            return True
        if type(other) is not type(self):
            return False
        for f in self._fields:
            if getattr(self, f) != getattr(other, f):
                return False
        return True

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(getattr(self, f)) for f in self._fields)})"

    def __add__(self, other: Operand) -> Expr:
        return add(self, wrap(other))

    def __radd__(self, other: Operand) -> Expr:
        return add(wrap(other), self)

    def __sub__(self, other: Operand) -> Expr:
        return Sub(self, wrap(other))

    def __rsub__(self, other: Operand) -> Expr:
        return Sub(wrap(other), self)

    def __mul__(self, other: Operand) -> Expr:
        return mul(self, wrap(other))

    def __rmul__(self, other: Operand) -> Expr:
        return mul(wrap(other), self)

    def __truediv__(self, other: Operand) -> Expr:
        return Frac(self, wrap(other))

    def __rtruediv__(self, other: Operand) -> Expr:
        return Frac(wrap(other), self)

    def __neg__(self) -> Expr:
        return Neg(self)

    def __pow__(self, power: int) -> Expr:
        return Pow(self, power)


# The nodes are plain classes with slots: a tree is built for every printed
# equation, and this module is imported by every command, training included.


class Sym(Expr):
    """A named quantity: base with subscript (and ``+`` for an updated value).

    ``Sym("out", "h1")`` is out_h1; ``Sym("w", "5", "+")`` is w5+;
    ``sample`` (1-based) marks a quantity of one sample of a batch.
    """

    _fields = ("base", "sub", "sup", "sample", "layer")
    __slots__ = (*_fields, "_ascii", "_hash")  # (a node is never changed: its name is spelled once)

    def __init__(self, base: str, sub: str = "", sup: str = "", sample: int | None = None, layer: str = ""):
        self.base = base
        self.sub = sub
        self.sup = sup
        self.sample = sample
        self.layer = layer  # a layer's number written above, as Nielsen's w^3_11 (notation: nielsen)
        self._ascii: str | None = None
        self._hash: int | None = None

    def __hash__(self) -> int:
        # (hashed once: a printer looks up the spelling of a symbol every time it prints it)
        if self._hash is None:
            self._hash = hash((self.base, self.sub, self.sup, self.sample, self.layer))
        return self._hash

    @property
    def ascii(self) -> str:
        if self._ascii is None:
            self._ascii = self.name + (f"[{self.sample}]" if self.sample is not None else "")
        return self._ascii

    @property
    def name(self) -> str:
        """The spelling without the sample mark: out_o1 for out_o1[2]."""
        if self.layer:  # w^3_11+, z^2_1, b^2
            return f"{self.base}^{self.layer}" + (f"_{self.sub}" if self.sub else "") + self.sup
        if self.base in ("w", "b", "i", "x", "y") and self.sub.isdigit():
            return self.base + self.sub + self.sup
        if self.sup[:1] == "[":  # a layer's matrix: z^[2], W^[2]+, change_W^[2]
            return f"{self.base}_{self.sub}^{self.sup}" if self.sub else f"{self.base}^{self.sup}"
        if self.sub:
            return f"{self.base}_{self.sub}{self.sup}"
        return self.base + self.sup

    def updated(self) -> Sym:
        return Sym(self.base, self.sub, "+", self.sample, self.layer)

    def replace(self, base: str, sub: str) -> Sym:
        return Sym(base, sub, self.sup, self.sample, self.layer)


class D(Expr):
    """The partial derivative d num / d den."""

    _fields = ("num", "den")
    __slots__ = (*_fields, "_ascii")

    def __init__(self, num: Sym, den: Sym):
        self.num = num
        self.den = den
        self._ascii: str | None = None

    @property
    def ascii(self) -> str:
        if self._ascii is None:
            # the sample mark goes once, at the end: dE_total/dout_o1[2]
            sample = self.num.sample if self.num.sample is not None else self.den.sample
            self._ascii = f"d{self.num.name}/d{self.den.name}" + (f"[{sample}]" if sample is not None else "")
        return self._ascii


class Via(Expr):
    """The part of the gradient ``d`` that flows along the path through
    neuron ``through``: printed ``dE_total/dout_h1 (via o1)``.  ``name`` is
    the quantity's name in JSON and in answers (the post's ``dE_o1/dout_h1``)."""

    __slots__ = _fields = ("d", "through", "name")

    def __init__(self, d: D, through: str, name: str):
        self.d = d
        self.through = through
        self.name = name

    @property
    def ascii(self) -> str:
        return self.name


class Num(Expr):
    """A number: a value the engine recorded (or 0 where it is 0 on paper).
    ``exact``: printed with every digit (where fewer would make its line false);
    ``written``: printed as this text (its size, without the sign), as a hand
    calculation writes it: 0.0510."""

    __slots__ = _fields = ("value", "exact", "written")

    def __init__(self, value: float, exact: bool = False, written: str | None = None):
        self.value = value
        self.exact = exact
        self.written = written


class Const(Expr):
    """A literal of a formula: 1, 2, 0.5; the index of a softmax output."""

    __slots__ = _fields = ("value",)

    def __init__(self, value: float | int):
        self.value = value


class Add(Expr):
    __slots__ = _fields = ("terms",)

    def __init__(self, terms: tuple[Expr, ...]):
        self.terms = terms


class Sub(Expr):
    __slots__ = _fields = ("a", "b")

    def __init__(self, a: Expr, b: Expr):
        self.a = a
        self.b = b


class Mul(Expr):
    __slots__ = _fields = ("factors",)

    def __init__(self, factors: tuple[Expr, ...]):
        self.factors = factors


class Neg(Expr):
    __slots__ = _fields = ("x",)

    def __init__(self, x: Expr):
        self.x = x


class Frac(Expr):
    __slots__ = _fields = ("num", "den")

    def __init__(self, num: Expr, den: Expr):
        self.num = num
        self.den = den


class Pow(Expr):
    """x to a constant power: a whole number from 1 is worked out as a product
    (x * x), any other with :func:`math.pow` (x^0.5, x^-1)."""

    __slots__ = _fields = ("x", "power")

    def __init__(self, x: Expr, power: int | float):
        self.x = x
        self.power = int(power) if float(power).is_integer() else power


class Exp(Expr):
    """e to the power x."""

    __slots__ = _fields = ("x",)

    def __init__(self, x: Expr):
        self.x = x


class Func(Expr):
    """A named function (see :data:`FUNCTIONS`): ln, tanh, max ..."""

    __slots__ = _fields = ("name", "args")

    def __init__(self, name: str, args: tuple[Expr, ...]):
        self.name = name
        self.args = args


class Cmp(Expr):
    """A comparison, for :class:`Where`: ``a > b``, ``a >= b``, ``a == b``;
    and ``and``/``or`` of two comparisons."""

    __slots__ = _fields = ("a", "op", "b")

    def __init__(self, a: Expr, op: str, b: Expr):
        self.a = a
        self.op = op
        self.b = b


class Where(Expr):
    """``then if cond, else other``: ReLU's derivative, an overflow-safe form."""

    __slots__ = _fields = ("cond", "then", "other")

    def __init__(self, cond: Cmp, then: Expr, other: Expr):
        self.cond = cond
        self.then = then
        self.other = other


# -- matrices: the matrix form of a step (stepprop.matrix). A matrix's meaning is
# entry by entry (see entry): W a + b is, at (i, j), the sum over k of
# W[i][k] * a[k][j], plus b[i][0] (a one-column matrix is added to every column).


class Matrix(Expr):
    """A matrix of entries (numbers, mostly), row by row."""

    __slots__ = _fields = ("rows",)

    def __init__(self, rows: tuple[tuple[Expr, ...], ...]):
        self.rows = rows


class MatMul(Expr):
    """The matrix product a b."""

    __slots__ = _fields = ("a", "b")

    def __init__(self, a: Expr, b: Expr):
        self.a = a
        self.b = b


class Hadamard(Expr):
    """The entry-by-entry product a ⊙ b ⊙ ..."""

    __slots__ = _fields = ("factors",)

    def __init__(self, factors: tuple[Expr, ...]):
        self.factors = factors


class Transpose(Expr):
    """x transposed."""

    __slots__ = _fields = ("x",)

    def __init__(self, x: Expr):
        self.x = x


Operand = Expr | float | int
ZERO = Const(0)
ONE = Const(1)
TWO = Const(2)
HALF = Frac(ONE, TWO)


def wrap(x: Operand) -> Expr:
    return x if isinstance(x, Expr) else Const(x)


def add(*terms: Operand) -> Expr:
    """A sum, flattened: add(add(a, b), c) is a + b + c (the same order)."""
    if len(terms) > 1 and type(terms[0]) is not Add and all(isinstance(t, Expr) for t in terms):
        return Add(terms)  # type: ignore[arg-type]  # (most sums: nothing to wrap or flatten)
    flat: list[Expr] = []
    for k, t in enumerate(terms):
        t = wrap(t)
        flat += t.terms if isinstance(t, Add) and k == 0 else (t,)
    return flat[0] if len(flat) == 1 else Add(tuple(flat))


def mul(*factors: Operand) -> Expr:
    """A product, flattened as :func:`add` flattens a sum."""
    if len(factors) == 2:
        a, b = factors
        if type(a) is not Mul and isinstance(a, Expr) and isinstance(b, Expr):
            return Mul((a, b))  # (most products: two factors, nothing to wrap or flatten)
    flat: list[Expr] = []
    for k, f in enumerate(factors):
        f = wrap(f)
        flat += f.factors if isinstance(f, Mul) and k == 0 else (f,)
    return flat[0] if len(flat) == 1 else Mul(tuple(flat))


def gt(a: Operand, b: Operand) -> Cmp:
    return Cmp(wrap(a), ">", wrap(b))


def ge(a: Operand, b: Operand) -> Cmp:
    return Cmp(wrap(a), ">=", wrap(b))


def eq(a: Operand, b: Operand) -> Cmp:
    return Cmp(wrap(a), "==", wrap(b))


def lt(a: Operand, b: Operand) -> Cmp:
    return Cmp(wrap(a), "<", wrap(b))


def ne(a: Operand, b: Operand) -> Cmp:
    return Cmp(wrap(a), "!=", wrap(b))


def func(name: str, *args: Operand) -> Func:
    if name not in FUNCTIONS:
        raise ValueError(f"no function {name}")
    return Func(name, tuple(wrap(a) for a in args))


def symbols(e: Expr) -> list[Sym | D | Via]:
    """The named leaves (Sym, D, Via) of a tree, left to right."""
    if isinstance(e, (Sym, D, Via)):
        return [e]
    return [s for child in children(e) for s in symbols(child)]


def children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Add):
        return e.terms
    if isinstance(e, Mul):
        return e.factors
    if isinstance(e, (Sub,)):
        return (e.a, e.b)
    if isinstance(e, Frac):
        return (e.num, e.den)
    if isinstance(e, (Neg, Pow, Exp)):
        return (e.x,)
    if isinstance(e, Func):
        return e.args
    if isinstance(e, Cmp):
        return (e.a, e.b)
    if isinstance(e, Where):
        return (e.cond, e.then, e.other)
    if isinstance(e, Matrix):
        return tuple(x for row in e.rows for x in row)
    if isinstance(e, MatMul):
        return (e.a, e.b)
    if isinstance(e, Hadamard):
        return e.factors
    if isinstance(e, Transpose):
        return (e.x,)
    return ()


def substitute(e: Expr, values: Callable[[Expr], Expr | None]) -> Expr:
    """The tree with each named leaf (Sym, D, Via) and each number (Num)
    replaced by ``values(leaf)`` (kept where that is None)."""
    if isinstance(e, (Sym, D, Via, Num)):
        new = values(e)
        return e if new is None else new
    if isinstance(e, Const):
        return e
    return substitute_children(e, lambda child: substitute(child, values))


Grid = tuple[tuple[Expr, ...], ...]


def shape(e: Expr, bound: Mapping[str, Grid]) -> tuple[int, int]:
    """(rows, columns) of a tree whose named leaves ``bound`` holds as matrices
    (by their ascii name; any other leaf is a number, 1 x 1)."""
    if isinstance(e, Matrix):
        return len(e.rows), len(e.rows[0])
    if isinstance(e, (Sym, D, Via)):
        grid = bound.get(e.ascii)
        return (len(grid), len(grid[0])) if grid is not None else (1, 1)
    if isinstance(e, MatMul):
        return shape(e.a, bound)[0], shape(e.b, bound)[1]
    if isinstance(e, Transpose):
        rows, cols = shape(e.x, bound)
        return cols, rows
    if isinstance(e, Func) and e.name == "softmax" and len(e.args) == 1:
        return shape(e.args[0], bound)
    shapes = [shape(c, bound) for c in children(e)]
    return max((r for r, _ in shapes), default=1), max((c for _, c in shapes), default=1)


def entry(e: Expr, i: int, j: int, bound: Mapping[str, Grid]) -> Expr:
    """Entry (i, j) of a matrix tree, as the scalar tree that computes it: the
    one meaning of the matrix nodes (a tree that is not a matrix, and a
    matrix of one column or one row, is the same in every column or row)."""

    def at(x: Expr) -> Expr:
        return entry(x, i, j, bound)

    if isinstance(e, (Sym, D, Via)):
        grid = bound.get(e.ascii)
        if grid is None:
            return e
        return grid[i if len(grid) > 1 else 0][j if len(grid[0]) > 1 else 0]
    if isinstance(e, Matrix):
        return e.rows[i if len(e.rows) > 1 else 0][j if len(e.rows[0]) > 1 else 0]
    if isinstance(e, MatMul):
        inner = shape(e.a, bound)[1]
        return add(*(mul(entry(e.a, i, k, bound), entry(e.b, k, j, bound)) for k in range(inner)))
    if isinstance(e, Hadamard):
        return mul(*(at(f) for f in e.factors))
    if isinstance(e, Transpose):
        return entry(e.x, j, i, bound)
    if isinstance(e, Func) and e.name == "softmax" and len(e.args) == 1:  # a column's softmax
        rows = shape(e.args[0], bound)[0]
        return func("softmax", Const(i), *(entry(e.args[0], k, j, bound) for k in range(rows)))
    if isinstance(e, (Num, Const)):
        return e
    return substitute_children(e, at)


def substitute_children(e: Expr, f: Callable[[Expr], Expr]) -> Expr:
    """The node with each child replaced by f(child)."""
    if isinstance(e, Add):
        return Add(tuple(f(t) for t in e.terms))
    if isinstance(e, Mul):
        return Mul(tuple(f(x) for x in e.factors))
    if isinstance(e, Sub):
        return Sub(f(e.a), f(e.b))
    if isinstance(e, Frac):
        return Frac(f(e.num), f(e.den))
    if isinstance(e, Neg):
        return Neg(f(e.x))
    if isinstance(e, Pow):
        return Pow(f(e.x), e.power)
    if isinstance(e, Exp):
        return Exp(f(e.x))
    if isinstance(e, Func):
        return Func(e.name, tuple(f(a) for a in e.args))
    if isinstance(e, Cmp):
        return Cmp(f(e.a), e.op, f(e.b))
    if isinstance(e, Where):
        cond = f(e.cond)
        assert isinstance(cond, Cmp)
        return Where(cond, f(e.then), f(e.other))
    if isinstance(e, Matrix):
        return Matrix(tuple(tuple(f(x) for x in row) for row in e.rows))
    if isinstance(e, MatMul):
        return MatMul(f(e.a), f(e.b))
    if isinstance(e, Hadamard):
        return Hadamard(tuple(f(x) for x in e.factors))
    if isinstance(e, Transpose):
        return Transpose(f(e.x))
    raise TypeError(f"no children in {e!r}")


# -------------------------------------------------------------- functions --


def _ln(x: float) -> float:
    """ln, with ln(0) = -inf (the limit) rather than an exception."""
    return math.log(x) if x > 0 else -math.inf


def _softplus(x: float) -> float:
    """ln(1 + e^x) without overflow: -ln(sigmoid(-x))."""
    return (x if x > 0 else 0.0) + math.log1p(math.exp(-abs(x)))


def _sigmoid(x: float) -> float:
    """The logistic function 1 / (1 + e^-x) without overflow: e^x / (1 + e^x) for negative x."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sign(x: float) -> float:
    """-1, 0 or 1 (0 at 0, as PyTorch's sign)."""
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def _log_softmax(k: int, *xs: float) -> float:
    m = max(xs)
    return xs[k] - m - math.log(math.fsum(math.exp(x - m) for x in xs))


def _softmax(k: int, *xs: float) -> float:
    """Softmax output k of xs: e^(x_k - max) / sum of e^(x - max)."""
    m = max(xs)
    exps = [math.exp(x - m) for x in xs]
    return exps[k] / math.fsum(exps)


def _chain_sum(*xs: float) -> float:
    """x0 + x1 + ... left to right, as the chain a + b + c: in generated code a
    chain of thousands of terms is one call (the compiler recurses per term)."""
    total = xs[0]
    for x in xs[1:]:
        total += x
    return total


def _chain_product(*xs: float) -> float:
    total = xs[0]
    for x in xs[1:]:
        total *= x
    return total


def _rounded_sum(r: Callable[[float], float], *xs: float) -> float:
    """x0 + x1 + ... left to right, each partial sum rounded (a long chain in
    generated code: nested r(r(...) + x) would exceed Python's nesting limit)."""
    total = xs[0]
    for x in xs[1:]:
        total = r(total + x)
    return total


def _rounded_product(r: Callable[[float], float], *xs: float) -> float:
    total = xs[0]
    for x in xs[1:]:
        total = r(total * x)
    return total


def _by_products(power: int | float) -> bool:
    """Is x^power worked out as the product x * x * ... (a whole power from 1)?"""
    return isinstance(power, int) and power >= 1


def _power(x: float, p: float) -> float:
    """x^p for any other power (0 to a negative power, or a negative number
    to a fractional one, is a ValueError: it has no real value)."""
    return math.pow(x, p)


# name -> the Python function (its name in generated code too)
FUNCTIONS: dict[str, Callable[..., float]] = {
    "chain_sum": _chain_sum,
    "chain_product": _chain_product,
    "rounded_sum": _rounded_sum,
    "rounded_product": _rounded_product,
    # hand(x): x as a hand calculation has it written down; in hand-calculation
    # mode the code made from a tree calls the rounder instead (see Op.compiled)
    "hand": lambda x: x,
    "exp": math.exp,
    "ln": _ln,
    "tanh": math.tanh,
    "sqrt": math.sqrt,
    "power": _power,
    "max": max,
    "min": min,
    "softplus": _softplus,
    "sigmoid": _sigmoid,
    "abs": abs,
    "sign": _sign,
    "log_softmax": _log_softmax,
    "softmax": _softmax,
}


# ------------------------------------------------------------- evaluating --


_CMP: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "and": lambda a, b: bool(a) and bool(b),
    "or": lambda a, b: bool(a) or bool(b),
}


def evaluate(
    e: Expr,
    values: Mapping[str, float] | None = None,
    rounder: Callable[[float], float] | None = None,
    number: Callable[[float], float] | None = None,
) -> float:
    """The value of a tree; named leaves are looked up by their ascii name.

    With ``rounder``, every operation's result is rounded before it is used,
    as in a hand calculation (the update rule in hand-calculation mode); with
    ``number``, each number is read as it gives (as printed, say)."""
    env = values or {}
    r = rounder or (lambda x: x)

    def ev(x: Expr) -> float:
        if isinstance(x, (Sym, D, Via)):
            return env[x.ascii]
        if isinstance(x, Num):
            return x.value if number is None else number(x.value)
        if isinstance(x, Const):
            return x.value
        if isinstance(x, Add):
            total = ev(x.terms[0])
            for t in x.terms[1:]:
                total = r(total + ev(t))
            return total
        if isinstance(x, Mul):
            total = ev(x.factors[0])
            for f in x.factors[1:]:
                total = r(total * ev(f))
            return total
        if isinstance(x, Sub):
            return r(ev(x.a) - ev(x.b))
        if isinstance(x, Neg):
            return -ev(x.x)
        if isinstance(x, Frac):
            return r(ev(x.num) / ev(x.den))
        if isinstance(x, Pow):
            base = ev(x.x)
            if not _by_products(x.power):
                return r(_power(base, x.power))
            total = base
            for _ in range(int(x.power) - 1):
                total = total * base
            return r(total)
        if isinstance(x, Exp):
            return r(math.exp(ev(x.x)))
        if isinstance(x, Func):
            return r(FUNCTIONS[x.name](*(ev(a) for a in x.args)))
        if isinstance(x, Cmp):
            return float(_CMP[x.op](ev(x.a), ev(x.b)))
        if isinstance(x, Where):
            return ev(x.then) if ev(x.cond) else ev(x.other)
        raise TypeError(f"cannot evaluate {x!r}")

    return ev(e)


# ---------------------------------------------------------------- Python --


# a sum or product of more terms than this is written as one call (see _chain_sum)
LONG_CHAIN = 64


def python(e: Expr, name: Callable[[Expr], str], rounded: bool = False) -> str:
    """Python source computing ``e``: the same operations in the same order as
    :func:`evaluate`, so both give the same floats.  ``name(leaf)`` spells a
    named leaf.  ``rounded`` wraps every operation in ``r(...)``.

    Powers are written as products (``x * x``): correctly rounded, and inf
    on overflow where ``x ** 2`` would raise."""

    def r(text: str) -> str:
        return f"r({text})" if rounded else f"({text})"

    def py(x: Expr) -> str:
        if isinstance(x, (Sym, D, Via)):
            return name(x)
        if isinstance(x, Num):
            return repr(float(x.value))
        if isinstance(x, Const):
            return repr(x.value)
        if isinstance(x, (Add, Mul)):
            # left to right, as evaluate: a + b + c is (a + b) + c in Python, with no
            # parentheses to nest (a batch of 500 samples is a chain of 500 terms)
            parts = [py(t) for t in (x.terms if isinstance(x, Add) else x.factors)]
            if len(parts) == 1:
                return parts[0]
            if not rounded and len(parts) > LONG_CHAIN:
                return f"{'chain_sum' if isinstance(x, Add) else 'chain_product'}({', '.join(parts)})"
            if not rounded:
                return "(" + (" + " if isinstance(x, Add) else " * ").join(parts) + ")"
            if len(parts) > 2:
                return f"{'rounded_sum' if isinstance(x, Add) else 'rounded_product'}(r, {', '.join(parts)})"
            return r(f"{parts[0]} {'+' if isinstance(x, Add) else '*'} {parts[1]}")
        if isinstance(x, Sub):
            return r(f"{py(x.a)} - {py(x.b)}")
        if isinstance(x, Neg):
            return f"(-{py(x.x)})"
        if isinstance(x, Frac):
            return r(f"{py(x.num)} / {py(x.den)}")
        if isinstance(x, Pow):
            base = py(x.x)
            if not _by_products(x.power):
                return r(f"power({base}, {float(x.power)!r})")
            return r(" * ".join([base] * int(x.power)))
        if isinstance(x, Exp):
            return r(f"exp({py(x.x)})")
        if isinstance(x, Func):
            return r(f"{x.name}({', '.join(py(a) for a in x.args)})")
        if isinstance(x, Cmp):
            return f"({py(x.a)} {x.op} {py(x.b)})"
        if isinstance(x, Where):
            return f"({py(x.then)} if {py(x.cond)} else {py(x.other)})"
        raise TypeError(f"cannot write {x!r} as Python")

    return py(e)


# --------------------------------------------------------------- printing --

DEFAULT_DIGITS = 9
EXACT_DIGITS = 17  # every digit of a float

# precedence: a child is wrapped when its precedence is below what its place needs
WHERE, COMPARE, SUM, PRODUCT, MINUS, POWER, ATOM = 1, 2, 10, 20, 25, 30, 100

T = TypeVar("T")
P = TypeVar("P", bound="Printer")


def is_negative(e: Expr) -> bool:
    """Printed with a leading minus sign of its own: -0.3, -x."""
    return isinstance(e, Neg) or (isinstance(e, (Num, Const)) and e.value < 0)


class Printer(Generic[T]):
    """Lays out a tree; a subclass says how each piece looks.

    ``built_up``: fractions are drawn as built-up fractions (LaTeX, MathML),
    so a fraction is atomic and its parts are expressions of their own.
    ``raised``: exponents are raised, so an exponent is an expression of its
    own.  Everything else, above all where parentheses go, is decided here,
    once for every format."""

    built_up = False
    raised = False

    def __init__(self, digits: int = DEFAULT_DIGITS):
        self.digits = digits
        self._numbers: dict[float, T] = {}  # each plain number as spelled (see _p_number)
        self._syms: dict[Sym, T] = {}  # each symbol as spelled (see spelled)

    # -- what a subclass provides
    def sym(self, s: Sym) -> T:
        raise NotImplementedError

    def d(self, d: D) -> T:
        raise NotImplementedError

    def via(self, v: Via) -> T:
        raise NotImplementedError

    def number(self, x: float, digits: int | None = None) -> T:
        """A number that is not negative (to ``digits`` significant digits, if given)."""
        raise NotImplementedError

    def written(self, text: str) -> T:
        """A number written out as ``text`` (not negative)."""
        raise NotImplementedError

    def op(self, text: str) -> T:
        """A binary operator: + - * / and the comparisons."""
        raise NotImplementedError

    def minus(self) -> T:
        """The unary minus (the same sign as the operator, in every format)."""
        raise NotImplementedError

    def group(self, inner: T) -> T:
        raise NotImplementedError

    def concat(self, parts: list[T]) -> T:
        raise NotImplementedError

    def frac(self, num: T, den: T) -> T:
        """A built-up fraction (only where ``built_up``)."""
        raise NotImplementedError

    def power(self, base: T, exponent: int | float) -> T:
        raise NotImplementedError

    def exp(self, x: T) -> T:
        raise NotImplementedError

    def func(self, name: str, args: list[T]) -> T:
        raise NotImplementedError

    def where(self, then: T, cond: T, other: T) -> T:
        raise NotImplementedError

    def matrix(self, rows: list[list[T]]) -> T:
        raise NotImplementedError

    def transpose(self, x: T) -> T:
        raise NotImplementedError

    # -- the layout
    @classmethod
    def shared(cls: type[P], digits: int = DEFAULT_DIGITS) -> P:
        """The printer of this kind for ``digits``, made once: it keeps the
        spelling of every number it printed (a long document prints the same
        weights and outputs many times)."""
        key = (cls, digits)
        found = _SHARED.get(key)
        if found is None:
            found = _SHARED[key] = cls(digits)
        return found  # type: ignore[return-value]  # (made by cls)

    def doprint(self, e: Expr) -> T:
        return self._print(e, True)

    def precedence(self, e: Expr) -> int:
        kind = type(e)
        if kind is Frac:
            return ATOM if self.built_up else PRODUCT
        if (kind is Num or kind is Const) and e.value < 0:  # type: ignore[attr-defined]
            return MINUS
        return _PRECEDENCE.get(kind, ATOM)

    def spelled(self, s: Sym) -> T:
        """A symbol as :meth:`sym` spells it, spelled once per printer."""
        found = self._syms.get(s)
        if found is None:
            if len(self._syms) >= SPELLINGS_KEPT:
                self._syms.clear()
            found = self._syms[s] = self.sym(s)
        return found

    def _child(self, child: Expr, need: int, first: bool) -> T:
        """``child`` in a place that needs precedence ``need``; ``first``: its
        text would start the whole expression (no operator before it)."""
        kind = type(child)
        if kind is Sym:  # (most children: a name never needs parentheses)
            return self.spelled(child)  # type: ignore[arg-type]
        if kind is D:
            return self.d(child)  # type: ignore[arg-type]
        if kind is Num and child.value >= 0:  # type: ignore[attr-defined]  # (the others: an atom)
            return self._p_number(child, first)  # type: ignore[arg-type]
        precedence = self.precedence(child)
        # MINUS is exactly is_negative(child): a leading minus needs parentheses unless it starts the line
        if precedence < need or (precedence == MINUS and not first):
            return self.group(self._print(child, True))
        return self._print(child, first)

    def _print(self, e: Expr, first: bool) -> T:
        route = _ROUTES.get(type(e))
        if route is None:
            raise TypeError(f"cannot print {e!r}")
        return route(self, e, first)

    def _p_sym(self, e: Sym, first: bool) -> T:
        return self.spelled(e)

    def _p_d(self, e: D, first: bool) -> T:
        return self.d(e)

    def _p_via(self, e: Via, first: bool) -> T:
        return self.via(e)

    def _p_number(self, e: Num | Const, first: bool) -> T:
        if type(e) is Num and e.written is None and not e.exact:  # most numbers: spelled once each
            spelled = self._numbers.get(e.value)
            if spelled is None:
                if len(self._numbers) >= SPELLINGS_KEPT:
                    self._numbers.clear()
                spelled = self._numbers[e.value] = self._number_of(float(e.value), None)
            return spelled
        x = float(e.value)
        if type(e) is Num and e.written is not None:
            shown = self.written(e.written)
            return self.concat([self.minus(), shown]) if x < 0 else shown
        return self._number_of(x, EXACT_DIGITS if type(e) is Num and e.exact else None)

    def _number_of(self, x: float, digits: int | None) -> T:
        shown = self.number(abs(x), digits)
        return self.concat([self.minus(), shown]) if x < 0 else shown

    def _chain(self, items: tuple[Expr, ...], operator: str, need: int, first: bool) -> T:
        """a + b + c, a * b * c: each item in a place that needs ``need``."""
        child, between = self._child, self.op(operator)
        parts = [child(items[0], need, first)]
        sym, number = self.spelled, self._p_number
        for item in items[1:]:
            parts.append(between)
            kind = type(item)  # (as _child, inlined for the commonest children: long sums are common)
            if kind is Sym:
                parts.append(sym(item))  # type: ignore[arg-type]
            elif kind is Num and item.value >= 0:  # type: ignore[attr-defined]
                parts.append(number(item, False))  # type: ignore[arg-type]
            else:
                parts.append(child(item, need, False))
        return self.concat(parts)

    def _p_add(self, e: Add, first: bool) -> T:
        return self._chain(e.terms, "+", SUM, first)

    def _p_sub(self, e: Sub, first: bool) -> T:
        return self.concat([self._child(e.a, SUM, first), self.op("-"), self._child(e.b, SUM + 1, False)])

    def _p_mul(self, e: Mul, first: bool) -> T:
        return self._chain(e.factors, "*", PRODUCT, first)

    def _p_neg(self, e: Neg, first: bool) -> T:
        # -(a * b) is (-a) * b: a product or a fraction needs no parentheses here
        return self.concat([self.minus(), self._child(e.x, PRODUCT, False)])

    def _p_frac(self, e: Frac, first: bool) -> T:
        if self.built_up:
            return self.frac(self._print(e.num, True), self._print(e.den, True))
        return self.concat([self._child(e.num, PRODUCT, first), self.op("/"), self._child(e.den, PRODUCT + 1, False)])

    def _p_pow(self, e: Pow, first: bool) -> T:
        return self.power(self._child(e.x, ATOM, first), e.power)

    def _p_exp(self, e: Exp, first: bool) -> T:
        power = e.x
        if self.raised:
            return self.exp(self._print(power, True))
        # e^-net reads plainly; anything longer (and a negative number) is grouped
        if isinstance(power, Neg) and (self.precedence(power.x) == ATOM or is_negative(power.x)):
            return self.exp(self._print(power, False))
        return self.exp(self._child(power, ATOM, False))

    def _p_func(self, e: Func, first: bool) -> T:
        return self.func(e.name, [self._print(a, True) for a in e.args])

    def _p_cmp(self, e: Cmp, first: bool) -> T:
        return self.concat([self._child(e.a, SUM, first), self.op(e.op), self._child(e.b, SUM, False)])

    def _p_where(self, e: Where, first: bool) -> T:
        return self.where(self._child(e.then, COMPARE, first), self._print(e.cond, True), self._print(e.other, True))

    def _p_matrix(self, e: Matrix, first: bool) -> T:
        return self.matrix([[self._print(x, True) for x in row] for row in e.rows])

    def _p_matmul(self, e: MatMul, first: bool) -> T:
        return self._chain((e.a, e.b), "matmul", PRODUCT, first)

    def _p_hadamard(self, e: Hadamard, first: bool) -> T:
        # (W^T delta) .* f': a product inside an entry-by-entry product is grouped, to read at once
        return self._chain(e.factors, "hadamard", PRODUCT + 1, first)

    def _p_transpose(self, e: Transpose, first: bool) -> T:
        return self.transpose(self._child(e.x, ATOM, first))


_SHARED: dict[tuple[type, int], Printer] = {}  # see Printer.shared
SPELLINGS_KEPT = 1 << 16  # a printer's memory of spelled numbers (and symbols) is cleared at this many

# each node's precedence where it is not ATOM (see Printer.precedence: a fraction
# and a negative number depend on more than the node's type)
_PRECEDENCE: dict[type, int] = {
    Add: SUM,
    Sub: SUM,
    Mul: PRODUCT,
    Neg: MINUS,
    Pow: POWER,
    Exp: POWER,
    Cmp: COMPARE,
    Where: WHERE,
    MatMul: PRODUCT,
    Hadamard: PRODUCT,
    Transpose: POWER,
}

# how each node is laid out (by its exact type: one lookup, not a chain of tests)
_ROUTES: dict[type, Callable] = {
    Sym: Printer._p_sym,
    D: Printer._p_d,
    Via: Printer._p_via,
    Num: Printer._p_number,
    Const: Printer._p_number,
    Add: Printer._p_add,
    Sub: Printer._p_sub,
    Mul: Printer._p_mul,
    Neg: Printer._p_neg,
    Frac: Printer._p_frac,
    Pow: Printer._p_pow,
    Exp: Printer._p_exp,
    Func: Printer._p_func,
    Cmp: Printer._p_cmp,
    Where: Printer._p_where,
    Matrix: Printer._p_matrix,
    MatMul: Printer._p_matmul,
    Hadamard: Printer._p_hadamard,
    Transpose: Printer._p_transpose,
}


# ------------------------------------------------------------ plain text --


def fmt(x: float, digits: int = DEFAULT_DIGITS) -> str:
    """``x`` to ``digits`` significant digits, without trailing zeros.

    Fixed notation down to 1e-10 (0.0000351085481, as the post writes such
    numbers), scientific notation beyond that.
    """
    if x == 0:
        return "0"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{digits}g}"
    if "e" not in text:
        return text
    exponent = int(text.split("e")[1])
    if -10 <= exponent < 0:
        fixed = f"{x:.{digits - 1 - exponent}f}"
        return fixed.rstrip("0").rstrip(".") if "." in fixed else fixed
    return text


Segment = tuple[str, str]  # (text, kind): kind is sym, num, op or text


class Spelling(Printer[T]):
    """The ASCII spelling of a tree, written once in pieces of (text, kind):
    :class:`PlainPrinter` keeps them as segments (the rich view colours them
    by kind), :class:`TextPrinter` joins them into the text itself."""

    def piece(self, text: str, kind: str) -> T:
        raise NotImplementedError

    def join(self, parts: list[T]) -> T:
        raise NotImplementedError

    def sym(self, s: Sym) -> T:
        return self.piece(s.ascii, "sym")

    def d(self, d: D) -> T:
        return self.piece(d.ascii, "sym")

    def via(self, v: Via) -> T:
        return self.piece(f"{v.d.ascii} (via {v.through})", "sym")

    def number(self, x: float, digits: int | None = None) -> T:
        return self.piece(fmt(x, digits or self.digits), "num")

    def written(self, text: str) -> T:
        return self.piece(text, "num")

    def op(self, text: str) -> T:
        return self.piece(text if text == "/" else f" {_SPELLED_OPS.get(text, text)} ", "op")

    def minus(self) -> T:
        return self.piece("-", "op")

    def group(self, inner: T) -> T:
        return self.join([self.piece("(", "op"), inner, self.piece(")", "op")])

    def concat(self, parts: list[T]) -> T:
        return self.join(parts)

    def power(self, base: T, exponent: int | float) -> T:
        shown = f"({exponent})" if exponent < 0 else str(exponent)  # x^(-1)
        return self.join([base, self.piece(f"^{shown}", "op")])

    def exp(self, x: T) -> T:
        return self.join([self.piece("e^", "op"), x])

    def func(self, name: str, args: list[T]) -> T:
        out = [self.piece(name, "op"), self.piece("(", "op")]
        for k, a in enumerate(args):
            if k:
                out.append(self.piece(", ", "op"))
            out.append(a)
        return self.join([*out, self.piece(")", "op")])

    def where(self, then: T, cond: T, other: T) -> T:
        return self.join([then, self.piece(" if ", "op"), cond, self.piece(", else ", "op"), other])

    def matrix(self, rows: list[list[T]]) -> T:
        # as Octave and MATLAB write a matrix: [1, 2; 3, 4], a column [1; 2]
        out = [self.piece("[", "op")]
        for r, row in enumerate(rows):
            if r:
                out.append(self.piece("; ", "op"))
            for c, x in enumerate(row):
                if c:
                    out.append(self.piece(", ", "op"))
                out.append(x)
        return self.join([*out, self.piece("]", "op")])

    def transpose(self, x: T) -> T:
        return self.join([x, self.piece("^T", "op")])


# the matrix product as * and the entry-by-entry product as .*, as Octave and MATLAB write them
_SPELLED_OPS = {"matmul": "*", "hadamard": ".*"}


class PlainPrinter(Spelling[list[Segment]]):
    """The spelling as (text, kind) segments: ``dE_total/dw5 = 0.74136507 * 0.186815602``."""

    def piece(self, text: str, kind: str) -> list[Segment]:
        return [(text, kind)]

    def join(self, parts: list[list[Segment]]) -> list[Segment]:
        return [seg for part in parts for seg in part]


class TextPrinter(Spelling[str]):
    """The spelling as text (what plain output needs: no kinds to keep)."""

    def piece(self, text: str, kind: str) -> str:
        return text

    def join(self, parts: list[str]) -> str:
        return "".join(parts)


def segments(e: Expr, digits: int = DEFAULT_DIGITS) -> list[Segment]:
    return PlainPrinter.shared(digits).doprint(e)


def plain(e: Expr, digits: int = DEFAULT_DIGITS) -> str:
    """The ASCII spelling of a tree."""
    return TextPrinter.shared(digits).doprint(e)
