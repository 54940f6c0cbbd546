"""A recording scalar autodiff engine.

In the spirit of micrograd, with these differences, which make an
explanation possible:

* every node has a ``name`` (``net_h1``, ``out_h1``, ``E_o1`` ...);
* every operation stores its local partial derivatives as data, one per
  parent and in the parents' order, so after a forward pass each chain-rule
  factor ``d(node)/d(parent)`` can be read off the graph;
* the operations are defined once, in :mod:`stepprop.ops`, as expression
  trees; the engine runs them as Python made from those trees;
* the graph is a :class:`Tape`: nodes are kept in the order they were made,
  which is a topological order.  ``forward()`` re-evaluates the same graph
  with new leaf values and ``backward()`` is one reverse pass over the list,
  with no recursion and no re-building of the graph for every step.

This module knows nothing about neurons, layers, click or rich.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .ops import OPS, Op
from .rounding import Rounder, decimal_rounder

__all__ = ["Node", "Rounder", "Tape", "decimal_rounder"]  # the last two from stepprop.rounding


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


class Tape:
    """A graph of nodes, kept in creation (that is, topological) order.

    ``rounder`` (optional) is applied to every value, local partial, path
    share and completed gradient (the sum of its shares) as it is produced:
    that is how a hand calculation that rounds every intermediate result is
    reproduced.
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
        node.fns = the_op.compiled(len(node.parents), node.attrs, self.rounder)
        node.index = len(self.nodes)
        self.nodes.append(node)
        self._evaluate(node)
        return node

    # -- running
    def _evaluate(self, node: Node) -> None:
        partials = node.fns[1]
        xs = [p.data for p in node.parents]
        r = self.rounder
        node.data = self._value(node, xs)
        if r is None:
            node.partials = partials(xs, node.data)
        else:  # a hand calculation: see Op.rounds
            rounds = node.op.rounds  # type: ignore[union-attr]
            node.partials = [r(d) if "partials" in rounds else d for d in partials(xs, node.data)]

    def _value(self, node: Node, xs: list[float]) -> float:
        """The node's value from its parents' values ``xs`` (rounded as the tape rounds)."""
        r = self.rounder
        if r is None or "value" not in node.op.rounds:  # type: ignore[union-attr]
            return node.fns[0](xs)
        return r(node.fns[0](xs))

    def values_with(self, leaves: Mapping[Node, float], within: Sequence[Node] | None = None) -> dict[Node, float]:
        """Every node's value with these leaves' values in place of theirs: a
        forward pass that records nothing (the tape is left as it is);
        ``within``: only these nodes, in tape order (the ones a result needs)."""
        data: dict[Node, float] = {}
        value = self._value
        for node in self.nodes if within is None else within:
            if node.op is None:
                data[node] = leaves.get(node, node.data)
            else:
                data[node] = value(node, [data[p] for p in node.parents])
        return data

    def forward(self) -> None:
        """Re-evaluate every operation from the current leaf values."""
        for node in self.nodes:
            if node.op is not None:
                self._evaluate(node)

    def backward(self, root: Node, contributions: dict | None = None, within: Sequence[Node] | None = None) -> None:
        """Set ``grad`` of every node to d root / d node.

        Gradients are reset first, so calling it twice gives the same result.
        A node that feeds several others collects every path (``+=``).  When
        ``contributions`` is a dict, each path's share is recorded in it as
        ``contributions[(child, parent_position)] = child.grad * partial``:
        the exact numbers that were added up, for every edge the root
        reaches (a share of 0 included), and for no other.  ``within``: the
        nodes the root depends on, in tape order (one sample's part of a
        batch), so that the pass costs what that part costs.
        """
        nodes = self.nodes if within is None else within
        for node in nodes:
            node.grad = 0.0
        root.grad = 1.0
        r = self.rounder
        reached = {root} if contributions is not None else None
        if within is not None:
            stop = len(nodes) - 1 - list(reversed(nodes)).index(root)
        else:
            stop = nodes.index(root) if root.index < 0 or nodes[root.index] is not root else root.index
        for i in range(stop, -1, -1):
            node = nodes[i]
            if node.op is None:
                continue
            g = node.grad
            if r is not None:  # a hand calculation adds up the shares, then rounds the sum
                g = node.grad = r(g)
            if g == 0.0 and (reached is None or node not in reached):
                continue
            for j, (parent, d) in enumerate(zip(node.parents, node.partials)):
                if not parent.requires_grad:
                    continue
                share = g * d
                if r is not None:
                    share = r(share)
                if reached is not None:
                    contributions[(node, j)] = share  # type: ignore[index]
                    reached.add(parent)
                parent.grad = parent.grad + share
        if r is not None:
            for node in nodes[: stop + 1]:
                if node.op is None and node.requires_grad:
                    node.grad = r(node.grad)

    def consumers(self) -> dict[Node, list[tuple[Node, int]]]:
        """For every node, the (child, position) pairs that use it, in order."""
        uses: dict[Node, list[tuple[Node, int]]] = {n: [] for n in self.nodes}
        for node in self.nodes:
            for j, parent in enumerate(node.parents):
                uses.setdefault(parent, []).append((node, j))
        return uses
