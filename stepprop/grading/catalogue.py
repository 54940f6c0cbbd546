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
from ..engine import Rounder
from ..expr import Const, Expr, Sym, evaluate, plain, symbols
from ..names import checkable, layer_title, param_sym
from ..network import BatchGraph, Net
from ..optim import ETA, G, P, Settings
from ..rounding import Rounding
from ..step import OUT, PLAIN, Override, Variation, local, step


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
    # another procedure than one step on the batch: the numbers it gives, from the
    # network (after any training, which uses ``config``), rounded as by hand or not
    procedure: Procedure | None = None
    also: int | None = None  # (two mistakes made together) the second one's number

    @property
    def label(self) -> str:
        """'mistake 4', or for two together 'mistakes 3 and 4'."""
        return f"mistake {self.number}" if self.also is None else f"mistakes {self.number} and {self.also}"

    @property
    def numbers(self) -> str:
        """'4', or '3 and 4'."""
        return str(self.number) if self.also is None else f"{self.number} and {self.also}"

    def explain(self, name: str) -> str:
        """The description, made specific to the quantity ``name`` where it can be."""
        if self.specific:
            m = _CONNECTION.search(name)
            if m and (m.group(1), m.group(2)) in self.specific:
                return self.specific[(m.group(1), m.group(2))]
        return self.description


Procedure = Callable[[Net, "Rounder | None", "Rounding | None"], dict[str, float]]

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
    """the output layer, the hidden layer, hidden layer 2 (in a sentence)."""
    title = layer_title(net.config, li)
    return f"the {title.lower()}" if title in ("Output layer", "Hidden layer") else title.lower()


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
        what = ", ".join(_derivative_words(a, config) for a in acts)
        said = {ops.activation(a).left_out for a in acts}
        title = said.pop() if len(said) == 1 and "" not in said else "activation derivative left out"

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
                title,
                f"you left out the activation derivative dout/dnet ({what}) in "
                f"{' and '.join(_layer_title(net, li) for li in chosen)}: every delta and bias gradient "
                f"there needs it",
                config,
                Variation(overrides=left_out),
            )
        )
    return out


def _derivative_words(activation: str, config: Config) -> str:
    """An activation's derivative as its definition prints it: out * (1 - out)
    (with the config's parameters: leaky_relu's slope)."""
    op = ops.activation(activation)
    args = [Sym("net")] * (2 if op.coupled else 1)
    return plain(op.derivative(args, Sym("out"), {"k": 0, **op.attrs_of(config)}, 0, [Sym("out"), Sym("out")]))


# 4. the gradient added instead of subtracted
def gradient_added(config: Config, net: Net) -> list[Mistake]:
    if config.delta == "error":  # said in the error term's words: w+ = w + eta * delta * x
        title = "eta * delta * x subtracted, not added"
        words = (
            "you subtracted eta * delta * x where this config's convention (delta: error, delta = "
            "(target - out) * f') adds it: w+ = w + eta * delta * x, the same as w - eta * dE/dw, a step downhill"
        )
    else:
        title = "gradient added, not subtracted"
        words = "you added the gradient instead of subtracting it; the update is w+ = w - eta * dE/dw, a step downhill"
    return [Mistake("gradient_added", 4, title, words, config, Variation(update=P + ETA * G))]


# 5. another error function: the 1/2 dropped, a mean instead of a sum, or the reverse
def another_error_function(config: Config, net: Net) -> list[Mistake]:
    return [
        Mistake(c.id, 5, c.title, c.description, config._replace(loss=c.loss)) for c in ops.loss(config.loss).confusions
    ]


# 5b. a batch's samples summed where the config averages them (or the reverse)
def batch_summed_or_averaged(config: Config, net: Net) -> list[Mistake]:
    size = len(config.batches()[0])
    if size < 2:
        return []
    if config.batch_error == "mean":
        return [
            Mistake(
                "batch_summed",
                5,
                "batch summed, not averaged",
                f"you added up the {size} samples' errors and gradients, but the batch error is their mean "
                f"(batch_error: mean): divide the sums by {size}",
                config._replace(batch_error="sum"),
            )
        ]
    return [
        Mistake(
            "batch_averaged",
            5,
            "batch averaged, not summed",
            f"you took the mean of the {size} samples' errors and gradients, but the batch error is their sum "
            "(batch_error: sum)",
            config._replace(batch_error="mean"),
        )
    ]


# the samples of a batch taken one at a time are recorded step by step up to this many
ONLINE_RECORDED = 16


# 5c. the batch's samples taken one at a time: an update after each (online), or only the first
def online_updates(config: Config, net: Net) -> list[Mistake]:
    size = len(config.batches()[0])
    if size < 2:
        return []
    batch = config.samples[:size]

    def every_sample(net: Net, rounder: Rounder | None, rounding: Rounding | None) -> dict[str, float]:
        return _one_at_a_time(net, batch, batch, rounder, rounding)

    def first_only(net: Net, rounder: Rounder | None, rounding: Rounding | None) -> dict[str, float]:
        return _one_at_a_time(net, batch, batch[:1], rounder, rounding)

    online = config._replace(batch_size=1)  # so is any training before the step
    how = f"the mean of the {size} samples' gradients" if config.batch_error == "mean" else "their sum"
    return [
        Mistake(
            "online_updates",
            11,
            "updated after every sample",
            f"you updated the weights after each sample, each sample's forward pass using the weights the one "
            f"before left; this config updates once per batch of {size}, with {how}, every sample using the "
            f"same weights",
            online,
            procedure=every_sample,
        ),
        Mistake(
            "first_sample_only",
            11,
            "only the first sample's update",
            f"you updated the weights from the first sample alone; the batch's update uses {how}",
            online,
            procedure=first_only,
        ),
    ]


def _one_at_a_time(
    net: Net, batch: tuple, taken: tuple, rounder: Rounder | None, rounding: Rounding | None
) -> dict[str, float]:
    """The numbers of the batch's samples ``taken`` one after the other, each a
    step of its own from the parameters the one before left: each sample's
    quantities by their names in the batch (out_o1[2]), the parameters after
    the last update (w5+) and the batch error of the errors met on the way.
    Beyond ONLINE_RECORDED samples (no calculation on paper), the compiled
    training loop gives the parameters and the error alone."""
    if len(taken) > ONLINE_RECORDED:
        from ..training import train

        online = Net(net.config._replace(samples=tuple(taken), batch_size=1))
        result = train(online, 1, rounder=rounder)
        found = {f"{name}+": value for name, value in result.values.items()}
        if len(taken) == len(batch):
            found["E"] = found["error"] = result.error
        return found
    values: dict[str, float] = {}
    errors = []
    current = net
    for k, sample in enumerate(taken, start=1):
        single = Net(current.config._replace(samples=(sample,), batch_size=None))
        trace = step(single, 0, rounder, rounding)
        for name, value in checkable(trace).items():
            if not name.endswith("+") and name not in ("error", "error_after"):
                values[f"{name}[{k}]"] = value
        errors.append(trace.error)
        current = Net(current.with_values(trace.updated))
    for name, value in current.values.items():
        values[f"{name}+"] = value
    if len(taken) == len(batch):
        combined = ops.reduction(net.config.batch_error).value([Const(e) for e in errors], {})
        values["E"] = values["error"] = evaluate(combined, {}, rounder)
    return values


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


# 7d. a bias on a constant input of -1 (a threshold) worked as on an input of +1
def bias_input_sign(config: Config, net: Net) -> list[Mistake]:
    if config.bias_input != -1 or not any(layer.bias is not None for layer in config.layers):
        return []
    return [
        Mistake(
            "bias_input_plus_one",
            7,
            "the bias's input taken as +1",
            "you took the bias's input as +1; in this config a bias is a threshold on a constant input of -1 "
            "(bias_input: -1): net = sum of w * x - b, and the bias's change is eta * delta * (-1)",
            config._replace(bias_input=1),
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


# 3b. another activation's derivative: out * (1 - out) for tanh, 1 - out^2 for the logistic function
def another_activations_derivative(config: Config, net: Net) -> list[Mistake]:
    out = []
    for li, layer in enumerate(config.layers):
        op = ops.activation(layer.activation)
        if op.confused_with is None:
            continue
        other = ops.activation(op.confused_with)
        formula = other.derivative([local(0)], OUT, other.attrs_of(config), 0)

        def overrides(net: Net, graph: BatchGraph, li: int = li, formula: Expr = formula) -> list[Override]:
            return [Override(node, 0, formula, "the other activation's derivative") for node in graph.outs_by_layer[li]]

        out.append(
            Mistake(
                "another_activations_derivative",
                3,
                f"the derivative of {other.words} used for {op.words}",
                f"in {_layer_title(net, li)} you took dout/dnet as {_derivative_words(other.name, config)}, the "
                f"derivative of {other.words}; for {op.words} it is {_derivative_words(op.name, config)}",
                config,
                Variation(overrides=overrides),
            )
        )
    return out


# 3c. the activation's derivative taken at the net input: net * (1 - net) for out * (1 - out)
def derivative_at_the_net_input(config: Config, net: Net) -> list[Mistake]:
    out = []
    for li, layer in enumerate(config.layers):
        op = ops.activation(layer.activation)
        attrs = op.attrs_of(config)
        if op.coupled or OUT not in symbols(op.derivative([local(0)], OUT, attrs, 0)):
            continue  # its derivative is not written with out (ReLU, linear)
        at_net = op.derivative([local(0)], local(0), attrs, 0)

        def overrides(net: Net, graph: BatchGraph, li: int = li, formula: Expr = at_net) -> list[Override]:
            return [Override(node, 0, formula, "the derivative at the net input") for node in graph.outs_by_layer[li]]

        words = plain(op.derivative([Sym("net")], Sym("net"), attrs, 0))
        out.append(
            Mistake(
                "derivative_at_the_net_input",
                3,
                "activation derivative taken at the net input",
                f"in {_layer_title(net, li)} you put the net input where the output belongs: "
                f"dout/dnet is {_derivative_words(op.name, config)}, not {words}",
                config,
                Variation(overrides=overrides),
            )
        )
    return out


# 3d. softmax's cross terms ignored: dout_k/dnet_j taken as 0 for j != k
def cross_terms_ignored(config: Config, net: Net) -> list[Mistake]:
    li = len(config.layers) - 1
    op = ops.activation(config.layers[li].activation)
    if not op.coupled:
        return []

    def overrides(net: Net, graph: BatchGraph) -> list[Override]:
        return [
            Override(node, j, Const(0.0), "the cross term left out")
            for node in graph.outs_by_layer[li]
            for j in range(len(node.parents))
            if j != node.attrs["k"]
        ]

    return [
        Mistake(
            "cross_terms_ignored",
            3,
            f"{op.words}'s cross terms left out",
            f"you left out {op.words}'s cross terms: each output depends on every net input of the layer, "
            f"dout_k/dnet_j = -out_k * out_j for j != k, so every delta sums over all the outputs",
            config,
            Variation(overrides=overrides),
        )
    ]


# 4b. the textbook sign convention: delta = (target - out) * f', with w+ = w + eta * delta * x
def textbook_sign_convention(config: Config, net: Net) -> list[Mistake]:
    if config.delta == "error":  # the config is in the textbook's convention: the mistake is the post's
        return [
            Mistake(
                "post_sign_convention",
                4,
                "the gradient's sign: delta = dE/dnet",
                "you used the gradient convention (Mazur's worked example, Nielsen), delta = dE/dnet = "
                "(out - target) * f' at an output; this config defines delta as the error term (delta: error), "
                "delta = -dE/dnet = (target - out) * f'",
                config._replace(delta="gradient"),
            )
        ]
    # the step worked in the textbook's convention (delta: error) shows the student's
    # calculation as true lines: delta_o1 = -dE_total/dnet_o1 = ..., w5+ = w5 + eta * delta_o1 * out_h1
    return [
        Mistake(
            "textbook_sign_convention",
            4,
            "the textbook's sign: delta = (target - out) * f'",
            "you used the textbook's sign convention (Mitchell, Haykin): delta = (target - out) * dout/dnet "
            "= -dE/dnet at an output, and w+ = w + eta * delta * x; the updates agree, but every delta has the "
            "opposite sign of this config's, which defines delta = dE/dnet (the gradient convention, Mazur's and "
            "Nielsen's, delta: gradient) and subtracts",
            config._replace(delta="error"),
        )
    ]


# 1c. the wrong weight into a single neuron (a one-output network): dnet_o1/dout_h1 taken as w6, not w5
def weight_of_another_input(config: Config, net: Net) -> list[Mistake]:
    out = []
    for li, layer in enumerate(config.layers):
        if li == 0 or layer.size != 1 or len(layer.weights[0]) < 2:
            continue
        row = net.weight_names[li][0]

        def overrides(net: Net, graph: BatchGraph, li: int = li, row: list[str] = row) -> list[Override]:
            found = []
            n = len(row)
            for node in graph.nets_by_layer[li]:
                for j in range(n):
                    found.append(Override(node, n + j, param_sym(row[n - 1 - j]), "the weight of another input"))
            return found

        to = net.neurons[li][0]
        source, other = net.neurons[li - 1][0], net.neurons[li - 1][-1]
        out.append(
            Mistake(
                "weight_of_another_input",
                1,
                "wrong weight in the backwards pass",
                f"in the backwards pass you took the weight of another input: dnet_{to}/dout_{source} is "
                f"{row[0]}, the weight {source} -> {to}, not {row[-1]}, the weight {other} -> {to}",
                config,
                Variation(overrides=overrides),
            )
        )
    return out


# 8. the targets swapped
def targets_swapped(config: Config, net: Net) -> list[Mistake]:
    if config.layers[-1].size < 2:
        return []
    samples = tuple(s._replace(targets=tuple(reversed(s.targets))) for s in config.samples)
    return [
        Mistake(
            "targets_swapped",
            8,
            "the targets swapped",
            f"you took the targets in the other order: target_{net.output_names[0]} is "
            f"{config.samples[0].targets[0]!r}, target_{net.output_names[-1]} is {config.samples[0].targets[-1]!r}",
            config._replace(samples=samples),
        )
    ]


# 9. the other neuron's output: dnet_o1/dw5 taken as out_h2, not out_h1
def another_neurons_output(config: Config, net: Net) -> list[Mistake]:
    out = []
    for li, layer in enumerate(config.layers):
        n = len(layer.weights[0])
        if n < 2:
            continue

        def overrides(net: Net, graph: BatchGraph, li: int = li, n: int = n) -> list[Override]:
            return [
                Override(node, j, local(n + n - 1 - j), "the output of the other neuron")
                for node in graph.nets_by_layer[li]
                for j in range(n)
            ]

        first = net.weight_names[li][0]
        sources = net.input_names if li == 0 else net.neurons[li - 1]
        prefix = "" if li == 0 else "out_"
        out.append(
            Mistake(
                "another_neurons_output",
                9,
                "the other neuron's output used",
                f"for a weight of {_layer_title(net, li)} you multiplied by the output of the other neuron: "
                f"dnet/d{first[0]} is {prefix}{sources[0]}, what {first[0]} multiplies, not {prefix}{sources[-1]}",
                config,
                Variation(overrides=overrides),
            )
        )
    return out


# 10. the bias left out of the net input
def bias_left_out(config: Config, net: Net) -> list[Mistake]:
    if not any(layer.bias is not None for layer in config.layers):
        return []
    layers = tuple(layer._replace(bias=None) for layer in config.layers)
    return [
        Mistake(
            "bias_left_out",
            10,
            "the bias left out of the net input",
            "you left the bias out of the net input: net = w1 * x1 + ... + wn * xn + b * 1",
            config._replace(layers=layers),
            rename={name: name for name in net.params if name.startswith("w")},
        )
    ]


# 12. the optimiser's update
def optimizer_mistakes(config: Config, net: Net) -> list[Mistake]:
    """The optimisers' well-known slips (see stepprop.optim): each the config's
    optimiser with one setting varied, made at every update."""
    o = config.optim
    found: list[tuple[str, str, str, Settings]] = []
    if o.name in ("adam", "adamw"):
        found.append(
            (
                "bias_correction_forgotten",
                "the bias correction forgotten",
                "you used m and s as they are; Adam divides them by 1 - beta_1^t and 1 - beta_2^t (m_hat, s_hat), "
                "which matters most in the first updates",
                o._replace(bias_correction=False),
            )
        )
    if o.name in ("rmsprop", "adam", "adamw"):
        found.append(
            (
                "epsilon_inside_root",
                "epsilon inside the square root",
                "you took sqrt(s + epsilon); the update divides by sqrt(s) + epsilon, epsilon added after the root",
                o._replace(epsilon_inside=True),
            )
        )
    if o.name in ("momentum", "nesterov"):
        other = "classic" if o.momentum_form == "pytorch" else "pytorch"
        forms = {
            "pytorch": "v = mu * v(t-1) + g, w+ = w - eta * v",
            "classic": "v = mu * v(t-1) - eta * g, w+ = w + v",
        }
        found.append(
            (
                "momentum_forms_confused",
                "the two momentum forms confused",
                f"you worked momentum in the {other} form ({forms[other]}); this config uses the "
                f"{o.momentum_form} form ({forms[o.momentum_form]})",
                o._replace(momentum_form=other),
            )
        )
        found.append(
            (
                "momentum_sign",
                "the momentum term's sign",
                "you subtracted mu * v(t-1); the earlier velocity is added, so that the step keeps going "
                "the way it went",
                o._replace(momentum_sign=-1),
            )
        )
    if (o.weight_decay or o.l1) and not o.regularize_biases and config.update_biases and net.bias_names:
        found.append(
            (
                "decay_on_biases",
                "weight decay applied to the biases",
                "you regularised the biases too; this config decays only the weights (regularize_biases: false)",
                o._replace(regularize_biases=True),
            )
        )
    if o.name == "adamw" and o.weight_decay:
        found.append(
            (
                "adamw_decay_in_gradient",
                "AdamW's decay put into the gradient",
                "you added lambda * w to the gradient, as Adam's L2 does, so that Adam's step rescales it; AdamW "
                "decays the weight directly: w+ = w - eta * lambda * w - eta * m_hat / (sqrt(s_hat) + epsilon)",
                o._replace(name="adam"),
            )
        )
    if o.penalty == "l2" and o.weight_decay:
        found.append(
            (
                "l2_left_out_of_gradient",
                "the L2 penalty left out of the gradient",
                "you added lambda/2 * sum of w^2 to the error but not its derivative, lambda * w, to each "
                "weight's gradient",
                o._replace(penalty_in_gradient=False),
            )
        )
    return [Mistake(mid, 12, title, words, config._replace(optim=settings)) for mid, title, words, settings in found]


ENTRIES: tuple[Entry, ...] = (
    weights_transposed,
    weight_of_the_other_edge,
    weight_of_another_input,
    updated_weights_in_hidden_deltas,
    activation_derivative_left_out,
    another_activations_derivative,
    derivative_at_the_net_input,
    cross_terms_ignored,
    gradient_added,
    textbook_sign_convention,
    batch_summed_or_averaged,  # before the 1/2: with two samples they give the same batch numbers
    online_updates,
    another_error_function,
    learning_rate_forgotten,
    biases_updated_or_not,
    bias_input_sign,
    shared_bias_split,
    biases_pooled,
    targets_swapped,
    another_neurons_output,
    bias_left_out,
    optimizer_mistakes,
)


def pair(config: Config, a: Mistake, b: Mistake) -> Mistake | None:
    """Two mistakes made together, where they change different things (the
    config's fields, the update rule, the gradient groups; replaced partials
    add up); None where they cannot both be made (both change the same)."""
    if a.procedure is not None or b.procedure is not None or (a.rename and b.rename):
        return None
    merged = a.config
    for field in Config._fields:
        if field == "source" or getattr(b.config, field) == getattr(config, field):
            continue
        if getattr(a.config, field) != getattr(config, field):
            return None
        merged = merged._replace(**{field: getattr(b.config, field)})
    va, vb = a.variation, b.variation
    if va.update != PLAIN.update and vb.update != PLAIN.update or va.pools and vb.pools:
        return None
    overrides = va.overrides
    if va.overrides is not None and vb.overrides is not None:
        first, second = va.overrides, vb.overrides

        def overrides(net: Net, graph: BatchGraph) -> list[Override]:
            return first(net, graph) + second(net, graph)

    elif overrides is None:
        overrides = vb.overrides
    variation = Variation(
        update=va.update if va.update != PLAIN.update else vb.update,
        pools=va.pools or vb.pools,
        overrides=overrides,
    )
    return Mistake(
        f"{a.id}+{b.id}",
        a.number,
        f"{a.title}, and {b.title}",
        f"{a.description}; and {b.description}",
        merged,
        variation,
        a.rename or b.rename,
        also=b.number,
    )


def catalogue(config: Config) -> list[Mistake]:
    """The mistakes that make sense for this config, in catalogue order."""
    net = Net(config)
    return [m for entry in ENTRIES for m in entry(config, net)]
