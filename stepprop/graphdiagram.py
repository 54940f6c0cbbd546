"""What the picture of an expression's graph shows, read off its trace.

As CS231n draws one: a box per operation, labelled by what it does (``+``,
``*``, ``exp``, ``σ``), with the node's name (q, n3, f) under it; the inputs
by their names and the constants by their numbers on the left of what they
feed; every edge with the value that flows forward along it (its parent's
value) above it and the gradient that flows back along it (d output / d
parent along that edge: its path share) below it; and a stub out of the
output with its value and its gradient, 1.

A :class:`GraphDiagram` gives the nodes in columns by depth (the longest
path from the inputs), an edge passing a column on its way to a later one
holding a place in it, and an order within each column that keeps edges from
crossing where it easily can.  Placing and drawing are the views' business
(:mod:`stepprop.views.graphdiagram`).  Only the nodes the output depends on
are drawn.

This module knows nothing about click or rich.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import NamedTuple

from .engine import Node
from .graph import GraphTrace

# an operation -> what its box shows (a power shows its exponent: ^2, ^0.5)
SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "neg": "-x",
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "abs": "abs",
    "max": "max",
    "min": "min",
    "sigmoid": "σ",
    "tanh": "tanh",
    "relu": "relu",
    "linear": "=",  # the assignment of a name or a number: q = x
}
# the places (nodes and edges passing) a picture can hold legibly; beyond, only
# the text version lists the edges
MAX_SLOTS = 2000
SWEEPS = 4  # rounds of reordering the columns, each a pass forward and a pass back
MAX_TRANSPOSE = 20  # rounds of swapping neighbours after them


@dataclass(frozen=True)
class GNode:
    id: int  # its place in GraphDiagram.nodes
    kind: str  # input, constant or operation
    name: str  # x, q, n3, f (a constant: as written)
    label: str | None  # in its box: an input's name, an operation's symbol; None: a constant, drawn as its value
    value: float
    column: int  # 0: the inputs
    output: bool = False

    @property
    def caption(self) -> str:
        """Written under an operation's box: its name."""
        return self.name if self.kind == "operation" else ""


@dataclass(frozen=True)
class GEdge:
    source: int  # a node's id
    target: int | None  # None: the stub out of the output
    position: int  # which operand of the target (0: the first)
    value: float  # forward: the source's value
    gradient: float | None  # back: d output / d source along this edge; None out of a constant


class Slot(NamedTuple):
    """A place in a column, top to bottom: a node (``edge`` None), or an
    edge passing through on its way to a later column (``node`` None)."""

    node: int | None
    edge: int | None
    column: int


@dataclass(frozen=True)
class GraphDiagram:
    nodes: list[GNode]
    edges: list[GEdge]  # into each operation in the order they are worked out, by operand; the output's stub last
    columns: list[list[Slot]]  # top to bottom; empty where the picture is too large to draw (not drawable)
    title: str
    output: str
    drawable: bool = True

    def path(self, k: int) -> list[Slot]:
        """The places edge ``k`` goes through: its source, a place in each
        column it passes, its target (the output's stub: its source only)."""
        return _path(self.nodes, self.edges[k], k)


def _path(nodes: list[GNode], e: GEdge, k: int) -> list[Slot]:
    source = nodes[e.source]
    if e.target is None:
        return [Slot(source.id, None, source.column)]
    target = nodes[e.target]
    passing = range(source.column + 1, target.column)
    return [
        Slot(source.id, None, source.column),
        *(Slot(None, k, c) for c in passing),
        Slot(target.id, None, target.column),
    ]


def symbol(node: Node) -> str:
    """What an operation's box shows."""
    assert node.op is not None
    if node.op.name == "pow":
        p = float(node.attrs["p"])
        return "^" + (str(int(p)) if p.is_integer() and abs(p) < 1e15 else repr(p))
    return SYMBOLS.get(node.op.name, node.op.name)


def diagram(trace: GraphTrace) -> GraphDiagram:
    """The picture of an expression's graph: its nodes, columns and edges."""
    t = trace
    reached = _ancestors(t.output)
    drawn = [n for n in t.nodes if n in reached]
    ids = {n: k for k, n in enumerate(drawn)}
    column: dict[Node, int] = {}
    for n in drawn:
        if t.info[n].kind == "input":
            column[n] = 0
        elif n.op is not None:
            column[n] = 1 + max((column[p] for p in n.parents if t.named(p)), default=0)
    for n in drawn:
        if n not in column:  # a constant, in the column before the operation it feeds
            child = next(c for c, _ in t.uses[n] if c in reached)
            column[n] = column[child] - 1
    nodes = [
        GNode(
            ids[n],
            t.info[n].kind,
            n.name,
            None if not t.named(n) else (symbol(n) if n.op is not None else n.name),
            n.data,
            column[n],
            n is t.output,
        )
        for n in drawn
    ]
    edges = [
        GEdge(ids[p], ids[n], j, p.data, t.contributions[(n, j)] if t.named(p) else None)
        for n in drawn
        for j, p in enumerate(n.parents)
    ]
    edges.append(GEdge(ids[t.output], None, 0, t.output.data, t.output.grad))
    lines = [line.strip() for line in t.expression.text.strip().splitlines()]
    shown = "; ".join(line for line in lines if line and not line.startswith("#"))
    title = shown if len(shown) <= 100 else f"the graph of {t.output.name}: {len(t.operations)} operations"
    places = len(nodes) + sum(
        nodes[e.target].column - nodes[e.source].column - 1 for e in edges if e.target is not None
    )
    if places > MAX_SLOTS:
        return GraphDiagram(nodes, edges, [], title, t.output.name, drawable=False)
    first_use = {n: min(((c.index, j) for c, j in t.uses[n] if c in reached), default=(n.index, 0)) for n in drawn}
    columns = _ordered(nodes, edges, [first_use[n] for n in drawn])
    return GraphDiagram(nodes, edges, columns, title, t.output.name)


def _ancestors(output: Node) -> set[Node]:
    """The output and every node it depends on."""
    found = {output}
    stack = [output]
    while stack:
        for p in stack.pop().parents:
            if p not in found:
                found.add(p)
                stack.append(p)
    return found


# ------------------------------------------------------------- the order --


def _ordered(nodes: list[GNode], edges: list[GEdge], first: list[tuple[int, int]]) -> list[list[Slot]]:
    """The columns' slots in an order with few crossings: the barycentre
    heuristic (each place at the mean place of its neighbours in the column
    before, then in the column after), a few sweeps, the best order kept.

    It starts from the inputs in the order they are first used and the
    rest in the order they are worked out."""
    width = 1 + max(n.column for n in nodes)
    columns: list[list[Slot]] = [[] for _ in range(width)]
    start: dict[Slot, tuple[int, int]] = {}
    for n in nodes:
        slot = Slot(n.id, None, n.column)
        columns[n.column].append(slot)
        start[slot] = first[n.id] if n.kind == "input" else (n.id, 0)
    # each slot's neighbours: (slot, operand position at the later end, operands there)
    before: dict[Slot, list[tuple[Slot, int, int]]] = {}
    after: dict[Slot, list[tuple[Slot, int, int]]] = {}
    arity = {n.id: 0 for n in nodes}
    for e in edges:
        if e.target is not None:
            arity[e.target] += 1
    for k, e in enumerate(edges):
        if e.target is None:
            continue
        path = _path(nodes, e, k)
        for slot in path[1:-1]:
            columns[slot.column].append(slot)
            start[slot] = (e.target, e.position)
        for u, v in zip(path, path[1:]):
            last = v.node is not None
            place = (e.position, arity[e.target]) if last else (0, 1)
            after.setdefault(u, []).append((v, *place))
            before.setdefault(v, []).append((u, *place))
    for column in columns:
        column.sort(key=start.__getitem__)

    at = {slot: float(k) for column in columns for k, slot in enumerate(column)}

    def sweep(order: Iterable[int], neighbours: dict[Slot, list[tuple[Slot, int, int]]], later: bool) -> None:
        for c in order:
            keys = {}
            for slot in columns[c]:
                near = neighbours.get(slot, [])
                if near:  # an edge into an operation's first operand a little above one into its second
                    keys[slot] = sum(at[s] + (0.2 * (j - (m - 1) / 2) if later else 0) for s, j, m in near) / len(near)
            for slot in columns[c]:
                if slot not in keys:  # a constant: beside the other operands of what it feeds
                    child, j, _ = after[slot][0] if slot in after else (slot, 0, 1)
                    beside = [(keys[s], i) for s, i, _ in before.get(child, []) if s in keys and s != slot]
                    keys[slot] = (
                        sum(key + (0.1 if j > i else -0.1) for key, i in beside) / len(beside) if beside else at[slot]
                    )
            columns[c].sort(key=keys.__getitem__)
            at.update((slot, float(k)) for k, slot in enumerate(columns[c]))

    best = ([list(c) for c in columns], _crossings(columns, after))
    for _ in range(SWEEPS if best[1] else 0):
        sweep(range(width - 2, -1, -1), after, True)
        sweep(range(1, width), before, False)
        found = _crossings(columns, after)
        if found < best[1]:
            best = ([list(c) for c in columns], found)
        if found == 0:
            break
    columns = best[0]
    _transpose(columns, before, after)
    return columns


def _transpose(
    columns: list[list[Slot]],
    before: dict[Slot, list[tuple[Slot, int, int]]],
    after: dict[Slot, list[tuple[Slot, int, int]]],
) -> None:
    """Swap neighbours in a column wherever that makes fewer of their edges
    cross, until no swap does (Gansner et al.'s refinement of the sweeps)."""
    at = {slot: k for column in columns for k, slot in enumerate(column)}

    def ends(slot: Slot) -> tuple[list[float], list[float]]:
        left = [float(at[s]) for s, _, _ in before.get(slot, [])]
        right = [at[s] + (j + 1) / (m + 1) for s, j, m in after.get(slot, [])]
        return left, right

    def crossed(upper: Slot, lower: Slot) -> int:
        (ul, ur), (ll, lr) = ends(upper), ends(lower)
        return sum(p > q for p in ul for q in ll) + sum(p > q for p in ur for q in lr)

    for _ in range(MAX_TRANSPOSE):
        better = False
        for column in columns:
            for k in range(len(column) - 1):
                u, v = column[k], column[k + 1]
                if crossed(v, u) < crossed(u, v):
                    column[k], column[k + 1] = v, u
                    at[u], at[v] = k + 1, k
                    better = True
        if not better:
            return


def _crossings(columns: list[list[Slot]], after: dict[Slot, list[tuple[Slot, int, int]]]) -> int:
    """How many pairs of edges cross between neighbouring columns (an edge into
    a later operand enters below one into an earlier)."""
    at = {slot: k for column in columns for k, slot in enumerate(column)}
    total = 0
    for column in columns:
        pairs = sorted((at[u], at[v] + (j + 1) / (m + 1)) for u in column for v, j, m in after.get(u, []))
        seen: list[float] = []
        for _, group in groupby(pairs, key=lambda p: p[0]):
            ys = [y for _, y in group]
            for y in ys:
                total += len(seen) - bisect_right(seen, y)
            for y in ys:
                insort(seen, y)
    return total
