"""`stepprop verify`: the engine's gradients against finite differences and PyTorch."""

import json
import math

import pytest
from conftest import BUNDLED, networks, run
from hypothesis import assume, given, settings

from stepprop import config, ops, torchcheck
from stepprop.errors import TrainingDiverged
from stepprop.network import Net
from stepprop.step import step
from stepprop.verification import verify

needs_torch = [
    pytest.mark.torch,
    pytest.mark.skipif(not torchcheck.available(), reason="PyTorch is an optional extra; CI installs it"),
]


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_config_verifies(name):
    result = run("verify", name, "--no-torch", code=0)
    assert "every gradient agrees" in result.stdout


def test_json_lists_every_parameter():
    data = json.loads(run("verify", "--format", "json", "--no-torch", code=0).stdout)
    assert data["ok"] is True
    assert [g["name"] for g in data["gradients"]] == ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2"]
    w5 = next(g for g in data["gradients"] if g["name"] == "w5")
    assert abs(w5["engine"] - 0.082167041) < 1e-9 and w5["numeric_error"] < 1e-6


def test_a_wrong_derivative_is_caught(monkeypatch):
    """Sabotage the sigmoid's recorded partial: verify must say so and fail."""
    sigmoid = ops.SIGMOID
    monkeypatch.setattr(sigmoid, "_derivative", lambda x, out: out * (1 - out) * 1.001)
    monkeypatch.setitem(sigmoid.__dict__, "_compiled", {})
    result = run("verify", "--no-torch", code=1)
    assert "DISAGREES" in result.stdout and "SOME GRADIENTS DISAGREE" in result.stdout


def test_without_torch_says_how_to_get_it(monkeypatch):
    from stepprop import torchcheck

    monkeypatch.setattr(torchcheck, "available", lambda: False)
    result = run("verify", code=0)
    assert "pip install 'stepprop[torch]'" in result.stdout


@pytest.mark.parametrize("name", BUNDLED)
@needs_torch[0]
@needs_torch[1]
def test_pytorch_autograd_agrees(name):
    result = verify(config.load(config.BUNDLED_DIR / f"{name}.yaml"))
    assert result.torch_available and result.ok
    assert max(r.torch_error for r in result.rows) < 1e-12


@needs_torch[0]
@needs_torch[1]
@settings(max_examples=80, deadline=None)
@given(networks(max_samples=5))
def test_pytorch_agrees_on_random_networks(case):
    """Every activation, loss and bias mode; several samples and batches; a batch
    error that is the mean of the samples' or their sum: PyTorch's autograd, in
    float64, written with its own operations, gives the engine's gradients."""
    text, batch_index = case
    cfg = config.parse(text)
    net = Net(cfg)
    try:
        trace = step(net, batch_index)
    except TrainingDiverged:
        assume(False)
    theirs = torchcheck.gradients(net, cfg.batches()[batch_index])
    assume(all(math.isfinite(v) for v in theirs.values()))
    for name, mine in trace.gradients.items():
        assert abs(mine - theirs[name]) <= 1e-9 * (1 + abs(mine)), (name, mine, theirs[name])


def test_verify_bad_batch_is_a_usage_error():
    result = run("verify", "--batch", "3", code=2)
    assert "this config has 1 batch" in result.stderr
