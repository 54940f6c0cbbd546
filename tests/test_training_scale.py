"""Training a large dataset never records it whole.

A network above INLINE_NODES is compiled from the recorded graph of one
sample, called with each sample's inputs and targets; its final outputs and
errors come from that sample's compiled forward pass.  These tests hold it to
the engine, bit for bit: the parameters against stepprop.step.step batch
after batch, each epoch's error against the steps' own batch errors, and the
final outputs and errors against the recorded graph of every sample (what
training used to build), with rounding, a mean or a sum, batches of several
sizes and the catalogue's variations.  And they check its shape: one sample
recorded, one function for each batch size, code that grows with the samples
by a few characters each.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from conftest import net_of, networks
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stepprop import rounding, training
from stepprop.errors import TrainingDiverged
from stepprop.grading.catalogue import catalogue
from stepprop.network import Net
from stepprop.step import PLAIN, Variation, step


@contextmanager
def shape(inline: bool = False) -> Iterator[None]:
    """Train in the per-sample shape (or, ``inline``, with the epoch inlined), whatever the size."""
    old = training.INLINE_NODES
    training.INLINE_NODES = 10**9 if inline else 0
    try:
        yield
    finally:
        training.INLINE_NODES = old


def engine(net: Net, epochs: int, variation: Variation = PLAIN, places: int | str | None = None):
    """What training must give, from the recording engine: the parameters after
    ``epochs`` epochs of step() on each batch, the last epoch's error (None by
    hand: training rounds a batch's error as it combines the samples', step by
    step, and the step's E once), and the final parameters' outputs and E_total
    of every sample, from one recorded graph of them all."""
    rounder = rounding.rounder(places) if places is not None else None
    cfg = net.config
    averages = cfg.batch_error == "mean" or len(cfg.samples) == 1
    current, values, error = net, dict(net.values), math.nan
    for _ in range(epochs):
        total = 0.0
        for b, batch in enumerate(cfg.batches()):
            trace = step(current, b, rounder, places, variation)
            total += trace.error * len(batch) if averages else trace.error
            values = trace.updated
            current = Net(current.with_values(values))
        error = total / len(cfg.samples) if averages else total
    final = net.build(cfg.samples, net.leaves(values), rounder)
    return values, error if places is None else None, final.outputs(), [t.data for t in final.totals]


def trained(net: Net, epochs: int, variation: Variation = PLAIN, places: int | str | None = None):
    """What training gives, as engine() has it; and the same in both shapes of
    code: the whole result is the inlined epoch's (which records every batch,
    as training always did), but for the epoch's error by hand (see engine())."""
    rounder = rounding.rounder(places) if places is not None else None
    result = training.train(net, epochs, variation=variation, rounder=rounder)
    assert result.final_error == math.fsum(result.sample_errors) / len(result.sample_errors)
    with shape(inline=True):
        inline = training.train(net, epochs, variation=variation, rounder=rounder)
    if places is not None:
        inline = inline._replace(error=result.error, curve=result.curve, history=result.history)
    assert inline == result
    return result.values, result.error if places is None else None, result.outputs, result.sample_errors


def large(n_samples: int, batch_size: int | None, batch_error: str = "mean", seed: int = 1) -> Net:
    """A 3-5-3 network (tanh, then softmax with cross-entropy) with ``n_samples``
    samples: above INLINE_NODES from about ten samples."""
    import random

    rng = random.Random(seed)
    doc: dict = {
        "samples": [
            {"inputs": [round(rng.uniform(-1, 1), 3) for _ in range(3)], "targets": [0.2, 0.5, 0.3]}
            for _ in range(n_samples)
        ],
        "eta": 0.3 if batch_error == "mean" else round(0.3 / n_samples, 4),
        "loss": "cross_entropy",
        "batch_error": batch_error,
        "layers": [
            {"weights": [[round(rng.uniform(-1, 1), 4) for _ in range(3)] for _ in range(5)], "bias": 0.1},
            {
                "weights": [[round(rng.uniform(-1, 1), 4) for _ in range(5)] for _ in range(3)],
                "bias": [0.2, -0.1, 0.0],
                "activation": "softmax",
            },
        ],
        "activation": "tanh",
    }
    if batch_size is not None:
        doc["batch_size"] = batch_size
    return net_of(yaml.safe_dump(doc))


def recorded_nodes(net: Net) -> int:
    return sum(len(net.build(batch, net.leaves()).tape.nodes) for batch in net.config.batches())


# ------------------------------------------------------------- the numbers --


@pytest.mark.parametrize("batch_size", [None, 1, 7, 16])
@pytest.mark.parametrize("batch_error", ["mean", "sum"])
@pytest.mark.parametrize("places", [None, 4, "3sf"])
def test_above_inline_nodes_the_numbers_are_the_engines(batch_size, batch_error, places):
    """40 samples in batches of 40, 1, 7 (the last one of 5) or 16 (the last of
    8): training without any patching takes the per-sample shape, and gives
    the engine's numbers, bit for bit."""
    net = large(40, batch_size, batch_error)
    assert recorded_nodes(net) > training.INLINE_NODES
    assert trained(net, 2, places=places) == engine(net, 2, places=places)


def test_the_catalogues_variations_in_the_per_sample_shape():
    """Every mistake's variation (another update rule, replaced local partials,
    partials that read updated weights), exactly and by hand, on batches of two sizes."""
    net = large(12, 5)
    mistakes = catalogue(net.config)
    assert any(m.variation.overrides is not None for m in mistakes)
    compared = 0
    for mistake in mistakes:
        for places in (None, 3):
            mine = Net(mistake.config)
            try:
                expect = engine(mine, 2, mistake.variation, places)
            except TrainingDiverged:
                # (step() also refuses an update whose forward pass overflows, which
                # training finds in the next epoch's: tests/test_training.py has that)
                continue
            with shape():
                assert trained(mine, 2, mistake.variation, places) == expect, (mistake.id, places)
            compared += 1
    assert compared >= len(mistakes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(min_samples=2, max_samples=6), st.sampled_from([None, 2, 5]))
def test_random_networks_in_the_per_sample_shape(case, places):
    """Random networks of every activation, loss and bias mode, any batch size,
    a mean or a sum: the per-sample shape gives the engine's numbers, and the
    whole result of the inlined epoch (which records every batch)."""
    net = net_of(case[0])
    try:
        expect = engine(net, 2, places=places)
    except TrainingDiverged:
        assume(False)
    with shape():
        assert trained(net, 2, places=places) == expect


def test_divergence_still_names_the_quantity():
    text = (
        "samples:\n  - {inputs: [1, 1], targets: [1]}\n  - {inputs: [0.5, -1], targets: [0]}\n"
        "eta: 1000000\nactivation: linear\nlayers:\n  - {weights: [[1, 1], [1, 1]]}\n  - {weights: [[1, 1]]}\n"
    )
    messages = []
    for inline in (True, False):
        with shape(inline), pytest.raises(TrainingDiverged) as info:
            training.train(net_of(text), 1000)
        messages.append(str(info.value))
    assert re.search(r"diverged at epoch \d+: \S+ became \S+; try a smaller eta", messages[0]), messages[0]
    assert messages[0] == messages[1]


# --------------------------------------------------------------- the shape --


@pytest.mark.parametrize("batch_size", [None, 1, 7])
def test_one_sample_is_recorded(monkeypatch, batch_size):
    """Above INLINE_NODES, training records the graph of one sample, never a
    batch: not to compile, not for the final outputs and errors."""
    built: list[int] = []
    build = Net.build

    def counting(self, samples, *args, **kwargs):
        built.append(len(samples))
        return build(self, samples, *args, **kwargs)

    net = large(60, batch_size)
    assert recorded_nodes(net) > training.INLINE_NODES
    monkeypatch.setattr(Net, "build", counting)
    result = training.train(net, 1)
    assert built == [1]
    assert len(result.outputs) == len(result.sample_errors) == 60


def test_small_networks_are_still_inlined_whole(monkeypatch):
    """Up to INLINE_NODES, the epoch is inlined from the graphs of all its batches."""
    built: list[int] = []
    build = Net.build

    def counting(self, samples, *args, **kwargs):
        built.append(len(samples))
        return build(self, samples, *args, **kwargs)

    net = large(3, 2)
    assert recorded_nodes(net) <= training.INLINE_NODES
    monkeypatch.setattr(Net, "build", counting)
    leaves = net.leaves()
    program = training._program(net, leaves, PLAIN, None)
    assert program.inline and "def sample" not in program.source and "def batch" not in program.source
    assert built == [1, 2, 1]  # the one-sample graph that measures, then the two batches


@pytest.mark.parametrize("batch_size", [None, 1, 7, 16])
def test_the_code_grows_with_the_samples_by_a_few_characters_each(batch_size):
    """The per-sample code holds no sample's numbers (they are data) and one
    function for each size of batch: another sample adds a call and a term of
    the batch error, at most another batch a call of its function."""
    sources = []
    for n in (40, 80):
        net = large(n, batch_size)
        program = training._program(net, net.leaves(), PLAIN, None)
        assert not program.inline
        sizes = {len(batch) for batch in net.config.batches()}
        assert len(re.findall(r"^def batch\d+\(", program.source, re.M)) == len(sizes)
        sources.append(program.source)
    assert len(sources[1]) - len(sources[0]) < 40 * 80


@settings(max_examples=30, deadline=None)
@given(networks(max_samples=6))
def test_the_shape_is_chosen_from_the_size_of_every_batchs_graph(case):
    """The size that picks the shape, worked out from one sample's graph, is
    the number of nodes the graphs of all the batches hold."""
    net = net_of(case[0])
    batches = net.config.batches()
    template = net.build(batches[0][:1], net.leaves())
    assert training._recorded_size(template, [len(b) for b in batches]) == recorded_nodes(net)
