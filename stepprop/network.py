"""A fully connected network as a recorded graph.

:class:`Net` names everything the way the post does (i1, h1, o1, w1 ... w8,
b1, b2) and builds the engine graph of a batch of samples
(:class:`BatchGraph`): every sample's forward pass and error, each node
labelled with what it means to a reader.  Steps and training live in
:mod:`stepprop.step` and :mod:`stepprop.training`.  No click, no rich.
"""

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from . import ops
from .config import Config, Sample, layer_prefixes
from .engine import Node, Rounder, Tape


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


class Net:
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
        values: dict[str, float] = {}
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
                    values[name] = value
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
                    values[name] = value
                    names.append(name)
                self.bias_names.append(names)
            else:
                k += 1
                name = f"b{k}"
                self.params[name] = Param(
                    name, "bias", li, None, None, None, tuple(self.neurons[li]), config.update_biases
                )
                values[name] = layer.bias
                self.bias_names.append([name] * layer.size)

        # read-only: the values are the config's (a changed network is a new one: with_values)
        self.values: Mapping[str, float] = MappingProxyType(values)

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

    def chosen(self, only: Sequence[str] | None) -> list[str]:
        """The parameters to derive, in the post's order (``only`` those; an
        unknown name is an error that suggests the nearest)."""
        from .config import suggest
        from .errors import StepPropError

        order = self.param_order()
        if not only:
            return order
        for name in only:
            if name not in self.params:
                raise StepPropError(
                    f"this network has no parameter '{name}'{suggest(name, order)}; "
                    f"its parameters are {', '.join(sorted(order, key=param_key))}"
                )
        return [p for p in order if p in only]

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
    def leaves(self, values: Mapping[str, float] | None = None) -> dict[str, Node]:
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
    samples' E_total (named E), or their sum (``batch_error: sum``).
    """

    def __init__(
        self,
        net: Net,
        samples: Sequence[Sample],
        leaves: dict[str, Node],
        rounder: Rounder | None,
        first_index: int,
    ):
        cfg = net.config
        self.net = net
        self.tape = tape = Tape(rounder)
        self.info: dict[Node, NodeInfo] = {}
        self.symbols: dict[Any, Any] = {}  # each node's symbol (and delta's), once made (stepprop.names)
        self.bare: dict[Node, tuple[str, str]] = {}  # and its name without the sample mark
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

        def given(x: float) -> float:
            """An input or a target, as a hand calculation (``rounder``) writes it down."""
            return rounder(x) if rounder is not None else x

        self.sample_nodes: list[list[Node]] = []  # each sample's own nodes, in tape order
        for s, sample in enumerate(samples):
            start = len(tape.nodes)
            suffix = f"[{first_index + s + 1}]" if multi else ""
            named: dict[str, Node] = {}

            def record(node: Node, info: NodeInfo, named: dict[str, Node] = named) -> Node:
                self.info[node] = info
                named[info.base] = node
                return node

            prev = []
            for _j, (name, x) in enumerate(zip(net.input_names, sample.inputs)):
                prev.append(
                    record(
                        tape.leaf(name + suffix, given(x), requires_grad=False), NodeInfo("input", name, name, None, s)
                    )
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
                    attrs: dict[str, Any] = {"n": len(ws), "bias": has_bias}
                    if has_bias and cfg.bias_input != 1:
                        attrs["bias_input"] = cfg.bias_input
                    node = tape.apply("affine", parents, f"net_{neuron}{suffix}", **attrs)
                    nets.append(record(node, NodeInfo("net", f"net_{neuron}", neuron, li, s)))
                    self.nets_by_layer[li].append(node)
                outs = []
                act = ops.activation(layer.activation)
                act_attrs = act.attrs_of(cfg)  # its parameters (leaky_relu's slope), if any
                for r, neuron in enumerate(net.neurons[li]):
                    if act.coupled:
                        node = tape.apply(act, nets, f"out_{neuron}{suffix}", k=r)
                    else:
                        node = tape.apply(act, [nets[r]], f"out_{neuron}{suffix}", **act_attrs)
                    outs.append(record(node, NodeInfo("out", f"out_{neuron}", neuron, li, s)))
                    self.outs_by_layer[li].append(node)
                prev = outs
            errors = []
            n_out = len(prev)
            loss = ops.loss(cfg.loss)
            takes = loss.net_inputs(cfg.layers[-1].activation)  # see Loss.net_inputs
            for r, (neuron, out, t) in enumerate(zip(net.output_names, prev, sample.targets)):
                target = record(
                    tape.leaf(f"target_{neuron}{suffix}", given(t), requires_grad=False),
                    NodeInfo("target", f"target_{neuron}", neuron, n_layers - 1, s),
                )
                parents = [out, target]
                last_nets = self.nets_by_layer[-1][-n_out:]
                if takes == "layer":
                    parents += last_nets
                elif takes == "own":
                    parents.append(last_nets[r])
                node = tape.apply(loss, parents, f"E_{neuron}{suffix}", n=n_out, k=r, **loss.attrs_of(cfg))
                errors.append(record(node, NodeInfo("error", f"E_{neuron}", neuron, n_layers - 1, s)))
            total = tape.apply("sum", errors, f"E_total{suffix}")
            self.totals.append(record(total, NodeInfo("total", "E_total", None, None, s)))
            self.by_sample.append(named)
            self.sample_nodes.append(tape.nodes[start:])
        if multi:
            self.root = tape.apply(cfg.batch_error, self.totals, "E")  # their mean or their sum
            self.info[self.root] = NodeInfo("batch", "E")
        else:
            self.root = self.totals[0]

    @property
    def multi(self) -> bool:
        return len(self.totals) > 1

    def reach(self, s: int) -> list[Node]:
        """What sample s's E_total depends on, in tape order: the parameters and its own nodes."""
        return [*self.leaves.values(), *self.sample_nodes[s]]

    def outputs(self) -> list[list[float]]:
        return [[named[f"out_{n}"].data for n in self.net.output_names] for named in self.by_sample]

    def first_bad(self) -> Node | None:
        """The first node (in order of computation) whose value is not finite."""
        for node in self.tape.nodes:
            if not math.isfinite(node.data):
                return node
        return None
