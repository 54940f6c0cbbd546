"""A fully connected network on top of the recording engine.

``Network`` names everything the way the post does (i1, h1, o1, w1 ... w8,
b1, b2), builds the engine graph for a batch of samples, and runs training
steps.  One step's record (``StepTrace``) holds the graph with every value
and local partial, each sample's gradients and the batch gradients, the
updates and the error after them: everything ``explain`` shows is read from
it.  No click, no rich.
"""

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .config import Config, Sample, layer_prefixes
from .engine import Node, Tape
from .errors import StepPropError, TrainingDiverged

Rounder = Callable[[float], float]


class Param(NamedTuple):
    """One trainable number: a weight or a (possibly shared) bias."""

    name: str  # w5, b2
    kind: str  # "weight" or "bias"
    layer: int  # 0-based index into config.layers
    row: int | None  # the neuron it feeds (None: a bias shared by the layer)
    col: int | None  # the previous-layer neuron it comes from (weights only)
    source: str | None  # h1 for w5 (None for a bias)
    targets: tuple[str, ...]  # the neurons it feeds: (o1,) for w5, (o1, o2) for b2
    trainable: bool

    @property
    def connects(self) -> str:
        """'h1 -> o1' for a weight, 'bias of o1, o2' for a bias."""
        if self.kind == "weight":
            return f"{self.source} -> {self.targets[0]}"
        return "bias of " + ", ".join(self.targets)


def param_key(name: str) -> tuple[bool, int]:
    """Sort key: w1, w2, ..., then b1, b2, ..."""
    return (name[0] != "w", int(name[1:]))


class NodeInfo(NamedTuple):
    """What a graph node means to a reader of the post."""

    role: str  # param, input, target, net, out, error, total, batch
    base: str  # the name without a sample suffix: net_h1
    neuron: str | None = None  # h1
    layer: int | None = None  # 0-based layer of the neuron (None for inputs)
    sample: int | None = None  # 0-based index within the batch


class Network:
    """Names and parameters of a config's network."""

    def __init__(self, config: Config):
        self.config = config
        n_in = config.n_inputs
        self.input_names = [f"i{j + 1}" for j in range(n_in)]
        prefixes = layer_prefixes([layer.name for layer in config.layers])
        self.neurons: list[list[str]] = [
            [f"{prefix}{r + 1}" for r in range(layer.size)] for prefix, layer in zip(prefixes, config.layers)
        ]
        self.output_names = self.neurons[-1]
        self.params: dict[str, Param] = {}
        self.weight_names: list[list[list[str]]] = []
        self.bias_names: list[list[str] | None] = []
        self.values: dict[str, float] = {}
        k = 0
        prev = self.input_names
        for li, layer in enumerate(config.layers):
            grid = []
            for r, row in enumerate(layer.weights):
                names = []
                for c, value in enumerate(row):
                    k += 1
                    name = f"w{k}"
                    self.params[name] = Param(name, "weight", li, r, c, prev[c], (self.neurons[li][r],), True)
                    self.values[name] = value
                    names.append(name)
                grid.append(names)
            self.weight_names.append(grid)
            prev = self.neurons[li]
        k = 0
        for li, layer in enumerate(config.layers):
            if layer.bias is None:
                self.bias_names.append(None)
            elif isinstance(layer.bias, tuple):
                names = []
                for r, value in enumerate(layer.bias):
                    k += 1
                    name = f"b{k}"
                    self.params[name] = Param(
                        name, "bias", li, r, None, None, (self.neurons[li][r],), config.update_biases
                    )
                    self.values[name] = value
                    names.append(name)
                self.bias_names.append(names)
            else:
                k += 1
                name = f"b{k}"
                self.params[name] = Param(
                    name, "bias", li, None, None, None, tuple(self.neurons[li]), config.update_biases
                )
                self.values[name] = layer.bias
                self.bias_names.append([name] * layer.size)

    # ------------------------------------------------------------ shape --
    @property
    def shape(self) -> str:
        return "-".join(str(n) for n in self.config.shape)

    def param_order(self) -> list[str]:
        """Parameters in the post's order of derivation: output layer first,
        and within a layer its weights, then its biases."""
        order = []
        for li in reversed(range(len(self.config.layers))):
            order += [n for row in self.weight_names[li] for n in row]
            seen = []
            for n in self.bias_names[li] or []:
                if n not in seen:
                    seen.append(n)
            order += seen
        return order

    def layers_data(self, values: dict[str, float]) -> list[dict]:
        """Per-parameter numbers arranged in the config's shape."""
        out = []
        for li, layer in enumerate(self.config.layers):
            d: dict = {"weights": [[values[n] for n in row] for row in self.weight_names[li]]}
            names = self.bias_names[li]
            if names is not None:
                d["bias"] = [values[n] for n in names] if isinstance(layer.bias, tuple) else values[names[0]]
            out.append(d)
        return out

    def with_values(self, values: dict[str, float]) -> Config:
        """The config with these parameter values."""
        return self.config.with_parameters([(d["weights"], d.get("bias")) for d in self.layers_data(values)])

    # ------------------------------------------------------------ graph --
    def leaves(self, values: dict[str, float] | None = None) -> dict[str, Node]:
        """A fresh leaf node for every parameter."""
        values = values if values is not None else self.values
        return {name: Node(float(values[name]), name) for name in self.params}

    def build(
        self, samples: Sequence[Sample], leaves: dict[str, Node], rounder: Rounder | None = None, first_index: int = 0
    ) -> "BatchGraph":
        """Record the forward pass of ``samples`` (one batch) on a new tape."""
        return BatchGraph(self, samples, leaves, rounder, first_index)


class BatchGraph:
    """The recorded graph of one batch: every sample's forward pass and error.

    ``root`` is the batch error: E_total for one sample, else the mean of the
    samples' E_total (named E).
    """

    def __init__(
        self,
        net: Network,
        samples: Sequence[Sample],
        leaves: dict[str, Node],
        rounder: Rounder | None,
        first_index: int,
    ):
        cfg = net.config
        self.net = net
        self.tape = tape = Tape(rounder)
        self.info: dict[Node, NodeInfo] = {}
        self.leaves = leaves
        self.sample_numbers = [first_index + s for s in range(len(samples))]
        for name, node in leaves.items():
            tape.add(node)
            self.info[node] = NodeInfo("param", name)
        multi = len(samples) > 1
        self.nets_by_layer: list[list[Node]] = [[] for _ in cfg.layers]
        self.outs_by_layer: list[list[Node]] = [[] for _ in cfg.layers]
        self.by_sample: list[dict[str, Node]] = []
        self.totals: list[Node] = []
        n_layers = len(cfg.layers)
        for s, sample in enumerate(samples):
            suffix = f"[{first_index + s + 1}]" if multi else ""
            named: dict[str, Node] = {}

            def record(node: Node, info: NodeInfo, named: dict[str, Node] = named) -> Node:
                self.info[node] = info
                named[info.base] = node
                return node

            prev = []
            for _j, (name, x) in enumerate(zip(net.input_names, sample.inputs)):
                prev.append(
                    record(tape.leaf(name + suffix, x, requires_grad=False), NodeInfo("input", name, name, None, s))
                )
            for li, layer in enumerate(cfg.layers):
                nets = []
                for r, neuron in enumerate(net.neurons[li]):
                    ws = [leaves[n] for n in net.weight_names[li][r]]
                    parents = ws + prev
                    bias_names = net.bias_names[li]
                    has_bias = bias_names is not None
                    if bias_names is not None:
                        parents.append(leaves[bias_names[r]])
                    node = tape.apply("affine", parents, f"net_{neuron}{suffix}", n=len(ws), bias=has_bias)
                    nets.append(record(node, NodeInfo("net", f"net_{neuron}", neuron, li, s)))
                    self.nets_by_layer[li].append(node)
                outs = []
                for r, neuron in enumerate(net.neurons[li]):
                    if layer.activation == "softmax":
                        node = tape.apply("softmax", nets, f"out_{neuron}{suffix}", k=r)
                    else:
                        node = tape.apply(layer.activation, [nets[r]], f"out_{neuron}{suffix}")
                    outs.append(record(node, NodeInfo("out", f"out_{neuron}", neuron, li, s)))
                    self.outs_by_layer[li].append(node)
                prev = outs
            errors = []
            n_out = len(prev)
            for r, (neuron, out, t) in enumerate(zip(net.output_names, prev, sample.targets)):
                target = record(
                    tape.leaf(f"target_{neuron}{suffix}", t, requires_grad=False),
                    NodeInfo("target", f"target_{neuron}", neuron, n_layers - 1, s),
                )
                parents = [out, target]
                attrs: dict = {"n": n_out}
                act = cfg.layers[-1].activation
                last_nets = self.nets_by_layer[-1][-n_out:]
                # see the ops: a cross-entropy's value and saturated gradient come from the net inputs
                if cfg.loss == "cross_entropy":
                    parents += last_nets if act == "softmax" else [last_nets[r]]
                    attrs = {"n": n_out, "act": act, "k": r}
                elif cfg.loss == "binary_cross_entropy" and act == "sigmoid":
                    parents.append(last_nets[r])
                node = tape.apply(cfg.loss, parents, f"E_{neuron}{suffix}", **attrs)
                errors.append(record(node, NodeInfo("error", f"E_{neuron}", neuron, n_layers - 1, s)))
            total = tape.apply("sum", errors, f"E_total{suffix}")
            self.totals.append(record(total, NodeInfo("total", "E_total", None, None, s)))
            self.by_sample.append(named)
        if multi:
            self.root = tape.apply("mean", self.totals, "E")
            self.info[self.root] = NodeInfo("batch", "E")
        else:
            self.root = self.totals[0]

    @property
    def multi(self) -> bool:
        return len(self.totals) > 1

    def outputs(self) -> list[list[float]]:
        return [[named[f"out_{n}"].data for n in self.net.output_names] for named in self.by_sample]

    def first_bad(self) -> Node | None:
        """The first node (in order of computation) whose value is not finite."""
        for node in self.tape.nodes:
            if not math.isfinite(node.data):
                return node
        return None


# --------------------------------------------------------------- rounding --


def decimal_rounder(decimals: int) -> Rounder:
    """Round to ``decimals`` places, half away from zero, as on paper
    (0.0190491185 -> 0.019049119), working on the decimal digits Python prints."""
    from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

    quantum = Decimal(1).scaleb(-decimals)
    context = Context(prec=80)

    def rounder(x: float) -> float:
        if not math.isfinite(x):
            return x
        try:
            return float(Decimal(repr(x)).quantize(quantum, rounding=ROUND_HALF_UP, context=context))
        except InvalidOperation:  # too large to hold that many decimals: already coarser
            return x

    return rounder


# --------------------------------------------------------------- one step --


class Rule(NamedTuple):
    """How a step turns gradients into updates.

    The default is the procedure of the post.  The other settings reproduce
    mistakes people make by hand, so that ``stepprop check`` can re-run a
    calculation the way a student did it:

    * ``sign=-1``: the gradient is added instead of subtracted;
    * ``use_eta=False``: the learning rate is forgotten;
    * ``updated_downstream``: hidden-layer deltas use the next layer's
      already-updated weights;
    * ``skip_activation``: layers (0-based) whose activation derivative is
      left out of the deltas (taken as 1);
    * ``pooled_biases``: layers whose per-neuron biases are treated as one
      shared bias (each gets the sum of the layer's bias gradients);
    * ``transposed_backward``: (square) layers whose weights the backwards
      pass reads with rows and columns swapped (dnet_o2/dout_h1 taken as w6
      instead of w7).
    """

    sign: float = 1.0
    use_eta: bool = True
    updated_downstream: bool = False
    skip_activation: frozenset[int] = frozenset()
    pooled_biases: frozenset[int] = frozenset()
    transposed_backward: frozenset[int] = frozenset()

    @property
    def is_default(self) -> bool:
        return self == Rule()


EXACT = Rule()


class SampleRecord(NamedTuple):
    """One sample's part of a step: its adjoints (d E_total / d node) and the
    share of each path (child, position) -> number, as the engine summed them."""

    adjoints: dict[Node, float]
    contributions: dict[tuple[Node, int], float]


class StepTrace(NamedTuple):
    """Everything about one training step on one batch."""

    net: Network
    graph: BatchGraph  # values and local partials before the update
    samples: list[SampleRecord]
    gradients: dict[str, float]  # d(batch error)/d p
    before: dict[str, float]  # parameter values before the update
    updated: dict[str, float]  # after the update (unchanged when not trainable)
    error: float
    error_after: float
    after: BatchGraph  # the same batch, forward only, with the updated parameters
    batch_index: int = 0
    rounding: int | None = None
    rule: Rule = EXACT

    @property
    def config(self) -> Config:
        return self.net.config


def _check_finite(graph: BatchGraph, what: str) -> None:
    bad = graph.first_bad()
    if bad is not None:
        raise TrainingDiverged(f"{bad.name} is {bad.data} {what}; the numbers of this config overflow")


class _Updater:
    """Turns gradients into new parameter values under a rule (and rounding)."""

    def __init__(self, net: Network, rule: Rule, rounder: Rounder | None):
        cfg = net.config
        self.rule = rule
        self.rounder = rounder
        self.scale = (cfg.eta if rule.use_eta else 1.0) * rule.sign
        self.trainable = [name for name, p in net.params.items() if p.trainable]
        self.pools: list[list[str]] = []
        for li in rule.pooled_biases:
            names = net.bias_names[li]
            if names is not None and len(set(names)) > 1:
                self.pools.append(names)

    def gradients(self, grads: dict[str, float]) -> dict[str, float]:
        if not self.pools:
            return grads
        grads = dict(grads)
        for names in self.pools:
            total = math.fsum(grads[n] for n in names)
            for n in names:
                grads[n] = total
        return grads

    def new_value(self, value: float, grad: float) -> float:
        r = self.rounder
        if r is None:
            return value - self.scale * grad
        return r(value - r(self.scale * grad))

    def updated(self, before: dict[str, float], grads: dict[str, float]) -> dict[str, float]:
        out = dict(before)
        for name in self.trainable:
            out[name] = self.new_value(before[name], grads[name])
        return out


def _apply_rule(net: Network, graph: BatchGraph, updater: _Updater) -> None:
    """Patch the recorded local partials so that the backward pass follows the
    rule: an activation derivative left out, or downstream weights already
    updated.  Call after every forward pass (which recomputes the partials)."""
    rule = updater.rule
    for li in rule.skip_activation:
        for node in graph.outs_by_layer[li]:
            k = node.attrs.get("k")
            node.partials = [1.0 if (k is None or j == k) else 0.0 for j in range(len(node.parents))]
    for li in rule.transposed_backward:
        grid = net.weight_names[li]
        for node in graph.nets_by_layer[li]:
            r = grid.index([p.name for p in node.parents[: node.attrs["n"]]])
            n = node.attrs["n"]
            for j in range(n):
                node.partials[n + j] = graph.leaves[grid[j][r]].data
    if not rule.updated_downstream:
        return
    tape = graph.tape
    for li in reversed(range(1, len(net.config.layers))):
        tape.backward(graph.root)
        names = [n for row in net.weight_names[li] for n in row]
        grads = updater.gradients({n: graph.leaves[n].grad for n in net.params})
        new = {n: updater.new_value(graph.leaves[n].data, grads[n]) for n in names}
        for node in graph.nets_by_layer[li]:
            n = node.attrs["n"]
            for j in range(n):
                node.partials[n + j] = new[node.parents[j].name]


def step(
    net: Network, batch_index: int = 0, rounder: Rounder | None = None, rounding: int | None = None, rule: Rule = EXACT
) -> StepTrace:
    """One training step on batch ``batch_index`` of the config, fully recorded."""
    cfg = net.config
    batches = cfg.batches()
    if not 0 <= batch_index < len(batches):
        count = len(batches)
        raise StepPropError(
            f"there {'are' if count != 1 else 'is'} {count} batch{'es' if count != 1 else ''}; "
            f"batch {batch_index + 1} does not exist"
        )
    first = batch_index * cfg.effective_batch_size
    leaves = net.leaves()
    if rounder is not None:
        for node in leaves.values():
            node.data = rounder(node.data)
    try:
        graph = net.build(batches[batch_index], leaves, rounder, first)
    except (OverflowError, ZeroDivisionError):
        raise TrainingDiverged(
            "a number of this config is too large to compute with (floating-point overflow); "
            "check the weights and inputs"
        ) from None
    _check_finite(graph, "in the forward pass")
    updater = _Updater(net, rule, rounder)
    _apply_rule(net, graph, updater)
    tape = graph.tape
    records = []
    for total in graph.totals:
        contributions: dict[tuple[Node, int], float] = {}
        tape.backward(total, contributions)
        records.append(SampleRecord({n: n.grad for n in tape.nodes if n.requires_grad}, contributions))
    tape.backward(graph.root)
    gradients = {name: leaves[name].grad for name in net.params}
    for name, value in gradients.items():
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"the gradient dE/d{name} is {value}: the numbers of this config overflow in "
                "the backwards pass; try smaller weights or inputs"
            )
    before = {name: leaves[name].data for name in net.params}
    updated = updater.updated(before, updater.gradients(gradients))
    after = net.build(batches[batch_index], net.leaves(updated), rounder, first)
    return StepTrace(
        net,
        graph,
        records,
        gradients,
        before,
        updated,
        graph.root.data,
        after.root.data,
        after,
        batch_index,
        rounding,
        rule,
    )


# --------------------------------------------------------------- training --

CURVE_POINTS = 1000  # the loss curve keeps about this many points, whatever the epochs


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


def train(
    net: Network,
    epochs: int,
    every: int | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 0,
    should_stop: Callable[[], bool] | None = None,
    rule: Rule = EXACT,
    rounder: Rounder | None = None,
    compiled: bool = True,
) -> TrainResult:
    """Run ``epochs`` passes over the samples, one update per batch.

    The exact procedure runs as straight-line code compiled from the recorded
    graph (:mod:`stepprop.compiled`); rounding, a mistake's rule, or
    ``compiled=False`` run on the recording engine itself.  ``progress(epoch)``
    is called now and then; ``should_stop()`` is asked between steps (an
    interrupt stops cleanly, never half way through an update).
    """
    cfg = net.config
    if epochs < 1:
        raise StepPropError(f"epochs must be at least 1, not {epochs}")
    leaves = net.leaves()
    if rounder is not None:
        for node in leaves.values():
            node.data = rounder(node.data)
    graphs = []
    first = 0
    for batch in cfg.batches():
        graphs.append(net.build(batch, leaves, rounder, first))
        first += len(batch)
    trainable = [leaves[n] for n, p in net.params.items() if p.trainable]
    eta = cfg.eta
    if compiled and rule.is_default and rounder is None:
        return _train_compiled(net, graphs, leaves, epochs, every, progress, should_stop)
    fast = rule.is_default and rounder is None
    updater = _Updater(net, rule, rounder)
    n_samples = len(cfg.samples)
    history: list[tuple[int, float]] = []
    curve: list[tuple[int, float]] = []
    curve_every = max(1, epochs // CURVE_POINTS)
    error = math.nan
    done = 0
    interrupted = False
    for epoch in range(1, epochs + 1):
        total = 0.0
        try:
            for graph in graphs:
                tape = graph.tape
                tape.forward()
                total += graph.root.data * len(graph.totals)
                if fast:
                    tape.backward(graph.root)
                    for node in trainable:
                        node.data -= eta * node.grad
                    continue
                _apply_rule(net, graph, updater)
                tape.backward(graph.root)
                grads = updater.gradients({n: leaves[n].grad for n in net.params})
                for node in trainable:
                    node.data = updater.new_value(node.data, grads[node.name])
        except (OverflowError, ZeroDivisionError):  # a number too large: diverged
            total = math.nan
        error = total / n_samples
        if not math.isfinite(error) or not all(math.isfinite(n.data) for n in trainable):
            bad = next((g.first_bad() for g in graphs if g.first_bad() is not None), None)
            what = f"{bad.name} became {bad.data}" if bad is not None else "a parameter became infinite"
            raise TrainingDiverged(f"training diverged at epoch {epoch}: {what}; try a smaller eta (now {eta:g})")
        done = epoch
        if every and epoch % every == 0:
            history.append((epoch, error))
        if epoch % curve_every == 0 or epoch == 1:
            curve.append((epoch, error))
        if progress is not None and progress_every and epoch % progress_every == 0:
            progress(epoch)
        if should_stop is not None and should_stop():
            interrupted = epoch < epochs
            break
    return _result(net, leaves, done, error, history, curve, interrupted, rounder)


def _train_compiled(
    net: Network,
    graphs: list[BatchGraph],
    leaves: dict[str, Node],
    epochs: int,
    every: int | None,
    progress: Callable[[int], None] | None,
    should_stop: Callable[[], bool] | None,
) -> TrainResult:
    from .compiled import Program

    program = Program(net, graphs)
    values = [leaves[name].data for name in net.params]
    curve: list[tuple[int, float]] = []
    history: list[tuple[int, float]] = []
    done, error, diverged, interrupted = program.train(
        values, epochs, max(1, epochs // CURVE_POINTS), curve, every, history, progress, should_stop
    )
    for name, value in zip(net.params, values):
        leaves[name].data = value
    if diverged:
        for graph in graphs:
            graph.tape.forward()
        bad = next((g.first_bad() for g in graphs if g.first_bad() is not None), None)
        what = f"{bad.name} became {bad.data}" if bad is not None else f"the error became {error}"
        raise TrainingDiverged(f"training diverged at epoch {done}: {what}; try a smaller eta (now {net.config.eta:g})")
    return _result(net, leaves, done, error, history, curve, interrupted)


def _result(
    net: Network,
    leaves: dict[str, Node],
    done: int,
    error: float,
    history: list,
    curve: list,
    interrupted: bool,
    rounder: Rounder | None = None,
) -> TrainResult:
    values = {name: node.data for name, node in leaves.items()}
    final = net.build(net.config.samples, net.leaves(values), rounder)
    errors = [t.data for t in final.totals]
    if curve and curve[-1][0] != done:
        curve.append((done, error))
    return TrainResult(
        epochs=done,
        error=error,
        final_error=math.fsum(errors) / len(errors),
        outputs=final.outputs(),
        sample_errors=errors,
        values=values,
        history=history,
        interrupted=interrupted,
        curve=curve,
    )
