"""A catalogue of the mistakes people make when they backpropagate by hand.

Each entry is a small function that, for a config, gives the mistakes of its
kind that make sense there.  A mistake is a way of re-running the
calculation: a changed config (the weights read with the other convention,
another error function, biases treated differently) and/or a
:class:`~stepprop.step.Variation` of the step (another update rule, local
partials taken otherwise).  The step itself knows nothing of them.
``stepprop check`` re-runs each one and names the mistake whose numbers
reproduce a student's answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .. import ops
from ..config import Config
from ..expr import Const, Sym, plain
from ..names import param_sym
from ..network import BatchGraph, Net
from ..step import ETA, PLAIN, G, Override, P, Variation


@dataclass(frozen=True)
class Mistake:
    """One way of getting it wrong.

    ``rename`` maps the variant network's parameter names to the names the
    student uses for the same numbers (missing: no counterpart)."""

    id: str
    number: int  # its place in the catalogue (1-7)
    title: str  # short, for a table
    description: str  # plain words, for the details
    config: Config
    variation: Variation = PLAIN
    rename: dict[str, str] | None = None
    # (neuron, source neuron) -> words for a quantity on that connection
    specific: dict[tuple[str, str], str] | None = None

    def explain(self, name: str) -> str:
        """The description, made specific to the quantity ``name`` where it can be."""
        if self.specific:
            m = _CONNECTION.search(name)
            if m and (m.group(1), m.group(2)) in self.specific:
                return self.specific[(m.group(1), m.group(2))]
        return self.description


_CONNECTION = re.compile(r"^d(?:E|net)_(\w+?)/dout_(\w+?)(?:\[\d+\])?$")
_PARAM_TOKEN = re.compile(r"(^|/d)([wb]\d+)")


def rename_name(name: str, mapping: dict[str, str] | None) -> str | None:
    """A quantity's name with parameter names mapped (None: no counterpart)."""
    if mapping is None:
        return name
    missing = False

    def sub(m: re.Match) -> str:
        nonlocal missing
        new = mapping.get(m.group(2))
        if new is None:
            missing = True
            return m.group(0)
        return m.group(1) + new

    out = _PARAM_TOKEN.sub(sub, name)
    return None if missing else out


def _layer_title(net: Net, li: int) -> str:
    n = len(net.config.layers)
    if li == n - 1:
        return "the output layer"
    return "the hidden layer" if n == 2 else f"hidden layer {li + 1}"


def _square_layers(config: Config) -> list[int]:
    return [li for li, layer in enumerate(config.layers) if all(len(row) == layer.size for row in layer.weights)]


Entry = Callable[[Config, Net], list[Mistake]]


# 1. the weight matrix read with the other convention (rows as columns)
def weights_transposed(config: Config, net: Net) -> list[Mistake]:
    layers = config.layers
    square = _square_layers(config)
    out = []
    for chosen in [[li] for li in square] + ([square] if len(square) > 1 else []):
        new_layers = list(layers)
        mapping = {name: name for name in net.params}
        pairs = []
        for li in chosen:
            w = layers[li].weights
            new_layers[li] = layers[li]._replace(
                weights=tuple(tuple(w[r][c] for r in range(len(w))) for c in range(len(w[0])))
            )
            names = net.weight_names[li]
            for a in range(len(names)):
                for b in range(len(names)):
                    # the variant's weight at (a, b) is the file's number at (b, a)
                    mapping[names[a][b]] = names[b][a]
                    if a < b:
                        pa, pb = net.params[names[a][b]], net.params[names[b][a]]
                        pairs.append(f"{pb.name} ({pb.connects}) and {pa.name} ({pa.connects}) trade places")
        where = " and ".join(_layer_title(net, li) for li in chosen)
        example_li = chosen[0]
        neuron = net.neurons[example_li][0]
        prev = net.input_names if example_li == 0 else net.neurons[example_li - 1]
        row = [net.weight_names[example_li][c][0] for c in range(len(prev))]
        example = " + ".join(f"{w} * {'out_' if example_li else ''}{x}" for w, x in zip(row, prev))
        out.append(
            Mistake(
                "weights_transposed",
                1,
                "weights read column by column",
                f"you read the weights of {where} with the other convention (rows as columns): "
                f"{'; '.join(pairs)}; for example net_{neuron} = {example} + ...",
                config._replace(layers=tuple(new_layers)),
                rename=mapping,
            )
        )
    return out


# 1b. the same, in the backwards pass only: the weight of the other edge
def weight_of_the_other_edge(config: Config, net: Net) -> list[Mistake]:
    out = []
    for li in _square_layers(config):
        if li == 0:
            continue  # the inputs get no gradient
        grid = net.weight_names[li]
        specific = {}
        for k, to in enumerate(net.neurons[li]):
            for j, source in enumerate(net.neurons[li - 1]):
                right, used = net.params[grid[k][j]], net.params[grid[j][k]]
                if right.name != used.name:
                    specific[(to, source)] = (
                        f"you used {used.name}, the weight {used.connects}, where {right.name}, the weight "
                        f"{right.connects}, belongs: dnet_{to}/dout_{source} is the weight from {source} to {to}"
                    )

        def other_edge(net: Net, graph: BatchGraph, li: int = li) -> list[Override]:
            grid = net.weight_names[li]
            found = []
            for node in graph.nets_by_layer[li]:
                n = node.attrs["n"]
                r = grid.index([p.name for p in node.parents[:n]])
                for j in range(n):
                    found.append(Override(node, n + j, param_sym(grid[j][r]), "the weight of the other edge"))
            return found

        out.append(
            Mistake(
                "weights_transposed",
                1,
                "wrong weight in the backwards pass",
                f"in the backwards pass you read the weights of {_layer_title(net, li)} with the other convention "
                f"(rows as columns), so dnet_k/dout_j took the weight from k to j instead of the one from j to k",
                config,
                Variation(overrides=other_edge),
                specific=specific,
            )
        )
    return out


# 2. hidden deltas computed with the already-updated next-layer weights
def updated_weights_in_hidden_deltas(config: Config, net: Net) -> list[Mistake]:
    if len(config.layers) < 2:
        return []

    def updated_weights(net: Net, graph: BatchGraph) -> list[Override]:
        found = []
        for li in range(1, len(net.config.layers)):
            for node in graph.nets_by_layer[li]:
                n = node.attrs["n"]
                for j in range(n):
                    value = param_sym(node.parents[j].name).updated()
                    found.append(Override(node, n + j, value, "the already-updated weight"))
        return found

    nxt = [n for row in net.weight_names[-1] for n in row]
    return [
        Mistake(
            "updated_weights_in_hidden_deltas",
            2,
            "updated weights in the hidden deltas",
            f"you computed the hidden-layer deltas with the already-updated weights "
            f"({nxt[0]}+ ... {nxt[-1]}+ instead of {nxt[0]} ... {nxt[-1]}); the original weights belong "
            f"there, because all weights are updated together after the backwards pass",
            config,
            Variation(overrides=updated_weights),
        )
    ]


# 3. the activation derivative left out of the deltas
def activation_derivative_left_out(config: Config, net: Net) -> list[Mistake]:
    layers = config.layers
    active = [li for li, layer in enumerate(layers) if layer.activation != "linear"]
    out = []
    for chosen in [[li] for li in active] + ([active] if len(active) > 1 else []):
        acts = sorted({layers[li].activation for li in chosen})
        what = ", ".join(_derivative_words(a) for a in acts)

        def left_out(net: Net, graph: BatchGraph, chosen: list[int] = chosen) -> list[Override]:
            found = []
            for li in chosen:
                for node in graph.outs_by_layer[li]:
                    k = node.attrs.get("k")
                    for j in range(len(node.parents)):
                        one = Const(1.0 if k is None or j == k else 0.0)
                        found.append(Override(node, j, one, "the activation derivative left out"))
            return found

        out.append(
            Mistake(
                "activation_derivative_left_out",
                3,
                "activation derivative left out",
                f"you left out the activation derivative dout/dnet ({what}) in "
                f"{' and '.join(_layer_title(net, li) for li in chosen)}: every delta and bias gradient "
                f"there needs it",
                config,
                Variation(overrides=left_out),
            )
        )
    return out


def _derivative_words(activation: str) -> str:
    """An activation's derivative as its definition prints it: out * (1 - out)."""
    op = ops.activation(activation)
    args = [Sym("net")] * (2 if op.coupled else 1)
    return plain(op.derivative(args, Sym("out"), {"k": 0}, 0, [Sym("out"), Sym("out")]))


# 4. the gradient added instead of subtracted
def gradient_added(config: Config, net: Net) -> list[Mistake]:
    return [
        Mistake(
            "gradient_added",
            4,
            "gradient added, not subtracted",
            "you added the gradient instead of subtracting it; the update is w+ = w - eta * dE/dw, a step downhill",
            config,
            Variation(update=P + ETA * G),
        )
    ]


# 5. another error function: the 1/2 dropped, a mean instead of a sum, or the reverse
def another_error_function(config: Config, net: Net) -> list[Mistake]:
    return [
        Mistake(c.id, 5, c.title, c.description, config._replace(loss=c.loss)) for c in ops.loss(config.loss).confusions
    ]


# 6. the learning rate forgotten
def learning_rate_forgotten(config: Config, net: Net) -> list[Mistake]:
    if config.eta == 1:
        return []
    return [
        Mistake(
            "learning_rate_forgotten",
            6,
            "learning rate forgotten",
            f"you forgot the learning rate: the update is w+ = w - eta * dE/dw with eta = {config.eta!r}",
            config,
            Variation(update=P - G),
        )
    ]


# 7. biases: updated when fixed (or the reverse)
def biases_updated_or_not(config: Config, net: Net) -> list[Mistake]:
    if not any(layer.bias is not None for layer in config.layers):
        return []
    if not config.update_biases:
        return [
            Mistake(
                "fixed_bias_updated",
                7,
                "fixed biases updated",
                "you updated the biases, but this config keeps them fixed (update_biases: false)",
                config._replace(update_biases=True),
            )
        ]
    return [
        Mistake(
            "bias_not_updated",
            7,
            "biases not updated",
            "you kept the biases fixed, but this config updates them (update_biases: true)",
            config._replace(update_biases=False),
        )
    ]


# 7b. a shared bias treated as one bias per neuron
def shared_bias_split(config: Config, net: Net) -> list[Mistake]:
    layers = config.layers
    shared = [li for li, layer in enumerate(layers) if isinstance(layer.bias, float) and layer.size > 1]
    if not shared:
        return []
    new_layers = []
    for li, layer in enumerate(layers):
        if li in shared and isinstance(layer.bias, float):
            layer = layer._replace(bias=(layer.bias,) * layer.size)
        new_layers.append(layer)
    variant = config._replace(layers=tuple(new_layers))
    vnet = Net(variant)
    mapping = {}
    for old_names, new_names in zip(net.bias_names, vnet.bias_names):
        if old_names is not None and new_names is not None:
            mapping[new_names[0]] = old_names[0]
    for name in net.params:
        if name.startswith("w"):
            mapping[name] = name
    shared_names = ", ".join((net.bias_names[li] or ["?"])[0] for li in shared)
    return [
        Mistake(
            "shared_bias_split",
            7,
            "shared bias treated as one per neuron",
            f"you treated the shared bias {shared_names} as one bias per neuron: a shared bias gets the sum "
            f"of the deltas of every neuron it feeds",
            variant,
            rename=mapping,
        )
    ]


# 7c. per-neuron biases treated as one shared bias
def biases_pooled(config: Config, net: Net) -> list[Mistake]:
    pooled = [li for li, layer in enumerate(config.layers) if isinstance(layer.bias, tuple) and layer.size > 1]
    if not pooled or not config.update_biases:
        return []
    groups = tuple(tuple(net.bias_names[li] or ()) for li in pooled)
    return [
        Mistake(
            "biases_pooled",
            7,
            "per-neuron biases treated as shared",
            "you treated the per-neuron biases of "
            f"{' and '.join(_layer_title(net, li) for li in pooled)} as one shared bias (the sum of the "
            "layer's deltas); each bias gets only its own neuron's delta",
            config,
            Variation(pools=groups),
        )
    ]


ENTRIES: tuple[Entry, ...] = (
    weights_transposed,
    weight_of_the_other_edge,
    updated_weights_in_hidden_deltas,
    activation_derivative_left_out,
    gradient_added,
    another_error_function,
    learning_rate_forgotten,
    biases_updated_or_not,
    shared_bias_split,
    biases_pooled,
)


def catalogue(config: Config) -> list[Mistake]:
    """The mistakes that make sense for this config, in catalogue order."""
    net = Net(config)
    return [m for entry in ENTRIES for m in entry(config, net)]
