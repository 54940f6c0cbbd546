"""Read and validate a network config (YAML).

The file is composed into PyYAML's node tree with the safe loader and checked
node by node, so every error names ``file:line:column`` and what was expected.
Nothing in the file is ever constructed as a Python object except numbers,
strings and booleans; anchors, aliases and non-standard tags are refused.
"""

# no `from __future__ import annotations` here: a NamedTuple of string annotations
# costs start-up a compile per field (annotations naming what comes later are quoted)
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from . import ops
from .errors import ConfigError
from .files import read_capped
from .ops import ACTIVATIONS, LOSSES
from .optim import (
    DEFAULT_DECAY,
    DEFAULTS,
    MOMENTUM_FORMS,
    OPTIMIZERS,
    PENALTIES,
    PLAIN,
    RMSPROP_DECAY,
    SETTINGS,
    Settings,
)
from .words import count, show

if TYPE_CHECKING:
    from pathlib import Path

BIAS_MODES = ("shared", "per-neuron", "none")  # what `stepprop init --bias` offers
# the keys of a config's top level, each with the other names a newcomer may
# give it (an unknown key's message then suggests the key)
TOP_KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "inputs": ("input", "x", "features"),
    "targets": ("target", "y", "labels", "outputs", "expected"),
    "samples": ("data", "examples", "dataset", "training_data"),
    "eta": ("learning_rate", "lr", "alpha", "step_size", "rate"),
    "update_biases": ("train_biases", "learn_biases", "train_bias", "update_bias"),
    "layers": ("network", "hidden_layers"),
    "activation": ("act", "activation_function"),
    "loss": ("loss_function", "error_function", "cost", "cost_function", "criterion"),
    "batch_size": ("batch", "minibatch", "minibatch_size"),
    "batch_error": ("reduction", "batch_reduction"),
    "bias_input": ("threshold", "bias_value", "bias_sign"),
    "delta": ("delta_convention", "delta_sign"),
    "notation": ("names", "naming", "indexing", "convention"),
    "optimizer": ("optimiser", "optim", "solver", "update_rule"),
    "momentum": ("mu", "beta"),
    "momentum_form": ("momentum_style", "momentum_convention"),
    "beta1": ("beta_1", "b1"),
    "beta2": ("beta_2", "b2", "rho", "decay_rate"),
    "epsilon": ("eps",),
    "weight_decay": ("l2", "lambda", "decay", "l2_lambda", "wd"),
    "l1": ("l1_lambda", "lasso"),
    "regularize_biases": ("regularise_biases", "decay_biases"),
    "penalty": ("regularization", "regularisation"),
    # the operations' parameters (see PARAMS); Huber's is not 'delta', which is the delta convention's key
    "slope": ("negative_slope", "leaky_slope", "leak", "leakiness"),
    "elu_alpha": ("elu_a", "alpha_elu"),
    "huber_delta": ("huber_threshold", "delta_huber", "huber_beta"),
}
TOP_KEYS = tuple(TOP_KEY_ALIASES)
# a batch's error from its samples' E_total (the ops of those names)
BATCH_ERRORS = ("mean", "sum")
# what delta_n is: dE/dnet_n (the post's), or its negative, the error term (t - o) f'(net) of the textbooks
DELTAS = ("gradient", "error")
# how quantities are named: the post's (w5, net_h1, out_h1, E_total) or Nielsen's
# (w^3_11, z^2_1, a^2_1, C: layers numbered from 1 for the inputs)
NOTATIONS = ("mazur", "nielsen")
# each operation's parameter (a top-level key of its name) -> the op it belongs to
PARAMS: dict[str, str] = {key: op.name for op in ops.OPS.values() for key in op.params}
# what each may be (PyTorch allows any slope and alpha; the definitions don't), and what it is
PARAM_RULES: dict[str, tuple[Callable[[float], bool], str, str]] = {
    "slope": (
        lambda v: 0 <= v <= 1,
        "from 0 to 1",
        "leaky_relu's slope for negative net inputs (PyTorch's negative_slope: 0.01 is usual, 0.1 and 0.2 "
        "common); a negative one would make negative net inputs positive, one above 1 is steeper there than "
        "for positive ones",
    ),
    "elu_alpha": (
        lambda v: v > 0,
        "greater than 0",
        "ELU's alpha: its output tends to -alpha for very negative net inputs",
    ),
    "huber_delta": (
        lambda v: v > 0,
        "greater than 0",
        "where the Huber loss turns from squared to linear (PyTorch's delta)",
    ),
}
LAYER_KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "weights": ("w", "weight", "weight_matrix", "kernel"),
    "bias": ("b", "biases", "intercept"),
    "activation": ("act", "activation_function"),
    "name": ("prefix", "label"),
}
LAYER_KEYS = tuple(LAYER_KEY_ALIASES)
SAMPLE_KEYS = ("inputs", "targets")
# samples from a CSV file (samples: {csv: FILE, inputs: [...], targets: [...] or one_hot: COLUMN})
CSV_KEYS = ("csv", "inputs", "targets", "one_hot")
# another name of a key -> the key (a message suggests it where the key is allowed)
KEY_ALIASES: dict[str, str] = {
    alias: key for keys in (TOP_KEY_ALIASES, LAYER_KEY_ALIASES) for key, aliases in keys.items() for alias in aliases
}

MAX_STEPS = 1000  # consecutive steps explain shows and check's answers may be about (each one's working is pages)
MAX_CHECK_EPOCHS = 10_000_000  # the most epochs answers can be about (check --epochs, epochs: in a file)
MAX_BYTES = 1_000_000  # a config is a few hundred bytes; this is generous
MAX_DEPTH = 16  # the format needs 5 levels of nesting
MAX_NEURONS = 1_000  # per layer
MAX_LAYERS = 64
MAX_SAMPLES = 100_000  # samples in a config, listed or read from a CSV file (its rows)
MAX_CSV_BYTES = 50_000_000  # a samples CSV file: 100,000 rows of up to 500 characters

BUNDLED = "mazur"  # the post's network, used when no config is given


class Layer(NamedTuple):
    weights: tuple[tuple[float, ...], ...]  # one row per neuron of this layer
    bias: float | tuple[float, ...] | None  # shared, per neuron, or none
    activation: str
    name: str | None = None  # the neuron-name prefix the file asked for

    @property
    def size(self) -> int:
        return len(self.weights)


class Sample(NamedTuple):
    inputs: tuple[float, ...]
    targets: tuple[float, ...]


class CsvSamples(NamedTuple):
    """Where a config's samples come from when they are read from a CSV file."""

    path: str  # the file, absolute (written relative to the config's folder)
    inputs: tuple[str, ...]  # the input columns
    targets: tuple[str, ...]  # the target columns; with one_hot, the classes, in order
    one_hot: str | None = None  # the class column expanded into one 0/1 target per class

    def to_dict(self, folder: str | None = None) -> dict[str, Any]:
        """As written in a config: the file relative to ``folder`` where it lies
        inside it, else its absolute path (read back from anywhere)."""
        path = self.path
        if folder is not None:
            inside = os.path.relpath(path, folder)
            if not inside.startswith(os.pardir):
                path = inside
        out: dict[str, Any] = {"csv": path, "inputs": list(self.inputs)}
        if self.one_hot is not None:
            out["one_hot"] = self.one_hot
        else:
            out["targets"] = list(self.targets)
        return out


class Config(NamedTuple):
    layers: tuple[Layer, ...]
    samples: tuple[Sample, ...]
    eta: float
    update_biases: bool = True
    loss: str = "half_squared_error"
    activation: str = "sigmoid"
    batch_size: int | None = None
    batch_error: str = "mean"  # a batch's error: the mean of its samples' E_total, or their sum
    bias_input: float = 1.0  # what a bias multiplies: 1, or -1 where biases are thresholds (Mitchell, Haykin)
    delta: str = "gradient"  # delta_n = dE/dnet_n (the post's), or "error": -dE/dnet_n (Mitchell, Haykin, Fausett)
    notation: str = "mazur"  # the names shown and read: the post's, or "nielsen" (w^l_jk, z^l_j, a^l_j, C)
    optim: Settings = PLAIN  # the optimiser (see stepprop.optim): plain gradient descent, the post's
    source: str = "<config>"
    uses_samples_key: bool = False  # written with 'samples:' (kept when saving)
    # a trained network's: how many epochs stepprop trained it for, from which config
    # (saved as a comment: a file read back starts anew, from itself)
    trained_epochs: int = 0
    trained_from: str = ""
    # the operations' parameters (used only by the op each belongs to: see PARAMS)
    slope: float = ops.LEAKY_RELU.params["slope"]  # leaky_relu's slope for negative net inputs
    elu_alpha: float = ops.ELU.params["elu_alpha"]  # elu: alpha * (e^net - 1) for negative net inputs
    huber_delta: float = ops.HUBER.params["huber_delta"]  # huber: squared below it, linear above
    csv: CsvSamples | None = None  # the samples were read from a CSV file (kept so when saving)

    @property
    def n_inputs(self) -> int:
        return len(self.samples[0].inputs)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n_inputs,) + tuple(layer.size for layer in self.layers)

    @property
    def effective_batch_size(self) -> int:
        n = len(self.samples)
        return n if self.batch_size is None else min(self.batch_size, n)

    def batches(self) -> list[tuple[Sample, ...]]:
        """The samples cut into batches, in file order."""
        size = self.effective_batch_size
        return [self.samples[i : i + size] for i in range(0, len(self.samples), size)]

    def params_used(self) -> list[str]:
        """The operations' parameters that mean something here (slope where a
        layer is leaky_relu, huber_delta for the huber loss), in PARAMS's order."""
        used = {layer.activation for layer in self.layers} | {self.loss}
        return [key for key, op in PARAMS.items() if op in used]

    def with_parameters(self, layers: list[tuple[list[list[float]], float | list[float] | None]]) -> "Config":
        """The same config with new weights and biases (same shape)."""
        new = []
        for old, (weights, bias) in zip(self.layers, layers):
            new.append(
                Layer(
                    tuple(tuple(row) for row in weights),
                    tuple(bias) if isinstance(bias, list) else bias,
                    old.activation,
                    old.name,
                )
            )
        return self._replace(layers=tuple(new))

    def to_dict(self, folder: str | None = None) -> dict[str, Any]:
        """The config in its file format (as plain data, ready for YAML); a
        CSV file of samples is named relative to ``folder`` (where the file
        is written) if it lies there, else by its absolute path."""
        out: dict[str, Any] = {}
        if self.csv is not None:
            out["samples"] = self.csv.to_dict(folder)
        elif self.uses_samples_key or len(self.samples) > 1:
            out["samples"] = [{"inputs": list(s.inputs), "targets": list(s.targets)} for s in self.samples]
        else:
            out["inputs"] = list(self.samples[0].inputs)
            out["targets"] = list(self.samples[0].targets)
        out["eta"] = self.eta
        out["update_biases"] = self.update_biases
        if self.activation != "sigmoid":
            out["activation"] = self.activation
        if self.loss != "half_squared_error":
            out["loss"] = self.loss
        if self.batch_size is not None:
            out["batch_size"] = self.batch_size
        if self.batch_error != "mean":
            out["batch_error"] = self.batch_error
        if self.bias_input != 1:
            out["bias_input"] = int(self.bias_input)
        if self.delta != "gradient":
            out["delta"] = self.delta
        if self.notation != "mazur":
            out["notation"] = self.notation
        out.update(self.optim.to_dict())
        for key in self.params_used():
            value = getattr(self, key)
            if value != ops.OPS[PARAMS[key]].params[key]:
                out[key] = value
        layers = []
        for layer in self.layers:
            d: dict[str, Any] = {}
            if layer.name:
                d["name"] = layer.name
            d["weights"] = [list(row) for row in layer.weights]
            if layer.bias is not None:
                d["bias"] = list(layer.bias) if isinstance(layer.bias, tuple) else layer.bias
            if layer.activation != self.activation:
                d["activation"] = layer.activation
            layers.append(d)
        out["layers"] = layers
        return out


# ---------------------------------------------------------------- naming --


def layer_prefixes(names: list[str | None]) -> list[str]:
    """The neuron-name prefix of each layer (hidden layers first, output last).

    The post's names: h1, h2 ... for a single hidden layer, o1, o2 ... for the
    output layer.  With several hidden layers, layer L's neurons are hL_1,
    hL_2 ... (h1_2 is neuron 2 of hidden layer 1).  A layer's ``name``
    replaces its prefix: name ``g`` gives g1, g2 ...
    """
    hidden = len(names) - 1
    out = []
    for index, name in enumerate(names):
        if name:
            out.append(name)
        elif index == hidden:
            out.append("o")
        elif hidden == 1:
            out.append("h")
        else:
            out.append(f"h{index + 1}_")
    return out


# --------------------------------------------------------------- loading --


# the example configs ship as package data, next to this module (a plain path:
# start-up does without pathlib; BUNDLED_DIR, a Path, is made when asked for)
_BUNDLED = os.path.join(os.path.dirname(os.path.realpath(__file__)), "configs")


def __getattr__(name: str) -> Any:
    if name == "BUNDLED_DIR":
        from pathlib import Path

        return Path(_BUNDLED)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def bundled_names() -> list[str]:
    """Names of the example configs shipped with stepprop."""
    return sorted(f[:-5] for f in os.listdir(_BUNDLED) if f.endswith(".yaml"))


def bundled_answers(name: str) -> str | None:
    """A bundled answers file (the post's own figures, for `stepprop check`), by name."""
    path = os.path.join(_BUNDLED, "answers", f"{name}.yaml")
    return path if os.path.isfile(path) else None


def bundled_answer_names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(os.path.join(_BUNDLED, "answers")) if f.endswith(".yaml"))


def bundled_text(name: str) -> str:
    with open(os.path.join(_BUNDLED, f"{name}.yaml"), encoding="utf-8") as handle:
        return handle.read()


def load(path: "str | Path | None" = None) -> "Config":
    """Load a config file; with no path, the post's network."""
    if path is None:
        return parse(bundled_text(BUNDLED), f"the bundled {BUNDLED}.yaml", _BUNDLED)
    return parse(read_text(path), str(path), os.path.dirname(path))


def read_text(path: "str | Path", what: str = "a config", cap: int = MAX_BYTES) -> str:
    """A UTF-8 text file's content (at most ``cap`` bytes), or a ConfigError that says why not."""
    name = str(path)
    if not os.path.exists(path):
        raise ConfigError("no such file", name)
    if os.path.isdir(path):
        raise ConfigError(f"is a directory, not {what} file", name)
    try:
        read = read_capped(path, cap)
        if read is None:
            raise ConfigError(f"more than {cap:,} bytes; {what} is at most {cap:,}", name)
        raw = read
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", name) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"not a UTF-8 text file (byte {raw[exc.start]:#04x} here)", name, line, column) from None


def parse(text: str, source: str = "<config>", folder: "str | Path | None" = None) -> "Config":
    """Parse and validate config text; ``source`` names it in messages, and a
    CSV file of samples is relative to ``folder`` (by default the current one)."""
    root = compose(text, source)
    return Validator(source, folder).config(root)


EMPTY_CONFIG = "the file is empty; a config is a mapping with layers, inputs, targets and eta"


def compose(text: str, source: str, empty: str = EMPTY_CONFIG) -> Any:
    """The YAML node tree of ``text`` (safe loader, no aliases, bounded depth);
    ``empty`` is the message for a file with no document.

    With libyaml (the usual case) the events are checked first, then the
    tree is composed in C; without it, PyYAML's own loader does both."""
    import yaml  # imported here: --help and JSON-only runs don't pay for it

    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ConfigError(f"a config is at most {MAX_BYTES:,} bytes", source)

    def alias(mark: Any) -> ConfigError:
        return ConfigError(
            "anchors and aliases (*name) are not supported in a config; write the values out",
            source,
            mark.line + 1,
            mark.column + 1,
        )

    def too_deep(mark: Any) -> ConfigError:
        return ConfigError(f"nested more than {MAX_DEPTH} levels deep", source, mark.line + 1, mark.column + 1)

    class _Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401
            if self.check_event(yaml.AliasEvent):
                raise alias(self.peek_event().start_mark)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise too_deep(self.peek_event().start_mark)
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    def libyaml_node() -> Any:  # noqa: ANN401
        depth = 0
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise alias(event.start_mark)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise too_deep(event.start_mark)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        return yaml.compose(text, Loader=yaml.CSafeLoader)

    loader = None
    try:
        node = None
        if getattr(yaml, "__with_libyaml__", False):
            try:
                node = libyaml_node()
            except yaml.MarkedYAMLError as exc:
                # libyaml (PyYAML 6.0.4 on) has a nesting limit of its own, met while it
                # scans ahead of the events: the Python loader finds ours, and its place
                if "maximum nesting depth" not in str(exc.problem):
                    raise
                loader = _Loader(text)
        else:
            loader = _Loader(text)  # this already reads the text, and may reject a character
        if loader is not None:
            node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if mark is None:
            raise ConfigError(f"not valid YAML: {what}", source) from None
        lines = text.splitlines()
        here = lines[mark.line][mark.column : mark.column + 1] if mark.line < len(lines) else ""
        if here == "\t":
            what += " (a tab '\\t': YAML indents with spaces only)"
        raise ConfigError(f"not valid YAML: {what}", source, mark.line + 1, mark.column + 1) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise ConfigError(
            f"not valid YAML: the character {char!r} is not allowed in a config", source, line, column
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise ConfigError(empty, source)
    return node


# ------------------------------------------------------------ validation --

_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}
# patterns (re compiles each when first used, not at start-up)
_NUMBER_TEXT = r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_NAME = r"^[A-Za-z]+$"


def _plain(word: str) -> str:
    """A name as compared for a suggestion: 'Learning-Rate' is 'learningrate'."""
    return re.sub(r"[^0-9a-z]", "", word.lower())


def suggest(word: str, choices: Any, n: int = 1, aliases: Mapping[str, str] | None = None) -> str:
    """' (did you mean X?)' for the closest choice (or up to n of them), or '';
    ``aliases`` maps other names of the choices to them (lr -> eta)."""
    import difflib

    choices = list(choices)
    same = [c for c in choices if c.lower() == word.lower()] or [c for c in choices if _plain(c) == _plain(word)]
    if not same and aliases:
        same = [c for a, c in aliases.items() if _plain(a) == _plain(word) and c in choices][:1]
    close = same or difflib.get_close_matches(word, choices, n=n, cutoff=0.6 if n == 1 else 0.5)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close[:n]) + "?)"


def _closest(word: str, choices: list[str]) -> str | None:
    """The choice most like ``word`` (difflib's ratio, at least 0.75), or None."""
    import difflib

    scored = [(difflib.SequenceMatcher(None, word.lower(), c).ratio(), c) for c in choices]
    best = max(scored)
    return best[1] if best[0] >= 0.75 else None


class Validator:
    def __init__(self, source: str, folder: "str | Path | None" = None):
        self.source = source
        # what a CSV file's path is relative to: the given folder, else the config file's, else the current one
        if folder is None:
            folder = os.path.dirname(source) if os.path.isfile(source) else ""
        self.folder = os.fspath(folder)

    # -- helpers
    def error(self, node: Any, message: str) -> ConfigError:
        mark = node.start_mark
        return ConfigError(message, self.source, mark.line + 1, mark.column + 1)

    def check_tag(self, node: Any) -> None:
        if node.tag not in _ALLOWED_TAGS:
            raise self.error(
                node, f"the tag {node.tag!r} is not allowed in a config (only plain values, lists and mappings)"
            )

    def mapping(self, node: Any, what: str, keys: tuple[str, ...] | None) -> dict[str, tuple[Any, Any]]:
        """The pairs of a mapping node by key; ``keys=None`` allows any key."""
        import yaml

        self.check_tag(node)
        if not isinstance(node, yaml.MappingNode):
            plain = "" if "mapping" in what else " (a mapping of keys to values)"
            raise self.error(node, f"expected {what}{plain}, found {self.kind(node)}")
        out: dict[str, tuple[Any, Any]] = {}
        for key_node, value_node in node.value:
            self.check_tag(key_node)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STD + "str":
                raise self.error(key_node, f"expected a key name in {what}, found {self.kind(key_node)}")
            key = key_node.value
            if key in out:
                first = out[key][0].start_mark
                raise self.error(key_node, f"duplicate key '{show(key)}' (first given at line {first.line + 1})")
            if keys is not None and key not in keys:
                raise self.error(
                    key_node,
                    f"unknown key '{show(key)}' in {what}{suggest(key, keys, aliases=KEY_ALIASES)}; "
                    f"allowed: {', '.join(keys)}",
                )
            self.check_tag(value_node)
            out[key] = (key_node, value_node)
        return out

    @staticmethod
    def kind(node: Any) -> str:
        import yaml

        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        tag = node.tag[len(_STD) :] if node.tag.startswith(_STD) else node.tag
        if tag == "null":
            return "nothing (an empty value)"
        if tag == "str":
            return f"the text '{show(node.value)}'"
        if tag == "bool":
            return f"the boolean '{show(node.value)}'"
        return f"'{show(node.value)}'"

    def number(self, node: Any, what: str) -> float:
        import yaml

        self.check_tag(node)
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"expected a number for {what}, found {self.kind(node)}")
        tag = node.tag
        text = node.value.strip()
        if tag == _STD + "bool":
            raise self.error(
                node,
                f"expected a number for {what}, found '{show(node.value)}', which YAML reads as a boolean; "
                "write 0 or 1",
            )
        if tag == _STD + "null":
            raise self.error(node, f"expected a number for {what}, found nothing")
        if ":" in text and tag in (_STD + "int", _STD + "float"):
            raise self.error(
                node,
                f"expected a number for {what}, found '{show(node.value)}', which YAML 1.1 reads as a base-60 "
                "number (like a time); write it as a decimal number",
            )
        if tag == _STD + "int":
            value: float
            try:
                plain = text.replace("_", "")
                if re.fullmatch(r"[-+]?\d+", plain):
                    value = float(int(plain, 10))  # 010 is ten, as meant, not YAML 1.1's octal 8
                else:
                    value = float(_scalars().construct_yaml_int(node))
            except (ValueError, OverflowError):
                raise self.error(node, f"expected a number for {what}, found '{show(node.value)}'") from None
        elif tag == _STD + "float" or re.match(_NUMBER_TEXT, text):
            # YAML 1.1 reads 1e-3 (no dot) as text; it is plainly a number
            try:
                value = (
                    float(text.replace("_", ""))
                    if re.match(_NUMBER_TEXT, text)
                    else float(_scalars().construct_yaml_float(node))
                )
            except (ValueError, OverflowError):
                raise self.error(node, f"expected a number for {what}, found '{show(node.value)}'") from None
        else:
            raise self.error(node, f"expected a number for {what}, found {self.kind(node)}")
        if math.isnan(value) or math.isinf(value):
            raise self.error(node, f"expected a finite number for {what}, found '{show(node.value)}'")
        return value

    def numbers(self, node: Any, what: str, length: int | None = None, length_why: str = "") -> tuple[float, ...]:
        import yaml

        self.check_tag(node)
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"expected a list of numbers for {what}, found {self.kind(node)}")
        if not node.value:
            raise self.error(node, f"expected a list of numbers for {what}, found an empty list")
        if length is not None and len(node.value) != length:
            raise self.error(
                node,
                f"expected {count(length, 'number')} for {what}{length_why}, found {len(node.value)}",
            )
        return tuple(self.number(item, f"{what}[{i + 1}]") for i, item in enumerate(node.value))

    def values(self, node: Any, what: str, length: int | None = None, length_why: str = "") -> tuple[float, ...]:
        """A list of numbers, or a bare number where a list of one will do
        (``targets: 1`` for one output); :meth:`one` tells which it was."""
        if self.one(node):
            value = self.number(node, what)
            if length is not None and length != 1:
                raise self.error(
                    node,
                    f"expected {count(length, 'number')} for {what}{length_why}, "
                    f"found the single number {show(node.value)}",
                )
            return (value,)
        return self.numbers(node, what, length, length_why)

    @staticmethod
    def one(node: Any) -> bool:
        """Is the node a bare number (or a YAML word a number was meant as),
        not a list?"""
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.tag == _STD + "null":
            return False
        return node.tag != _STD + "str" or bool(re.match(_NUMBER_TEXT, node.value.strip()))

    def string(self, node: Any, what: str, choices: tuple[str, ...] | None = None) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.tag != _STD + "str":
            expect = f"one of {', '.join(choices)}" if choices else "a name"
            raise self.error(node, f"expected {expect} for {what}, found {self.kind(node)}")
        value = node.value
        if choices is not None and value not in choices:
            raise self.error(
                node,
                f"unknown {what} '{show(value)}'{suggest(value, choices, aliases=ops.ALIASES)}; "
                f"choose one of {', '.join(choices)}",
            )
        return value

    def boolean(self, node: Any, what: str) -> bool:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.tag != _STD + "bool":
            raise self.error(node, f"expected true or false for {what}, found {self.kind(node)}")
        return bool(_scalars().construct_yaml_bool(node))

    def integer(self, node: Any, what: str) -> int:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.tag != _STD + "int":
            raise self.error(node, f"expected a whole number for {what}, found {self.kind(node)}")
        return int(_scalars().construct_yaml_int(node))

    # -- the document
    def config(self, root: Any) -> "Config":
        import yaml

        if isinstance(root, yaml.MappingNode):  # a misspelled expression: key is not a network's key
            for key_node, _ in root.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
                if (
                    isinstance(key, str)
                    and key not in TOP_KEYS
                    and _closest(key, [*TOP_KEYS, "expression"]) == "expression"
                ):
                    raise self.error(
                        key_node,
                        f"unknown key '{show(key)}' (did you mean 'expression'? an expression config has "
                        "expression: and values:)",
                    )
        top = self.mapping(root, "the config", TOP_KEYS)

        def need(key: str, hint: str) -> Any:
            if key not in top:
                raise self.error(root, f"missing required key '{key}' ({hint})")
            return top[key][1]

        default_act = "sigmoid"
        if "activation" in top:
            default_act = self.string(top["activation"][1], "activation", ACTIVATIONS)
        loss = "half_squared_error"
        if "loss" in top:
            loss = self.string(top["loss"][1], "loss", LOSSES)

        layers_node = need("layers", "a list of layers, hidden layers first, each with 'weights'")
        import yaml

        if not isinstance(layers_node, yaml.SequenceNode) or not layers_node.value:
            found = "an empty list" if isinstance(layers_node, yaml.SequenceNode) else self.kind(layers_node)
            raise self.error(layers_node, f"expected a non-empty list of layers, found {found}")
        if len(layers_node.value) > MAX_LAYERS:
            raise self.error(layers_node, f"at most {MAX_LAYERS} layers are supported")

        # the inputs fix the width of the first layer's rows
        samples, sample_nodes, uses_samples_key, read = self.samples(top, root)
        n_in = len(samples[0][0])
        layers: list[Layer] = []
        names_seen: dict[str, Any] = {}
        prev = n_in
        prev_what = f"the {count(n_in, 'input')}"
        last = len(layers_node.value) - 1
        for li, lnode in enumerate(layers_node.value):
            what = f"layer {li + 1}"
            fields = self.mapping(lnode, what, LAYER_KEYS)
            if "weights" not in fields:
                raise self.error(lnode, f"{what} has no 'weights' (one row of {count(prev, 'number')} per neuron)")
            wnode = fields["weights"][1]
            if not isinstance(wnode, yaml.SequenceNode) or not wnode.value:
                found = "an empty list" if isinstance(wnode, yaml.SequenceNode) else self.kind(wnode)
                raise self.error(wnode, f"expected the weights of {what} as a list of rows, found {found}")
            if len(wnode.value) > MAX_NEURONS:
                raise self.error(wnode, f"{what} has {len(wnode.value)} neurons; at most {MAX_NEURONS} are supported")
            if li == 0 and self.one(sample_nodes[0][0]):
                # the inputs, a single number, say one input; the weights may say more
                inode = sample_nodes[0][0]
                wide = [len(r.value) for r in wnode.value if isinstance(r, yaml.SequenceNode) and len(r.value) > 1]
                if wide:
                    raise self.error(
                        inode,
                        f"expected {count(wide[0], 'input')} (layer 1's weight rows have {wide[0]} numbers, one per "
                        f"input), found the single number {show(inode.value)}; write the inputs as a list of "
                        f"{wide[0]} numbers",
                    )
            rows = []
            for ri, rnode in enumerate(wnode.value):
                if not isinstance(rnode, yaml.SequenceNode):
                    raise self.error(
                        rnode,
                        f"expected row {ri + 1} of the weights of {what} to be a list of {count(prev, 'number')} "
                        f"(one per neuron of the previous layer), found {self.kind(rnode)}",
                    )
                rows.append(
                    self.numbers(
                        rnode,
                        f"{what} weights row {ri + 1}",
                        prev,
                        f" (one per neuron of the previous layer: {prev_what})",
                    )
                )
            size = len(rows)
            bias: float | tuple[float, ...] | None = None
            if "bias" in fields:
                bnode = fields["bias"][1]
                if isinstance(bnode, yaml.SequenceNode):
                    bias = self.numbers(bnode, f"the biases of {what}", size, f" (one per neuron: {what} has {size})")
                else:
                    bias = self.number(bnode, f"the bias of {what}")
            act = default_act
            if "activation" in fields:
                act = self.string(fields["activation"][1], f"activation of {what}", ACTIVATIONS)
            if ops.activation(act).coupled:  # softmax: each output depends on the whole layer
                anode = fields["activation"][1] if "activation" in fields else top["activation"][1]
                if li != last:
                    raise self.error(anode, f"{act} is only allowed on the output layer, not on hidden {what}")
                if size < 2:
                    raise self.error(anode, f"{act} needs at least 2 output neurons (with one, its output is always 1)")
            name = None
            if "name" in fields:
                nnode = fields["name"][1]
                name = self.string(nnode, f"the name of {what}")
                if not re.match(_NAME, name) or len(name) > 12:
                    raise self.error(nnode, f"a layer name is 1 to 12 letters (neurons become {name}1, {name}2, ...)")
                if name in ("i", "w", "b", "E", "eta", "delta", "target") or name in names_seen:
                    raise self.error(nnode, f"the layer name '{show(name)}' is already used")
                names_seen[name] = nnode
            layers.append(Layer(tuple(rows), bias, act, name))
            # a name must not collide with a default name of another layer
            prefixes = layer_prefixes([lay.name for lay in layers] + [None] * (last - li))
            if name and prefixes.count(name) > 1:
                raise self.error(fields["name"][1], f"the layer name '{name}' is the default name of another layer")
            prev = size
            prev_what = f"{what} has {size}"

        n_out = layers[-1].size
        for (_ins, outs), (_inode, tnode) in zip(samples, sample_nodes):
            if len(outs) != n_out:
                if self.one(tnode):
                    raise self.error(
                        tnode,
                        f"expected {count(n_out, 'target')} (one per output neuron), found the single number "
                        f"{show(tnode.value)}; write the targets as a list of {n_out} numbers",
                    )
                classes = (
                    f" (one_hot: the classes {', '.join(read.spec.targets)})" if read and read.spec.one_hot else ""
                )
                raise self.error(
                    tnode, f"expected {count(n_out, 'target')} (one per output neuron), found {len(outs)}{classes}"
                )
        out_act = layers[-1].activation
        rule = ops.loss(loss)
        if rule.unit_targets:
            for k, ((_ins, outs), (_inode, tnode)) in enumerate(zip(samples, sample_nodes)):
                if any(not 0 <= t <= 1 for t in outs):
                    message = f"{loss} needs targets between 0 and 1, found {list(outs)}"
                    if read is not None:
                        raise ConfigError(message, read.name, read.lines[k])
                    raise self.error(tnode, message)
        if rule.after is not None and out_act not in rule.after:
            raise self.error(
                top["loss"][1],
                f"{loss} ({rule.words}) needs a {' or '.join(rule.after)} output layer, not {out_act}: "
                f"{rule.why_after}",
            )

        eta = self.number(need("eta", "the learning rate, e.g. eta: 0.5"), "eta")
        if eta <= 0:
            raise self.error(top["eta"][1], f"eta (the learning rate) must be greater than 0, found {eta:g}")
        update_biases = True
        if "update_biases" in top:
            update_biases = self.boolean(top["update_biases"][1], "update_biases")
        batch_size = None
        if "batch_size" in top:
            batch_size = self.integer(top["batch_size"][1], "batch_size")
            if batch_size < 1:
                raise self.error(top["batch_size"][1], f"batch_size must be at least 1, found {batch_size}")
        batch_error = "mean"
        if "batch_error" in top:
            batch_error = self.string(top["batch_error"][1], "batch_error", BATCH_ERRORS)
        delta = "gradient"
        if "delta" in top:
            delta = self.string(top["delta"][1], "delta", DELTAS)
        notation = "mazur"
        if "notation" in top:
            notation = self.string(top["notation"][1], "notation", NOTATIONS)
        bias_input = 1.0
        if "bias_input" in top:
            bias_input = self.number(top["bias_input"][1], "bias_input")
            if bias_input not in (1, -1):
                raise self.error(
                    top["bias_input"][1],
                    f"bias_input must be 1 (a bias added, as in the post) or -1 (a threshold, subtracted), "
                    f"found {bias_input:g}",
                )

        optim = self.optimizer(top)
        params = self.params(top, layers, loss)

        config = Config(
            layers=tuple(layers),
            samples=tuple(Sample(i, t) for i, t in samples),
            eta=eta,
            update_biases=update_biases,
            loss=loss,
            activation=default_act,
            batch_size=batch_size,
            batch_error=batch_error,
            bias_input=bias_input,
            delta=delta,
            notation=notation,
            optim=optim,
            source=self.source,
            uses_samples_key=uses_samples_key,
            csv=read.spec if read is not None else None,
        )
        return config._replace(**params) if params else config

    def params(self, top: dict, layers: list, loss: str) -> dict[str, Any]:
        """The operations' parameters the config gives (slope: 0.1): numbers in
        their ranges, each for an op the network uses."""
        used = {layer.activation for layer in layers} | {loss}
        found: dict[str, Any] = {}  # (Any: the keyword arguments of Config._replace)
        for key, op in PARAMS.items():
            if key not in top:
                continue
            node = top[key][1]
            if op not in used:
                whose = "the loss" if isinstance(ops.OPS[op], ops.Loss) else "an activation"
                raise self.error(top[key][0], f"{key} is a parameter of {whose} {op}, which this network does not use")
            value = self.number(node, key)
            allowed, allowed_words, what = PARAM_RULES[key]
            if not allowed(value):
                raise self.error(node, f"{key} must be {allowed_words}, found {value:g}: it is {what}")
            found[key] = value
        return found

    def optimizer(self, top: dict) -> Settings:
        """The optimiser and its hyperparameters (torch.optim's defaults where not given)."""
        name = self.string(top["optimizer"][1], "optimizer", OPTIMIZERS) if "optimizer" in top else "sgd"
        for key, (_, users) in SETTINGS.items():
            if key in top and name not in users:
                raise self.error(
                    top[key][0], f"{key} is a setting of {' and '.join(users)}, not of optimizer: {name}; remove it"
                )

        def rate(key: str, default: float, low: float, high: float, what: str) -> float:
            if key not in top:
                return default
            value = self.number(top[key][1], key)
            if not low <= value < high:
                raise self.error(top[key][1], f"{key} must be {what}, found {value:g}")
            return value

        momentum = rate("momentum", DEFAULTS["momentum"], 0.0, 1.0, "at least 0 and below 1")
        if name in ("momentum", "nesterov") and momentum == 0 and "momentum" in top:
            raise self.error(top["momentum"][1], f"{name} needs a momentum above 0 (0 is optimizer: sgd)")
        form = (
            self.string(top["momentum_form"][1], "momentum_form", MOMENTUM_FORMS)
            if "momentum_form" in top
            else "pytorch"
        )
        beta1 = rate("beta1", DEFAULTS["beta1"], 0.0, 1.0, "at least 0 and below 1")
        beta2 = rate(
            "beta2", RMSPROP_DECAY if name == "rmsprop" else DEFAULTS["beta2"], 0.0, 1.0, "at least 0 and below 1"
        )
        epsilon = rate("epsilon", DEFAULTS["epsilon"], 0.0, 1.0, "at least 0 and below 1")
        decay = rate("weight_decay", DEFAULT_DECAY.get(name, 0.0), 0.0, 1e6, "at least 0")
        l1 = rate("l1", 0.0, 0.0, 1e6, "at least 0")
        biases = self.boolean(top["regularize_biases"][1], "regularize_biases") if "regularize_biases" in top else False
        penalty = self.string(top["penalty"][1], "penalty", PENALTIES) if "penalty" in top else "none"
        if penalty == "l2" and name == "adamw":
            raise self.error(
                top["penalty"][1],
                "AdamW decays the weights directly, not through the error: use optimizer: adam with penalty: l2, "
                "or adamw without it",
            )
        if penalty == "l2" and not decay:
            raise self.error(top["penalty"][1], "penalty: l2 needs weight_decay (its lambda), e.g. weight_decay: 0.01")
        return Settings(
            name,
            momentum if name in ("momentum", "nesterov") else 0.0,
            form,
            beta1,
            beta2,
            epsilon,
            decay,
            l1,
            biases,
            penalty,
        )

    def samples(self, top: dict, root: Any) -> tuple[list, list, bool, "CsvRead | None"]:
        """The samples as (inputs, targets) pairs, the nodes that give each
        pair, whether they are under 'samples:', and where a CSV file gave them."""
        import yaml

        has_pair = "inputs" in top or "targets" in top
        if "samples" in top and has_pair:
            key = top["inputs"][0] if "inputs" in top else top["targets"][0]
            raise self.error(key, "give either 'samples' or top-level 'inputs' and 'targets', not both")
        if "samples" in top:
            snode = top["samples"][1]
            if isinstance(snode, yaml.MappingNode):
                read = self.csv_samples(snode)
                return read.samples, [read.nodes] * len(read.samples), True, read
            if not isinstance(snode, yaml.SequenceNode) or not snode.value:
                raise self.error(
                    snode,
                    "expected a non-empty list of samples ({inputs, targets} pairs) or a CSV file "
                    f"({{csv: FILE, inputs: [COLUMNS], targets: [COLUMNS]}}), found {self.kind(snode)}",
                )
            if len(snode.value) > MAX_SAMPLES:
                raise self.error(snode, f"at most {MAX_SAMPLES:,} samples are supported")
            out, nodes = [], []
            first_in = first_out = None
            for k, item in enumerate(snode.value):
                what = f"sample {k + 1}"
                fields = self.mapping(item, what, SAMPLE_KEYS)
                for key in SAMPLE_KEYS:
                    if key not in fields:
                        raise self.error(item, f"{what} is missing '{key}'")
                ins = self.values(fields["inputs"][1], f"the inputs of {what}", first_in, " (as many as in sample 1)")
                outs = self.values(
                    fields["targets"][1], f"the targets of {what}", first_out, " (as many as in sample 1)"
                )
                first_in = first_in or len(ins)
                first_out = first_out or len(outs)
                out.append((ins, outs))
                nodes.append((fields["inputs"][1], fields["targets"][1]))
            return out, nodes, True, None
        if not has_pair:
            raise self.error(root, "missing required key 'inputs' (and 'targets'), or a list of 'samples'")
        for key in ("inputs", "targets"):
            if key not in top:
                raise self.error(root, f"missing required key '{key}'")
        ins = self.values(top["inputs"][1], "inputs")
        outs = self.values(top["targets"][1], "targets")
        return [(ins, outs)], [(top["inputs"][1], top["targets"][1])], False, None

    def csv_samples(self, node: Any) -> "CsvRead":
        """Samples from a CSV file: ``{csv: FILE, inputs: [COLUMNS], targets:
        [COLUMNS]}``, or ``one_hot: COLUMN`` for the targets."""
        fields = self.mapping(node, "the samples from a CSV file", CSV_KEYS)
        if "csv" not in fields:
            raise self.error(
                node, "missing 'csv: FILE', the CSV file of the samples (relative to this config's folder)"
            )
        if "targets" in fields and "one_hot" in fields:
            raise self.error(
                fields["one_hot"][0],
                "give either 'targets' (the target columns) or 'one_hot' (a class column, one target per class), "
                "not both",
            )
        if "inputs" not in fields:
            raise self.error(node, "the samples from a CSV file are missing 'inputs' (the input columns)")
        if "targets" not in fields and "one_hot" not in fields:
            raise self.error(
                node,
                "the samples from a CSV file are missing 'targets' (the target columns) or 'one_hot' (a class "
                "column, one target per class)",
            )
        written = self.string(fields["csv"][1], "the CSV file")
        name = os.path.normpath(os.path.join(self.folder, written))
        try:
            text = read_text(name, "a samples CSV", MAX_CSV_BYTES)
        except ConfigError as exc:
            if exc.line is not None:
                raise  # (in the file: not UTF-8)
            raise self.error(fields["csv"][1], f"{exc.path}: {exc.message}") from None
        wanted = [("inputs", n) for n in self.names(fields["inputs"][1], "the input columns")]
        one_hot = self.string(fields["one_hot"][1], "the class column (one_hot)") if "one_hot" in fields else None
        if one_hot is None:
            wanted += [("targets", n) for n in self.names(fields["targets"][1], "the target columns")]
        inputs, targets, classes, lines = read_csv(text, name, wanted, one_hot, self.mapping_places(fields))
        samples = list(zip(inputs, targets))
        spec = CsvSamples(
            os.path.abspath(name),
            tuple(n for k, n in wanted if k == "inputs"),
            classes if one_hot is not None else tuple(n for k, n in wanted if k == "targets"),
            one_hot,
        )
        tnode = fields["one_hot" if one_hot is not None else "targets"][1]
        return CsvRead(samples, (fields["inputs"][1], tnode), spec, name, lines)

    def mapping_places(self, fields: dict[str, tuple[Any, Any]]) -> dict[str, str]:
        """Where each key's value is written: 'file:line:column'."""
        return {
            key: f"{self.source}:{value.start_mark.line + 1}:{value.start_mark.column + 1}"
            for key, (_, value) in fields.items()
        }

    def names(self, node: Any, what: str) -> list[str]:
        """A list of names (a single name is a list of one)."""
        import yaml

        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not items:
            raise self.error(node, f"expected {what} as a list of names, found an empty list")
        found = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode) or item.tag in (_STD + "null", _STD + "bool"):
                raise self.error(item, f"expected {what} as a list of column names, found {self.kind(item)}")
            found.append(str(item.value))
        return found


class CsvRead(NamedTuple):
    """Samples read from a CSV file, and where: the nodes of the config that
    asked for them, the file as messages name it, the line of each sample."""

    samples: list[tuple[tuple[float, ...], tuple[float, ...]]]
    nodes: tuple[Any, Any]
    spec: CsvSamples
    name: str
    lines: list[int]


def read_csv(
    text: str, source: str, wanted: list[tuple[str, str]], one_hot: str | None, asked: dict[str, str]
) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]], tuple[str, ...], list[int]]:
    """The inputs and targets of every row of a CSV table (a header row names
    the columns; ``wanted`` says which are inputs and which targets; ``asked``
    where the config asks for each key's columns), the classes of the
    ``one_hot`` column in order, and each row's line. Every problem is a
    ConfigError at its line and column of the file."""
    from .table import rows

    table = rows(text, source)
    first = next(table, None)
    if first is None:
        raise ConfigError(
            "the CSV file is empty: a header row naming the columns, then one row per sample", source, 1, 1
        )
    header = _csv_header(first, source)
    ins_at = [_column(header, n, asked["inputs"], source, first.line) for k, n in wanted if k == "inputs"]
    outs_at = [_column(header, n, asked["targets"], source, first.line) for k, n in wanted if k == "targets"]
    class_at = _column(header, one_hot, asked["one_hot"], source, first.line) if one_hot is not None else -1
    width = len(header)
    inputs: list[tuple[float, ...]] = []
    targets: list[tuple[float, ...]] = []
    labels: list[str] = []
    lines: list[int] = []
    for row in table:
        cells = row.cells
        if len(inputs) == MAX_SAMPLES:
            raise ConfigError(
                f"more than {MAX_SAMPLES:,} rows of samples; at most {MAX_SAMPLES:,} are supported", source, row.line
            )
        if len(cells) < width or any(cell.strip() for cell in cells[width:]):
            extra = next((k for k in range(width, len(cells)) if cells[k].strip()), len(cells))
            raise ConfigError(
                f"this row has {count(len(cells), 'field')} and the header names {count(width, 'column')} "
                "(a ragged row: a missing or extra delimiter?)",
                source,
                row.line,
                row.column(extra),
            )
        inputs.append(tuple([_cell(row, k, header, source) for k in ins_at]))
        if one_hot is None:
            targets.append(tuple([_cell(row, k, header, source) for k in outs_at]))
        else:
            label = cells[class_at].strip()
            if not label:
                raise ConfigError(
                    f"column {show(one_hot)}: an empty field, not a class", source, row.line, row.column(class_at)
                )
            labels.append(label)
        lines.append(row.line)
    if not inputs:
        raise ConfigError("no samples: after the header row, one row per sample", source, first.line + 1, 1)
    classes: tuple[str, ...] = ()
    if one_hot is not None:
        classes = _classes(set(labels), one_hot, source, first.line)
        expanded = {c: tuple(1.0 if c == other else 0.0 for other in classes) for c in classes}
        targets = [expanded[label] for label in labels]
    return inputs, targets, classes, lines


def _column(header: list[str], name: str, asked: str, source: str, line: int) -> int:
    """Where the column ``name`` is in the header (0-based); ``asked``: where the config names it."""
    if name in header:
        return header.index(name)
    named = [n for n in header if n]
    shown = ", ".join(show(n, 20) for n in named[:12]) + (", ..." if len(named) > 12 else "")
    raise ConfigError(
        f"no column '{show(name)}' (asked for at {asked}){suggest(name, named)}; the header names: {shown}",
        source,
        line,
        1,
    )


def _cell(row: Any, k: int, header: list[str], source: str) -> float:
    """Cell ``k`` of a row as a finite number (a ConfigError at its place if it is not one)."""
    from .table import cell_number

    value = cell_number(row.cells[k])
    if isinstance(value, str):
        raise ConfigError(f"column {show(header[k])}: {value}", source, row.line, row.column(k))
    return value


def _csv_header(row: Any, source: str) -> list[str]:
    """A CSV table's column names (trailing unnamed columns dropped; an
    unnamed column in between is one no key can ask for)."""
    names = [cell.strip() for cell in row.cells]
    while names and not names[-1]:
        names.pop()
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name and name in seen:
            raise ConfigError(
                f"the column '{show(name)}' is named twice in the header (first as column {seen[name] + 1})",
                source,
                row.line,
                row.column(k),
            )
        seen[name] = k
    return names


def _classes(labels: set[str], column: str, source: str, line: int) -> tuple[str, ...]:
    """A class column's classes in order: by value where every one is a
    number (2 before 10), else as text."""
    from .table import cell_number

    if len(labels) > MAX_NEURONS:
        raise ConfigError(
            f"the class column {show(column)} holds {len(labels):,} different values; one_hot makes one output "
            f"neuron per class, at most {MAX_NEURONS:,}",
            source,
            line,
        )
    values = {label: cell_number(label) for label in labels}
    if all(isinstance(v, float) for v in values.values()):
        return tuple(sorted(labels, key=lambda label: (values[label], label)))
    return tuple(sorted(labels))


_constructor: Any = None


def _scalars() -> Any:
    """A SafeLoader used only for its scalar constructors (ints, floats, booleans)."""
    global _constructor
    if _constructor is None:
        import yaml

        _constructor = yaml.SafeLoader("")
    return _constructor


def _comment(text: str) -> str:
    """Text for a one-line YAML comment (a file name may hold a line break)."""
    return show(text, 1000)


def dump(config: Config, folder: "str | None" = None) -> str:
    """The config as YAML text, with every number written exactly (``folder``:
    where it is written, which a CSV file of samples is named relative to)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _seq(dumper: Any, data: list) -> Any:  # noqa: ANN401
        flow = all(not isinstance(x, (list, dict)) for x in data)
        return dumper.represent_sequence(_STD + "seq", data, flow_style=flow)

    _Dumper.add_representer(list, _seq)
    if config.trained_epochs:
        header = (
            f"# trained by stepprop for {count(config.trained_epochs, 'epoch')} from {_comment(config.trained_from)}\n"
        )
    else:
        header = f"# written by stepprop from {_comment(config.source)}\n"
    return header + yaml.dump(config.to_dict(folder), Dumper=_Dumper, sort_keys=False, width=100)
