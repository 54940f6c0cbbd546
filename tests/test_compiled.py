"""The compiled training loop is the recording engine, only faster.

Training runs straight-line code compiled from the recorded graph
(stepprop.compiled).  It must give the numbers of the engine itself
(network.train(..., compiled=False)) to 1e-12 relative, for every config in
configs/, for random networks of every activation, loss, bias mode and batch
size, and in both of its shapes (the whole epoch inlined, or one function per
sample).
"""

import math
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stepprop import compiled, config, network

CONFIGS = sorted(p.stem for p in config.BUNDLED_DIR.glob("*.yaml"))


def close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def assert_same(fast: network.TrainResult, slow: network.TrainResult) -> None:
    assert fast.epochs == slow.epochs
    assert close(fast.error, slow.error), (fast.error, slow.error)
    assert close(fast.final_error, slow.final_error)
    for name in slow.values:
        assert close(fast.values[name], slow.values[name]), name
    for a, b in zip(fast.outputs, slow.outputs):
        assert all(close(x, y) for x, y in zip(a, b))
    assert [e for e, _ in fast.history] == [e for e, _ in slow.history]
    assert all(close(x, y) for (_, x), (_, y) in zip(fast.history, slow.history))
    assert [e for e, _ in fast.curve] == [e for e, _ in slow.curve]


@pytest.fixture(params=["inline", "per-sample"])
def shape(request, monkeypatch):
    monkeypatch.setattr(compiled, "INLINE_NODES", 10**9 if request.param == "inline" else 0)
    return request.param


@pytest.mark.parametrize("name", CONFIGS)
def test_bundled_configs(name, shape):
    net = network.Network(config.load(config.BUNDLED_DIR / f"{name}.yaml"))
    assert_same(network.train(net, 300, every=50), network.train(net, 300, every=50, compiled=False))


ACTS = ["sigmoid", "tanh", "relu", "linear"]


@st.composite
def networks(draw):
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
    loss = draw(st.sampled_from(["half_squared_error", "mean_squared_error", "cross_entropy", "binary_cross_entropy"]))
    out_act = draw(
        st.sampled_from(
            {"cross_entropy": ["softmax"], "binary_cross_entropy": ["sigmoid", "softmax"]}.get(loss, ACTS + ["softmax"])
        )
    )
    if out_act == "softmax" and sizes[-1] < 2:
        sizes[-1] = 2
    weight = st.floats(-1.5, 1.5, allow_nan=False).map(lambda x: round(x, 3))
    layers = []
    for k, (prev, size) in enumerate(zip(sizes, sizes[1:])):
        layer = {
            "weights": [[draw(weight) for _ in range(prev)] for _ in range(size)],
            "activation": out_act if k == len(sizes) - 2 else draw(st.sampled_from(ACTS)),
        }
        mode = draw(st.sampled_from(["shared", "per-neuron", "none"]))
        if mode == "shared":
            layer["bias"] = draw(weight)
        elif mode == "per-neuron":
            layer["bias"] = [draw(weight) for _ in range(size)]
        layers.append(layer)
    n = draw(st.integers(1, 4))
    target = st.floats(0.05, 0.95).map(lambda x: round(x, 2))
    samples = [
        {"inputs": [draw(weight) for _ in range(sizes[0])], "targets": [draw(target) for _ in range(sizes[-1])]}
        for _ in range(n)
    ]
    doc = {
        "samples": samples,
        "eta": draw(st.sampled_from([0.05, 0.1, 0.3])),
        "loss": loss,
        "update_biases": draw(st.booleans()),
        "layers": layers,
        "batch_size": draw(st.integers(1, n)),
    }
    return config.parse(yaml.safe_dump(doc))


@settings(max_examples=60, deadline=None)
@given(networks(), st.booleans())
def test_random_networks(cfg, inline):
    old = compiled.INLINE_NODES
    compiled.INLINE_NODES = 10**9 if inline else 0
    try:
        net = network.Network(cfg)
        try:
            slow = network.train(net, 40, every=7, compiled=False)
        except network.TrainingDiverged:
            with pytest.raises(network.TrainingDiverged):
                network.train(net, 40, every=7)
            return
        assert_same(network.train(net, 40, every=7), slow)
    finally:
        compiled.INLINE_NODES = old


def test_generated_code_holds_only_stepprops_names_and_numbers():
    # a config whose layer name and numbers would be dangerous as code
    text = (
        "inputs: [1e-3, 2]\ntargets: [0.5]\neta: 0.5\nlayers:\n"
        "  - {name: zz, weights: [[0.1, 0.2], [0.3, 0.4]], bias: [0.1, 0.2]}\n"
        "  - {weights: [[0.5, 0.6]]}\n"
    )
    net = network.Network(config.parse(text))
    graphs = [net.build(b, net.leaves()) for b in net.config.batches()]
    for limit in (10**9, 0):
        compiled.INLINE_NODES = limit
        try:
            source = compiled.Program(net, graphs).source
        finally:
            compiled.INLINE_NODES = 1000
        assert "zz" not in source
        words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", source))
        allowed = {
            "def",
            "run",
            "sample",
            "P",
            "G",
            "X",
            "T",
            "seed",
            "first",
            "last",
            "curve_every",
            "curve",
            "every",
            "history",
            "err",
            "for",
            "epoch",
            "in",
            "range",
            "total",
            "if",
            "not",
            "return",
            "True",
            "False",
            "or",
            "and",
            "else",
            "append",
            "error",
            "nan",
            "inf",
            "pass",
            "try",
            "except",
            "OverflowError",
            "ZeroDivisionError",
        } | set(compiled.NAMESPACE)
        generated = {w for w in words if re.fullmatch(r"(g?v\d+(_\d+)?|g?p\d+|x\d+|t\d+|e\d+|batch\d+|gv\d+_\d+)", w)}
        assert words - allowed - generated == set(), words - allowed - generated
        for number in re.findall(r"\d+\.\d+(?:e-?\d+)?", source):
            assert float(number) == float(number)  # plain float literals only
        compile(source, "<check>", "exec")


def test_the_compiled_loop_stops_on_divergence_with_the_epoch_and_quantity():
    text = (
        "inputs: [1, 1]\ntargets: [1]\neta: 1000000\nactivation: linear\n"
        "layers:\n  - {weights: [[1, 1], [1, 1]]}\n  - {weights: [[1, 1]]}\n"
    )
    with pytest.raises(network.TrainingDiverged) as info:
        network.train(network.Network(config.parse(text)), 1000)
    message = str(info.value)
    assert re.search(r"diverged at epoch \d+", message) and "smaller eta" in message
    assert "nan" not in message.split(":")[0]


def test_interrupt_stops_between_steps_with_consistent_parameters():
    net = network.Network(config.load())
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 2

    result = network.train(net, 1_000_000, should_stop=stop)
    assert result.interrupted and 0 < result.epochs < 1_000_000
    # the parameters are those of exactly `epochs` whole epochs
    again = network.train(net, result.epochs)
    assert again.values == result.values
    assert math.isfinite(result.error)
