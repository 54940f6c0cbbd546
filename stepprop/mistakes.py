"""A catalogue of the mistakes people make when they backpropagate by hand.

Each mistake is a way of re-running the calculation: a changed config (the
weights read with the other convention, another error function, biases
treated differently) and/or a changed :class:`~stepprop.network.Rule` (the
gradient added, the learning rate forgotten, an activation derivative left
out, downstream weights already updated).  ``stepprop check`` re-runs each
one and names the mistake whose numbers reproduce a student's answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config import Config
from .network import EXACT, Network, Rule


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
    rule: Rule = EXACT
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


def _layer_title(net: Network, li: int) -> str:
    n = len(net.config.layers)
    if li == n - 1:
        return "the output layer"
    return "the hidden layer" if n == 2 else f"hidden layer {li + 1}"


def catalogue(config: Config) -> list[Mistake]:
    """The mistakes that make sense for this config, in catalogue order."""
    net = Network(config)
    layers = config.layers
    out: list[Mistake] = []

    # 1. the weight matrix read with the other convention (rows as columns)
    square = [li for li, layer in enumerate(layers) if all(len(row) == layer.size for row in layer.weights)]
    choices = [[li] for li in square] + ([square] if len(square) > 1 else [])
    for chosen in choices:
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
                EXACT,
                mapping,
            )
        )

    # 1b. the same, in the backwards pass only: the weight on the wrong edge
    for li in square:
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
        out.append(
            Mistake(
                "weights_transposed",
                1,
                "wrong weight in the backwards pass",
                f"in the backwards pass you read the weights of {_layer_title(net, li)} with the other convention "
                f"(rows as columns), so dnet_k/dout_j took the weight from k to j instead of the one from j to k",
                config,
                Rule(transposed_backward=frozenset([li])),
                None,
                specific,
            )
        )

    # 2. hidden deltas computed with the already-updated next-layer weights
    if len(layers) > 1:
        nxt = [n for row in net.weight_names[-1] for n in row]
        out.append(
            Mistake(
                "updated_weights_in_hidden_deltas",
                2,
                "updated weights in the hidden deltas",
                f"you computed the hidden-layer deltas with the already-updated weights "
                f"({nxt[0]}+ ... {nxt[-1]}+ instead of {nxt[0]} ... {nxt[-1]}); the original weights belong "
                f"there, because all weights are updated together after the backwards pass",
                config,
                Rule(updated_downstream=True),
            )
        )

    # 3. the activation derivative left out of the deltas
    active = [li for li, layer in enumerate(layers) if layer.activation != "linear"]
    groups = [[li] for li in active] + ([active] if len(active) > 1 else [])
    for chosen in groups:
        acts = {layers[li].activation for li in chosen}
        formula = {"sigmoid": "out * (1 - out)", "tanh": "1 - out^2", "relu": "1 or 0", "softmax": "out * (1 - out)"}
        what = ", ".join(formula[a] for a in sorted(acts))
        out.append(
            Mistake(
                "activation_derivative_left_out",
                3,
                "activation derivative left out",
                f"you left out the activation derivative dout/dnet ({what}) in "
                f"{' and '.join(_layer_title(net, li) for li in chosen)}: every delta and bias gradient "
                f"there needs it",
                config,
                Rule(skip_activation=frozenset(chosen)),
            )
        )

    # 4. the gradient added instead of subtracted
    out.append(
        Mistake(
            "gradient_added",
            4,
            "gradient added, not subtracted",
            "you added the gradient instead of subtracting it; the update is w+ = w - eta * dE/dw, a step downhill",
            config,
            Rule(sign=-1.0),
        )
    )

    # 5. another error function: the 1/2 dropped, a mean instead of a sum, or the reverse
    losses = {
        "half_squared_error": [
            (
                "squared_error",
                "squared_error_without_half",
                "the 1/2 left out of the error",
                "you used the squared error without the 1/2, (target - out)^2, which doubles every gradient",
            ),
            (
                "half_mean_squared_error",
                "mean_instead_of_sum",
                "a mean where the config sums",
                "you took the mean of the errors over the outputs where the config sums them",
            ),
            (
                "mean_squared_error",
                "mean_instead_of_sum",
                "a mean where the config sums",
                "you took the mean of (target - out)^2 over the outputs where the config sums 1/2 (target - out)^2",
            ),
        ],
        "mean_squared_error": [
            (
                "squared_error",
                "sum_instead_of_mean",
                "a sum where the config takes the mean",
                "you summed (target - out)^2 over the outputs where the config takes the mean",
            ),
            (
                "half_squared_error",
                "sum_instead_of_mean",
                "a sum where the config takes the mean",
                "you summed 1/2 (target - out)^2 where the config takes the mean of (target - out)^2",
            ),
        ],
    }
    for loss, ident, title, text in losses.get(config.loss, []):
        out.append(Mistake(ident, 5, title, text, config._replace(loss=loss)))

    # 6. the learning rate forgotten
    if config.eta != 1:
        out.append(
            Mistake(
                "learning_rate_forgotten",
                6,
                "learning rate forgotten",
                f"you forgot the learning rate: the update is w+ = w - eta * dE/dw with eta = {config.eta!r}",
                config,
                Rule(use_eta=False),
            )
        )

    # 7. biases: updated when fixed (or the reverse); shared vs per neuron
    has_bias = any(layer.bias is not None for layer in layers)
    if has_bias and not config.update_biases:
        out.append(
            Mistake(
                "fixed_bias_updated",
                7,
                "fixed biases updated",
                "you updated the biases, but this config keeps them fixed (update_biases: false)",
                config._replace(update_biases=True),
            )
        )
    if has_bias and config.update_biases:
        out.append(
            Mistake(
                "bias_not_updated",
                7,
                "biases not updated",
                "you kept the biases fixed, but this config updates them (update_biases: true)",
                config._replace(update_biases=False),
            )
        )
    shared = [li for li, layer in enumerate(layers) if isinstance(layer.bias, float) and layer.size > 1]
    if shared:
        new_layers = []
        for li, layer in enumerate(layers):
            if li in shared and isinstance(layer.bias, float):
                layer = layer._replace(bias=(layer.bias,) * layer.size)
            new_layers.append(layer)
        variant = config._replace(layers=tuple(new_layers))
        vnet = Network(variant)
        mapping = {}
        for old_names, new_names in zip(net.bias_names, vnet.bias_names):
            if old_names is not None and new_names is not None:
                mapping[new_names[0]] = old_names[0]
        for name in net.params:
            if name.startswith("w"):
                mapping[name] = name
        shared_names = ", ".join((net.bias_names[li] or ["?"])[0] for li in shared)
        out.append(
            Mistake(
                "shared_bias_split",
                7,
                "shared bias treated as one per neuron",
                f"you treated the shared bias {shared_names} as one bias per neuron: a shared bias gets the sum "
                f"of the deltas of every neuron it feeds",
                variant,
                EXACT,
                mapping,
            )
        )
    pooled = [li for li, layer in enumerate(layers) if isinstance(layer.bias, tuple) and layer.size > 1]
    if pooled and config.update_biases:
        out.append(
            Mistake(
                "biases_pooled",
                7,
                "per-neuron biases treated as shared",
                "you treated the per-neuron biases of "
                f"{' and '.join(_layer_title(net, li) for li in pooled)} as one shared bias (the sum of the "
                "layer's deltas); each bias gets only its own neuron's delta",
                config,
                Rule(pooled_biases=frozenset(pooled)),
            )
        )
    return out
