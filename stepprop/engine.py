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
from typing import Callable, Sequence

__all__ = ["Node", "Op", "OPS", "Tape"]


class Op:
    """One primitive operation: its value and its local partial derivatives.

    ``forward(xs, attrs)`` returns the value from the parents' values;
    ``partials(xs, out, attrs)`` returns d(out)/d(xs[j]) for every parent j.
    """

    __slots__ = ("name", "forward", "partials")

    def __init__(
        self,
        name: str,
        forward: Callable[[Sequence[float], dict], float],
        partials: Callable[[Sequence[float], float, dict], list[float]],
    ) -> None:
        self.name = name
        self.forward = forward
        self.partials = partials

    def __repr__(self) -> str:
        return f"Op({self.name})"


# ---------------------------------------------------------------- the ops --


def _affine(xs: Sequence[float], a: dict) -> float:
    # parents: w1..wn, x1..xn[, b]; the value is w1*x1 + ... + wn*xn (+ b*1),
    # summed left to right as one would on paper.
    n = a["n"]
    total = xs[0] * xs[n]
    for j in range(1, n):
        total = total + xs[j] * xs[n + j]
    if a["bias"]:
        total = total + xs[2 * n] * 1
    return total


def _affine_partials(xs: Sequence[float], out: float, a: dict) -> list[float]:
    n = a["n"]
    ds = list(xs[n : 2 * n]) + list(xs[:n])
    if a["bias"]:
        ds.append(1.0)
    return ds


def _sigmoid(xs: Sequence[float], a: dict) -> float:
    x = xs[0]
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    # the same function, written so that exp never overflows
    e = math.exp(x)
    return e / (1 + e)


def _tanh(xs: Sequence[float], a: dict) -> float:
    return math.tanh(xs[0])


def _relu(xs: Sequence[float], a: dict) -> float:
    return xs[0] if xs[0] > 0 else 0.0


def _softmax(xs: Sequence[float], a: dict) -> float:
    # parents: every net input of the layer; this node is output number k
    m = max(xs)
    exps = [math.exp(x - m) for x in xs]
    return exps[a["k"]] / math.fsum(exps)


def _softmax_partials(xs: Sequence[float], out: float, a: dict) -> list[float]:
    # d out_k / d net_j = out_k * (delta_kj - out_j); out_j is recomputed from
    # the same parents so that the partials stay consistent with the values.
    m = max(xs)
    exps = [math.exp(x - m) for x in xs]
    s = math.fsum(exps)
    k = a["k"]
    return [out * ((1.0 if j == k else 0.0) - e / s) for j, e in enumerate(exps)]


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _cross_entropy(xs: Sequence[float], a: dict) -> float:
    out, t = xs
    return 0.0 if t == 0 else -(t * _log(out))


def _cross_entropy_partials(xs: Sequence[float], r: float, a: dict) -> list[float]:
    out, t = xs
    d_out = 0.0 if t == 0 else (-(t / out) if out != 0 else -math.inf)
    return [d_out, -_log(out)]


def _bce(xs: Sequence[float], a: dict) -> float:
    out, t = xs
    first = 0.0 if t == 0 else t * _log(out)
    second = 0.0 if t == 1 else (1 - t) * _log(1 - out)
    return -(first + second)


def _bce_partials(xs: Sequence[float], r: float, a: dict) -> list[float]:
    out, t = xs
    first = 0.0 if t == 0 else (t / out if out != 0 else math.inf)
    second = 0.0 if t == 1 else ((1 - t) / (1 - out) if out != 1 else math.inf)
    return [-first + second, -(_log(out) - _log(1 - out))]


def _sum(xs: Sequence[float], a: dict) -> float:
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def _mean(xs: Sequence[float], a: dict) -> float:
    return _sum(xs, a) / len(xs)


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op("affine", _affine, _affine_partials),
        Op("sigmoid", _sigmoid, lambda xs, out, a: [out * (1 - out)]),
        Op("tanh", _tanh, lambda xs, out, a: [1 - out * out]),
        Op("relu", _relu, lambda xs, out, a: [1.0 if xs[0] > 0 else 0.0]),
        Op("linear", lambda xs, a: xs[0], lambda xs, out, a: [1.0]),
        Op("softmax", _softmax, _softmax_partials),
        # per-output error terms; parents: (out, target)
        Op(
            "half_squared_error",
            lambda xs, a: 0.5 * (xs[1] - xs[0]) ** 2,
            lambda xs, r, a: [-(xs[1] - xs[0]), xs[1] - xs[0]],
        ),
        Op(
            "mean_squared_error",
            lambda xs, a: (xs[1] - xs[0]) ** 2 / a["n"],
            lambda xs, r, a: [-2 * (xs[1] - xs[0]) / a["n"], 2 * (xs[1] - xs[0]) / a["n"]],
        ),
        # two more squared errors, used only to re-run hand-calculation
        # mistakes (stepprop check): no 1/2, and 1/2 with a mean over outputs
        Op(
            "squared_error",
            lambda xs, a: (xs[1] - xs[0]) ** 2,
            lambda xs, r, a: [-2 * (xs[1] - xs[0]), 2 * (xs[1] - xs[0])],
        ),
        Op(
            "half_mean_squared_error",
            lambda xs, a: 0.5 * (xs[1] - xs[0]) ** 2 / a["n"],
            lambda xs, r, a: [-(xs[1] - xs[0]) / a["n"], (xs[1] - xs[0]) / a["n"]],
        ),
        Op("cross_entropy", _cross_entropy, _cross_entropy_partials),
        Op("binary_cross_entropy", _bce, _bce_partials),
        Op("sum", _sum, lambda xs, r, a: [1.0] * len(xs)),
        Op("mean", _mean, lambda xs, r, a: [1.0 / len(xs)] * len(xs)),
    )
}


# ---------------------------------------------------------------- nodes ----


class Node:
    """One recorded scalar.

    Public: ``data`` (the value), ``grad`` (d root / d node after
    ``Tape.backward``), ``name``.  Recorded: ``op`` (None for a leaf),
    ``parents`` (ordered) and ``partials`` (d self / d parents[j], in order).
    """

    __slots__ = ("data", "grad", "name", "op", "parents", "partials", "attrs", "requires_grad", "index")

    def __init__(
        self,
        data: float,
        name: str,
        op: Op | None = None,
        parents: tuple["Node", ...] = (),
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
        node.index = len(self.nodes)
        self.nodes.append(node)
        self._evaluate(node)
        return node

    # -- running
    def _evaluate(self, node: Node) -> None:
        op = node.op
        assert op is not None
        xs = [p.data for p in node.parents]
        r = self.rounder
        if r is None:
            node.data = op.forward(xs, node.attrs)
            node.partials = op.partials(xs, node.data, node.attrs)
        else:
            node.data = r(op.forward(xs, node.attrs))
            node.partials = [r(d) for d in op.partials(xs, node.data, node.attrs)]

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
