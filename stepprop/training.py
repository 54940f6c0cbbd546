"""Training: the recorded graph compiled once into straight-line Python.

The recording engine builds nodes and walks them every step, which is what
makes explanations possible and training slow.  For training, the graph that
the engine recorded is turned, once, into Python source: one assignment per
node for the forward pass, one accumulation per edge for the backward pass,
every expression made from the same operation definitions
(:mod:`stepprop.ops`) the engine runs, in the same order.  So an epoch
computes the very numbers that :func:`stepprop.step.step` would, step after
step: with a hand calculation's rounding, and under a
:class:`~stepprop.step.Variation` (another update rule, replaced local
partials), too.  There is no other training loop.

A small network's epoch is inlined whole, from the graphs of all its batches.
A larger one's code is one function for a sample, made from the recorded
graph of one sample (the code grows with the parameters, not with the
samples), called with each sample's inputs and targets: the whole dataset is
never recorded.  The final outputs and errors come from that sample's forward
pass, compiled too.

The source contains only names that stepprop makes up (``v12``, ``p3``,
``x0``) and numbers that it formats with ``repr``; no text from the config
ever reaches it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, cast

from .config import Sample
from .engine import Node, Rounder
from .errors import StepPropError, TrainingDiverged
from .expr import ONE, Const, Expr, Pow, Sym, python, substitute_children, symbols
from .network import BatchGraph, Net
from .ops import NAMESPACE, reduction
from .optim import BETA1, BETA2, UPDATED, before, state_name
from .step import PLAIN, Override, Updater, Variation, reads_updated

# networks up to this many recorded nodes (all batches) are inlined whole
INLINE_NODES = 1000
CURVE_POINTS = 1000  # the loss curve keeps about this many points, whatever the epochs
STATE_HEAD = 3  # an optimiser's state list starts with t, beta_1^t, beta_2^t


class TrainResult(NamedTuple):
    epochs: int  # epochs completed
    error: float  # the last epoch's mean per-sample E_total, each before its update
    final_error: float  # mean E_total of all samples with the final parameters
    outputs: list[list[float]]
    sample_errors: list[float]
    values: dict[str, float]  # the trained parameters
    history: list[tuple[int, float]]
    interrupted: bool
    curve: list[tuple[int, float]]  # a bounded sample, for plots


class Batch(NamedTuple):
    """What a batch's samples bring to the per-sample code: each one's inputs
    and targets, as the engine records them (by hand: rounded)."""

    inputs: tuple[tuple[float, ...], ...]
    targets: tuple[tuple[float, ...], ...]

    @property
    def size(self) -> int:
        return len(self.inputs)

    @classmethod
    def given(cls, net: Net, samples: Sequence[Sample], rounder: Rounder | None) -> Batch:
        """From the config's samples, written down as a batch graph writes them."""

        def given(x: float) -> float:
            return float(rounder(x) if rounder is not None else x)

        return cls(
            tuple(tuple(given(x) for _, x in zip(net.input_names, s.inputs)) for s in samples),
            tuple(tuple(given(t) for _, t in zip(net.output_names, s.targets)) for s in samples),
        )

    @classmethod
    def recorded(cls, net: Net, graph: BatchGraph) -> Batch:
        """From a batch's recorded graph."""
        return cls(
            tuple(tuple(named[x].data for x in net.input_names) for named in graph.by_sample),
            tuple(tuple(named[f"target_{o}"].data for o in net.output_names) for named in graph.by_sample),
        )


class Program:
    """The compiled training loop of one network (all of its batches).

    ``graphs``: the recorded graph of every batch; or, with ``batches`` (each
    batch's inputs and targets), one graph of one sample, the template of the
    per-sample function (never inlined)."""

    def __init__(
        self,
        net: Net,
        graphs: list[BatchGraph],
        variation: Variation = PLAIN,
        rounder: Rounder | None = None,
        batches: list[Batch] | None = None,
    ):
        self.net = net
        self.template = graphs[0]  # its first sample's part makes the per-sample code
        self.inline = batches is None and sum(len(g.tape.nodes) for g in graphs) <= INLINE_NODES
        self.batches = batches if batches is not None else [Batch.recorded(net, g) for g in graphs]
        self.forward_pass: Callable | None = None  # the forward pass of a sample, compiled when asked for
        self.params = list(net.params)
        self.index = {name: k for k, name in enumerate(self.params)}
        self.trainable = [k for k, name in enumerate(self.params) if net.params[name].trainable]
        self.variation = variation
        self.rounder = rounder
        self.updater = Updater(net, variation, rounder)
        self.settings = net.config.optim
        self.kinds = self.settings.state  # the optimiser's state: v, m, s (see stepprop.optim)
        # its state in a list S, as the compiled code keeps it between calls: the
        # number of updates t, beta_1^t and beta_2^t, then each kind's value for each parameter
        self.state_size = STATE_HEAD + len(self.kinds) * len(self.params)
        self.state: list[float] | None = None
        self.overrides = [
            {(o.node, o.position): o for o in variation.overrides(net, g)} if variation.overrides else {}
            for g in graphs
        ]
        # partials that read updated parameters: one backward pass per layer
        dynamic = any(reads_updated(o.value) for found in self.overrides for o in found.values())
        self.passes = len(net.config.layers) if dynamic else 1
        self.source = self._source(graphs)
        self.run = cast(Callable, self._compiled(self.source, "<stepprop compiled training>")["run"])

    def _compiled(self, source: str, where: str) -> dict[str, Any]:
        space = dict(NAMESPACE)
        space["nan"] = math.nan
        if self.rounder is not None:
            space["r"] = space["hand"] = self.rounder
        exec(compile(source, where, "exec"), space)  # noqa: S102 - our own text
        return space

    # --------------------------------------------------------- spelling --
    def _r(self, text: str, rounds: bool = True) -> str:
        return f"r({text})" if self.rounder is not None and rounds else text

    def _py(self, e: Expr, spell: Callable[[Expr], str]) -> str:
        return python(e, spell, rounded=self.rounder is not None)

    def _override_spelling(
        self, node: Node, names: dict[Node, str], param: Callable[[int], str], updated: Callable[[int], str]
    ) -> Callable[[Expr], str]:
        """Spell the symbols of an override: parameters, updated parameters, and
        the node's own numbers (out, x0, x1 ...)."""
        own = {f"x{j}": names[p] for j, p in enumerate(node.parents)}
        own["out"] = names[node]

        def spell(leaf: Expr) -> str:
            assert isinstance(leaf, Sym)
            if leaf.ascii in own:
                return own[leaf.ascii]
            name = leaf.ascii.rstrip("+")
            return updated(self.index[name]) if leaf.sup == "+" else param(self.index[name])

        return spell

    def _state(self, j: int, k: int) -> str:
        """Where the compiled code keeps state kind j of parameter k: a local
        variable in an inlined epoch, the state list's entry otherwise."""
        return f"s{j}_{k}" if self.inline else f"S[{STATE_HEAD + j * len(self.params) + k}]"

    def _head(self, i: int) -> str:
        """t, beta_1^t, beta_2^t in the compiled code."""
        return ("t_", "pw1", "pw2")[i] if self.inline else f"S[{i}]"

    def _counted(self) -> list[str]:
        """The lines that count an update (before its parameters' lines): t,
        the powers of the betas (each the product of the last and beta, as
        stepprop.expr.evaluate works out a power) and the bias corrections
        1 - beta^t, which every parameter's update reads (worked out once)."""
        if not self.kinds:
            return []
        constants = self.updater.constants()  # (by hand: as written, rounded)
        lines = [f"{self._head(0)} = {self._head(0)} + 1.0"]
        for i, name in ((1, "beta_1"), (2, "beta_2")):
            if name in constants:
                lines.append(f"{self._head(i)} = {self._head(i)} * {constants[name]!r}")
                power = Sym(self._r(self._head(i)))  # (spelled as its code: _base)
                lines.append(f"c{i} = {self._py(ONE - power, _base)}")
        return lines

    def _update(self, k: int, param: str, grad: Callable[[int], str], target: str, commit: bool = True) -> list[str]:
        """Lines that leave the new value of parameter k in ``target``: the
        optimiser's assignments (see stepprop.optim), in code; ``commit``: its
        new state kept (not for a look at the updated values before the update)."""
        pname = self.params[k]
        g = self._py(self.updater.gradient_expr(pname), lambda leaf: grad(self.index[cast(Sym, leaf).ascii]))
        names = {"P": param, "G": g, "eta": repr(float(self.updater.eta)), "t": self._head(0)}
        names.update({h: repr(float(v)) for h, v in self.updater.constants().items() if h not in ("eta", "t")})
        for j, kind in enumerate(self.kinds):
            names[f"{kind}(t-1)"] = self._state(j, k)
        corrections: dict[Expr, str] = {ONE - Pow(BETA1, self.updater.t): "c1", ONE - Pow(BETA2, self.updater.t): "c2"}
        names["c1"], names["c2"] = "c1", "c2"

        def running(e: Expr) -> Expr:
            # 1 - beta^t: the bias correction _counted works out once an update (t changes from update to update)
            if e in corrections:
                return Sym(corrections[e])
            return e if isinstance(e, (Sym, Const)) else substitute_children(e, running)

        def code(e: Expr) -> str:
            return self._py(running(e), lambda leaf: names[cast(Sym, leaf).ascii])

        lines = []
        rule = self.updater.rule(pname)
        for i, line in enumerate(rule):
            if line.kind == UPDATED:
                lines.append(f"{target} = {code(line.value)}")
                continue
            local = f"q_{state_name(line.kind, str(k))}"
            now = Sym(line.kind)
            if line.kind not in self.kinds and sum(symbols(later.value).count(now) for later in rule[i + 1 :]) == 1:
                # a quantity read once (m_hat, s_hat): written where it is read, as one expression
                names[line.kind] = "(" + code(line.value) + ")"
                continue
            if commit and self.inline and line.kind in self.kinds:
                # the new state straight into its local variable, unless a later line reads the old
                old = before(line.kind)
                if not any(old in symbols(later.value) for later in rule[i + 1 :]):
                    local = self._state(self.kinds.index(line.kind), k)
            lines.append(f"{local} = {code(line.value)}")
            names[line.kind] = local
        if commit:
            lines += [
                f"{self._state(j, k)} = {names[kind]}"
                for j, kind in enumerate(self.kinds)
                if names[kind] != self._state(j, k)
            ]
        return lines

    # ------------------------------------------------------------ source --
    def _source(self, graphs: list[BatchGraph]) -> str:
        """Small networks: the whole epoch inlined, parameters in local
        variables, like a loop written by hand.  Larger ones: one function for
        a sample (the code grows with the parameters, not with the samples),
        called for each sample of each batch."""
        n_samples = sum(batch.size for batch in self.batches)
        # the epoch's error: the mean of every sample's E_total (or their sum), from its batches'
        averages = reduction(self.net.config.batch_error).averages
        inline = self.inline
        # batches of one size run the same code on their own data: one function for each size
        kinds: dict[int, int] = {}
        for batch in self.batches:
            kinds.setdefault(batch.size, len(kinds))
        lines: list[str] = []
        if not inline:
            lines += self._sample_function(self.template, "sample", self.overrides[0], dynamic=False)
            if self.passes > 1:
                lines += self._sample_function(self.template, "sample_u", self.overrides[0], dynamic=True)
            for size, kind in kinds.items():
                lines += self._batch_function(kind, size)
        params = ", ".join(f"p{k}" for k in range(len(self.params))) + ","
        # the helpers as default arguments: local variables are the fastest to read
        helpers = ", ".join(f"{name}={name}" for name in self._helpers())
        # X, T: each batch's samples' inputs and targets, as data (the inlined epoch has them as numbers)
        lines += [f"def run(P, S, X, T, first, last, curve_every, curve, every, history, {helpers}):"]
        # an inlined epoch keeps the optimiser's state in local variables too
        state = ", ".join(
            [self._head(i) for i in range(STATE_HEAD)]
            + [self._state(j, k) for j in range(len(self.kinds)) for k in range(len(self.params))]
        )
        if inline:
            lines.append(f"    {params} = P")
            lines.append(f"    {state}, = S")
        back = f"            P[:] = [{params}]; S[:] = [{state}]" if inline else "            pass"
        lines += ["    err = nan", "    for epoch in range(first, last + 1):", "        total = 0.0", "        try:"]
        if inline:
            for b, graph in enumerate(graphs):
                lines += ["            " + line for line in self._batch_inline(b, graph)]
        else:
            lines += [
                f"            total += batch{kinds[batch.size]}(P, S, X[{b}], T[{b}]){_weight(batch.size, averages)}"
                for b, batch in enumerate(self.batches)
            ]
        lines += [
            "        except (OverflowError, ZeroDivisionError):",  # a number too large: diverged
            back,
            "            return epoch, nan, True",
            f"        err = total / {n_samples}" if averages else "        err = total",
            "        if not -inf < err < inf:",
            back,
            "            return epoch, err, True",
            "        if epoch % curve_every == 0 or epoch == 1:",
            "            curve.append((epoch, err))",
            "        if every and epoch % every == 0:",
            "            history.append((epoch, err))",
        ]
        if inline:
            lines.append(f"    P[:] = [{params}]")
            lines.append(f"    S[:] = [{state}]")
        lines += ["    return last, err, False", ""]
        return "\n".join(lines)

    def _helpers(self) -> list[str]:
        return list(NAMESPACE) + (["r"] if self.rounder is not None else [])

    def _forward(self, ops: list[Node], names: dict[Node, str]) -> list[str]:
        lines = []
        for node in ops:
            assert node.op is not None
            op = node.op
            value = python((op.hand_value if self.rounder else op.value)(_args(node, names), node.attrs), _base)
            lines.append(f"{names[node]} = {self._r(value, 'value' in op.rounds)}")
        return lines

    def _backward(
        self,
        ops: list[Node],
        names: dict[Node, str],
        grads: dict[Node, str],
        started: set[str],
        overrides: dict[tuple[Node, int], Override],
        dynamic: bool,
        param: Callable[[int], str],
        updated: Callable[[int], str],
    ) -> list[str]:
        """The reverse pass: each edge's share, added in the engine's order.
        ``dynamic``: replaced partials that read updated parameters apply."""
        lines = []
        for node in reversed(ops):
            assert node.op is not None
            if grads[node] not in started:
                continue  # nothing flows into it
            if self.rounder is not None:  # a hand calculation adds up the shares, then rounds the sum
                lines.append(f"{grads[node]} = r({grads[node]})")
            op = node.op
            partials = (op.hand_partials if self.rounder else op.partials)(
                _args(node, names), Sym(names[node]), node.attrs
            )
            for j, (parent, d) in enumerate(zip(node.parents, partials)):
                if not parent.requires_grad or parent not in grads:
                    continue
                o = overrides.get((node, j))
                if o is not None and (dynamic or not reads_updated(o.value)):
                    spell = self._override_spelling(node, names, param, updated)
                    d, code = o.value, self._r(python(o.value, spell))
                else:
                    code = self._r(python(d, _base), "partials" in node.op.rounds)
                target = grads[parent]
                # g * 1.0 is g, and 0.0 + x is x: the same numbers, fewer operations
                share = grads[node] if d == Const(1.0) else self._r(f"{grads[node]} * ({code})")
                if target in started:
                    lines.append(f"{target} = {target} + {share}")
                else:
                    lines.append(f"{target} = {share}")
                    started.add(target)
        return lines

    def _rounded_sums(self, names: list[str], started: set[str]) -> list[str]:
        """A hand calculation's parameter gradients: each sum of shares, rounded once."""
        if self.rounder is None:
            return []
        return [f"{name} = r({name})" for name in names if name in started]

    def _batch_inline(self, b: int, graph: BatchGraph) -> list[str]:
        """One update on a batch, statement by statement in the tape's order."""
        names: dict[Node, str] = {}
        for k, pname in enumerate(self.params):
            names[graph.leaves[pname]] = f"p{k}"
        ops = [n for n in graph.tape.nodes if n.op is not None]
        for node in graph.tape.nodes:
            if node.op is None and node not in names:
                names[node] = repr(node.data)  # an input or a target: a constant
        for node in ops:
            names[node] = f"v{b}_{node.index}"
        lines = self._forward(ops, names)
        grads = {node: f"g{names[node]}" for node in ops}
        grads.update({graph.leaves[self.params[k]]: f"gp{k}" for k in self.trainable})
        root = graph.root

        def param(k: int) -> str:
            return f"p{k}"

        def updated(k: int) -> str:
            return f"u{k}"

        # a hand calculation of a batch combines the samples' gradients (see step.batch_gradients)
        per_sample = self.rounder is not None and graph.multi
        lines += self._counted()  # (this update's t, which a look at the updated values reads too)
        for p in range(self.passes):
            if p:  # the parameters' values after the update, for the partials that read them
                for k in self.trainable:
                    lines += self._update(k, f"p{k}", lambda i: f"gp{i}", f"u{k}", commit=False)
                lines += [f"u{k} = p{k}" for k in range(len(self.params)) if k not in self.trainable]
            if not per_sample:
                started = {grads[root]}
                lines.append(f"{grads[root]} = 1.0")
                lines += self._backward(ops, names, grads, started, self.overrides[b], p > 0, param, updated)
                lines += self._rounded_sums([f"gp{k}" for k in self.trainable], started)
                lines += [f"gp{k} = 0.0" for k in self.trainable if f"gp{k}" not in started]
                continue
            for s, total in enumerate(graph.totals):
                mine = dict(grads)
                mine.update({graph.leaves[self.params[k]]: f"gp{k}_{s}" for k in self.trainable})
                started = {mine[total]}
                lines.append(f"{mine[total]} = 1.0")
                lines += self._backward(ops, names, mine, started, self.overrides[b], p > 0, param, updated)
                lines += self._rounded_sums([f"gp{k}_{s}" for k in self.trainable], started)
                lines += [f"gp{k}_{s} = 0.0" for k in self.trainable if f"gp{k}_{s}" not in started]
            combined = self._combined(len(graph.totals))
            for k in self.trainable:
                lines.append(f"gp{k} = {self._py(combined, _sample_spelling(f'gp{k}_{{}}'))}")
        averages = reduction(self.net.config.batch_error).averages
        lines.append(f"total += {names[root]}{_weight(len(graph.totals), averages)}")
        # every parameter is updated after the backwards pass (each update reads only its own
        # parameter and gradients, so one after the other is all at once)
        for k in self.trainable:
            lines += self._update(k, f"p{k}", lambda i: f"gp{i}", f"p{k}")
        return lines

    def _sample_names(self, graph: BatchGraph) -> tuple[dict[Node, str], list[Node], int, int]:
        """The names of the first sample's quantities in its code (parameters
        p0 ..., inputs x0 ..., targets t0 ..., operations v12 ...), its
        operations in the tape's order, and its numbers of inputs and targets."""
        info = graph.info
        names: dict[Node, str] = {}
        for k, pname in enumerate(self.params):
            names[graph.leaves[pname]] = f"p{k}"
        first = graph.by_sample[0]
        inputs = [first[n] for n in self.net.input_names]
        targets = [first[f"target_{n}"] for n in self.net.output_names]
        for j, node in enumerate(inputs):
            names[node] = f"x{j}"
        for j, node in enumerate(targets):
            names[node] = f"t{j}"
        total = graph.totals[0]
        ops = [n for n in graph.tape.nodes[: total.index + 1] if n.op is not None and info[n].sample == 0]
        for node in ops:
            names[node] = f"v{node.index}"
        return names, ops, len(inputs), len(targets)

    def _sample_head(self, fname: str, arguments: str, n_inputs: int, n_targets: int) -> list[str]:
        """A sample function's first lines: its parameters, inputs and targets in local variables."""

        def one(items: list[str]) -> str:
            return ", ".join(items) + ("," if len(items) == 1 else "")

        helpers = ", ".join(f"{name}={name}" for name in self._helpers())
        return [
            f"def {fname}({arguments}, {helpers}):",
            f"    {one([f'p{k}' for k in range(len(self.params))])} = P",
            f"    {one([f'x{j}' for j in range(n_inputs)])} = X",
            f"    {one([f't{j}' for j in range(n_targets)])} = T",
        ]

    def _sample_function(
        self, graph: BatchGraph, fname: str, overrides: dict[tuple[Node, int], Override], dynamic: bool
    ) -> list[str]:
        """def sample(P, G, X, T, seed[, U]): one sample's forward and backward pass.

        Adds the sample's share of every trainable parameter's gradient to
        G and returns its E_total.  ``seed`` is d(batch error)/d E_total;
        ``U`` holds the parameters after the update (``dynamic``)."""
        names, ops, n_inputs, n_targets = self._sample_names(graph)
        total = graph.totals[0]
        lines = self._sample_head(fname, "P, G, X, T, seed, U=None", n_inputs, n_targets)
        lines += ["    " + line for line in self._forward(ops, names)]
        # backward, in the engine's order: the reverse of the recording
        grads = {node: f"g{names[node]}" for node in ops}
        # a parameter's shares go straight into G, one by one, in the engine's order
        grads.update({graph.leaves[self.params[k]]: f"G[{k}]" for k in self.trainable})
        started: set[str] = {f"G[{k}]" for k in self.trainable}
        lines.append(f"    {grads[total]} = seed")
        started.add(grads[total])
        lines += [
            "    " + line
            for line in self._backward(
                ops, names, grads, started, overrides, dynamic, lambda k: f"p{k}", lambda k: f"U[{k}]"
            )
            # a hand calculation's G holds one sample's gradients (see _gradients_by_function)
            + self._rounded_sums([f"G[{k}]" for k in self.trainable], started)
        ]
        lines.append(f"    return {names[total]}")
        lines.append("")
        return lines

    def _forward_function(self, graph: BatchGraph) -> list[str]:
        """def sample(P, X, T): one sample's forward pass, as the engine records
        it; returns its E_total and its outputs."""
        names, ops, n_inputs, n_targets = self._sample_names(graph)
        outs = [graph.by_sample[0][f"out_{n}"] for n in self.net.output_names]
        lines = self._sample_head("sample", "P, X, T", n_inputs, n_targets)
        lines += ["    " + line for line in self._forward(ops, names)]
        lines.append(f"    return {names[graph.totals[0]]}, [{', '.join(names[o] for o in outs)}]")
        lines.append("")
        return lines

    def _combined(self, size: int) -> Expr:
        """The gradient of a batch's error from its samples' gradients g0, g1, ...,
        as stepprop.step.batch_combined makes it: the batch error's own formula."""
        return reduction(self.net.config.batch_error).value([Sym(f"g{s}") for s in range(size)], {})

    def _seed(self, size: int) -> float:
        """d(batch error)/d E_total[s], the local partial the engine records for a
        batch of ``size`` samples (the same for every sample: a mean or a sum is linear)."""
        if size == 1:
            return 1.0  # the batch error is the sample's E_total
        partials = reduction(self.net.config.batch_error).compiled(size, {})[1]
        return float(partials([0.0] * size, 0.0)[0])

    def _batch_function(self, kind: int, size: int) -> list[str]:
        """def batchK(P, X, T): one update on a batch of ``size`` samples (X, T:
        their inputs and targets); returns the batch error."""
        n = len(self.params)
        calls = []
        for s in reversed(range(size)):  # the engine walks the last sample first
            calls.append((s, f"X[{s}], T[{s}]"))  # its inputs and targets, as data (Batch)
        lines = [f"def batch{kind}(P, S, X, T):"]
        lines += ["    " + line for line in self._counted()]  # (this update's t, which U reads too)
        lines += self._gradients_by_function(calls, n, size, None)
        for _ in range(self.passes - 1):
            for k in self.trainable:
                lines += ["    " + line for line in self._update(k, f"P[{k}]", lambda i: f"G[{i}]", f"u{k}", False)]
            lines.append(f"    U = [{', '.join(f'u{k}' if k in self.trainable else f'P[{k}]' for k in range(n))}]")
            lines += self._gradients_by_function(calls, n, size, "U")
        error = "e0" if size == 1 else self._py(self._combined(size), _sample_spelling("e{}"))
        lines.append(f"    error = {error}")
        for k in self.trainable:
            lines += ["    " + line for line in self._update(k, f"P[{k}]", lambda i: f"G[{i}]", f"P[{k}]")]
        lines.append("    return error")
        lines.append("")
        return lines

    def _gradients_by_function(self, calls: list[tuple[int, str]], n: int, size: int, updated: str | None) -> list[str]:
        """Lines that leave the batch gradient in G (and each E_total in e0, e1 ...):
        the sample function called for each sample, the last first, as the
        engine walks them; ``updated``: the list of updated parameters."""
        fname, extra = ("sample", "") if updated is None else ("sample_u", f", {updated}")
        if self.rounder is None or size == 1:
            seed = repr(self._seed(size))  # d E / d E_total[s]
            lines = [f"    G = [0.0] * {n}"]
            lines += [f"    e{s} = {fname}(P, G, {args}, {seed}{extra})" for s, args in calls]
            return lines
        # a hand calculation of a batch combines the samples' gradients (see step.batch_gradients)
        lines = []
        for s, args in calls:
            lines += [f"    G{s} = [0.0] * {n}", f"    e{s} = {fname}(P, G{s}, {args}, 1.0{extra})"]
        combined = self._combined(size)
        each = [self._py(combined, _sample_spelling(f"G{{}}[{k}]")) if k in self.trainable else "0.0" for k in range(n)]
        lines.append(f"    G = [{', '.join(each)}]")
        return lines

    def evaluate(self, values: list[float], batch: Batch) -> tuple[list[float], list[list[float]]]:
        """Each sample's E_total and outputs with the parameters ``values``: the
        numbers the engine's forward pass gives, from compiled code that
        records nothing."""
        if self.forward_pass is None:
            source = "\n".join(self._forward_function(self.template))
            self.forward_pass = cast(Callable, self._compiled(source, "<stepprop compiled forward pass>")["sample"])
        forward = self.forward_pass
        found = [forward(values, xs, ts) for xs, ts in zip(batch.inputs, batch.targets)]
        return [error for error, _ in found], [outs for _, outs in found]

    # ----------------------------------------------------------- running --
    def start_state(self) -> list[float]:
        """The optimiser's state before the first update: t = 0, beta^0 = 1, nothing carried."""
        return [0.0, 1.0, 1.0] + [0.0] * (self.state_size - STATE_HEAD)

    def train(
        self,
        values: list[float],
        epochs: int,
        curve_every: int,
        curve: list,
        every: int | None,
        history: list,
        progress: Callable[[int], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> tuple[int, float, bool, bool]:
        """Run up to ``epochs`` epochs on ``values`` (changed in place).

        Work goes in chunks of about a twentieth of a second, so that
        progress is shown and an interrupt is honoured between steps.
        Returns (epochs done, last epoch's error, diverged, interrupted)."""
        done, error, chunk = 0, math.nan, 1
        state = self.state if self.state is not None else self.start_state()
        self.state = state  # (the optimiser's state after training: see start_state)
        data = tuple(batch.inputs for batch in self.batches), tuple(batch.targets for batch in self.batches)
        while done < epochs:
            last = min(epochs, done + chunk)
            began = time.perf_counter()
            start = values[:]
            start_state = state[:]
            reached, error, bad = self.run(
                values, state, *data, done + 1, last, curve_every, curve, every or 0, history
            )
            per_epoch = (time.perf_counter() - began) / max(1, reached - done)
            if not bad and not all(-math.inf < v < math.inf for v in values):
                # a parameter overflowed while the error stayed finite (a dead ReLU):
                # the chunk again, an epoch at a time, finds the epoch it happened in
                values[:], state[:] = start, start_state
                for epoch in range(done + 1, reached + 1):
                    _, error, _ = self.run(values, state, *data, epoch, epoch, curve_every, [], 0, [])
                    if not all(-math.inf < v < math.inf for v in values):
                        return epoch, error, True, False
            done = reached
            if bad:
                return done, error, True, False
            if progress is not None:
                progress(done)
            if should_stop is not None and should_stop():
                return done, error, False, done < epochs
            chunk = max(1, min(100_000, int(0.05 / max(per_epoch, 1e-9))))
        return done, error, False, False


def _weight(size: int, averages: bool) -> str:
    """What a batch's error is multiplied by to add to the epoch's sum of E_total:
    its number of samples where the batch error is their mean (nothing for a sum)."""
    return f" * {size}" if averages else ""


def _args(node: Node, names: dict[Node, str]) -> list[Expr]:
    return [Sym(names[p]) for p in node.parents]


def _sample_spelling(pattern: str) -> Callable[[Expr], str]:
    """Spell batch_combined's g0, g1 ... as ``pattern`` with the sample's number."""
    return lambda leaf: pattern.format(cast(Sym, leaf).base[1:])


def _base(leaf: Expr) -> str:
    """The leaves of an op's trees are Sym(variable name) (see _args): spelled as they are."""
    return cast(Sym, leaf).base


def train(
    net: Net,
    epochs: int,
    every: int | None = None,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    variation: Variation = PLAIN,
    rounder: Rounder | None = None,
) -> TrainResult:
    """Run ``epochs`` passes over the samples, one update per batch.

    ``progress(epoch)`` is called now and then; ``should_stop()`` is asked
    between steps (an interrupt stops cleanly, never half way through an
    update).  ``rounder`` trains as a hand calculation would, rounding every
    intermediate result; ``variation`` changes the step (see
    :mod:`stepprop.step`)."""
    cfg = net.config
    if epochs < 1:
        raise StepPropError(f"epochs must be at least 1, not {epochs}")
    leaves = net.leaves()
    if rounder is not None:
        for node in leaves.values():
            node.data = rounder(node.data)
    program = _program(net, leaves, variation, rounder)
    values = [leaves[name].data for name in net.params]
    curve: list[tuple[int, float]] = []
    history: list[tuple[int, float]] = []
    done, error, diverged, interrupted = program.train(
        values, epochs, max(1, epochs // CURVE_POINTS), curve, every, history, progress, should_stop
    )
    for name, value in zip(net.params, values):
        leaves[name].data = value
    if diverged:
        param = next((name for name, v in zip(net.params, values) if not -math.inf < v < math.inf), None)
        bad = _first_bad(net, leaves, rounder) if param is None else None
        if param is not None:
            what = f"{param} became {leaves[param].data}"
        elif bad is not None:
            what = f"{bad.name} became {bad.data}"
        else:
            what = f"the error became {error}"
        raise TrainingDiverged(f"training diverged at epoch {done}: {what}; try a smaller eta (now {cfg.eta:g})")
    values_by_name = {name: node.data for name, node in leaves.items()}
    # the final parameters on every sample: the forward pass alone, nothing recorded
    errors, outputs = program.evaluate(values, Batch.given(net, cfg.samples, rounder))
    if curve and curve[-1][0] != done:
        curve.append((done, error))
    return TrainResult(
        epochs=done,
        error=error,
        final_error=math.fsum(errors) / len(errors),
        outputs=outputs,
        sample_errors=errors,
        values=values_by_name,
        history=history,
        interrupted=interrupted,
        curve=curve,
    )


def _recorded(net: Net, leaves: dict[str, Node], rounder: Rounder | None) -> Iterator[BatchGraph]:
    """The recorded graph of every batch, one after the other."""
    first = 0
    for batch in net.config.batches():
        yield net.build(batch, leaves, rounder, first)
        first += len(batch)


def _recorded_size(template: BatchGraph, sizes: list[int]) -> int:
    """How many nodes the graphs of batches of these sizes hold, from a graph of
    one sample: each holds the parameters, its samples' nodes and (for
    several samples) the batch error."""
    per_sample = len(template.sample_nodes[0])
    return sum(len(template.leaves) + size * per_sample + (size > 1) for size in sizes)


def _program(net: Net, leaves: dict[str, Node], variation: Variation, rounder: Rounder | None) -> Program:
    """The compiled loop: a small network's from the graphs of all its batches
    (its epoch is inlined), a larger one's from the graph of one sample."""
    batches = net.config.batches()
    template = net.build(batches[0][:1], leaves, rounder)
    if _recorded_size(template, [len(batch) for batch in batches]) <= INLINE_NODES:
        return Program(net, list(_recorded(net, leaves, rounder)), variation, rounder)
    given = [Batch.given(net, batch, rounder) for batch in batches]
    return Program(net, [template], variation, rounder, given)


def _first_bad(net: Net, leaves: dict[str, Node], rounder: Rounder | None) -> Node | None:
    """The first quantity that is not a finite number with the parameters'
    values in ``leaves``: the batches recorded again, one by one (training
    diverged, which is rare)."""
    try:
        for graph in _recorded(net, leaves, rounder):
            bad = graph.first_bad()
            if bad is not None:
                return bad
    except (OverflowError, ZeroDivisionError):  # a number too large to compute with
        pass
    return None
