"""Training is the engine's step, compiled: the same numbers, bit for bit.

Training runs straight-line code compiled from the recorded graph
(stepprop.training); it is the only training loop.  Its epochs must give
exactly the parameters of stepprop.step.step applied batch after batch:
for every bundled config, for random networks of every activation, loss,
bias mode and batch size, in hand-calculation mode (--round), under every
variation the mistakes' catalogue makes (another update rule, replaced
local partials, partials that read updated weights), and in both of its
code shapes (the whole epoch inlined, or one function per sample).
"""

import math
import re

import pytest
from conftest import BUNDLED, net_of, networks
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stepprop import config, rounding, training
from stepprop.engine import decimal_rounder
from stepprop.errors import TrainingDiverged
from stepprop.grading.catalogue import catalogue
from stepprop.network import Net
from stepprop.step import PLAIN, Variation, step, steps


def stepped(net: Net, epochs: int, variation: Variation = PLAIN, places: int | str | None = None) -> dict[str, float]:
    """The parameters after ``epochs`` epochs of step() on each batch in turn
    (an optimiser's state carried from each step to the next)."""
    rounder = rounding.rounder(places) if places is not None else None
    return steps(net, epochs * len(net.config.batches()), rounder, places, variation)[-1].updated


def trained(net: Net, epochs: int, variation: Variation = PLAIN, places: int | str | None = None) -> dict[str, float]:
    rounder = rounding.rounder(places) if places is not None else None
    return training.train(net, epochs, variation=variation, rounder=rounder).values


@pytest.fixture(params=["inline", "per-sample"])
def shape(request, monkeypatch):
    monkeypatch.setattr(training, "INLINE_NODES", 10**9 if request.param == "inline" else 0)
    return request.param


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("places", [None, 4, "3sf"])
def test_bundled_configs(name, places, shape):
    net = Net(config.load(config.BUNDLED_DIR / f"{name}.yaml"))
    try:
        expect = stepped(net, 5, places=places)
    except TrainingDiverged:  # Adam rounded to 4 decimals: epsilon rounds to 0 (see test_equations)
        with pytest.raises(TrainingDiverged):
            trained(net, 5, places=places)
        return
    assert trained(net, 5, places=places) == expect


@pytest.mark.parametrize("name", BUNDLED)
def test_every_mistake_of_the_catalogue(name, shape):
    """A mistake varies the step from outside; training honours it exactly."""
    cfg = config.load(config.BUNDLED_DIR / f"{name}.yaml")
    for mistake in catalogue(cfg):
        net = Net(mistake.config)
        for places in (None, 3):
            try:
                expect = stepped(net, 2, mistake.variation, places)
            except TrainingDiverged:  # rounded to 3 decimals, an output can become 0 (and its log -inf)
                with pytest.raises(TrainingDiverged):
                    trained(net, 2, mistake.variation, places)
                continue
            assert trained(net, 2, mistake.variation, places) == expect, (mistake.id, places)


def test_the_epoch_error_and_history():
    net = Net(config.load())
    result = training.train(net, 30, every=10)
    assert [e for e, _ in result.history] == [10, 20, 30]
    # the last epoch's error: each sample's E_total before its update
    before = Net(net.with_values(stepped(net, 29)))
    assert result.error == step(before).error
    assert result.history[-1] == (30, result.error)


BATCHES = """
samples:
  - {inputs: [1.0], targets: [0.0]}
  - {inputs: [0.5], targets: [1.0]}
  - {inputs: [-1.0], targets: [0.5]}
batch_size: 2
eta: 0.5
layers:
  - {weights: [[0.3]], bias: 0.1}
"""


@pytest.mark.parametrize("batch_error", ["mean", "sum"])
def test_the_epoch_error_of_several_batches(shape, batch_error):
    """An epoch's error is every sample's E_total before its batch's update,
    combined as the config combines a batch's: their mean, or their sum."""
    net = net_of(BATCHES + f"batch_error: {batch_error}\n")
    first = step(net, 0)
    second = step(Net(net.with_values(first.updated)), 1)
    errors = [total.data for trace in (first, second) for total in trace.graph.totals]
    expected = math.fsum(errors) / 3 if batch_error == "mean" else math.fsum(errors)
    assert training.train(net, 1).error == pytest.approx(expected, rel=1e-15)
    assert first.error == pytest.approx(math.fsum(errors[:2]) / (2 if batch_error == "mean" else 1), rel=1e-15)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.booleans(), st.sampled_from([None, 2, 5]))
def test_random_networks(case, inline, places):
    text, _ = case
    net = net_of(text)
    old = training.INLINE_NODES
    training.INLINE_NODES = 10**9 if inline else 0
    try:
        try:
            expect = stepped(net, 3, places=places)
        except TrainingDiverged:
            assume(False)
        assert trained(net, 3, places=places) == expect
    finally:
        training.INLINE_NODES = old


@settings(max_examples=15, deadline=None)
@given(networks(max_samples=3))
def test_random_networks_quick(case):
    text, _ = case
    net = net_of(text)
    try:
        expect = stepped(net, 2)
    except TrainingDiverged:
        assume(False)
    assert trained(net, 2) == expect


def test_generated_code_holds_only_stepprops_names_and_numbers():
    # a config whose layer name and numbers would be dangerous as code
    text = (
        "inputs: [1e-3, 2]\ntargets: [0.5]\neta: 0.5\nlayers:\n"
        "  - {name: zz, weights: [[0.1, 0.2], [0.3, 0.4]], bias: [0.1, 0.2]}\n"
        "  - {weights: [[0.5, 0.6]]}\n"
    )
    net = net_of(text)
    graphs = [net.build(b, net.leaves()) for b in net.config.batches()]
    mistakes = [m for m in catalogue(net.config) if m.config == net.config]
    for limit in (10**9, 0):
        for variation, rounder in [(PLAIN, None), (PLAIN, decimal_rounder(3))] + [
            (m.variation, None) for m in mistakes
        ]:
            training.INLINE_NODES = limit
            try:
                source = training.Program(net, graphs, variation, rounder).source
            finally:
                training.INLINE_NODES = 1000
            assert "zz" not in source
            words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", source))
            allowed = {
                *("def run sample sample_u P G U X T seed first last curve_every curve every history err".split()),
                *("for epoch in range total if not return True False None or and else append error".split()),
                *("nan inf pass try except OverflowError ZeroDivisionError r".split()),
                *("S t_ pw1 pw2 c1 c2".split()),  # the optimiser's state: t, beta^t; the bias corrections 1 - beta^t
            } | set(training.NAMESPACE)
            generated = {
                w
                for w in words
                if re.fullmatch(
                    r"g?(v\d+(_\d+)?|p\d+(_\d+)?|u\d+|x\d+|t\d+|e\d+)|batch\d+|G\d+|s\d+_\d+|q_[a-z_]+_\d+", w
                )
            }
            assert words - allowed - generated == set(), words - allowed - generated
            compile(source, "<check>", "exec")


def test_divergence_stops_with_the_epoch_and_quantity():
    text = (
        "inputs: [1, 1]\ntargets: [1]\neta: 1000000\nactivation: linear\n"
        "layers:\n  - {weights: [[1, 1], [1, 1]]}\n  - {weights: [[1, 1]]}\n"
    )
    with pytest.raises(TrainingDiverged) as info:
        training.train(net_of(text), 1000)
    message = str(info.value)
    assert re.search(r"diverged at epoch \d+", message) and "smaller eta" in message
    assert "nan" not in message.split(":")[0]


def test_interrupt_stops_between_steps_with_consistent_parameters():
    net = Net(config.load())
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 2

    result = training.train(net, 1_000_000, should_stop=stop)
    assert result.interrupted and 0 < result.epochs < 1_000_000
    # the parameters are those of exactly `epochs` whole epochs
    assert training.train(net, result.epochs).values == result.values
    assert math.isfinite(result.error)


def test_a_batch_of_hundreds_of_samples_compiles():
    """The batch error of 300 samples is one chain of 300 terms: its generated
    code has no nesting for Python's parser to refuse (a mean and a sum, exact
    and as by hand)."""
    import stepprop

    for batch_error in ("mean", "sum"):
        data = {
            "samples": [{"inputs": [k / 300], "targets": [0.5]} for k in range(300)],
            "eta": 0.1,
            "batch_error": batch_error,
            "layers": [{"weights": [[0.3]], "bias": 0.1}],
        }
        net = stepprop.Network.from_dict(data)
        exact = net.step()
        outs = [1 / (1 + math.exp(-(0.3 * k / 300 + 0.1))) for k in range(300)]
        errors = [0.5 * (0.5 - o) ** 2 for o in outs]
        expected = math.fsum(errors) / (300 if batch_error == "mean" else 1)
        assert exact.error == pytest.approx(expected, rel=1e-12)
        assert net.step(round="4").error == pytest.approx(expected, abs=1e-2)
        assert net.train(2).epochs == 2


@pytest.mark.parametrize("shape", ["wide", "many"])
def test_thousands_of_inputs_or_samples(shape):
    """3,000 inputs into one neuron, or 3,000 samples in a batch: sums of
    thousands of terms, which Python's compiler would refuse as nested
    expressions; the numbers are those of a plain loop."""
    import stepprop

    n = 3000
    if shape == "wide":
        data = {
            "inputs": [0.001] * n,
            "targets": [0.5],
            "eta": 0.1,
            "layers": [{"weights": [[0.001] * n], "bias": 0.1}],
        }
        net_input = 0.1
        for _ in range(n):
            net_input += 0.001 * 0.001
        expected = 0.5 * (0.5 - 1 / (1 + math.exp(-net_input))) ** 2
    else:
        samples = [{"inputs": [k / n], "targets": [0.5]} for k in range(n)]
        data = {"samples": samples, "eta": 0.1, "layers": [{"weights": [[0.3]], "bias": 0.1}]}
        expected = math.fsum(0.5 * (0.5 - 1 / (1 + math.exp(-(0.3 * k / n + 0.1)))) ** 2 for k in range(n)) / n
    net = stepprop.Network.from_dict(data)
    assert net.step().error == pytest.approx(expected, rel=1e-12)
    assert net.train(1).epochs == 1
