"""A recording scalar autodiff engine.

In the spirit of micrograd, with three differences that make an explanation
possible:

* every node has a ``name`` (``net_h1``, ``out_h1``, ``E_o1`` ...);
* every operation stores its local partial derivatives as data, one per
  parent and in the parents' order, so after a forward pass each chain-rule
  factor ``d(node)/d(parent)`` can be read off the graph;
* the graph is a :class:`Tape`: nodes are kept in the order they were made,
  which is a topological order.  ``forward()`` re-evaluates the same graph
  with new leaf values and ``backward()`` is one reverse pass over the list,
  with no recursion and no re-building of the graph for every step.

This module knows nothing about neurons, layers, click or rich.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

__all__ = ["Node", "Op", "OPS", "Tape"]


class Op:
    """One primitive operation, written once as Python expressions.

    ``value(args, attrs)`` is the expression of the result and
    ``partials(args, out, attrs)`` the expressions of d(result)/d(args[j]),
    where ``args`` are the names of the parents' values and ``out`` the name
    of the result.  The recording engine compiles them into functions
    (:meth:`compiled`); the training compiler (:mod:`stepprop.compiled`)
    inlines the very same expressions into straight-line code, so both paths
    compute every number with the same operations in the same order.
    """

    __slots__ = ("name", "value", "partials", "_cache")

    def __init__(
        self,
        name: str,
        value: Callable[[Sequence[str], dict], str],
        partials: Callable[[Sequence[str], str, dict], list[str]],
    ) -> None:
        self.name = name
        self.value = value
        self.partials = partials
        self._cache: dict[tuple, tuple[Callable, Callable]] = {}

    def compiled(self, arity: int, attrs: dict) -> tuple[Callable, Callable]:
        """(forward(xs) -> value, partials(xs, out) -> list) for this arity and attrs."""
        key = (arity, tuple(sorted(attrs.items())))
        cached = self._cache.get(key)
        if cached is None:
            args = [f"a{j}" for j in range(arity)]
            unpack = f"    {', '.join(args)}{',' if arity == 1 else ''} = xs\n"
            source = (
                f"def forward(xs):\n{unpack}    return {self.value(args, attrs)}\n"
                f"def partials(xs, out):\n{unpack}    return [{', '.join(self.partials(args, 'out', attrs))}]\n"
            )
            space = dict(NAMESPACE)
            exec(compile(source, f"<stepprop op {self.name}>", "exec"), space)  # noqa: S102 - our own text
            cached = (cast(Callable, space["forward"]), cast(Callable, space["partials"]))
            self._cache[key] = cached
        return cached

    def __repr__(self) -> str:
        return f"Op({self.name})"


# ---------------------------------------------------------------- the ops --


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _share(j: int, *xs: float) -> float:
    """Softmax output number j of xs: exp(x_j - max) / sum of exp(x - max)."""
    m = max(xs)
    exps = [math.exp(x - m) for x in xs]
    return exps[j] / math.fsum(exps)


def _affine(a: Sequence[str], at: dict) -> str:
    # parents: w1..wn, x1..xn[, b]; w1*x1 + ... + wn*xn (+ b*1), left to right as on paper
    n = at["n"]
    terms = [f"{a[j]} * {a[n + j]}" for j in range(n)]
    if at["bias"]:
        terms.append(f"{a[2 * n]} * 1")
    return " + ".join(terms)


def _affine_partials(a: Sequence[str], out: str, at: dict) -> list[str]:
    n = at["n"]
    return list(a[n : 2 * n]) + list(a[:n]) + (["1.0"] if at["bias"] else [])


def _softmax_partials(a: Sequence[str], out: str, at: dict) -> list[str]:
    # d out_k / d net_j = out_k * (delta_kj - out_j)
    xs = ", ".join(a)
    return [f"{out} * ({'1.0' if j == at['k'] else '0.0'} - softmax({j}, {xs}))" for j in range(len(a))]


def _softplus(x: float) -> float:
    """log(1 + e^x), without overflow: -log(sigmoid(-x))."""
    return (x if x > 0 else 0.0) + math.log1p(math.exp(-abs(x)))


def _log_softmax(k: int, *xs: float) -> float:
    m = max(xs)
    return xs[k] - m - math.log(math.fsum(math.exp(x - m) for x in xs))


def _ce_value(a: Sequence[str], at: dict) -> str:
    # parents: out, target, then the net input(s): one (sigmoid) or the layer's (softmax)
    _out, t, nets = a[0], a[1], a[2:]
    log_out = f"log_softmax({at['k']}, {', '.join(nets)})" if at["act"] == "softmax" else f"-softplus(-{nets[0]})"
    return f"(0.0 if {t} == 0 else -({t} * {log_out}))"


def _ce_partials(a: Sequence[str], r: str, at: dict) -> list[str]:
    out, t, nets = a[0], a[1], a[2:]
    saturated = f"({out} < 1e-300 and {t} != 0)"  # t / out would overflow
    parts = [
        f"(0.0 if {saturated} else (0.0 if {t} == 0 else -({t} / {out})))",
        f"(softplus(-{nets[0]}) if {out} != 0 else inf)" if at["act"] == "sigmoid" else f"-log({out})",
    ]
    if at["act"] == "softmax":
        k = at["k"]
        parts += [
            f"(-{t} * ({'1.0' if j == k else '0.0'} - softmax({j}, {', '.join(nets)})) if {saturated} else 0.0)"
            for j in range(len(nets))
        ]
    else:
        parts.append(f"(-{t} * (1 - {out}) if {saturated} else 0.0)")
    return parts


def _bce_value(a: Sequence[str], at: dict) -> str:
    # -[t ln(out) + (1 - t) ln(1 - out)]; after a sigmoid (parents: out, target, net),
    # ln(out) = -softplus(-net) and ln(1 - out) = -softplus(net)
    if len(a) == 2:
        out, t = a
        return f"-((0.0 if {t} == 0 else {t} * log({out})) + (0.0 if {t} == 1 else (1 - {t}) * log(1 - {out})))"
    out, t, net = a
    return f"((0.0 if {t} == 0 else {t} * softplus(-{net})) + (0.0 if {t} == 1 else (1 - {t}) * softplus({net})))"


def _bce_partials(a: Sequence[str], r: str, at: dict) -> list[str]:
    if len(a) == 2:  # after a softmax: the textbook derivative only
        out, t = a
        return [
            f"(-(0.0 if {t} == 0 else ({t} / {out} if {out} != 0 else inf)) + "
            f"(0.0 if {t} == 1 else ((1 - {t}) / (1 - {out}) if {out} != 1 else inf)))",
            f"-(log({out}) - log(1 - {out}))",
        ]
    out, t, net = a
    saturated = f"({out} < 1e-300 or {out} == 1)"  # t / out or 1 / (1 - out) would overflow
    return [
        f"(0.0 if {saturated} else -({t} / {out}) + (1 - {t}) / (1 - {out}))",
        f"-{net}",
        f"({out} - {t} if {saturated} else 0.0)",
    ]


def _squared(name: str, half: bool, mean: bool) -> Op:
    """(target - out)^2, times 1/2 or not, divided by the number of outputs or not.

    The square is written d * d: correctly rounded, and inf (not an
    exception) on overflow.  d/d out is -(target - out) for the post's error."""

    def value(a: Sequence[str], at: dict) -> str:
        d = f"({a[1]} - {a[0]})"
        square = f"0.5 * ({d} * {d})" if half else f"{d} * {d}"
        return f"{square} / {at['n']}" if mean else square

    def partials(a: Sequence[str], out: str, at: dict) -> list[str]:
        d = f"({a[1]} - {a[0]})"
        times = "" if half else "2 * "
        per = f" / {at['n']}" if mean else ""
        return [f"-{times}{d}{per}" if times else f"-{d}{per}", f"{times}{d}{per}"]

    return Op(name, value, partials)


def _mean_partials(a: Sequence[str], out: str, at: dict) -> list[str]:
    return [repr(1.0 / len(a))] * len(a)


# what the expressions may call
NAMESPACE = {
    "exp": math.exp,
    "tanh": math.tanh,
    "log": _log,
    "inf": math.inf,
    "softmax": _share,
    "softplus": _softplus,
    "log_softmax": _log_softmax,
}


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op("affine", _affine, _affine_partials),
        # the logistic function, written so that exp never overflows
        Op(
            "sigmoid",
            lambda a, at: f"(1 / (1 + exp(-{a[0]})) if {a[0]} >= 0 else exp({a[0]}) / (1 + exp({a[0]})))",
            lambda a, out, at: [f"{out} * (1 - {out})"],
        ),
        Op("tanh", lambda a, at: f"tanh({a[0]})", lambda a, out, at: [f"1 - {out} * {out}"]),
        Op(
            "relu",
            lambda a, at: f"({a[0]} if {a[0]} > 0 else 0.0)",
            lambda a, out, at: [f"(1.0 if {a[0]} > 0 else 0.0)"],
        ),
        Op("linear", lambda a, at: a[0], lambda a, out, at: ["1.0"]),
        Op("softmax", lambda a, at: f"softmax({at['k']}, {', '.join(a)})", _softmax_partials),
        # per-output error terms; parents: (out, target). The last two only re-run
        # hand-calculation mistakes (stepprop check): no 1/2, and 1/2 with a mean.
        _squared("half_squared_error", half=True, mean=False),  # the post's
        _squared("mean_squared_error", half=False, mean=True),
        _squared("squared_error", half=False, mean=False),
        _squared("half_mean_squared_error", half=True, mean=True),
        # the cross-entropies take the output layer's net inputs as well, for two reasons:
        # their value comes from the net inputs (log-sigmoid, log-softmax), finite even
        # where out is exactly 0 or 1 in floating point; and where out is saturated the
        # chain dE/dout * dout/dnet is inf * 0, so the gradient goes by the direct
        # edge instead (out - target, the well-known simplification), and the edge
        # through out carries 0.  Elsewhere the direct edge carries 0.
        Op("cross_entropy", _ce_value, _ce_partials),
        Op("binary_cross_entropy", _bce_value, _bce_partials),
        Op("sum", lambda a, at: " + ".join(a), lambda a, out, at: ["1.0"] * len(a)),
        Op("mean", lambda a, at: f"({' + '.join(a)}) / {len(a)}", _mean_partials),
    )
}


# ---------------------------------------------------------------- nodes ----


def _no_op(*args: object) -> float:  # pragma: no cover - a leaf is never evaluated
    raise TypeError("a leaf has no operation")


_LEAF = (_no_op, _no_op)


class Node:
    """One recorded scalar.

    Public: ``data`` (the value), ``grad`` (d root / d node after
    ``Tape.backward``), ``name``.  Recorded: ``op`` (None for a leaf),
    ``parents`` (ordered) and ``partials`` (d self / d parents[j], in order).
    """

    __slots__ = ("data", "grad", "name", "op", "parents", "partials", "attrs", "requires_grad", "index", "fns")

    def __init__(
        self,
        data: float,
        name: str,
        op: Op | None = None,
        parents: tuple[Node, ...] = (),
        attrs: dict | None = None,
        requires_grad: bool = True,
    ) -> None:
        self.data = data
        self.grad = 0.0
        self.name = name
        self.op = op
        self.parents = parents
        self.partials: list[float] = []
        self.attrs = attrs or {}
        self.requires_grad = requires_grad
        self.index = -1
        self.fns: tuple[Callable, Callable] = _LEAF

    def __repr__(self) -> str:
        return f"Node({self.name}={self.data!r}, grad={self.grad!r})"


Rounder = Callable[[float], float]


class Tape:
    """A graph of nodes, kept in creation (that is, topological) order.

    ``rounder`` (optional) is applied to every value, local partial and
    accumulated gradient as it is produced: that is how a hand calculation
    that rounds every intermediate result is reproduced.
    """

    def __init__(self, rounder: Rounder | None = None) -> None:
        self.nodes: list[Node] = []
        self.rounder = rounder

    # -- building
    def add(self, node: Node) -> Node:
        """Add an existing node (a leaf shared with other tapes, say)."""
        self.nodes.append(node)
        return node

    def leaf(self, name: str, value: float, requires_grad: bool = True) -> Node:
        node = Node(float(value), name, requires_grad=requires_grad)
        node.index = len(self.nodes)
        return self.add(node)

    def apply(self, op: str | Op, parents: Sequence[Node], name: str, **attrs: object) -> Node:
        """Record ``op`` applied to ``parents`` and compute it once."""
        the_op = OPS[op] if isinstance(op, str) else op
        node = Node(0.0, name, the_op, tuple(parents), dict(attrs))
        node.fns = the_op.compiled(len(node.parents), node.attrs)
        node.index = len(self.nodes)
        self.nodes.append(node)
        self._evaluate(node)
        return node

    # -- running
    def _evaluate(self, node: Node) -> None:
        forward, partials = node.fns
        xs = [p.data for p in node.parents]
        r = self.rounder
        if r is None:
            node.data = forward(xs)
            node.partials = partials(xs, node.data)
        else:
            node.data = r(forward(xs))
            node.partials = [r(d) for d in partials(xs, node.data)]

    def forward(self) -> None:
        """Re-evaluate every operation from the current leaf values."""
        for node in self.nodes:
            if node.op is not None:
                self._evaluate(node)

    def backward(self, root: Node, contributions: dict | None = None) -> None:
        """Set ``grad`` of every node to d root / d node.

        Gradients are reset first, so calling it twice gives the same result.
        A node that feeds several others collects every path (``+=``).  When
        ``contributions`` is a dict, each path's share is recorded in it as
        ``contributions[(child, parent_position)] = child.grad * partial``:
        the exact numbers that were added up.
        """
        nodes = self.nodes
        for node in nodes:
            node.grad = 0.0
        root.grad = 1.0
        r = self.rounder
        stop = nodes.index(root) if root.index < 0 or nodes[root.index] is not root else root.index
        for i in range(stop, -1, -1):
            node = nodes[i]
            g = node.grad
            if node.op is None or (g == 0.0 and contributions is None):
                continue
            for j, (parent, d) in enumerate(zip(node.parents, node.partials)):
                if not parent.requires_grad:
                    continue
                share = g * d
                if r is not None:
                    share = r(share)
                if contributions is not None:
                    contributions[(node, j)] = share
                parent.grad = parent.grad + share if r is None else r(parent.grad + share)

    def consumers(self) -> dict[Node, list[tuple[Node, int]]]:
        """For every node, the (child, position) pairs that use it, in order."""
        uses: dict[Node, list[tuple[Node, int]]] = {n: [] for n in self.nodes}
        for node in self.nodes:
            for j, parent in enumerate(node.parents):
                uses.setdefault(parent, []).append((node, j))
        return uses
