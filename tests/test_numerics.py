"""Extreme inputs: no overflow, no NaN shown as a result, gradients still right.

At net inputs of +-1000, sigmoid(net) is exactly 0 or 1 in floating point, so
ln(out) and the chain dE/dout * dout/dnet (inf * 0) cannot be computed as
written.  stepprop computes the cross-entropies from the net inputs
(log-sigmoid, log-softmax) and lets the gradient take the direct path
out - target there; these tests check the results against the exact
mathematics, worked out by hand below.
"""

import math

import pytest
import yaml
from conftest import run

from stepprop import config, network
from stepprop import step as steps


def one_neuron(net_input: float, target: float, act: str, loss: str) -> str:
    # one input of 1.0, weight = the net input we want, no bias
    return yaml.safe_dump(
        {
            "inputs": [1.0],
            "targets": [target],
            "eta": 0.1,
            "activation": act,
            "loss": loss,
            "layers": [{"weights": [[net_input]]}],
        }
    )


def softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@pytest.mark.parametrize("z", [1000.0, -1000.0, 40.0, -40.0, 0.3])
@pytest.mark.parametrize("t", [0.0, 1.0, 0.3])
def test_sigmoid_binary_cross_entropy_stays_finite_and_right(z, t):
    trace = steps.step(network.Net(config.parse(one_neuron(z, t, "sigmoid", "binary_cross_entropy"))))
    out = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
    exact_error = t * softplus(-z) + (1 - t) * softplus(z)  # -[t ln s(z) + (1-t) ln(1-s(z))]
    assert math.isfinite(trace.error)
    assert trace.error == pytest.approx(exact_error, rel=1e-12, abs=1e-300)
    # dE/dw = (out - t) * input, input = 1
    assert trace.gradients["w1"] == pytest.approx(out - t, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("z", [1000.0, -1000.0, 0.5])
def test_softmax_cross_entropy_stays_finite_and_right(z):
    # two outputs, net inputs z and -z, target class 2
    text = yaml.safe_dump(
        {
            "inputs": [1.0],
            "targets": [0.0, 1.0],
            "eta": 0.1,
            "loss": "cross_entropy",
            "layers": [{"weights": [[z], [-z]], "activation": "softmax"}],
        }
    )
    trace = steps.step(network.Net(config.parse(text)))
    # E = -ln softmax_2 = ln(1 + e^(2z)) = softplus(2z)
    assert trace.error == pytest.approx(softplus(2 * z), rel=1e-12)
    p1 = 1 / (1 + math.exp(-2 * z)) if z >= 0 else math.exp(2 * z) / (1 + math.exp(2 * z))
    # dE/dnet_1 = p1 - 0, dE/dnet_2 = p2 - 1 = -p1; the weights multiply an input of 1
    assert trace.gradients["w1"] == pytest.approx(p1, rel=1e-9, abs=1e-12)
    assert trace.gradients["w2"] == pytest.approx(-p1, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
@pytest.mark.parametrize("z", [1000.0, -1000.0])
def test_squashing_functions_saturate_without_overflow(act, z):
    trace = steps.step(network.Net(config.parse(one_neuron(z, 0.5, act, "half_squared_error"))))
    assert math.isfinite(trace.error) and math.isfinite(trace.gradients["w1"])
    assert trace.gradients["w1"] == 0.0  # the derivative underflows to exactly 0


@pytest.mark.parametrize("z,t", [(1000.0, 0.0), (-1000.0, 1.0)])
def test_explain_shows_no_nan_or_inf_at_saturation(tmp_path, z, t):
    path = tmp_path / "extreme.yaml"
    path.write_text(one_neuron(z, t, "sigmoid", "binary_cross_entropy"))
    result = run("explain", str(path), code=0)
    words = result.stdout.replace("(", " ").replace(")", " ").split()
    assert "nan" not in words and "inf" not in words and "-inf" not in words
    assert "direct, because out is saturated" in result.stdout


def test_divergence_is_a_clean_error_of_the_command_line(tmp_path):
    """What train prints when training diverges (the library's exception and its
    message are tests/test_training.py's): one line, exit 1, no results."""
    path = tmp_path / "big-eta.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "inputs": [1.0, 1.0],
                "targets": [1.0],
                "eta": 1e6,
                "activation": "linear",
                "layers": [{"weights": [[1.0, 1.0], [1.0, 1.0]]}, {"weights": [[1.0, 1.0]]}],
            }
        )
    )
    result = run("train", str(path), "--epochs", "1000", code=1)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "diverged at epoch" in result.stderr and "smaller eta" in result.stderr


def test_overflow_in_a_single_step_is_reported_not_printed(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "inputs": [1e200],
                "targets": [1.0],
                "eta": 0.1,
                "activation": "linear",
                "layers": [{"weights": [[1e200]]}],
            }
        )
    )
    result = run("explain", str(path), code=1)
    assert result.stdout == "" and "overflow" in result.stderr
