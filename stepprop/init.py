"""`stepprop init`: a new config, with a comment on every key.

The names in the comments (h1, w5, b2 ...) come from :class:`~stepprop.network.Net`, the
same code that names them everywhere else, so a comment can never disagree
with what `explain` prints.
"""

import os
import random
import re
from collections.abc import Callable

from . import ops
from .config import BIAS_MODES, LOSSES, Config, CsvSamples, Layer, Sample, parse
from .errors import StepPropError
from .names import layer_title
from .network import Net
from .notation import notation_of
from .ops import LAYER_ACTIVATIONS

MAX_INIT_NEURONS = 64
# what the comment on an operation's parameter says (see config.PARAMS)
PARAM_WORDS = {
    "slope": "leaky_relu's slope for negative net inputs (PyTorch's negative_slope), 0 to 1",
    "elu_alpha": "elu: alpha * (e^net - 1) for negative net inputs (PyTorch's alpha), above 0",
    "huber_delta": "huber: 1/2 d^2 where |d| < huber_delta, else huber_delta * (|d| - huber_delta / 2)",
}


def parse_shape(shape: str) -> list[int]:
    """'2-3-1' -> [2, 3, 1]: inputs, hidden layers, outputs."""
    if not re.fullmatch(r"\d+(-\d+)+", shape.strip()):
        raise StepPropError(f"the shape '{shape}' should look like 2-3-1: inputs, hidden layers..., outputs")
    sizes = [int(x) for x in shape.strip().split("-")]
    if any(n < 1 or n > MAX_INIT_NEURONS for n in sizes):
        raise StepPropError(f"each layer of the shape needs 1 to {MAX_INIT_NEURONS} neurons, not {shape}")
    return sizes


def new_config(
    shape: str,
    activation: str = "sigmoid",
    loss: str = "half_squared_error",
    seed: int = 0,
    bias: str = "shared",
    eta: float = 0.5,
    delta: str = "gradient",
    bias_input: float = 1.0,
    notation: str = "mazur",
    data: "FromCsv | None" = None,
) -> str:
    """The text of a new, valid, commented config (``delta``, ``bias_input``
    and ``notation``: the conventions, as the config keys of those names;
    ``data``: samples from a CSV file instead of placeholders)."""
    sizes = parse_shape(shape)
    samples = data.read(sizes) if data is not None else None
    if activation not in LAYER_ACTIVATIONS:
        raise StepPropError(f"--activation must be one of {', '.join(LAYER_ACTIVATIONS)}")
    if loss not in LOSSES:
        raise StepPropError(f"--loss must be one of {', '.join(LOSSES)}")
    if bias not in BIAS_MODES:
        raise StepPropError(f"--bias must be one of {', '.join(BIAS_MODES)}")
    rnd = random.Random(seed)
    n_out = sizes[-1]
    out_act = activation  # the cross-entropies need outputs between 0 and 1
    asked = loss
    if loss == "cross_entropy" and n_out == 1:
        # softmax needs two outputs; for one output, the cross-entropy of a yes/no
        # answer is the binary one, after a sigmoid
        loss = "binary_cross_entropy"
    if loss == "cross_entropy":
        out_act = "softmax"
    elif loss == "binary_cross_entropy":
        out_act = "sigmoid"
    layers = []
    for prev, size in zip(sizes, sizes[1:]):
        weights = tuple(tuple(draw(rnd) for _ in range(prev)) for _ in range(size))
        b: float | tuple[float, ...] | None
        if bias == "shared":
            b = draw(rnd)
        elif bias == "per-neuron":
            b = tuple(draw(rnd) for _ in range(size))
        else:
            b = None
        layers.append(Layer(weights, b, activation))
    layers[-1] = layers[-1]._replace(activation=out_act)
    inputs = tuple(round(0.05 * (k + 1), 2) for k in range(sizes[0]))
    if loss == "cross_entropy" and n_out > 1:
        targets = tuple(1.0 if k == 0 else 0.0 for k in range(n_out))
    else:
        targets = tuple(round(0.01 + 0.98 * (k % 2), 2) for k in range(n_out))
    cfg = Config(tuple(layers), (Sample(inputs, targets),), eta, True, loss, activation)
    cfg = cfg._replace(delta=delta, bias_input=float(bias_input), notation=notation)
    if data is not None and samples is not None:
        spec, rows = samples
        cfg = cfg._replace(samples=rows, csv=spec, batch_size=CSV_BATCH if len(rows) > CSV_BATCH else None)
    note = ""
    if asked != loss:
        note = "cross_entropy was asked for one output: for one output that is binary_cross_entropy"
    text = render(cfg, f"{shape}, seed {seed}", note, data.folder if data is not None else None)
    parse(text, "<stepprop init>", data.folder if data is not None else None)  # what we write must load
    return text


CSV_BATCH = 10  # a new config's batches of CSV rows: explain derives each sample of one step by step


class FromCsv:
    """``stepprop init --from-csv``: the CSV file, its input columns, and its
    target columns or its class column (``one_hot``); ``folder``: where the
    config is written (the CSV file is named relative to it if it lies there)."""

    def __init__(self, path: str, inputs: list[str], targets: list[str], one_hot: str | None, folder: str):
        self.path, self.inputs, self.targets, self.one_hot, self.folder = path, inputs, targets, one_hot, folder

    def read(self, sizes: list[int]) -> tuple[CsvSamples, tuple[Sample, ...]]:
        """The samples, the first and last sizes of the shape checked against the columns."""
        from .config import MAX_CSV_BYTES, read_csv, read_text

        wanted = [("inputs", n) for n in self.inputs] + [("targets", n) for n in self.targets]
        asked = {"inputs": "--inputs", "targets": "--targets", "one_hot": "--one-hot"}
        text = read_text(self.path, "a samples CSV", MAX_CSV_BYTES)
        ins, outs, classes, _ = read_csv(text, self.path, wanted, self.one_hot, asked)
        n_out = len(classes) if self.one_hot is not None else len(self.targets)
        if (sizes[0], sizes[-1]) != (len(self.inputs), n_out):
            outputs = f"classes of {self.one_hot}" if self.one_hot else "target columns"
            raise StepPropError(
                f"the shape must start with {len(self.inputs)} (the input columns) and end with {n_out} (the "
                f"{outputs}), as {len(self.inputs)}-{'-'.join(str(n) for n in sizes[1:-1]) or '4'}-{n_out}"
            )
        spec = CsvSamples(os.path.abspath(self.path), tuple(self.inputs), classes or tuple(self.targets), self.one_hot)
        return spec, tuple(Sample(i, t) for i, t in zip(ins, outs))


def draw(rnd: random.Random, low: float = -0.5, high: float = 0.5, decimals: int = 2) -> float:
    """A starting weight or bias: uniform in [low, high] (by default [-0.5,
    0.5]), to ``decimals`` decimals, and never -0.0 (what a small negative
    number rounds to)."""
    return round(rnd.uniform(low, high), decimals) + 0.0


def render(cfg: Config, origin: str, note: str = "", folder: str | None = None) -> str:
    """A config's commented text; ``folder``: where it is written (a CSV file of samples is named relative to it)."""
    net = Net(cfg)
    names = [net.input_names] + net.neurons
    lines = [
        f"# A network for stepprop ({origin}). Change any number; keep the shapes.",
        *([f"# Note: {note}."] if note else []),
        "# Try: stepprop explain this.yaml   (every number of one training step)",
        "#      stepprop train this.yaml --epochs 10000",
        "",
        *(_csv_lines(cfg, net, folder) if cfg.csv is not None else _sample_lines(cfg, net)),
        f"eta: {cfg.eta!r}    # the learning rate: w+ = w - eta * dE/dw",
        f"update_biases: {'true' if cfg.update_biases else 'false'}"
        "    # false keeps every bias fixed, as the post does",
        f"activation: {cfg.activation}    # for every layer unless a layer says otherwise: "
        + ", ".join(LAYER_ACTIVATIONS)
        + " (softmax: output layer only)",
        f"loss: {cfg.loss}    # E_total = {ops.loss(cfg.loss).words}",
        *(f"{key}: {getattr(cfg, key)!r}    # {PARAM_WORDS[key]}" for key in cfg.params_used()),
        *(
            ["delta: error    # delta_n is the error term -dE_total/dnet_n: w+ = w + eta * delta * input"]
            if cfg.delta == "error"
            else []
        ),
        *(["bias_input: -1    # a bias is a threshold on a constant input of -1"] if cfg.bias_input == -1 else []),
        *(["notation: nielsen    # Nielsen's names: w^l_jk, z^l_j, a^l_j, C"] if cfg.notation == "nielsen" else []),
        *(
            [f"batch_size: {cfg.batch_size}    # rows per update (explain shows the step on the first batch)"]
            if cfg.batch_size is not None
            else []
        ),
        *(
            [
                "# For several training samples, replace inputs and targets with",
                "#   samples: [{inputs: [...], targets: [...]}, ...]   and optionally batch_size: N and",
                "#   batch_error: mean (a batch's error is the mean of its samples' E_total) or sum",
            ]
            if cfg.csv is None
            else []
        ),
        "",
        "# Layers: hidden layers first, the output layer last. Row r of a layer's weights holds",
        "# the weights INTO its neuron r, one per neuron of the previous layer; weights are",
        "# named w^l_jk, into neuron j of layer l from neuron k of layer l-1 (the inputs are layer 1)."
        if cfg.notation == "nielsen"
        else "# numbered w1, w2, ... layer by layer and row by row.",
        "layers:",
    ]
    for li, layer in enumerate(cfg.layers):
        kind = layer_title(cfg, li).lower()
        lines.append(f"  - # {kind}: neurons {', '.join(names[li + 1])}")
        rows = []
        for r, row in enumerate(layer.weights):
            target = names[li + 1][r]
            wnames = net.weight_names[li][r]
            rows.append((_list(row), f"{target} <- {', '.join(names[li])}: {', '.join(wnames)}"))
        width = max(len(text) for text, _ in rows)
        for r, (text, note) in enumerate(rows):
            head = "    weights: [" if r == 0 else "              "
            tail = "]" if r == len(rows) - 1 else ","
            lines.append(f"{head}{(text + tail).ljust(width + 1)}   # {note}")
        if layer.bias is None:
            lines.append("    # no bias: add 'bias: 0.1' (shared) or 'bias: [..]' (one per neuron)")
        elif isinstance(layer.bias, tuple):
            bnames = net.bias_names[li] or []
            lines.append(
                f"    bias: {_list(layer.bias)}    # one per neuron: "
                + ", ".join(f"{b} ({n})" for b, n in zip(bnames, names[li + 1]))
            )
        else:
            bname = (net.bias_names[li] or ["?"])[0]
            lines.append(f"    bias: {layer.bias!r}    # {bname}, one bias shared by {', '.join(names[li + 1])}")
        if layer.activation != cfg.activation:
            lines.append(f"    activation: {layer.activation}")
    shown = notation_of(net)  # the comments name what they name as the config's notation does
    if shown.nielsen:
        lines = [line if "#" not in line else _commented(line, shown.text) for line in lines]
    return "\n".join(lines) + "\n"


def _sample_lines(cfg: Config, net: Net) -> list[str]:
    return [
        f"inputs: {_list(cfg.samples[0].inputs)}    # the input values: {', '.join(net.input_names)}",
        f"targets: {_list(cfg.samples[0].targets)}    # what the outputs should be: "
        + ", ".join(f"target_{n}" for n in net.output_names),
    ]


def _csv_lines(cfg: Config, net: Net, folder: str | None) -> list[str]:
    import json  # a name in YAML's flow style: JSON strings are YAML strings

    assert cfg.csv is not None
    written = cfg.csv.to_dict(folder if folder is not None else os.getcwd())

    def names(values: list[str]) -> str:
        return "[" + ", ".join(json.dumps(v) for v in values) + "]"

    lines = [
        f"samples:    # {len(cfg.samples)} rows of a CSV file (a header row names its columns)",
        f"  csv: {json.dumps(written['csv'])}    # relative to this file's folder",
        f"  inputs: {names(written['inputs'])}    # {', '.join(net.input_names)}",
    ]
    pairs = ", ".join(f"{c} -> {n}" for c, n in zip(cfg.csv.targets, net.output_names))
    if cfg.csv.one_hot is not None:
        lines.append(f"  one_hot: {json.dumps(cfg.csv.one_hot)}    # one 0/1 target per class, sorted: {pairs}")
    else:
        lines.append(f"  targets: {names(written['targets'])}    # {pairs}")
    return lines


def _commented(line: str, spell: Callable[[str], str]) -> str:
    """A line with its comment's names spelled anew (the YAML before it kept)."""
    code, mark, comment = line.partition("#")
    return code + mark + spell(comment)


def _list(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def expression_config() -> str:
    """A new expression config (``stepprop init --expression``): CS231n's
    sigmoid neuron, staged, with a comment on every key and the operators and
    functions an expression may use (as the parser knows them)."""
    from .exprparse import FUNCTIONS

    functions = ", ".join(f"{name}({', '.join('xy'[:n])})" for name, n in FUNCTIONS.items())
    text = f"""\
# An expression: any scalar formula, worked out as a computational graph.
# Try: stepprop explain THIS_FILE; stepprop check --template THIS_FILE; stepprop diagram THIS_FILE
#
# One assignment a line (name = formula); the last line is the output (or say output: NAME).
# Operators: + - * / and ^ (or **) with a number as the power (x^2, x^0.5, x^-1); unary minus; ( ).
# Functions: {functions}  (log is natural)
# A name used in several places is one node: its gradient adds up the gradient of every path.
expression: |
  s = w0*x0 + w1*x1 + w2    # the neuron's weighted sum
  f = sigmoid(s)            # its output
values:                     # every input's value
  w0: 2.0
  x0: -1.0
  w1: -3.0
  x1: -2.0
  w2: -3.0
# output: s                 # (optional) another assigned name as the output
"""
    from .graph import parse as parse_expression

    parse_expression(text, "the new expression config")  # (it must be a valid config)
    return text
