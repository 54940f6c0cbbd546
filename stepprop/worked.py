"""The worked example of one training step, read off the recorded graph.

:func:`explain` walks a :class:`~stepprop.step.StepTrace` and returns a
:class:`~stepprop.expr.Document`: the forward pass, the error, every
parameter's chain rule with its factors, the delta-rule form, the update and
the error after it, in the post's order and notation.

Every formula comes from the operation's own definition (:mod:`stepprop.ops`),
printed once with symbols and once with the recorded numbers substituted;
every number is a value, a local partial, a gradient or a path share that the
engine recorded.  Each equation is a tree that evaluates to the number it
states, and the tests evaluate every one of them.

Numbers are shown as a hand calculation has them: where the terms of a sum
cancel to within floating-point rounding, the sum is 0 on paper and is shown
as 0 (see :class:`Paper`); the JSON keeps the recorded float.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, overload

from . import names as N
from . import ops, optim
from .document import Document, Eq, Item, Section, Table
from .expr import Add, Const, D, Expr, Mul, Neg, Num, Sym, Via, add, children, evaluate, mul, substitute
from .network import param_key
from .optim import ETA, SGD, G, P
from .rounding import Rounding, describe, written
from .rounding import rounder as rounder_of
from .samples import samples_text, stepwise
from .step import increment
from .words import count

if TYPE_CHECKING:
    from .engine import Node
    from .step import SampleRecord, StepTrace

NOISE = 1e-12  # a sum this much smaller than its largest term has cancelled: 0 on paper


class Paper:
    """Which recorded numbers are 0 on paper.

    A sum whose terms cancel to within their floating-point rounding
    (``0.2 * 0 + (-0.3) * 1 + 0.4 * 0.5 + 0.1 * 1`` is 2.8e-17 in floating
    point) is 0 on paper.  So is what follows from such a 0 and is 0 when
    worked out from it: ``tanh(0)``, a gradient ``delta * 0``.  A value on
    either side of a kink (ReLU's, at 0) stays as computed, because the
    derivative there depends on the side: a note says so instead."""

    def __init__(self, trace: StepTrace):
        self.trace = trace
        graph = trace.graph
        self.values: dict[Node, float] = {}  # node -> the scale of the terms that cancelled
        self.kinks: dict[Node, str] = {}  # node -> the words of the kinked op it feeds
        uses = graph.tape.consumers()
        for node in graph.tape.nodes:
            op = node.op
            if op is None:
                continue
            scale = self._cancelled(node) or self._follows(node)
            if not scale:
                continue
            kinked = [c.op for c, _ in uses.get(node, []) if c.op is not None and c.op.kink is not None]
            if kinked:
                self.kinks[node] = kinked[0].words  # shown as computed, with a note
            else:
                self.values[node] = scale
        self.partials: set[tuple[Node, int]] = set()
        for node in graph.tape.nodes:
            if node.op is not None and any(p in self.values for p in node.parents):
                paper = self._recomputed(node)
                for j, (d, z) in enumerate(zip(node.partials, paper[1])):
                    if d != 0 and z == 0:
                        self.partials.add((node, j))
        self.adjoints: list[set[Node]] = []
        self.shares: list[set[tuple[Node, int]]] = []
        for record in trace.samples:
            self._backward(record)
        self.batch: set[str] = set()
        if graph.multi:
            for name, value in trace.gradients.items():
                leaf = graph.leaves[name]
                grads = [r.adjoints[leaf] for r in trace.samples]
                zero = all(leaf in z or g == 0 for z, g in zip(self.adjoints, grads))
                total = value * len(grads) if graph.root.op.averages else value  # type: ignore[union-attr]
                if value != 0 and (zero or _cancels(total, grads)):
                    self.batch.add(name)

    def _cancelled(self, node: Node) -> float:
        """The largest term, if the node is a sum whose terms cancelled."""
        if node.op is None or not node.op.sums or node.data == 0:
            return 0.0
        terms = [d * p.data for d, p in zip(node.partials, node.parents)]
        return max(abs(t) for t in terms) if _cancels(node.data, terms) else 0.0

    def _recomputed(self, node: Node) -> tuple[float, list[float]]:
        """The node's value and partials worked out from its parents' paper values
        (by the op's own definition); nan where that cannot be worked out."""
        forward, partials = node.fns
        xs = [0.0 if p in self.values else p.data for p in node.parents]
        try:
            value = forward(xs)
            return value, partials(xs, 0.0 if node in self.values else value)
        except ArithmeticError:
            return math.nan, [math.nan] * len(node.parents)

    def _follows(self, node: Node) -> float:
        """The scale of a paper 0 this node follows from, if it is 0 worked out from it."""
        zeros = [self.values[p] for p in node.parents if p in self.values]
        if not zeros or node.data == 0:
            return 0.0
        scale = max(zeros)
        return scale if abs(node.data) <= NOISE * scale and self._recomputed(node)[0] == 0 else 0.0

    def _backward(self, record: SampleRecord) -> None:
        """The sample's adjoints and path shares that are 0 on paper, from the
        output back (its own edges only: linear in the graph).

        A 0 on paper must not carry weight: where the float noise a zero leaves
        (8e-14, say) matters to a sum that is not 0 (a gradient of 5e-7), the
        zero is shown as computed instead, and the analysis is made again."""
        adjoints, contributions = record.adjoints, record.contributions
        incoming: dict[Node, list[tuple[Node, int]]] = {}
        for child, j in contributions:
            incoming.setdefault(child.parents[j], []).append((child, j))
        # children before parents: the reverse of the recording (parameters, recorded first, last)
        order = sorted(incoming, key=lambda n: n.index if n.op is not None else -1, reverse=True)
        kept: set[Node] = set()  # adjoints shown as computed, because their noise carries weight
        while True:
            zero, shares = self._zeros(order, incoming, adjoints, contributions, kept)
            weighty = {
                child
                for node in order
                if node not in zero and adjoints.get(node, 0) != 0
                for child, j in incoming[node]
                if (child, j) in shares and abs(contributions[(child, j)]) > NOISE * abs(adjoints[node])
            }
            if not weighty - kept:
                break
            kept |= weighty
        self.adjoints.append(zero)
        self.shares.append(shares)

    def _zeros(
        self,
        order: list[Node],
        incoming: dict[Node, list[tuple[Node, int]]],
        adjoints: dict[Node, float],
        contributions: dict[tuple[Node, int], float],
        kept: set[Node],
    ) -> tuple[set[Node], set[tuple[Node, int]]]:
        zero: set[Node] = set()
        shares: set[tuple[Node, int]] = set()
        for node in order:
            paths = incoming[node]
            for child, j in paths:
                if child in zero or ((child, j) in self.partials and child not in kept):
                    shares.add((child, j))
            values = [contributions[path] for path in paths]
            nonzero = [v for v, path in zip(values, paths) if path not in shares and v != 0]
            if node in adjoints and adjoints[node] != 0 and node not in kept:
                if not nonzero or _cancels(adjoints[node], values):
                    zero.add(node)
        return zero, shares

    def value(self, node: Node) -> float:
        return 0.0 if node in self.values else node.data

    def note(self, node: Node) -> str:
        if node not in self.kinks:
            return ""
        side = "positive" if node.data > 0 else "negative"
        return f"0 on paper, but rounding leaves {node.data:.2g}, which {self.kinks[node]} takes as {side}"


def _cancels(total: float, terms: Sequence[float]) -> bool:
    biggest = max((abs(t) for t in terms), default=0.0)
    return len(terms) > 1 and total != 0 and abs(total) <= NOISE * biggest


class _Builder:
    def __init__(self, trace: StepTrace):
        self.t = trace
        self.net = trace.net
        self.g = trace.graph
        self.uses = self.g.tape.consumers()
        self._by_sample: dict[Node, dict[int | None, list[Node]]] = {}  # see consumers
        self.shown: set = set()
        self.paper = Paper(trace)
        cfg = trace.config
        self.loss = ops.loss(cfg.loss)
        # eta as the calculation used it (rounded in hand-calculation mode)
        self.eta = cfg.eta if trace.rounding is None else rounder_of(trace.rounding)(cfg.eta)
        self.output_act = ops.activation(cfg.layers[-1].activation)
        self.last = len(cfg.layers) - 1
        self.dsign = N.delta_sign(cfg)

    # -- small helpers
    def sym(self, node: Node) -> Sym:
        return N.sym_of(self.g, node)

    def node(self, s: int, base: str) -> Node:
        return self.g.by_sample[s][base]

    def num(self, node: Node) -> Num:
        return Num(self.paper.value(node))

    def local(self, child: Node, parent: Node) -> Num:
        j = child.parents.index(parent)
        return Num(0.0 if (child, j) in self.paper.partials else child.partials[j])

    def adj(self, s: int, node: Node) -> Num:
        return Num(0.0 if node in self.paper.adjoints[s] else self.t.samples[s].adjoints[node])

    def share(self, s: int, child: Node, parent: Node) -> Num:
        j = child.parents.index(parent)
        zero = (child, j) in self.paper.shares[s]
        return Num(0.0 if zero else self.t.samples[s].contributions[(child, j)])

    def gradient(self, pname: str) -> Num:
        return Num(0.0 if pname in self.paper.batch else self.t.gradients[pname])

    def updated(self, pname: str) -> Num:
        """The parameter after the update: with a gradient 0 on paper, unchanged."""
        return Num(self.t.before[pname] if pname in self.paper.batch else self.t.updated[pname])

    # -- delta in the config's convention (N.delta_sign): dE/dnet, or the error term -dE/dnet
    def as_delta(self, gradient: Expr) -> Expr:
        """delta_n written from dE_total/dnet_n (itself, or its negative)."""
        return gradient if self.dsign == 1 else Neg(gradient)

    def by_delta(self, net: Node) -> Expr:
        """dE_total/dnet_n written with delta_n: delta_n, or -delta_n."""
        return self.as_delta(N.delta_sym(self.g, net))

    def delta_num(self, s: int, net: Node) -> Num:
        """delta_n's own number."""
        return Num(self.dsign * self.adj(s, net).value)

    def by_delta_num(self, s: int, net: Node) -> Expr:
        """dE_total/dnet_n's number written with delta_n's: delta_n, or -(delta_n)."""
        return self.as_delta(self.delta_num(s, net))

    def change(self, pname: str) -> Num:
        """The parameter's change in the update: with a gradient 0 on paper, 0."""
        return Num(0.0 if pname in self.paper.batch else self.t.changes[pname])

    def consumers(self, s: int, node: Node) -> list[Node]:
        """The nodes of sample ``s`` that read ``node`` (in tape order)."""
        by_sample = self._by_sample.get(node)
        if by_sample is None:
            by_sample = self._by_sample[node] = {}
            info = self.g.info
            for c, _ in self.uses.get(node, []):
                by_sample.setdefault(info[c].sample, []).append(c)
        return by_sample.get(s, [])

    def outs_of(self, s: int, net: Node) -> list[Node]:
        """The activations that read a net input."""
        return [c for c in self.consumers(s, net) if self.g.info[c].role == "out"]

    def direct_of(self, s: int, net: Node) -> list[Node]:
        """Cross-entropy errors that take the gradient straight from the net
        input, because out is saturated (see Loss.net_inputs)."""
        return [c for c in self.consumers(s, net) if self.g.info[c].role == "error" and self.local(c, net).value != 0]

    def saturated(self, e: Node) -> bool:
        return self.loss.net_inputs(self.output_act.name) is not None and any(d != 0 for d in e.partials[2:])

    def once(self, key: object) -> bool:
        """True the first time a derivation is asked for (it is then shown)."""
        if key in self.shown:
            return False
        self.shown.add(key)
        return True

    # -- an operation's formula and derivative, from its definition
    def _args(self, node: Node, numbers: bool) -> Sequence[Expr]:
        """The node's arguments as symbols or numbers, each made when it is read
        (a derivative by one weight of a wide layer reads one of them)."""
        return _Args(node.parents, self.num if numbers else self.sym)

    def formula(self, node: Node, numbers: bool) -> Expr:
        assert node.op is not None
        return node.op.formula(self._args(node, numbers), node.attrs)

    def derivative(self, node: Node, parent: Node, numbers: bool) -> Expr:
        """d node / d parent as the op defines it (the layer's outputs given for a softmax)."""
        assert node.op is not None
        j = node.parents.index(parent)
        info = self.g.info[node]
        outs: list[Expr] | None = None
        if node.op.coupled and info.layer is not None:
            layer = self.g.by_sample[info.sample or 0]
            outs = [
                self.num(layer[f"out_{n}"]) if numbers else self.sym(layer[f"out_{n}"])
                for n in self.net.neurons[info.layer]
            ]
        out = self.num(node) if numbers else self.sym(node)
        return node.op.derivative(self._args(node, numbers), out, node.attrs, j, outs)

    def replaced(self, node: Node, parent: Node) -> tuple[Expr, str] | None:
        """A local partial the step took otherwise (a variation from outside)."""
        o = self.t.override(node, node.parents.index(parent))
        if o is None:
            return None
        own: dict[str, Expr] = {f"x{j}": self.sym(p) for j, p in enumerate(node.parents)}
        own["out"] = self.sym(node)
        return substitute(o.value, lambda leaf: own.get(leaf.ascii) if isinstance(leaf, Sym) else None), o.note

    # -- the forward pass
    def forward(self, s: int) -> list[Item]:
        items: list[Item] = []
        for li, neurons in enumerate(self.net.neurons):
            nets = [self.net_eq(self.node(s, f"net_{n}")) for n in neurons]
            outs = [self.out_eq(self.node(s, f"out_{n}"), li == self.last) for n in neurons]
            if ops.activation(self.net.config.layers[li].activation).coupled:
                items += nets + outs  # every net input before the outputs that read them all
            else:
                items += [eq for pair in zip(nets, outs) for eq in pair]
        return items

    def net_eq(self, net: Node) -> Eq:
        rhs = [self.formula(net, False), self.formula(net, True), self.num(net)]
        return Eq(self.sym(net), rhs, name=self.sym(net).ascii, note=self.paper.note(net))

    def out_eq(self, out: Node, result: bool) -> Eq:
        rhs = [self.formula(out, False), self.formula(out, True), self.num(out)]
        return Eq(self.sym(out), rhs, name=self.sym(out).ascii, result=result, note=self.paper.note(out))

    def errors(self, s: int) -> list[Item]:
        items: list[Item] = []
        es = []
        for neuron in self.net.output_names:
            e = self.node(s, f"E_{neuron}")
            es.append(e)
            items.append(
                Eq(self.sym(e), [self.formula(e, False), self.formula(e, True), self.num(e)], name=self.sym(e).ascii)
            )
        total = self.g.totals[s]
        items.append(
            Eq(
                self.sym(total),
                [add(*(self.sym(e) for e in es)), add(*(self.num(e) for e in es)), self.num(total)],
                name=self.sym(total).ascii,
                result=True,
            )
        )
        return items

    # -- the backwards pass: factor derivations, each shown once per sample
    def path_sym(self, s: int, child: Node, out: Node) -> Expr:
        """The part of dE_total/dout that flows through ``child``'s neuron.

        The post calls the part through o1 dE_o1/dout_h1, which is what it is
        when o1's error depends on out_h1 through net_o1 alone.  Where the
        outputs are coupled (softmax), or the path goes through a hidden
        neuron (there is no E_h), it is the path's share of dE_total/dout_h1:
        printed 'dE_total/dout_h1 (via o1)' under the same name."""
        name = D(N.through_sym(self.g, child), self.sym(out))
        info = self.g.info[child]
        if info.layer == self.last and not self.output_act.coupled:
            return name
        return Via(D(N.error_sym(self.g, s), self.sym(out)), info.neuron or "", name.ascii)

    def d_error_d_out(self, s: int, out: Node) -> list[Item]:
        root = N.error_sym(self.g, s)
        lhs = D(root, self.sym(out))
        if not self.once(("dE/dout", s, out)):
            return [Eq(lhs, [self.adj(s, out)], reused=True)]
        cons = self.consumers(s, out)
        if len(cons) == 1 and self.g.info[cons[0]].role == "error":
            e = cons[0]
            if self.saturated(e):
                return [
                    Eq(
                        lhs,
                        [self.adj(s, out)],
                        name=lhs.ascii,
                        note=f"{self.sym(out).ascii} is exactly {_plain(out.data)} in floating point: "
                        f"the gradient takes the direct path from the net input instead",
                    )
                ]
            return [
                Eq(
                    lhs,
                    [
                        D(self.sym(e), self.sym(out)),
                        self.derivative(e, out, False),
                        self.derivative(e, out, True),
                        self.adj(s, out),
                    ],
                    name=lhs.ascii,
                )
            ]
        # a hidden neuron: the sum over the neurons it feeds
        items: list[Item] = []
        parts = [self.path_sym(s, c, out) for c in cons]
        note = ""
        if any(isinstance(p, Via) for p in parts):
            note = "one term per path to the error"
            if self.g.info[cons[0]].layer == self.last:
                note += f": {self.output_act.words} couples the outputs, so no E_o depends on it alone"
        items.append(Eq(lhs, [add(*parts)], note=note))
        for c, part in zip(cons, parts):
            items += self.delta(s, c)
            dnet = D(self.sym(c), self.sym(out))
            replaced = self.replaced(c, out)
            factor, why = replaced if replaced is not None else (self.derivative(c, out, False), "")
            items.append(Eq(dnet, [factor, self.local(c, out)], name=dnet.ascii, note=why))
            name = part.ascii if isinstance(part, (D, Via)) else None
            items.append(
                Eq(
                    part,
                    [
                        mul(self.by_delta(c), dnet),
                        mul(self.by_delta_num(s, c), self.local(c, out)),
                        self.share(s, c, out),
                    ],
                    name=name,
                    note=f"the path through {self.g.info[c].neuron}" if isinstance(part, Via) else "",
                )
            )
        numbers = [add(*(self.share(s, c, out) for c in cons))] if len(cons) > 1 else []
        items.append(Eq(lhs, [add(*parts), *numbers, self.adj(s, out)], name=lhs.ascii, result=True))
        return items

    def d_out_d_net(self, s: int, out: Node, net: Node) -> list[Item]:
        lhs = D(self.sym(out), self.sym(net))
        if not self.once(("dout/dnet", s, out, net)):
            return [Eq(lhs, [self.local(out, net)], reused=True)]
        replaced = self.replaced(out, net)
        if replaced is not None:
            value, why = replaced
            return [Eq(lhs, [value, self.local(out, net)], name=lhs.ascii, note=why)]
        rhs = [self.derivative(out, net, False), self.derivative(out, net, True), self.local(out, net)]
        return [Eq(lhs, rhs, name=lhs.ascii)]

    def delta(self, s: int, net: Node, parts: bool = True) -> list[Item]:
        """delta_n = dE_total/dnet_n; ``parts=False`` when its factors were
        derived just before."""
        dsym = N.delta_sym(self.g, net)
        if not self.once(("delta", s, net)):
            return [Eq(dsym, [self.delta_num(s, net)], reused=True)]
        root = N.error_sym(self.g, s)
        outs = self.outs_of(s, net)
        direct = self.direct_of(s, net)
        items: list[Item] = []
        if len(outs) == 1 and not direct:
            out = outs[0]
            if parts:
                items += self.d_error_d_out(s, out)
                items += self.d_out_d_net(s, out, net)
            # the textbooks' hidden delta where delta is the error term (delta: error):
            # delta_h = (sum over k of w_kh * delta_k) * dout_h/dnet_h, as Mitchell writes it
            after = [c for c in self.consumers(s, out) if self.g.info[c].role == "net"]
            textbook: list[Expr] = []
            if self.dsign == -1 and after:
                weighted = add(*(mul(self.derivative(c, out, False), N.delta_sym(self.g, c)) for c in after))
                weighted_numbers = add(*(mul(self.local(c, out), self.delta_num(s, c)) for c in after))
                textbook = [
                    mul(weighted, D(self.sym(out), self.sym(net))),
                    mul(weighted_numbers, self.local(out, net)),
                ]
            items.append(
                Eq(
                    dsym,
                    [
                        self.as_delta(D(root, self.sym(net))),
                        self.as_delta(mul(D(root, self.sym(out)), D(self.sym(out), self.sym(net)))),
                        *(textbook or [self.as_delta(mul(self.adj(s, out), self.local(out, net)))]),
                        self.delta_num(s, net),
                    ],
                    name=dsym.ascii,
                    result=True,
                    note=self.delta_note(),
                )
            )
            return items + self.shortcut(s, net)
        # softmax: net_n reaches the error through every output of the layer
        for out in outs:
            items += self.d_error_d_out(s, out)
            items += self.d_out_d_net(s, out, net)
        paths: list[Expr] = [mul(D(root, self.sym(out)), D(self.sym(out), self.sym(net))) for out in outs]
        numbers: list[Expr] = [mul(self.adj(s, out), self.local(out, net)) for out in outs]
        for e in direct:  # saturation: the cross-entropy's direct edge, out - target
            edge = N.direct_sym(self.g, e, net)
            items.append(Eq(edge, [self.local(e, net)], note="direct, because out is saturated: out - target"))
            paths.append(edge)
            numbers.append(self.share(s, e, net))
        items.append(
            Eq(
                dsym,
                [
                    self.as_delta(D(root, self.sym(net))),
                    self.as_delta(add(*paths)),
                    self.as_delta(add(*numbers)),
                    self.delta_num(s, net),
                ],
                name=dsym.ascii,
                result=True,
                note=self.delta_note(),
            )
        )
        return items + self.shortcut(s, net)

    def delta_note(self) -> str:
        return "" if self.dsign == 1 else "delta: error, the error term: minus the gradient"

    def shortcut(self, s: int, net: Node) -> list[Item]:
        """delta_o = out_o - target_o, where the loss and the output activation
        simplify to it (softmax with cross-entropy, sigmoid with binary
        cross-entropy): shown beside the chain rule, with the same number."""
        info = self.g.info[net]
        # not where the step is varied, nor in hand-calculation mode: rounded at every
        # step, the chain rule and the shortcut part in the last digits
        if info.layer != self.last or self.t.overrides or self.t.rounding is not None:
            return []
        sample = self.g.by_sample[s]
        targets = [sample[f"target_{n}"].data for n in self.net.output_names]
        if not self.loss.shortcut(self.output_act.name, targets):
            return []
        out, target = sample[f"out_{info.neuron}"], sample[f"target_{info.neuron}"]
        words = f"{self.output_act.name} with {self.loss.name}"
        if self.dsign == -1:  # the error term: target - out
            return [
                Eq(
                    N.delta_sym(self.g, net),
                    [self.sym(target) - self.sym(out), self.num(target) - self.num(out), self.delta_num(s, net)],
                    note=f"the shortcut of {words}: target - out, the same number",
                )
            ]
        return [
            Eq(
                N.delta_sym(self.g, net),
                [self.sym(out) - self.sym(target), self.num(out) - self.num(target), self.adj(s, net)],
                note=f"the shortcut of {words}: out - target, the same number",
            )
        ]

    def param(self, s: int, pname: str) -> list[Item]:
        leaf = self.g.leaves[pname]
        p = N.param_sym(pname)
        root = N.error_sym(self.g, s)
        lhs = D(root, p)
        nets = self.consumers(s, leaf)
        items: list[Item] = []
        if len(nets) == 1:
            net = nets[0]
            outs = self.outs_of(s, net) if not self.direct_of(s, net) else []
            dnet = D(self.sym(net), p)
            factor_eq = Eq(dnet, [self.derivative(net, leaf, False), self.local(net, leaf)], name=dnet.ascii)
            if len(outs) == 1:
                out = outs[0]
                chain = [D(root, self.sym(out)), D(self.sym(out), self.sym(net)), dnet]
                items.append(Eq(lhs, [mul(*chain)]))
                items += self.d_error_d_out(s, out)
                items += self.d_out_d_net(s, out, net)
                items.append(factor_eq)
                items.append(
                    Eq(
                        lhs,
                        [
                            mul(*chain),
                            mul(self.adj(s, out), self.local(out, net), self.local(net, leaf)),
                            self.adj(s, leaf),
                        ],
                        name=lhs.ascii,
                        result=True,
                    )
                )
                items += self.delta(s, net, parts=False)
            else:
                items.append(Eq(lhs, [mul(self.by_delta(net), dnet)]))
                items += self.delta(s, net)
                items.append(factor_eq)
            items.append(self.rule(s, pname, result=len(outs) != 1))
            return items
        # a bias shared by several neurons: one path per neuron
        for net in nets:
            items += self.delta(s, net)
            if self.local(net, leaf).value != 1:  # a threshold's -1 is written out (1 goes without saying)
                dnet = D(self.sym(net), p)
                items.append(Eq(dnet, [self.derivative(net, leaf, False), self.local(net, leaf)], name=dnet.ascii))
        items.append(self.rule(s, pname, result=True))
        return items

    def rule(self, s: int, pname: str, result: bool, named: bool = True) -> Eq:
        """The delta rule: dE/dw = delta_n * (what w multiplies), dE/db = delta_n;
        for a bias that feeds several neurons, the sum over them (``named``: with
        a note that says so)."""
        leaf = self.g.leaves[pname]
        p = N.param_sym(pname)
        lhs = D(N.error_sym(self.g, s), p)
        nets = self.consumers(s, leaf)
        if len(nets) == 1:
            net = nets[0]
            dsym = self.by_delta(net)
            delta = self.by_delta_num(s, net)
            local = self.local(net, leaf)
            if net.parents.index(leaf) < net.attrs["n"] or local.value != 1:  # a weight, or a threshold's -1
                factor = self.derivative(net, leaf, False)
                rule = [mul(dsym, factor), mul(delta, local), self.adj(s, leaf)]
            else:
                rule = [dsym, self.adj(s, leaf)]
            return Eq(lhs, rule, name=lhs.ascii, note="the delta rule" if named else "", result=result)
        return Eq(
            lhs,
            [
                add(*(mul(self.by_delta(net), D(self.sym(net), p)) for net in nets)),
                add(*(mul(self.by_delta_num(s, net), self.local(net, leaf)) for net in nets)),
                self.adj(s, leaf),
            ],
            name=lhs.ascii,
            result=result,
            note=f"{pname} is shared: it feeds {', '.join(self.g.info[n].neuron or '' for n in nets)}" if named else "",
        )

    def input_gradient(self, s: int, name: str) -> Eq:
        """dE_total/di1: the shares through the net inputs that read the input,
        each delta times what the net input's derivative by the input is (its weight)."""
        x = self.node(s, name)
        nets = self.consumers(s, x)
        lhs = D(N.error_sym(self.g, s), self.sym(x))
        return Eq(
            lhs,
            [
                add(*(mul(D(N.error_sym(self.g, s), self.sym(net)), D(self.sym(net), self.sym(x))) for net in nets)),
                add(*(mul(self.by_delta(net), self.derivative(net, x, False)) for net in nets)),
                add(*(mul(self.by_delta_num(s, net), self.local(net, x)) for net in nets)),
                Num(self.t.samples[s].inputs[x]),
            ],
            name=lhs.ascii,
            result=True,
        )

    def update(self, pname: str, changes: bool = False) -> list[Item]:
        """The update of a parameter (``changes``: its change first, Delta w5)."""
        p = N.param_sym(pname)
        t = self.t
        if not self.net.params[pname].trainable:
            fixed = "not updated: the config says update_biases: false"
            unchanged: list[Item] = []
            if changes:
                unchanged.append(Eq(N.change_sym(pname), [self.change(pname)], name=N.change_name(pname), note=fixed))
            unchanged.append(Eq(p.updated(), [p, Num(t.before[pname])], name=f"{pname}+", note=fixed))
            return unchanged
        if t.optim is not None:
            return self.optimized(pname, changes)
        members = next((g for g in t.variation.pools if pname in g), (pname,))
        batch = N.batch_sym(self.g)
        grad_sym = add(*(D(batch, N.param_sym(n)) for n in members))
        grad_num = add(*(self.gradient(n) for n in members))
        rule = t.variation.update

        def written(param: Expr, grad: Expr, eta: Expr) -> Expr:
            values = {P: param, G: grad, ETA: eta}
            return substitute(rule, lambda leaf: values.get(leaf))  # type: ignore[call-overload]

        # the textbooks' form where delta is the error term: w+ = w + eta * delta * input
        # (one sample's step by the plain rule: a batch's is the mean of such terms)
        textbook = self.dsign == -1 and not self.g.multi and rule == SGD and members == (pname,)
        if textbook:
            leaf = self.g.leaves[pname]
            nets = self.consumers(0, leaf)
            by_delta = add(*(mul(N.delta_sym(self.g, n), self.derivative(n, leaf, False)) for n in nets))
            by_numbers = add(*(mul(self.delta_num(0, n), self.local(n, leaf)) for n in nets))

        items: list[Item] = []
        if changes:
            change = increment(rule)

            def part(grad: Expr, eta: Expr) -> Expr:
                values = {G: grad, ETA: eta}
                return substitute(change, lambda leaf: values.get(leaf))  # type: ignore[call-overload]

            steps = [part(grad_sym, ETA), part(grad_num, Num(self.eta))]
            if textbook:
                steps[1:] = [mul(ETA, by_delta), mul(Num(self.eta), by_numbers)]
            items.append(
                Eq(
                    N.change_sym(pname),
                    [*steps, self.change(pname)],
                    name=N.change_name(pname),
                    note="the change of the update",
                )
            )
        steps = [written(p, grad_sym, ETA), written(Num(t.before[pname]), grad_num, Num(self.eta))]
        if textbook:
            steps[1:] = [p + mul(ETA, by_delta), Num(t.before[pname]) + mul(Num(self.eta), by_numbers)]
        items.append(Eq(p.updated(), [*steps, self.updated(pname)], name=f"{pname}+", result=True))
        return items

    def optimized(self, pname: str, changes: bool = False) -> list[Item]:
        """The optimiser's update of a parameter (see stepprop.optim): each of its
        assignments with the parameter's names, then with the numbers."""
        t = self.t
        record = t.optim
        assert record is not None
        p = N.param_sym(pname)
        kind = self.net.params[pname].kind
        lines = optim.rule(record.settings, kind, record.t, t.variation.update)
        named: dict[Expr, Expr] = {optim.P: p, optim.G: D(N.batch_sym(self.g), p)}
        numbers: dict[Expr, Expr] = {optim.P: Num(t.before[pname]), optim.G: Num(t.gradients[pname])}
        numbers[optim.ETA] = Num(self.eta)
        numbers.update({optim.HYPER[h]: Num(value) for h, value in record.hyper.items()})
        for k in record.settings.state:
            named[optim.before(k)] = Sym(k, pname, "(t-1)")
            numbers[optim.before(k)] = Num(record.state_before.of(k, pname))
        for line in lines:
            if line.kind != optim.UPDATED:
                named[optim.now(line.kind)] = Sym(line.kind, pname)
                numbers[optim.now(line.kind)] = Num(record.quantities[optim.state_name(line.kind, pname)])

        def spelled(e: Expr, values: dict[Expr, Expr]) -> Expr:
            return substitute(e, lambda leaf: values.get(leaf))

        items: list[Item] = []
        for line in lines:
            if line.kind == optim.UPDATED:
                if changes:
                    change = increment(line.value)
                    items.append(
                        Eq(
                            N.change_sym(pname),
                            [spelled(change, named), spelled(change, numbers), self.change(pname)],
                            name=N.change_name(pname),
                            note="the change of the update",
                        )
                    )
                items.append(
                    Eq(
                        p.updated(),
                        [spelled(line.value, named), spelled(line.value, numbers), Num(t.updated[pname])],
                        name=f"{pname}+",
                        note=line.note,
                        result=True,
                    )
                )
            else:
                lhs = Sym(line.kind, pname)
                items.append(
                    Eq(
                        lhs,
                        [spelled(line.value, named), spelled(line.value, numbers), numbers[optim.now(line.kind)]],
                        name=lhs.ascii,
                        note=line.note,
                    )
                )
        return items

    def penalty(self, after: bool = False) -> list[Item]:
        """penalty: l2's error with the penalty, E_reg = E_total + lambda/2 *
        (w1^2 + ...), before the update (or ``after`` it, as a number)."""
        record = self.t.optim
        if record is None or record.penalized is None:
            return []
        value = Num(record.penalized[0])
        lhs = optim.PENALIZED
        if after:
            return [
                Eq(lhs, [value], name=lhs.ascii, note="the error with the L2 penalty, before the update"),
                Eq(
                    lhs.updated(),
                    [Num(record.penalized[1])],
                    name=lhs.updated().ascii,
                    result=True,
                    note="the error with the L2 penalty, after the update",
                ),
            ]
        names = optim.decayed(record.settings, {p: self.net.params[p].kind for p in record.params})
        values = self.t.before
        error = N.batch_sym(self.g)
        named = optim.penalized(error, [N.param_sym(p) for p in names])
        numbers = optim.penalized(self.num(self.g.root), [Num(values[p]) for p in names])
        numbers = substitute(numbers, lambda leaf: Num(record.hyper["lambda"]) if leaf == optim.LAMBDA else None)
        return [
            Eq(
                lhs,
                [named, numbers, value],
                name=lhs.ascii,
                result=True,
                note="the error with the L2 penalty (penalty: l2)",
            )
        ]

    def batch_gradient(self, pname: str) -> list[Item]:
        p = N.param_sym(pname)
        per = [D(N.error_sym(self.g, s), p) for s in range(len(self.g.totals))]
        lhs = D(N.batch_sym(self.g), p)
        leaf = self.g.leaves[pname]
        combine = self.batch_op
        return [
            Eq(
                lhs,
                [
                    combine.value(per, {}),
                    combine.value([self.adj(s, leaf) for s in range(len(per))], {}),
                    self.gradient(pname),
                ],
                name=lhs.ascii,
                result=True,
                note=f"the gradient of the batch error: {combine.words} over its samples",
            )
        ]

    @property
    def batch_op(self) -> ops.Op:
        """How the batch error comes from its samples' (their mean, or their sum)."""
        op = self.g.root.op
        assert op is not None
        return op

    # -- the document
    def document(
        self,
        only: Sequence[str] | None,
        samples: Sequence[int] | None = None,
        forward: bool | None = None,
        full: Sequence[int] | None = None,
        inputs: bool = False,
        changes: bool = False,
        compact: bool = False,
    ) -> Document:
        """The worked example; ``only`` these parameters' derivations, ``samples``
        (positions in the batch) only these samples' parts, ``forward`` with the
        forward pass and the error or not (by default: unless ``only``);
        ``full``: the samples whose derivations are shown step by step (by
        default all), the others' gradients by the delta rule alone;
        ``inputs``: with the gradients with respect to the inputs;
        ``changes``: with each parameter's change before its update;
        ``compact``: the derivation of one weight per layer (the first, or
        ``only``'s), every other number in the tables of the neurons and the
        parameters."""
        t = self.t
        cfg = t.config
        g = self.g
        if compact and not only:
            only = [self.net.weight_names[li][0][0] for li in range(len(cfg.layers))]
        params = t.net.chosen(only) if only != [] else []
        sections: list[Section] = []
        multi = g.multi
        labels = [f"sample {k + 1}" for k in g.sample_numbers]
        chosen = list(samples) if samples is not None else list(range(len(g.totals)))
        stepwise = set(chosen if full is None else full)
        briefly = [s for s in chosen if s not in stepwise]

        if forward if forward is not None else not only:
            fwd = Section("The forward pass")
            err = Section(ERRORS)
            for s in chosen:
                if multi:
                    fwd.items.append(Section(labels[s], self.forward(s)))
                    err.items.append(Section(labels[s], self.errors(s)))
                else:
                    fwd.items += self.forward(s)
                    err.items += self.errors(s)
            if multi:
                n = len(g.totals)
                combine = self.batch_op
                err.items.append(
                    Eq(
                        N.batch_sym(g),
                        [
                            combine.value([N.error_sym(g, s) for s in range(n)], {}),
                            combine.value([self.num(x) for x in g.totals], {}),
                            self.num(g.root),
                        ],
                        name="E",
                        result=True,
                        note=f"the batch error: {combine.words} of its samples' E_total",
                    )
                )
            err.items += self.penalty()
            sections += [fwd, err]

        back = Section("The backwards pass")
        n_layers = len(cfg.layers)
        for li in reversed(range(n_layers)):
            layer_params = [p for p in params if self.net.params[p].layer == li]
            if not layer_params:
                continue
            layer_sec = Section(N.layer_title(self.t.config, li))
            for pname in layer_params:
                par = self.net.params[pname]
                kind = "the weight" if par.kind == "weight" else "the"
                sec = Section(f"{pname}: {kind} {par.connects}")
                for s in chosen:
                    if s not in stepwise:
                        continue
                    if multi:
                        sec.items.append(Section(labels[s], self.param(s, pname)))
                    else:
                        sec.items += self.param(s, pname)
                if briefly:
                    title = f"{samples_text([g.sample_numbers[s] + 1 for s in briefly])}, by the delta rule"
                    sec.items.append(Section(title, [self.rule(s, pname, result=False, named=False) for s in briefly]))
                if multi:
                    sec.items += self.batch_gradient(pname)
                sec.items += self.update(pname, changes)
                layer_sec.items.append(sec)
            back.items.append(layer_sec)
        sections.append(back)
        if inputs:
            grads = Section("The gradients with respect to the inputs")
            for s in chosen:
                eqs: list[Item] = [self.input_gradient(s, name) for name in self.net.input_names]
                if multi:
                    grads.items.append(Section(labels[s], eqs))
                else:
                    grads.items += eqs
            sections.append(grads)

        if params:
            sections.append(self.neurons([s for s in chosen if s in stepwise]))

        rows: list[list] = []
        for pname in sorted(t.net.params if compact else params, key=param_key):
            par = self.net.params[pname]
            rows.append(
                [
                    pname,
                    par.connects,
                    Num(t.before[pname]),
                    self.gradient(pname),
                    self.updated(pname),
                    "" if par.trainable else "fixed",
                ]
            )
        grad_head = "d" + N.batch_sym(g).ascii + "/dp"
        summary = Section(
            "The updated parameters",
            [
                Table(["parameter", "connects", "before", grad_head, "after", "note"], rows),
            ],
        )
        before = N.batch_sym(g)
        summary.items.append(Eq(before, [Num(t.error)], name="error", note="the error before the update"))
        summary.items.append(
            Eq(
                before.updated(),
                [Num(t.error_after)],
                name="error_after",
                result=True,
                note="the error after the update, for the same inputs",
            )
        )
        summary.items += self.penalty(after=True)
        sections.append(summary)
        intro = self.intro()
        if briefly and params:
            shown = samples_text([g.sample_numbers[s] + 1 for s in chosen if s in stepwise])
            intro.append(
                f"the derivations are step by step for {shown}; the other samples' gradients are "
                "by the delta rule, from their recorded deltas (explain --samples all shows every "
                "sample step by step)"
            )
        doc = Document(title="One step of backpropagation", intro=intro, sections=sections, compact=compact)
        finish(doc, t.rounding)
        return doc

    def neurons(self, samples: Sequence[int]) -> Section:
        """A table per layer of every neuron's net input, output, the
        derivative of one by the other and its delta (the table courses use),
        for these samples."""
        multi = self.g.multi
        sec = Section("The neurons")
        n_layers = len(self.net.config.layers)
        for li in reversed(range(n_layers)):
            rows: list[list] = []
            for s in samples:
                for neuron in self.net.neurons[li]:
                    net, out = self.node(s, f"net_{neuron}"), self.node(s, f"out_{neuron}")
                    row: list = [str(self.g.sample_numbers[s] + 1)] if multi else []
                    row += [neuron, self.num(net), self.num(out), self.local(out, net), self.delta_num(s, net)]
                    rows.append(row)
            headers = (["sample"] if multi else []) + ["neuron", "net", "out", "dout/dnet", "delta"]
            sec.items.append(Section(N.layer_title(self.t.config, li), [Table(headers, rows)]))
        return sec

    def intro(self) -> list[str]:
        t = self.t
        cfg = t.config
        n_layers = len(cfg.layers)
        words = [ops.activation(layer.activation).words for layer in cfg.layers]
        if len(set(words)) == 1:
            acts = words[0] + (", in every layer" if n_layers > 1 else "")
        else:
            where = [N.layer_title(self.t.config, li).lower() for li in range(n_layers)]
            acts = ", ".join(f"{w} in {'' if p[-1].isdigit() else 'the '}{p}" for w, p in zip(words, where))
        lines = [
            f"network {self.net.shape} from {cfg.source}",
            f"activation: {acts}",
            f"error: {cfg.loss}, E_total = {self.loss.words}",
            f"learning rate eta = {_plain(cfg.eta)}; biases "
            + ("are updated" if cfg.update_biases else "stay fixed (update_biases: false)"),
        ]
        if self.dsign == -1:
            lines.append(
                "delta is the error term (delta: error): delta_n = -dE_total/dnet_n, at an output "
                "(target - out) times the slope; an update w - eta * dE/dw is w + eta * delta * input"
            )
        if cfg.bias_input != 1 and any(layer.bias is not None for layer in cfg.layers):
            lines.append("biases are thresholds: each multiplies a constant input of -1 (bias_input: -1)")
        n = len(cfg.samples)
        if cfg.csv is not None:
            lines.append(f"samples: {count(n, 'row')} of {cfg.csv.path}; inputs {', '.join(cfg.csv.inputs)}")
            if cfg.csv.one_hot is not None:
                lines.append(
                    f"targets: one per class of {cfg.csv.one_hot}, in sorted order: "
                    + ", ".join(f"{c} -> {name}" for c, name in zip(cfg.csv.targets, self.net.output_names))
                )
            else:
                lines.append(f"targets: {', '.join(cfg.csv.targets)}")
        if n > 1:
            batches = cfg.batches()
            lines.append(
                f"{n} samples in {count(len(batches), 'batch', 'batches')} of up to "
                f"{cfg.effective_batch_size}; this is the step on batch {t.batch_index + 1} "
                f"({samples_text([k + 1 for k in self.g.sample_numbers])})"
                + (", from the config's parameters, as if it came first" if t.batch_index else "")
            )
            if cfg.effective_batch_size > 1:
                lines.append(f"a batch's error E is {ops.reduction(cfg.batch_error).words} of its samples' E_total")
        if n_layers > 1:
            lines.append(
                "hidden-layer gradients use the weights before the update, not the updated ones: "
                "every gradient comes first"
            )
        if t.rounding is not None:
            lines.append(f"hand-calculation mode: every intermediate result is rounded to {describe(t.rounding)}")
        return lines


SHOWN_DIGITS = 9  # the digits a reader sees by default


class _Args(Sequence[Expr]):
    """A node's parents spelled as expressions, each when it is first read."""

    def __init__(self, parents: Sequence[Node], spell: Callable[[Node], Expr]):
        self.parents = parents
        self.spell = spell

    def __len__(self) -> int:
        return len(self.parents)

    @overload
    def __getitem__(self, i: int) -> Expr: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Expr]: ...

    def __getitem__(self, i: int | slice) -> Expr | Sequence[Expr]:
        if isinstance(i, slice):
            return [self.spell(p) for p in self.parents[i]]
        return self.spell(self.parents[i])


def keep_true(eq: Eq) -> None:
    """Make sure the numbers substituted into an equation show its result.

    Near the edge of floating point, 9 digits can say what the number does
    not: out = 0.99999999998611 prints as 1, and ``1 - 1`` is not what
    ``1 - out`` is.  Such a step is printed with every digit.  Where even every
    digit cannot (an output exactly 0 or 1 in floating point, whose error the
    engine works out from the net inputs), the step is left out and a note
    says why: never a line that is false as printed."""
    if len(eq.rhs) < 2 or not isinstance(eq.rhs[-1], Num):
        return
    result = eq.rhs[-1].value
    steps: list[Expr] = []
    dropped = False
    for step in eq.rhs[:-1]:
        kind = type(step)
        if kind in _LEAVES or (kind is Mul and any(type(f) in _NAMED for f in step.factors)):  # type: ignore[attr-defined]
            steps.append(step)  # a number, or a symbolic step: nothing to evaluate
            continue
        values = _factors(step)
        if values is not None:
            # a product of numbers (most chain-rule steps): 9 printed digits move it by
            # under 1e-6, unless a factor or the product is 0, infinite or subnormal
            exact = math.prod(values)  # (left to right, as evaluate)
            sizes = [abs(v) for v in values]
            if not _close(exact, result, 1e-6, max(max(sizes), abs(result))):
                dropped = True
                continue
            if len(values) <= 100 and min(sizes) > 1e-300 and max(sizes) < math.inf and 1e-300 < abs(exact) < math.inf:
                steps.append(step)
                continue
        products = _sum_of_products(step)
        if products is not None:
            # a net input with numbers (w1 * i1 + w2 * i2 + b1 * 1): the same tests
            # as below, without walking the tree three times
            terms, printed = products
            exact = _sum(math.prod(t) for t in terms)
            scale = max([abs(v) for t in terms for v in t] + [abs(result)])
            if not _close(exact, result, 1e-6, scale):
                dropped = True
                continue
            if not _close(_sum(math.prod(t) for t in printed), exact, 1e-6, scale):
                step = substitute(step, every_digit)
            steps.append(step)
            continue
        numbers = _numbers_unless_named(step)
        if numbers is None:  # a symbolic step: nothing to evaluate
            steps.append(step)
            continue
        exact = _value(step)
        scale = max([abs(n) for n in numbers] + [abs(result)])  # a sum that cancels is 0 on paper
        if not _close(exact, result, 1e-6, scale):
            dropped = True
            continue
        if not _close(_value(step, _shown), exact, 1e-6, scale):
            step = substitute(step, every_digit)
        steps.append(step)
    eq.rhs = steps + [eq.rhs[-1]]
    if dropped:
        why = (
            "not shown with numbers: in floating point they overflow, or an output is exactly 0 or 1; "
            "computed in a stable form"
        )
        eq.note = f"{eq.note}; {why}" if eq.note else why


ERRORS = "The total error"  # the title of the errors' section
_NAMED = (Sym, D, Via)
_LEAVES = (Num, Const, *_NAMED)


def finish(doc: Document, rounding: Rounding | None) -> None:
    """Every line of a worked example true as printed (more digits where 9
    would not show its result), or, by hand, every number as written down."""
    if rounding is None:
        for eq in doc.equations():
            keep_true(eq)
    else:
        _as_written(doc, rounding)


def _as_written(doc: Document, rounding: Rounding) -> None:
    """In hand-calculation mode, every number as the student writes it: rounded,
    with its trailing zeros (0.0510, not 0.051)."""

    def write(e: Expr) -> Expr | None:
        return Num(e.value, written=written(abs(e.value), rounding)) if isinstance(e, Num) else None

    for eq in doc.equations():
        eq.lhs = substitute(eq.lhs, write)
        eq.rhs = [substitute(r, write) for r in eq.rhs]

    def tables(items: Sequence[Item]) -> None:
        for item in items:
            if isinstance(item, Section):
                tables(item.items)
            elif isinstance(item, Table):
                item.rows = [[c if isinstance(c, str) else substitute(c, write) for c in row] for row in item.rows]

    tables(doc.sections)


def every_digit(e: Expr) -> Expr | None:
    return Num(e.value, exact=True) if isinstance(e, Num) else None


def _shown(x: float) -> float:
    """A number as the worked example prints it (SHOWN_DIGITS significant digits)."""
    found = _SHOWN.get(x)
    if found is None:
        if len(_SHOWN) >= 1 << 16:
            _SHOWN.clear()
        found = _SHOWN[x] = float(f"{x:.{SHOWN_DIGITS}g}")
    return found


_SHOWN: dict[float, float] = {}  # (a weight is in every sample's net input: each is rounded once)


def _value(e: Expr, number: Callable[[float], float] | None = None) -> float:
    try:
        return evaluate(e, number=number)
    except (ArithmeticError, ValueError):
        return math.nan


def _sum(values: Iterable[float]) -> float:
    """Added left to right, as :func:`~stepprop.expr.evaluate` adds."""
    total = 0.0
    for v in values:
        total += v
    return total


def _factors(e: Expr) -> list[float] | None:
    """The factors of a product of numbers; None for any other tree."""
    if type(e) is not Mul or not e.factors:
        return None
    values = [f.value for f in e.factors if type(f) is Num]
    return values if len(values) == len(e.factors) else None


def _sum_of_products(e: Expr) -> tuple[list[list[float]], list[list[float]]] | None:
    """A sum whose terms are numbers or products of numbers and literals: each
    term's factors, as recorded and as printed (a literal is exact); None for
    any other tree."""
    if type(e) is not Add:
        return None
    exact: list[list[float]] = []
    shown: list[list[float]] = []
    for term in e.terms:
        factors = term.factors if type(term) is Mul else (term,)
        values: list[float] = []
        printed: list[float] = []
        for f in factors:
            if type(f) is Num:
                values.append(f.value)
                printed.append(_shown(f.value))
            elif type(f) is Const:
                values.append(float(f.value))
                printed.append(float(f.value))
            else:
                return None
        exact.append(values)
        shown.append(printed)
    return exact, shown


def _numbers_unless_named(e: Expr) -> list[float] | None:
    """The numbers of a tree, in one walk; None if it has a named leaf."""
    found: list[float] = []
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Num):
            found.append(x.value)
        elif isinstance(x, (Sym, D, Via)):
            return None
        else:
            stack.extend(children(x))
    return found


def _close(a: float, b: float, relative: float, scale: float) -> bool:
    """Equal, to ``relative``, or to float rounding next to numbers of size ``scale``."""
    return math.isfinite(a) and (a == b or abs(a - b) <= max(relative * max(abs(a), abs(b)), 1e-12 * scale))


def _plain(x: float) -> str:
    return repr(x) if x != int(x) else str(int(x)) if abs(x) < 1e15 else repr(x)


def explain(
    trace: StepTrace,
    only: Sequence[str] | None = None,
    samples: str | int | Sequence[int] | None = None,
    *,
    inputs: bool = False,
    changes: bool = False,
    compact: bool = False,
    forward: bool = True,
) -> Document:
    """The worked example of one recorded step.

    ``samples`` (the samples' numbers, as the document labels them, or
    ``"all"``): whose derivations are shown step by step. By default every
    sample of a batch of up to :data:`~stepprop.samples.STEPWISE_SAMPLES`, and of a larger
    batch its first; the other samples' gradients are shown by the delta rule
    (one line each), so the document grows with the network, not with the
    batch times the network.  ``inputs``: with the gradients with respect to
    the inputs; ``changes``: with each parameter's change before its update;
    ``compact``: one weight's derivation per layer and the tables (see
    :meth:`_Builder.document`); ``forward``: with the forward pass and the
    error (also with ``only``)."""
    return _Builder(trace).document(
        only, full=stepwise(trace, samples), forward=forward, inputs=inputs, changes=changes, compact=compact
    )


def errors(trace: StepTrace) -> Section:
    """The worked example's section of the errors (each sample's, and a batch's)."""
    doc = _Builder(trace).document([], forward=True)
    return next(s for s in doc.sections if s.title == ERRORS)


_SAMPLE = re.compile(r"\[(\d+)\]$")
_PARAM = re.compile(r"(?:^|/d|^change_)([wb]\d+)\+?$")


def defining(trace: StepTrace, name: str) -> list[Eq]:
    """The equations of the worked example that define ``name`` (not those that
    repeat it), from only as much of the worked example as they need: one
    sample's part, one parameter's derivation (linear in the batch)."""
    return Definitions(trace)(name)


class Definitions:
    """The defining equations of names of a step's worked example, each looked
    up in only as much of it as it needs (``defining``); every part is built
    once, and the names it defines besides come free."""

    def __init__(self, trace: StepTrace):
        self.trace = trace
        self.found: dict[str, list[Eq]] = {}
        self._builder: _Builder | None = None
        self._built: set[tuple] = set()

    def __call__(self, name: str) -> list[Eq]:
        if name not in self.found:
            self._search(name)
            self.found.setdefault(name, [])
        return self.found[name]

    def _search(self, name: str) -> None:
        trace = self.trace
        g = trace.graph
        samples = None
        m = _SAMPLE.search(name)
        if m and int(m.group(1)) - 1 in g.sample_numbers:
            samples = [g.sample_numbers.index(int(m.group(1)) - 1)]
        p = _PARAM.search(name)
        only: list[str] | None = [p.group(1)] if p and p.group(1) in trace.net.params else None
        # a parameter's own name (dE/dw5, dnet_o1/dw5, w5+): its derivation; else the
        # forward pass and the errors, then every derivation (each name where it first shows)
        if only and self._part(name, only, samples, False):
            return
        if not self._part(name, [], samples, True) and not only:
            self._part(name, None, samples, False)

    def _part(self, name: str, params: list[str] | None, samples: list[int] | None, forward: bool) -> bool:
        """Build a part of the worked example (once), keep what it defines; is ``name`` among it?"""
        key = (tuple(params) if params is not None else None, tuple(samples) if samples is not None else None, forward)
        if key in self._built:
            return name in self.found
        self._built.add(key)
        if self._builder is None:
            self._builder = _Builder(self.trace)
        builder = self._builder
        builder.shown = set()  # each part shows its factors afresh
        doc = builder.document(params, samples, forward=forward, inputs=forward, changes=True)
        here: dict[str, list[Eq]] = {}
        for eq in doc.equations():
            if eq.name and not eq.reused:
                here.setdefault(eq.name, []).append(eq)
        for defined, eqs in here.items():
            self.found.setdefault(defined, eqs)  # each name from the first part that shows it
        return name in here
