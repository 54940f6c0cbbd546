"""The matrix form of a recorded step, as courses write backpropagation:

    z^[l] = W^[l] a^[l-1] + b^[l],   a^[l] = f(z^[l])
    delta^[L] = dE_total/da^[L] .* f'(z^[L])
    delta^[l] = (W^[l+1]^T delta^[l+1]) .* f'(z^[l])
    dE/dW^[l] = delta^[l] a^[l-1]^T,   dE/db^[l] = delta^[l]
    W^[l]+ = W^[l] - eta * dE/dW^[l]

with a^[0] the inputs, layers numbered from 1, and with a batch one column
per sample (the gradient then the mean, 1/m, over the columns, or their sum,
as the batch error combines its samples').

Nothing here is computed anew: every entry of every matrix is a number of
the step's recorded trace, by the scalar name the worked example gives it
(``z^[2]`` at (1, 1) is net_o1, ``dE_total/dW^[2]`` at (1, 2) is
dE_total/dw6).  That map (:attr:`MatrixForm.entries`) is also how ``check``
grades an answer given as a whole vector or matrix, entry by entry.  A
matrix equation means, entry by entry, the scalar equation of
:func:`stepprop.expr.entry`; its numbers are shown as the scalar view's are
(:func:`keep_true_entries`).  No click, no rich.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import names as N
from . import ops
from .document import Document, Eq, Item, Section, Text
from .errors import StepPropError
from .expr import (
    ONE,
    Const,
    D,
    Exp,
    Expr,
    Frac,
    Grid,
    Hadamard,
    MatMul,
    Matrix,
    Mul,
    Neg,
    Num,
    Pow,
    Sub,
    Sym,
    Transpose,
    add,
    children,
    entry,
    mul,
    shape,
    substitute,
    substitute_children,
    symbols,
)
from .optim import ETA, SGD, WORDS, G, P

if TYPE_CHECKING:
    from .step import StepTrace


def layer_sym(base: str, layer: int, after: bool = False) -> Sym:
    """z^[2], W^[2], W^[2]+ (the layer as a bracketed superscript, as CS230 writes it)."""
    return Sym(base, "", f"[{layer}]" + ("+" if after else ""))


# how an answer may write the layer: z^[2], z^(2), z^{[2]}, z^{(2)}, z^2
_LAYER = re.compile(r"\^\{?[\[(]?(\d+)[\])]?\}?")
# an entry of a matrix answer: z^[2](1,1); of a vector's: z^[2](1)
_ENTRY = re.compile(r"^(.*)\((\d+)(?:,(\d+))?\)$")


def canonical(written: str) -> str:
    """A matrix name as its canonical spelling (z^(2) and z^{[2]} are z^[2])."""
    return _LAYER.sub(lambda m: f"^[{m.group(1)}]", written.replace(" ", ""))


class MatrixForm:
    """The matrices of one recorded step, each entry by its scalar name."""

    def __init__(self, trace: StepTrace):
        if trace.rounding is not None:
            raise StepPropError(
                "the matrix view shows the step's exact numbers; a hand calculation (--round) is shown "
                "in the scalar view"
            )
        self.t = trace
        g = trace.graph
        net = trace.net
        cfg = trace.config
        self.m = len(trace.samples)
        self.n_layers = len(cfg.layers)
        self.dsign = N.delta_sign(cfg)
        # a section's layer number, as the config's notation numbers the layers (Nielsen's from
        # the input, 1: its names are the notation's, made when the document is shown)
        self.shift = 1 if cfg.notation == "nielsen" else 0
        self.combine = g.root.op if g.multi else None
        self.bias_input = cfg.bias_input
        sym = self._sym
        cols = range(self.m)
        self.entries: dict[str, Grid] = {}  # a matrix's name -> its entries, by scalar symbol
        self.error = Sym("E") if g.multi else Sym("E", "total")

        self._bind(layer_sym("a", 0), tuple(tuple(sym(s, name) for s in cols) for name in net.input_names))
        for li, neurons in enumerate(net.neurons):
            named = self.layer(li)
            nets = [[g.by_sample[s][f"net_{k}"] for s in cols] for k in neurons]
            outs = [[g.by_sample[s][f"out_{k}"] for s in cols] for k in neurons]
            weights = [[N.param_sym(w) for w in row] for row in net.weight_names[li]]
            grids: dict[str, list[list[Any]]] = {
                "z": [[N.sym_of(g, x) for x in row] for row in nets],
                "a": [[N.sym_of(g, x) for x in row] for row in outs],
                "delta": [[N.delta_sym(g, x) for x in row] for row in nets],
            }
            if not ops.activation(cfg.layers[li].activation).coupled:  # dout_h1/dnet_h1, ...
                grids["derivative"] = [
                    [D(N.sym_of(g, o), N.sym_of(g, x)) for o, x in zip(out_row, net_row)]
                    for out_row, net_row in zip(outs, nets)
                ]
            grids["weights"] = weights
            grids["grad_weights"] = [[D(self.error, w) for w in row] for row in weights]
            grids["weights_after"] = [[w.updated() for w in row] for row in weights]
            grids["weights_change"] = [[Sym("change", w.ascii) for w in row] for row in weights]
            biases = net.bias_names[li]
            if biases is not None:
                column = [N.param_sym(b) for b in biases]
                grids["bias"] = [[b] for b in column]
                # a bias shared by the layer has one gradient (the sum over its neurons)
                grids["grad_bias"] = [[D(self.error, b)] for b in (column[:1] if self._shared(li) else column)]
                # (a fixed bias's too: the same number after the step, as the scalar b1+ is)
                grids["bias_after"] = [[b.updated()] for b in column]
                grids["bias_change"] = [[Sym("change", b.ascii)] for b in column]
            for what, grid in grids.items():
                self._bind(named[what], tuple(tuple(row) for row in grid))
        last = net.neurons[-1]
        self.targets = Sym("t")
        self._bind(self.targets, tuple(tuple(sym(s, f"target_{k}") for s in cols) for k in last))
        self.d_out = D(Sym("E", "total"), layer_sym("a", self.n_layers))
        self._bind(
            self.d_out,
            tuple(tuple(D(N.error_sym(g, s), sym(s, f"out_{k}")) for s in cols) for k in last),
        )
        # the gradient with respect to the inputs, a sample's error's (dE_total/di1[k])
        self.d_in = D(Sym("E", "total"), layer_sym("a", 0))
        self._bind(
            self.d_in,
            tuple(tuple(D(N.error_sym(g, s), sym(s, name)) for s in cols) for name in net.input_names),
        )

    # -- names and numbers
    @functools.cached_property
    def env(self) -> dict[str, float]:
        """Every scalar name of the step with its number (made when a number is first read)."""
        return N.environment(self.t)

    def _sym(self, s: int, base: str) -> Sym:
        g = self.t.graph
        return N.sym_of(g, g.by_sample[s][base])

    def _bind(self, s: Sym | D, grid: Grid) -> None:
        self.entries[s.ascii] = grid

    def layer(self, li: int) -> dict[str, Sym | D]:
        """The symbols of the matrices of layer li (0-based), by their JSON keys."""
        n = li + 1
        W, b, z, a = layer_sym("W", n), layer_sym("b", n), layer_sym("z", n), layer_sym("a", n)
        return {
            "z": z,
            "a": a,
            "derivative": D(a, z),
            "delta": layer_sym("delta", n),
            "weights": W,
            "bias": b,
            "grad_weights": D(self.error, W),
            "grad_bias": D(self.error, b),
            "weights_after": layer_sym("W", n, after=True),
            "bias_after": layer_sym("b", n, after=True),
            "weights_change": Sym("change", "W", f"[{n}]"),
            "bias_change": Sym("change", "b", f"[{n}]"),
        }

    def _shared(self, li: int) -> bool:
        names = self.t.net.bias_names[li]
        return names is not None and len(names) > 1 and len(set(names)) == 1

    def value(self, scalar: Expr) -> float:
        assert isinstance(scalar, (Sym, D))
        return self.env[scalar.ascii]

    def numbers(self, name: Sym | D) -> Matrix:
        """A bound matrix, as its recorded numbers."""
        return Matrix(tuple(tuple(Num(self.value(x)) for x in row) for row in self.entries[name.ascii]))

    def floats(self, name: str) -> list[list[float]]:
        return [[self.value(x) for x in row] for row in self.entries[name]]

    def with_numbers(self, e: Expr) -> Expr:
        """Each bound matrix symbol replaced by its numbers, eta by its value."""

        def number(leaf: Expr) -> Expr | None:
            if isinstance(leaf, (Sym, D)) and leaf.ascii in self.entries:
                return self.numbers(leaf)
            if isinstance(leaf, Sym) and leaf.ascii in self.env:
                return Num(self.env[leaf.ascii])
            return None

        return substitute(e, number)

    def elementwise(self, e: Expr) -> Expr:
        """Products (and powers) of matrices written as entry-by-entry products
        (an op's derivative, out * (1 - out) or 1 - out^2, read of whole vectors)."""

        def walk(x: Expr) -> Expr:
            if isinstance(x, Pow) and shape(x.x, self.entries) != (1, 1):  # a^2 entry by entry: a .* a
                return Hadamard((walk(x.x),) * int(x.power))
            if isinstance(x, Mul):
                factors = tuple(walk(f) for f in x.factors)
                if sum(shape(f, self.entries) != (1, 1) for f in factors) >= 2:
                    return Hadamard(factors)
                return Mul(factors)
            if isinstance(x, (Matrix, MatMul, Hadamard, Transpose)) or not children(x):
                return x  # (already matrix operations, or a leaf)
            return substitute_children(x, walk)

        return walk(e)

    def eq(self, lhs: Sym | D, steps: Sequence[Expr], note: str = "", name: str | None = None) -> Eq:
        """lhs = steps (symbols) = the same with numbers = lhs's numbers, each
        numeric step shown only as far as it is true as printed."""
        rhs = [*steps, *(self.with_numbers(s) for s in steps), self.numbers(lhs)]
        eq = Eq(lhs, rhs, name=name or lhs.ascii, note=note)
        keep_true_entries(eq, self.entries)
        return eq

    # -- the document
    def document(self, inputs: bool = False) -> Document:
        """The step in matrix form (``inputs``: with the gradient with respect to
        the inputs, dE_total/da^[0] = W^[1]^T delta^[1])."""
        t = self.t
        cfg = t.config
        g = t.graph
        net = t.net
        L = self.n_layers
        forward = Section("The forward pass")
        for li in range(L):
            n = li + 1
            W, A, Z, Aout = layer_sym("W", n), layer_sym("a", li), layer_sym("z", n), layer_sym("a", n)
            rows, cols = shape(Z, self.entries)
            product: Expr = MatMul(W, A)
            biases = net.bias_names[li]
            if biases is not None:
                bias: Expr = N.param_sym(biases[0]) if self._shared(li) else layer_sym("b", n)
                product = Sub(product, bias) if self.bias_input == -1 else add(product, bias)
            act = ops.activation(cfg.layers[li].activation)
            dims = (
                f"W^[{n}] is {_dims(W, self.entries)}, a^[{li}] {_dims(A, self.entries)}: "
                f"z^[{n}] and a^[{n}] are {rows} x {cols}"
            )
            section = Section(f"Layer {n + self.shift} ({_role(li, L)}: {act.name})", [Text(dims)])
            section.items.append(self.eq(Z, [product]))
            formula = _softmax(Z, rows) if act.coupled else act.formula([Z], act.attrs_of(cfg))
            section.items.append(self.eq(Aout, [self.elementwise(formula)]))
            forward.items.append(section)

        from .worked import errors as error_section

        errors = error_section(t)

        backward = Section("The backwards pass")
        loss = ops.loss(cfg.loss)
        for li in reversed(range(L)):
            n = li + 1
            act = ops.activation(cfg.layers[li].activation)
            Z, Aout, Delta = layer_sym("z", n), layer_sym("a", n), layer_sym("delta", n)
            items: list[Item] = []
            fprime = D(Aout, Z)
            if not act.coupled:
                local = act.derivative([Z], Aout, act.attrs_of(cfg), 0)
                items.append(self.eq(fprime, [self.elementwise(local)], "entry by entry"))
            if li == L - 1:
                delta_note = "" if self.dsign == 1 else "delta: error, the error term -dE_total/dz"
                derivative = self._loss_derivative()
                if derivative is not None:
                    items.insert(0, self.eq(self.d_out, [derivative], "entry by entry"))
                else:
                    items.insert(0, Eq(self.d_out, [self.numbers(self.d_out)], name=self.d_out.ascii))
                if not act.coupled:
                    gradient: Expr = self.d_out if self.dsign == 1 else Neg(self.d_out)
                    items.append(self.eq(Delta, [Hadamard((gradient, fprime))], delta_note))
                elif loss.shortcut(act.name, _targets(t)):
                    diff = Sub(Aout, self.targets) if self.dsign == 1 else Sub(self.targets, Aout)
                    items.append(self.eq(Delta, [diff], f"{act.name} with {loss.name}: the shortcut out - target"))
                else:
                    items.append(
                        Eq(
                            Delta,
                            [self.numbers(Delta)],
                            name=Delta.ascii,
                            note="through the softmax's Jacobian: the scalar view derives each",
                        )
                    )
            else:
                above = Transpose(layer_sym("W", n + 1))
                items.append(self.eq(Delta, [Hadamard((MatMul(above, layer_sym("delta", n + 1)), fprime))]))
            items += self._gradients(li)
            backward.items.append(Section(f"Layer {n + self.shift} ({_role(li, L)})", items))
        if inputs:  # one more step back, to the inputs (their weights' rows, transposed)
            back: Expr = MatMul(Transpose(layer_sym("W", 1)), layer_sym("delta", 1))
            note = "" if self.dsign == 1 else "delta: error, the error term -dE_total/dz"
            backward.items.append(
                Section("The inputs", [self.eq(self.d_in, [back if self.dsign == 1 else Neg(back)], note)])
            )

        updates = Section("The updates")
        rule = t.variation.update
        # the textbooks' form where delta is the error term: W+ = W + eta * delta a^T
        textbook = self.dsign == -1 and rule == SGD
        for li in reversed(range(L)):
            n = li + 1
            items = []
            terms = self._gradient_terms(li) if textbook else {}
            for base in ("W", "b"):
                before, after = layer_sym(base, n), layer_sym(base, n, True)
                grad = D(self.error, before)
                if after.ascii not in self.entries or (base == "b" and not cfg.update_biases):
                    continue  # (a fixed bias: said below)
                if t.optim is not None:  # an optimiser's update: entry by entry, as the scalar view works it
                    words = WORDS[t.optim.settings.name]
                    items.append(self.eq(after, [], f"by {words}: each entry's working is in the scalar view"))
                    continue
                steps = [substitute(rule, _rule_leaves(before, grad))]
                if base in terms:  # minus the gradient is a positive multiple of delta where it is not
                    positive, around = terms[base]
                    change = mul(ETA, around(layer_sym("delta", n)))
                    steps.append(Sub(before, change) if positive else before + change)
                items.append(self.eq(after, steps))
            if items:
                updates.items.append(Section(f"Layer {n + self.shift}", items))
        if not cfg.update_biases and any(b is not None for b in net.bias_names):
            updates.items.append(Text("The biases are not updated (update_biases: false)."))

        intro = [
            f"One training step of {net.shape} in matrix form. Layers are numbered from {1 + self.shift}"
            + ("; a^[0] is the input" if not self.shift else ", the input a^[0] being layer 1")
            + (f", one column per sample ({self.m} samples)." if g.multi else ", and vectors are columns."),
            "In plain text, * between matrices is the matrix product, .* the entry-by-entry product "
            "(a circled dot in LaTeX and HTML) and ^T the transpose; a column added to a matrix is added to each "
            "of its columns.",
            f"Every entry is a number of the step, by its name in the scalar view: z^[1] at (1, 1) is "
            f"{_name(self.entries['z^[1]'][0][0])}; an answer may give a whole matrix by its name, as a list of rows.",
        ]
        return Document(f"Matrix form: {net.shape}", intro, [forward, errors, backward, updates])

    def _loss_derivative(self) -> Expr | None:
        """dE_total/da^[L] as the loss defines it, for a loss of each output
        on its own (the same formula for every output)."""
        g = self.t.graph
        role = {"out": layer_sym("a", self.n_layers), "target": self.targets, "net": layer_sym("z", self.n_layers)}
        found: Expr | None = None
        for k in self.t.net.output_names:
            error = g.by_sample[0][f"E_{k}"]
            if error.op is None:
                return None
            roles = [g.info[parent].role for parent in error.parents]
            if "out" not in roles or any(r not in role for r in roles):
                return None
            d = error.op.derivative([role[r] for r in roles], _OWN, error.attrs, roles.index("out"))
            if found is not None and d != found:
                return None  # (each output's error its own formula)
            found = d
        if found is None or any(x == _OWN for x in symbols(found)):
            return None
        return self.elementwise(found)

    def _gradient_terms(self, li: int) -> dict[str, tuple[bool, Callable[[Expr], Expr]]]:
        """dE_total/dW^[l] and dE_total/db^[l] (where the layer has biases) from
        the layer's deltas: for each, whether it is a positive multiple of
        them, and the product written around a delta (delta a^T, 1/m over a
        batch, summed for a shared bias)."""
        Aprev = layer_sym("a", li)
        m = self.m
        mean = self.combine is not None and self.combine.averages

        def over_batch(e: Expr) -> Expr:
            return mul(Frac(ONE, Const(m)), e) if mean else e

        out: dict[str, tuple[bool, Callable[[Expr], Expr]]] = {
            "W": (self.dsign == 1, lambda delta: over_batch(MatMul(delta, Transpose(Aprev))))
        }
        names = self.t.net.bias_names[li]
        if names is not None:
            shared = len(names) if self._shared(li) else 0

            def per_bias(delta: Expr) -> Expr:
                if m > 1:
                    delta = MatMul(delta, _ones(m))
                if shared:
                    delta = MatMul(Transpose(_ones(shared)), delta)
                return over_batch(delta)

            out["b"] = (self.dsign * self.bias_input == 1, per_bias)
        return out

    def _gradients(self, li: int) -> list[Item]:
        n = li + 1
        Delta = layer_sym("delta", n)
        out: list[Item] = []
        for base, (positive, product) in self._gradient_terms(li).items():
            shared = "one bias shared by the layer" if base == "b" and self._shared(li) else ""
            grad = product(Delta if positive else Neg(Delta))
            out.append(self.eq(D(self.error, layer_sym(base, n)), [grad], shared))
        return out

    # -- the numbers, in the config's shapes
    def to_dict(self) -> dict[str, Any]:
        layers = []
        for li in range(self.n_layers):
            named = self.layer(li)
            shared = self._shared(li)
            out: dict[str, Any] = {"layer": li + 1, "neurons": self.t.net.neurons[li]}
            for what in _JSON_KEYS:
                name = named[what].ascii
                found = self.floats(name) if name in self.entries else None
                if found is not None and what.startswith(("bias", "grad_bias")):  # in the config's shape
                    column = [row[0] for row in found]
                    out[what] = column[0] if shared else column
                else:
                    out[what] = found
            layers.append(out)
        return {
            "view": "matrix",
            "shape": self.t.net.shape,
            "samples": self.m,
            "inputs": self.floats(layer_sym("a", 0).ascii),
            "targets": self.floats(self.targets.ascii),
            "error": self.t.error,
            "error_after": self.t.error_after,
            "layers": layers,
            "names": self.names(),
        }

    def names(self, worked_out: bool = False) -> dict[str, list[list[str]]]:
        """Each matrix's name with the scalar names of its entries (``worked_out``:
        only those the step works out, what ``check`` grades; not the config's
        own W^[l], b^[l], a^[0] and t)."""
        known = N.checkable(self.t) if worked_out else None
        out = {}
        for name, grid in self.entries.items():
            spelled = [[_name(x) for x in row] for row in grid]
            if known is None or all(n in known for row in spelled for n in row):
                out[name] = spelled
        return out

    def entry_name(self, written: str) -> tuple[str, int, int | None] | None:
        """(matrix name, row, column) of an entry an answer names, ``z^[2](1,1)``
        (1-based; a vector's entry has one index), or None."""
        m = _ENTRY.match(written.replace(" ", ""))
        if m is None:
            return None
        base = canonical(m.group(1))
        found = self._known(base)
        if found is None:
            return None
        return found, int(m.group(2)), int(m.group(3)) if m.group(3) else None

    def _known(self, name: str) -> str | None:
        if name in self.entries:
            return name
        lower = {k.lower(): k for k in self.entries}
        return lower.get(name.lower())

    def size(self, written: str) -> tuple[int, int]:
        """(rows, columns) of the matrix an entry's name is of: ``z^[2](1)`` (2, 1)."""
        found = self.entry_name(written)
        assert found is not None
        grid = self.entries[found[0]]
        return len(grid), len(grid[0])

    def scalar_name(self, written: str) -> str:
        """The scalar name of an entry an answer names (a located error otherwise)."""
        found = self.entry_name(written)
        assert found is not None
        name, i, j = found
        grid = self.entries[name]
        rows, cols = len(grid), len(grid[0])
        if j is None:
            if cols == 1:
                i, j = i, 1
            elif rows == 1:
                i, j = 1, i
            else:
                raise StepPropError(
                    f"{name} is a {rows} x {cols} matrix: write it as a list of its rows, e.g. [[1, 2], [3, 4]]"
                )
        if not (1 <= i <= rows and 1 <= j <= cols):
            raise StepPropError(f"{name} is {rows} x {cols}: it has no entry ({i}, {j})")
        return _name(grid[i - 1][j - 1])


def _softmax(z: Expr, rows: int) -> Expr:
    """Each column's softmax, e^z / (1^T e^z): e^z_k over the sum of its column's e^z."""
    return Frac(Exp(z), MatMul(Transpose(_ones(rows)), Exp(z)))


def _ones(rows: int) -> Matrix:
    return Matrix(tuple((ONE,) for _ in range(rows)))


_OWN = Sym("E_own")  # a loss's own value, in its derivative (not written in matrix form)

# a layer's matrices in the JSON, in this order (weights_change, bias_change: for check only)
_JSON_KEYS = (
    "z",
    "a",
    "derivative",
    "delta",
    "weights",
    "bias",
    "grad_weights",
    "grad_bias",
    "weights_after",
    "bias_after",
)


def _rule_leaves(before: Expr, grad: Expr) -> Callable[[Expr], Expr | None]:
    """The update rule's P and G as a layer's matrices (eta stays eta)."""

    def leaf(x: Expr) -> Expr | None:
        if x == P:
            return before
        if x == G:
            return grad
        return None

    return leaf


def _name(x: Expr) -> str:
    assert isinstance(x, (Sym, D))
    return x.ascii


def _leaves(e: Expr) -> list[Expr]:
    kids = children(e)
    return [e] if not kids else [x for k in kids for x in _leaves(k)]


def _dims(e: Expr, bound: dict[str, Grid]) -> str:
    rows, cols = shape(e, bound)
    return f"{rows} x {cols}"


def _role(li: int, n_layers: int) -> str:
    return "output layer" if li == n_layers - 1 else "hidden layer"


def _targets(trace: StepTrace) -> list[float]:
    return [t for sample in trace.config.batches()[trace.batch_index] for t in sample.targets]


def keep_true_entries(eq: Eq, bound: dict[str, Grid]) -> None:
    """Each numeric step of a matrix equation shown as the scalar view shows its
    steps (:func:`stepprop.worked.keep_true`), entry by entry: with every digit
    where 9 would make an entry false, and left out where floating point cannot
    show it."""
    from .worked import every_digit, keep_true

    if len(eq.rhs) < 2:
        return
    result = eq.rhs[-1]
    rows, cols = shape(result, bound)
    kept: list[Expr] = []
    dropped = False
    for step in eq.rhs[:-1]:
        if not any(isinstance(x, Num) for x in _leaves(step)):
            kept.append(step)
            continue
        every = False
        false = False
        for i in range(rows):
            for j in range(cols):
                here = entry(step, i, j, bound)
                probe = Eq(Sym("x"), [here, entry(result, i, j, bound)])
                if len(probe.rhs) < 2:
                    continue
                before = probe.rhs[0]
                keep_true(probe)
                if probe.note:
                    false = True
                elif probe.rhs[0] is not before:
                    every = True
        if false:
            dropped = True
            continue
        kept.append(substitute(step, every_digit) if every else step)
    eq.rhs = [*kept, result]
    if dropped:
        why = "not shown with numbers: in floating point they overflow, or an output is exactly 0 or 1"
        eq.note = f"{eq.note}; {why}" if eq.note else why
