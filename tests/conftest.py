"""What the tests share: the CLI runner, the bundled configs, the post's step
and its 10,000-epoch training (computed once per session), random networks,
reading a number against the digits a text prints."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import strategies as st

from stepprop import config as configs
from stepprop.cli import main
from stepprop.network import Net
from stepprop.step import step
from stepprop.training import train

REPO = Path(__file__).resolve().parent.parent
# the bundled networks (an expression config, with expression:, is not one)
CONFIGS = sorted(p for p in configs.BUNDLED_DIR.glob("*.yaml") if "\nexpression:" not in p.read_text(encoding="utf-8"))
BUNDLED = [p.stem for p in CONFIGS]
EXPRESSIONS = sorted(p for p in configs.BUNDLED_DIR.glob("*.yaml") if p not in CONFIGS)

LOSSES = ("half_squared_error", "mean_squared_error", "cross_entropy", "binary_cross_entropy")
HIDDEN = ("sigmoid", "tanh", "relu", "linear")
ACTIVATIONS = HIDDEN + ("softmax",)
# the output activations each loss allows
OUTPUT_ACTIVATIONS = {"cross_entropy": ("softmax",), "binary_cross_entropy": ("sigmoid", "softmax")}


def run(*args: str, input: str | None = None, env: Mapping[str, str] | None = None, code: int | None = None) -> Result:
    """The real command line, in-process; never a crash: no traceback, no
    exception but the SystemExit that ends a command, no 'internal error'
    (stepprop's words for a bug).  With ``code``, the exit status must be it."""
    result = CliRunner().invoke(main, list(args), input=input, env=env)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "internal error" not in result.output, result.output
    if code is not None:
        assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return result


def net_of(text: str, source: str = "<test>") -> Net:
    return Net(configs.parse(text, source))


def agrees(exact: float, printed: str) -> bool:
    """Does ``exact``, rounded (half up) to the decimals of ``printed``, read ``printed``?"""
    places = Decimal(printed)
    return Decimal(repr(exact)).quantize(places, rounding=ROUND_HALF_UP) == places


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty current folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def post_step():
    """The post's step, recorded once."""
    return step(Net(configs.load()))


@pytest.fixture(scope="session")
def post_trained():
    """The post's network after 10,000 epochs, trained once for the session."""
    return train(Net(configs.load()), 10_000)


WEIGHTS = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False)
INPUTS = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)


@st.composite
def networks(
    draw: st.DrawFn,
    min_samples: int = 1,
    max_samples: int = 4,
    min_batch: int = 1,
    weights: st.SearchStrategy[float] = WEIGHTS,
    inputs: st.SearchStrategy[float] = INPUTS,
) -> tuple[str, int]:
    """(YAML text of a random valid config, index of one of its batches).

    1-3 layers of 1-4 neurons (2 at least before a softmax), 1-3 inputs,
    every activation and loss, shared / per-neuron / absent biases, 1-4
    samples, any batch size, a batch error that is the mean of the samples'
    or their sum, biases added or (bias_input: -1) subtracted, delta as the
    gradient or as the error term; ``min_batch`` is the smallest batch_size
    drawn."""
    loss = draw(st.sampled_from(LOSSES))
    n_in = draw(st.integers(1, 3))
    n_layers = draw(st.integers(1, 3))
    acts = [draw(st.sampled_from(HIDDEN)) for _ in range(n_layers - 1)]
    acts.append(draw(st.sampled_from(OUTPUT_ACTIVATIONS.get(loss, ACTIVATIONS))))
    sizes = [draw(st.integers(1, 4)) for _ in range(n_layers)]
    if acts[-1] == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    default = draw(st.sampled_from(ACTIVATIONS))
    layers = []
    prev = n_in
    for act, size in zip(acts, sizes):
        layer: dict = {"weights": [[draw(weights) for _ in range(prev)] for _ in range(size)]}
        bias = draw(st.sampled_from(("shared", "per-neuron", "absent")))
        if bias == "shared":
            layer["bias"] = draw(weights)
        elif bias == "per-neuron":
            layer["bias"] = [draw(weights) for _ in range(size)]
        if act != default or draw(st.booleans()):
            layer["activation"] = act
        layers.append(layer)
        prev = size
    targets = st.floats(0.05, 0.95) if loss in OUTPUT_ACTIVATIONS else st.floats(-1.0, 1.0, allow_subnormal=False)
    n_samples = draw(st.integers(min_samples, max_samples))
    samples = [
        {"inputs": [draw(inputs) for _ in range(n_in)], "targets": [draw(targets) for _ in range(sizes[-1])]}
        for _ in range(n_samples)
    ]
    doc: dict = {}
    if n_samples == 1 and draw(st.booleans()):
        doc.update(samples[0])
    else:
        doc["samples"] = samples
    doc["eta"] = draw(st.floats(0.01, 1.0))
    doc["update_biases"] = draw(st.booleans())
    doc["activation"] = default
    doc["loss"] = loss
    batch_size = draw(st.one_of(st.none(), st.integers(min(min_batch, n_samples), n_samples)))
    n_batches = 1
    if batch_size is not None:
        doc["batch_size"] = batch_size
        n_batches = -(-n_samples // batch_size)
    if n_samples > 1 and draw(st.booleans()):
        doc["batch_error"] = draw(st.sampled_from(("mean", "sum")))
    if draw(st.integers(0, 3)) == 0:
        doc["bias_input"] = draw(st.sampled_from((1, -1)))  # biases as thresholds (Mitchell, Haykin)
    if draw(st.integers(0, 3)) == 0:
        doc["delta"] = draw(st.sampled_from(("gradient", "error")))  # delta as the error term (Mitchell)
    doc["layers"] = layers
    return yaml.safe_dump(doc, sort_keys=False), draw(st.integers(0, n_batches - 1))
