"""The activations leaky_relu, elu, softplus and swish, and the losses
sum_squared_error, mean_absolute_error and huber (issue 14).

Each is checked against what it is, independently of its definition in
:mod:`stepprop.ops`:

* one value and one derivative worked out by hand, and the edges of floating
  point (no overflow);
* random small networks: the engine's error against a plain-Python forward
  pass written here, and its gradients against central finite differences of
  that forward pass (so neither comes from the engine);
* every printed equation evaluates to the number it states
  (:mod:`test_equations`' interval arithmetic), exact and by hand (--round);
* PyTorch float64 (``-m torch``): one step's gradients and updated weights of
  a network written here with torch.nn.functional;
* the commands (verify, explain, train, check) run on them, and the config
  keys of their parameters (slope, elu_alpha, huber_delta) are read, refused
  where wrong with a located message, and saved.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from conftest import run
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_equations import _whole, environment, problems

from stepprop import config as configs
from stepprop import ops, rounding, torchcheck, worked
from stepprop.errors import ConfigError, TrainingDiverged
from stepprop.expr import plain
from stepprop.network import Net
from stepprop.step import step
from stepprop.verification import verify
from stepprop.views.html import mathml
from stepprop.views.latex import tex

NEW_ACTIVATIONS = ("leaky_relu", "elu", "softplus", "swish")
NEW_LOSSES = ("sum_squared_error", "mean_absolute_error", "huber")
PARAMS = {"leaky_relu": "slope", "elu": "elu_alpha", "huber": "huber_delta"}

needs_torch = pytest.mark.skipif(not torchcheck.available(), reason="PyTorch is an optional extra; CI installs it")


# ------------------------------------------------------ by hand, one number --


def activation(name: str, x: float, **attrs: float) -> tuple[float, float]:
    """(value, derivative) of an activation at x, as the engine computes them."""
    forward, partials = ops.OPS[name].compiled(1, attrs)
    out = forward([x])
    return out, partials([x], out)[0]


def loss(name: str, out: float, target: float, n: int = 1, **attrs: float) -> tuple[float, float]:
    """(value, d/dout) of one output's error (``n`` outputs in all)."""
    forward, partials = ops.OPS[name].compiled(2, {"n": n, "k": 0, **attrs})
    value = forward([out, target])
    return value, partials([out, target], value)[0]


E = math.e


@pytest.mark.parametrize(
    "name, x, attrs, value, derivative",
    [
        ("leaky_relu", -2.0, {"slope": 0.1}, -0.2, 0.1),
        ("leaky_relu", 3.0, {"slope": 0.1}, 3.0, 1.0),
        ("leaky_relu", -2.0, {}, -0.02, 0.01),  # the default slope, PyTorch's 0.01
        ("leaky_relu", 0.0, {"slope": 0.2}, 0.0, 0.2),  # at 0: PyTorch's derivative, the slope
        ("elu", -1.0, {}, 1 / E - 1, 1 / E),
        ("elu", -1.0, {"elu_alpha": 2.0}, 2 * (1 / E - 1), 2 / E),
        ("elu", 0.5, {"elu_alpha": 2.0}, 0.5, 1.0),
        ("elu", 0.0, {"elu_alpha": 2.0}, 0.0, 2.0),  # at 0: PyTorch's, alpha * e^0
        ("softplus", 0.0, {}, math.log(2), 0.5),
        ("softplus", 1.0, {}, math.log(1 + E), E / (1 + E)),
        ("swish", 1.0, {}, 1 / (1 + 1 / E), 1 / (1 + 1 / E) + (1 / (1 + 1 / E)) * (1 - 1 / (1 + 1 / E))),
        ("swish", 0.0, {}, 0.0, 0.5),
        ("swish", -2.0, {}, -2 / (1 + E**2), 1 / (1 + E**2) * (1 - 2 * E**2 / (1 + E**2))),
    ],
)
def test_an_activation_by_hand(name, x, attrs, value, derivative):
    got_value, got_derivative = activation(name, x, **attrs)
    assert got_value == pytest.approx(value, rel=1e-14, abs=1e-15)
    assert got_derivative == pytest.approx(derivative, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize(
    "name, x, value, derivative",
    [
        ("elu", -1000.0, -1.0, 0.0),
        ("softplus", 1000.0, 1000.0, 1.0),
        ("softplus", -1000.0, 0.0, 0.0),
        ("swish", 1000.0, 1000.0, 1.0),
        ("swish", -1000.0, 0.0, 0.0),
    ],
)
def test_large_net_inputs_never_overflow(name, x, value, derivative):
    assert activation(name, x) == (pytest.approx(value, abs=1e-300), pytest.approx(derivative, abs=1e-300))


@pytest.mark.parametrize(
    "name, out, target, n, attrs, value, derivative",
    [
        # no 1/2: (0.01 - 0.75)^2 = 0.5476, its derivative -2 (0.01 - 0.75) = 1.48, whatever n
        ("sum_squared_error", 0.75, 0.01, 2, {}, 0.5476, 1.48),
        # |0.01 - 0.75| / 2 = 0.37, sign(0.75 - 0.01) / 2 = 0.5
        ("mean_absolute_error", 0.75, 0.01, 2, {}, 0.37, 0.5),
        ("mean_absolute_error", 0.2, 0.7, 1, {}, 0.5, -1.0),
        ("mean_absolute_error", 0.3, 0.3, 1, {}, 0.0, 0.0),  # at out = target: PyTorch's 0
        # d = target - out = 2 beyond delta 1: 1 * (2 - 1/2) = 1.5, the derivative -1 * sign(2) = -1
        ("huber", 0.0, 2.0, 1, {}, 1.5, -1.0),
        ("huber", 0.0, 2.0, 2, {}, 0.75, -0.5),
        ("huber", 0.0, 0.5, 1, {}, 0.125, -0.5),  # within delta: 1/2 d^2, -d
        ("huber", 1.0, -2.0, 1, {"huber_delta": 2.0}, 2 * (3 - 1), 2.0),  # delta 2, d = -3
        ("huber", 1.0, 0.0, 1, {"huber_delta": 2.0}, 0.5, 1.0),
        ("huber", 0.0, 1.0, 1, {}, 0.5, -1.0),  # at |d| = delta both pieces agree
    ],
)
def test_a_loss_by_hand(name, out, target, n, attrs, value, derivative):
    got_value, got_derivative = loss(name, out, target, n, **attrs)
    assert got_value == pytest.approx(value, rel=1e-14, abs=1e-15)
    assert got_derivative == pytest.approx(derivative, rel=1e-14, abs=1e-15)


def test_printed_forms():
    """What a worked example and a handout print for each."""
    from stepprop.expr import Sym

    net, out, t = Sym("net"), Sym("out"), Sym("target")
    leaky = ops.OPS["leaky_relu"]
    assert plain(leaky.formula([net], {"slope": 0.1})) == "max(0.1 * net, net)"
    assert plain(leaky.derivative([net], out, {"slope": 0.1}, 0)) == "1 if net > 0, else 0.1"
    assert plain(ops.OPS["elu"].formula([net], {"elu_alpha": 1.0})) == "net if net > 0, else e^net - 1"
    assert plain(ops.OPS["elu"].formula([net], {"elu_alpha": 0.5})) == "net if net > 0, else 0.5 * (e^net - 1)"
    assert plain(ops.OPS["softplus"].formula([net], {})) == "ln(1 + e^net)"
    assert plain(ops.OPS["softplus"].derivative([net], out, {}, 0)) == "1/(1 + e^-net)"
    assert plain(ops.OPS["swish"].formula([net], {})) == "net/(1 + e^-net)"
    assert plain(ops.OPS["swish"].derivative([net], out, {}, 0)) == "out + 1/(1 + e^-net) * (1 - out)"
    mae = ops.OPS["mean_absolute_error"]
    assert plain(mae.formula([out, t], {"n": 2})) == "abs(target - out)/2"
    assert plain(mae.derivative([out, t], out, {"n": 1}, 0)) == "-sign(target - out)"
    assert tex(mae.formula([out, t], {"n": 1})) == r"\left|\mathit{target} - \mathit{out}\right|"
    assert '<mo fence="true">|</mo>' in mathml(mae.formula([out, t], {"n": 1}))
    huber = ops.OPS["huber"]
    assert plain(huber.formula([out, t], {"n": 1})) == (
        "1/2 * (target - out)^2 if abs(target - out) < 1, else abs(target - out) - 1/2"
    )
    assert plain(ops.OPS["sum_squared_error"].formula([out, t], {"n": 2})) == "(target - out)^2"


# ---------------------------------------------------- random small networks --


def _act(name: str, x: float, p: dict[str, float]) -> float:
    """The activations as their definitions say (not as ops.py writes them)."""
    if name == "leaky_relu":
        return x if x > 0 else p["slope"] * x
    if name == "elu":
        return x if x > 0 else p["elu_alpha"] * math.expm1(x)
    if name == "softplus":
        return math.log1p(math.exp(x))
    if name == "swish":
        return x / (1 + math.exp(-x))
    if name == "tanh":
        return math.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + math.exp(-x))
    assert name == "linear"
    return x


def _loss(name: str, outs: list[float], targets: list[float], p: dict[str, float]) -> float:
    """One sample's E_total."""
    n = len(outs)
    ds = [t - o for o, t in zip(outs, targets)]
    if name == "sum_squared_error":
        return sum(d * d for d in ds)
    if name == "half_squared_error":
        return sum(0.5 * d * d for d in ds)
    if name == "mean_absolute_error":
        return sum(abs(d) for d in ds) / n
    assert name == "huber"
    delta = p["huber_delta"]
    return sum(0.5 * d * d if abs(d) < delta else delta * (abs(d) - 0.5 * delta) for d in ds) / n


def reference(net: Net, values: dict[str, float], check_kinks: bool = False) -> float:
    """The batch error of the config's first batch at these parameters, in plain Python."""
    cfg = net.config
    p = {"slope": cfg.slope, "elu_alpha": cfg.elu_alpha, "huber_delta": cfg.huber_delta}
    totals = []
    for sample in cfg.batches()[0]:
        prev = list(sample.inputs)
        for li, layer in enumerate(cfg.layers):
            nets = []
            for r in range(layer.size):
                total = sum(values[w] * x for w, x in zip(net.weight_names[li][r], prev))
                names = net.bias_names[li]
                if names is not None:
                    total += values[names[r]] * cfg.bias_input
                nets.append(total)
            if check_kinks and layer.activation in ("leaky_relu", "elu"):
                assume(all(abs(x) > 1e-3 for x in nets))  # a finite difference across a kink says nothing
            prev = [_act(layer.activation, x, p) for x in nets]
        if check_kinks and cfg.loss == "mean_absolute_error":
            assume(all(abs(o - t) > 1e-3 for o, t in zip(prev, sample.targets)))
        totals.append(_loss(cfg.loss, prev, list(sample.targets), p))
    return math.fsum(totals) / len(totals) if cfg.batch_error == "mean" else math.fsum(totals)


WEIGHTS = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False)


@st.composite
def networks(draw: st.DrawFn) -> str:
    """YAML of a random config with a new activation or loss (or both): 1-2
    layers of 1-3 neurons, 1-2 inputs, 1-3 samples, the parameters drawn."""
    hidden = NEW_ACTIVATIONS + ("tanh", "sigmoid")
    loss_name = draw(st.sampled_from(NEW_LOSSES + ("half_squared_error",)))
    n_in = draw(st.integers(1, 2))
    n_layers = draw(st.integers(1, 2))
    acts = [draw(st.sampled_from(hidden + ("linear",) * (k == n_layers - 1))) for k in range(n_layers)]
    if loss_name not in NEW_LOSSES and not set(acts) & set(NEW_ACTIVATIONS):
        acts[-1] = draw(st.sampled_from(NEW_ACTIVATIONS))
    layers, prev = [], n_in
    for act in acts:
        size = draw(st.integers(1, 3))
        layer: dict = {"weights": [[draw(WEIGHTS) for _ in range(prev)] for _ in range(size)], "activation": act}
        bias = draw(st.sampled_from(("shared", "per-neuron", "absent")))
        if bias == "shared":
            layer["bias"] = draw(WEIGHTS)
        elif bias == "per-neuron":
            layer["bias"] = [draw(WEIGHTS) for _ in range(size)]
        layers.append(layer)
        prev = size
    samples = [
        {
            "inputs": [draw(st.floats(-1.0, 1.0)) for _ in range(n_in)],
            "targets": [draw(st.floats(-1.5, 1.5)) for _ in range(prev)],
        }
        for _ in range(draw(st.integers(1, 3)))
    ]
    doc: dict = {"samples": samples, "eta": draw(st.floats(0.05, 1.0)), "loss": loss_name}
    if "leaky_relu" in acts:
        doc["slope"] = draw(st.sampled_from((0.01, 0.1, 0.2, 0.3)))
    if "elu" in acts and draw(st.booleans()):
        doc["elu_alpha"] = draw(st.floats(0.1, 2.0))
    if loss_name == "huber":
        doc["huber_delta"] = draw(st.sampled_from((1.0, 0.5, 0.1, 2.0)))
    if len(samples) > 1 and draw(st.booleans()):
        doc["batch_error"] = "sum"
    doc["layers"] = layers
    return yaml.safe_dump(doc, sort_keys=False)


def _step(text: str, places: int | str | None = None):
    net = Net(configs.parse(text))
    try:
        return net, step(net, 0, rounding.rounder(places) if places is not None else None, places)
    except TrainingDiverged:
        assume(False)
        raise  # (unreachable: assume raises)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_gradients_against_finite_differences(text):
    """The engine's error is the plain-Python one, and its gradients are the
    central differences of the plain-Python error."""
    net, trace = _step(text)
    values = dict(net.values)
    error = reference(net, values, check_kinks=True)
    assert trace.error == pytest.approx(error, rel=1e-12, abs=1e-14)
    for name, mine in trace.gradients.items():
        h = 1e-6 * max(1.0, abs(values[name]))
        up, down = dict(values), dict(values)
        up[name] += h
        down[name] -= h
        numeric = (reference(net, up) - reference(net, down)) / (2 * h)
        assert abs(mine - numeric) <= 1e-6 * max(1.0, abs(mine)) + 1e-8, (name, mine, numeric)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.sampled_from([None, None, 4, "3sf"]))
def test_printed_equations_state_their_numbers(text, places):
    _, trace = _step(text, places)
    assert problems(worked.explain(trace), environment(trace), 9, places) == []
    assert problems(_whole(trace), environment(trace), 9, places) == []


# ---------------------------------------------------- the configs of the tests --


def config_text(activation: str, loss_name: str, **params: float) -> str:
    """A 2-2-2 network: one hidden net input negative, one positive; one
    output's error within Huber's delta, one beyond it."""
    extra = "".join(f"{key}: {value}\n" for key, value in params.items())
    return (
        f"inputs: [0.5, -1.0]\ntargets: [0.3, -0.8]\neta: 0.5\nactivation: {activation}\nloss: {loss_name}\n{extra}"
        "layers:\n"
        "  - {weights: [[0.15, 0.2], [0.25, -0.3]], bias: 0.1}\n"
        "  - {weights: [[0.4, -0.45], [-0.5, 0.55]], bias: [0.2, 0.25]}\n"
    )


def default_params(activation: str, loss_name: str) -> dict[str, float]:
    chosen = {"slope": 0.2, "elu_alpha": 0.7, "huber_delta": 0.5}
    return {PARAMS[name]: chosen[PARAMS[name]] for name in (activation, loss_name) if name in PARAMS}


COMBINATIONS = [(a, loss_name) for a in NEW_ACTIVATIONS for loss_name in NEW_LOSSES]


@pytest.fixture
def config_file(tmp_path: Path):
    def write(activation: str, loss_name: str, **params: float) -> str:
        path = tmp_path / f"{activation}-{loss_name}.yaml"
        path.write_text(config_text(activation, loss_name, **params), encoding="utf-8")
        return str(path)

    return write


@pytest.mark.parametrize("activation, loss_name", COMBINATIONS)
def test_each_combination_states_its_numbers(activation, loss_name):
    text = config_text(activation, loss_name, **default_params(activation, loss_name))
    for places in (None, 4, "3sf"):
        _, trace = _step(text, places)
        assert problems(_whole(trace), environment(trace), 9, places) == []
        assert problems(worked.explain(trace, compact=True), environment(trace), 9, places) == []


@pytest.mark.parametrize("activation, loss_name", COMBINATIONS)
def test_verify_passes(activation, loss_name, config_file):
    path = config_file(activation, loss_name, **default_params(activation, loss_name))
    result = run("verify", path, "--no-torch", code=0)
    assert "every gradient agrees" in result.stdout
    assert verify(configs.load(path), use_torch=False).ok


@pytest.mark.parametrize("activation, loss_name", [("leaky_relu", "huber"), ("swish", "mean_absolute_error")])
def test_the_commands_run(activation, loss_name, config_file, tmp_path):
    path = config_file(activation, loss_name, **default_params(activation, loss_name))
    text = run("explain", path, code=0).stdout
    assert ops.OPS[activation].words in text
    run("explain", path, "--view", "matrix", code=0)
    run("explain", path, "--round", "4", code=0)
    for form in ("latex", "html", "markdown", "json"):
        run("explain", path, "--format", form, code=0)
    trained = run("train", path, "--epochs", "5", code=0).stdout
    assert "w1" in trained
    template = tmp_path / "answers.yaml"
    run("check", path, "--template", "-o", str(template), code=0)
    assert "out_h1:" in template.read_text(encoding="utf-8")


def test_a_student_who_put_in_the_posts_half_is_told_so(tmp_path, config_file):
    """sum_squared_error has no 1/2: the post's 1/2 (t - out)^2 halves dE_total/dout_o1."""
    path = config_file("sigmoid", "sum_squared_error")
    trace = step(Net(configs.load(path)))
    out_o1 = trace.graph.by_sample[0]["out_o1"].data
    halved = out_o1 - 0.3  # -(t - out), the derivative of 1/2 (t - out)^2
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"dE_total/dout_o1: {halved:.9f}\n", encoding="utf-8")
    graded = json.loads(run("check", path, str(answers), "--format", "json").stdout)["answers"][0]
    assert graded["status"] == "wrong" and graded["mistake"] == "half_added", graded


def test_relus_derivative_for_leaky_relu_is_in_the_catalogue(config_file):
    """ReLU's derivative (0 for a negative net input) where leaky ReLU's is its
    slope; the words say the config's slope."""
    from stepprop.grading.catalogue import catalogue

    found = {(m.id, m.description) for m in catalogue(configs.load(config_file("leaky_relu", "huber", slope=0.2)))}
    assert (
        "another_activations_derivative",
        "in the hidden layer you took dout/dnet as 1 if net > 0, else 0, the derivative of ReLU; "
        "for leaky ReLU it is 1 if net > 0, else 0.2",
    ) in found
    assert any(i == "activation_derivative_left_out" and "(1 if net > 0, else 0.2)" in d for i, d in found)


# ------------------------------------------------------------ the config keys --


def refused(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        configs.parse(text, "mine.yaml")
    return caught.value


@pytest.mark.parametrize(
    "activation, loss_name, key, value, words",
    [
        ("leaky_relu", "half_squared_error", "slope", "-0.01", "slope must be from 0 to 1, found -0.01"),
        ("leaky_relu", "half_squared_error", "slope", "1.5", "slope must be from 0 to 1, found 1.5"),
        ("leaky_relu", "half_squared_error", "slope", "steep", "expected a number for slope"),
        ("elu", "half_squared_error", "elu_alpha", "0", "elu_alpha must be greater than 0"),
        ("sigmoid", "huber", "huber_delta", "0", "huber_delta must be greater than 0, found 0"),
        ("sigmoid", "huber", "huber_delta", "-1", "huber_delta must be greater than 0, found -1"),
        ("relu", "half_squared_error", "slope", "0.1", "slope is a parameter of an activation leaky_relu, which"),
        ("sigmoid", "mean_squared_error", "huber_delta", "1", "huber_delta is a parameter of the loss huber, which"),
    ],
)
def test_a_wrong_parameter_is_refused_where_it_is(activation, loss_name, key, value, words):
    text = config_text(activation, loss_name).replace("layers:\n", f"{key}: {value}\nlayers:\n")
    error = refused(text)
    assert words in str(error)
    line = text.splitlines().index(f"{key}: {value}") + 1
    assert error.line == line and error.column in (1, len(key) + 3), (error.line, error.column)


def test_huber_delta_is_not_delta():
    """delta is the delta convention's key: Huber's delta is huber_delta, and a
    number for delta says which key is meant."""
    error = refused(config_text("sigmoid", "huber").replace("layers:\n", "delta: 0.5\nlayers:\n"))
    assert "delta" in str(error)
    cfg = configs.parse(config_text("sigmoid", "huber", huber_delta=0.5))
    assert cfg.huber_delta == 0.5 and cfg.delta == "gradient"


@pytest.mark.parametrize(
    "written, meant",
    [
        ("activation: leakyrelu", "leaky_relu"),
        ("activation: LeakyReLU", "leaky_relu"),
        ("activation: silu", "swish"),
        ("loss: sse", "sum_squared_error"),
        ("loss: squared_error", "sum_squared_error"),
        ("loss: mae", "mean_absolute_error"),
        ("loss: l1_loss", "mean_absolute_error"),
        ("loss: smooth_l1", "huber"),
        ("negative_slope: 0.1", "slope"),
    ],
)
def test_other_names_are_suggested(written, meant):
    text = config_text("leaky_relu", "half_squared_error")
    key = written.split(":")[0]
    text = text.replace(f"{key}: half_squared_error\n", "").replace(f"{key}: leaky_relu\n", "")
    error = refused(text.replace("layers:\n", f"{written}\nlayers:\n"))
    assert f"did you mean '{meant}'" in str(error)


@pytest.mark.parametrize("activation, loss_name", COMBINATIONS)
def test_the_parameters_are_saved(activation, loss_name):
    cfg = configs.parse(config_text(activation, loss_name, **default_params(activation, loss_name)))
    again = configs.parse(configs.dump(cfg))
    for key in ("slope", "elu_alpha", "huber_delta"):
        assert getattr(again, key) == getattr(cfg, key)
    assert (again.layers, again.loss, again.activation) == (cfg.layers, cfg.loss, cfg.activation)
    defaults = configs.parse(config_text(activation, loss_name))
    assert not {"slope", "elu_alpha", "huber_delta"} & set(defaults.to_dict())  # defaults are left out


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
def test_init_offers_them(activation, tmp_path):
    out = tmp_path / "new.yaml"
    run("init", "2-2-1", "--activation", activation, "--loss", "huber", "-o", str(out), code=0)
    text = out.read_text(encoding="utf-8")
    cfg = configs.load(out)
    assert cfg.activation == activation and cfg.loss == "huber"
    assert "huber_delta: 1.0" in text
    if activation in PARAMS:
        assert f"{PARAMS[activation]}: " in text


# ------------------------------------------------------------------ PyTorch --


def torch_step(cfg: configs.Config) -> tuple[dict[str, float], dict[str, float]]:
    """(gradients, updated parameters) of one step of a 2-2-2 network with
    per-neuron output biases and a shared hidden bias, in PyTorch float64."""
    import torch
    from torch.nn import functional as F

    d = torch.float64
    activations = {
        "leaky_relu": lambda x: F.leaky_relu(x, cfg.slope),
        "elu": lambda x: F.elu(x, alpha=cfg.elu_alpha),
        "softplus": F.softplus,
        "swish": F.silu,
        "sigmoid": torch.sigmoid,
    }
    losses = {
        "sum_squared_error": lambda out, t: ((t - out) ** 2).sum(),
        "mean_absolute_error": lambda out, t: F.l1_loss(out, t, reduction="mean"),
        "huber": lambda out, t: F.huber_loss(out, t, reduction="mean", delta=cfg.huber_delta),
    }
    (l1, l2) = cfg.layers
    w1 = torch.tensor(l1.weights, dtype=d, requires_grad=True)
    b1 = torch.tensor(l1.bias, dtype=d, requires_grad=True)
    w2 = torch.tensor(l2.weights, dtype=d, requires_grad=True)
    b2 = torch.tensor(l2.bias, dtype=d, requires_grad=True)
    x = torch.tensor(cfg.samples[0].inputs, dtype=d)
    t = torch.tensor(cfg.samples[0].targets, dtype=d)
    f = activations[cfg.activation]
    out = f(w2 @ f(w1 @ x + b1) + b2)
    losses[cfg.loss](out, t).backward()
    grads = {
        "w1": w1.grad[0, 0],
        "w2": w1.grad[0, 1],
        "w3": w1.grad[1, 0],
        "w4": w1.grad[1, 1],
        "w5": w2.grad[0, 0],
        "w6": w2.grad[0, 1],
        "w7": w2.grad[1, 0],
        "w8": w2.grad[1, 1],
        "b1": b1.grad,
        "b2": b2.grad[0],
        "b3": b2.grad[1],
    }
    gradients = {name: float(g) for name, g in grads.items()}
    with torch.no_grad():  # the step, as torch.optim.SGD takes it
        for p in (w1, b1, w2, b2):
            p -= cfg.eta * p.grad
    after = [*w1.detach().flatten(), *w2.detach().flatten()]
    updated = {f"w{k + 1}": float(w) for k, w in enumerate(after)}
    updated.update({"b1": float(b1.detach()), "b2": float(b2[0].detach()), "b3": float(b2[1].detach())})
    return gradients, updated


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("activation, loss_name", COMBINATIONS)
def test_one_step_as_pytorch_takes_it(activation, loss_name):
    cfg = configs.parse(config_text(activation, loss_name, **default_params(activation, loss_name)))
    gradients, updated = torch_step(cfg)
    trace = step(Net(cfg))
    for name, theirs in gradients.items():
        assert trace.gradients[name] == pytest.approx(theirs, rel=1e-12, abs=1e-15), name
        assert trace.updated[name] == pytest.approx(updated[name], rel=1e-12, abs=1e-15), name
    result = verify(cfg)
    assert result.torch_available and result.ok


@pytest.mark.torch
@needs_torch
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_pytorch_agrees_on_random_networks(text):
    """stepprop verify's PyTorch network (ops' torch versions, config parameters and all)."""
    net, trace = _step(text)
    reference(net, dict(net.values), check_kinks=True)  # (at a kink, each side's slope is as right as the other)
    theirs = torchcheck.gradients(net, net.config.batches()[0])
    for name, mine in trace.gradients.items():
        assert abs(mine - theirs[name]) <= 1e-9 * (1 + abs(mine)), (name, mine, theirs[name])
