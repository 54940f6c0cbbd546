"""Training at the speed of hand-written Python: the recorded graph compiled once.

The recording engine builds nodes and walks them every step, which is what
makes explanations possible and training slow.  For training, the graph that
the engine recorded for one sample is turned, once, into straight-line Python
source: one assignment per node for the forward pass, one accumulation per
edge for the backward pass, every expression taken from the same
:class:`~stepprop.engine.Op` definitions the engine evaluates, in the same
order.  So the compiled step computes the very numbers the engine would.

The source contains only names that stepprop makes up (``v12``, ``p3``,
``x0``) and numbers that it formats with ``repr``; no text from the config
ever reaches it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from .engine import NAMESPACE, Node

if TYPE_CHECKING:
    from .network import BatchGraph, Network


# networks up to this many recorded nodes (all batches) are inlined whole
INLINE_NODES = 1000


class Program:
    """The compiled training loop of one network (all of its batches)."""

    def __init__(self, net: Network, graphs: list[BatchGraph]):
        self.net = net
        self.params = list(net.params)
        self.trainable = [k for k, name in enumerate(self.params) if net.params[name].trainable]
        self.source = self._source(graphs)
        space = dict(NAMESPACE)
        space["nan"] = math.nan
        exec(compile(self.source, "<stepprop compiled training>", "exec"), space)  # noqa: S102 - our own text
        self.run = cast(Callable, space["run"])

    # ------------------------------------------------------------ source --
    def _source(self, graphs: list[BatchGraph]) -> str:
        """Small networks: the whole epoch inlined, parameters in local
        variables, like a loop written by hand.  Larger ones: one function for
        a sample (the code grows with the parameters, not with the samples),
        called for each sample of each batch."""
        n_samples = sum(len(g.totals) for g in graphs)
        eta = repr(float(self.net.config.eta))
        size = sum(len(g.tape.nodes) for g in graphs)
        inline = size <= INLINE_NODES
        lines: list[str] = []
        if not inline:
            lines += self._sample_function(graphs[0])
            for b, graph in enumerate(graphs):
                lines += self._batch_function(b, graph, eta)
        params = ", ".join(f"p{k}" for k in range(len(self.params))) + ","
        # the helpers as default arguments: local variables are the fastest to read
        helpers = ", ".join(f"{name}={name}" for name in NAMESPACE)
        lines += [f"def run(P, first, last, curve_every, curve, every, history, {helpers}):"]
        if inline:
            lines.append(f"    {params} = P")
        back = f"            P[:] = [{params}]" if inline else "            pass"
        lines += ["    err = nan", "    for epoch in range(first, last + 1):", "        total = 0.0", "        try:"]
        for b, graph in enumerate(graphs):
            if inline:
                lines += ["            " + line for line in self._batch_inline(b, graph, eta)]
            else:
                lines.append(f"            total += batch{b}(P) * {len(graph.totals)}")
        lines += [
            "        except (OverflowError, ZeroDivisionError):",  # a number too large: diverged
            back,
            "            return epoch, nan, True",
            f"        err = total / {n_samples}",
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
        lines += ["    return last, err, False", ""]
        return "\n".join(lines)

    def _batch_inline(self, b: int, graph: BatchGraph, eta: str) -> list[str]:
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
        lines = []
        for node in ops:
            assert node.op is not None
            lines.append(f"{names[node]} = {node.op.value([names[p] for p in node.parents], node.attrs)}")
        grads = {node: f"g{names[node]}" for node in ops}
        grads.update({graph.leaves[self.params[k]]: f"gp{k}" for k in self.trainable})
        started: set[str] = set()
        root = graph.root
        lines.append(f"{grads[root]} = 1.0")
        started.add(grads[root])
        lines += self._backward(ops, names, grads, started)
        lines.append(f"total += {names[root]} * {len(graph.totals)}")
        for k in self.trainable:
            if f"gp{k}" in started:
                lines.append(f"p{k} -= {eta} * gp{k}")
        return lines

    def _backward(
        self, ops: list[Node], names: dict[Node, str], grads: dict[Node, str], started: set[str]
    ) -> list[str]:
        """The reverse pass: each edge's share, added in the engine's order."""
        lines = []
        for node in reversed(ops):
            assert node.op is not None
            if grads[node] not in started:
                continue  # nothing flows into it
            partials = node.op.partials([names[p] for p in node.parents], names[node], node.attrs)
            for parent, d in zip(node.parents, partials):
                if not parent.requires_grad or parent not in grads:
                    continue
                target = grads[parent]
                # g * 1.0 is g, and 0.0 + x is x: the same numbers, fewer operations
                share = grads[node] if d == "1.0" else f"{grads[node]} * ({d})"
                if target in started:
                    lines.append(f"{target} = {target} + {share}")
                else:
                    lines.append(f"{target} = {share}")
                    started.add(target)
        return lines

    def _sample_function(self, graph: BatchGraph) -> list[str]:
        """def sample(P, G, X, T, seed): one sample's forward and backward pass.

        Adds the sample's share of every trainable parameter's gradient to
        G and returns its E_total.  ``seed`` is d(batch error)/d E_total."""
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

        def one(items: list[str]) -> str:
            return ", ".join(items) + ("," if len(items) == 1 else "")

        helpers = ", ".join(f"{name}={name}" for name in NAMESPACE)
        lines = [
            f"def sample(P, G, X, T, seed, {helpers}):",
            f"    {one([f'p{k}' for k in range(len(self.params))])} = P",
            f"    {one([f'x{j}' for j in range(len(inputs))])} = X",
            f"    {one([f't{j}' for j in range(len(targets))])} = T",
        ]
        for node in ops:
            assert node.op is not None
            args = [names[p] for p in node.parents]
            lines.append(f"    {names[node]} = {node.op.value(args, node.attrs)}")
        # backward, in the engine's order: the reverse of the recording
        grads = {node: f"g{names[node]}" for node in ops}
        # a parameter's shares go straight into G, one by one, in the engine's order
        grads.update({graph.leaves[self.params[k]]: f"G[{k}]" for k in self.trainable})
        started: set[str] = {f"G[{k}]" for k in self.trainable}
        lines.append(f"    {grads[total]} = seed")
        started.add(grads[total])
        lines += ["    " + line for line in self._backward(ops, names, grads, started)]
        lines.append(f"    return {names[total]}")
        lines.append("")
        return lines

    def _batch_function(self, b: int, graph: BatchGraph, eta: str) -> list[str]:
        """def batchB(P): one update on batch B; returns the batch error."""
        net = self.net
        size = len(graph.totals)
        seed = "1.0" if size == 1 else repr(1.0 * (1.0 / size))
        lines = [f"def batch{b}(P):", f"    G = [0.0] * {len(self.params)}"]
        for s in reversed(range(size)):  # the engine walks the last sample first
            named = graph.by_sample[s]
            xs = ", ".join(repr(named[n].data) for n in net.input_names) + ","
            ts = ", ".join(repr(named[f"target_{n}"].data) for n in net.output_names) + ","
            lines.append(f"    e{s} = sample(P, G, ({xs}), ({ts}), {seed})")
        error = "e0" if size == 1 else f"({' + '.join(f'e{s}' for s in range(size))}) / {size}"
        lines.append(f"    error = {error}")
        for k in self.trainable:
            lines.append(f"    P[{k}] -= {eta} * G[{k}]")
        lines.append("    return error")
        lines.append("")
        return lines

    # ----------------------------------------------------------- running --
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
        while done < epochs:
            last = min(epochs, done + chunk)
            began = time.perf_counter()
            reached, error, bad = self.run(values, done + 1, last, curve_every, curve, every or 0, history)
            per_epoch = (time.perf_counter() - began) / max(1, reached - done)
            done = reached
            if bad:
                return done, error, True, False
            if progress is not None:
                progress(done)
            if should_stop is not None and should_stop():
                return done, error, False, done < epochs
            chunk = max(1, min(100_000, int(0.05 / max(per_epoch, 1e-9))))
        return done, error, False, False
