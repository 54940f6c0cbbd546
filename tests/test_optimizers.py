"""The optimisers (stepprop.optim): SGD with weight decay and L1, momentum and
Nesterov in both forms, RMSprop, Adam and AdamW.

* against torch.optim in float64, step after step, online and in batches;
* by hand: numbers worked out here from the recorded gradients, never read
  back from the optimiser's own quantities;
* the compiled training loop against the engine's consecutive steps, bit for
  bit, for the bundled networks and for random ones;
* the printed equations of three consecutive updates evaluate to the numbers
  they state (exactly, and rounded to significant figures);
* the commands (explain --steps, train, check) and the config's errors.
"""

from __future__ import annotations

import json
import math
import re
from unittest import mock

import pytest
import yaml
from conftest import net_of, networks, run
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_equations import environment, problems

import stepprop
from stepprop import config as configs
from stepprop import rounding, training, worked
from stepprop.errors import ConfigError, TrainingDiverged
from stepprop.step import steps

# ------------------------------------------------------------------ networks --

POST_LAYERS = [
    {"weights": [[0.15, 0.20], [0.25, 0.30]], "bias": 0.35},
    {"weights": [[0.40, 0.45], [0.50, 0.55]], "bias": 0.60},
]
SAMPLES = [
    {"inputs": [0.05, 0.10], "targets": [0.01, 0.99]},
    {"inputs": [0.10, 0.05], "targets": [0.99, 0.01]},
    {"inputs": [0.20, 0.30], "targets": [0.50, 0.50]},
]
# online: one update per sample, two samples; a batch: three samples, their mean error
DATA = {
    "online": {"samples": SAMPLES[:2], "batch_size": 1},
    "batch": {"samples": SAMPLES, "batch_size": 3, "batch_error": "mean"},
}

# every optimiser, with and without weight decay, one with L1, one regularising the biases
CASES = {
    "sgd": {"optimizer": "sgd"},
    "sgd-wd": {"optimizer": "sgd", "weight_decay": 0.05},
    "sgd-l1": {"optimizer": "sgd", "l1": 0.02},
    "momentum": {"optimizer": "momentum", "momentum": 0.9},
    "momentum-wd": {"optimizer": "momentum", "momentum": 0.8, "weight_decay": 0.05},
    "momentum-classic": {"optimizer": "momentum", "momentum": 0.8, "momentum_form": "classic"},
    "momentum-classic-wd": {
        "optimizer": "momentum",
        "momentum": 0.9,
        "momentum_form": "classic",
        "weight_decay": 0.05,
    },
    "nesterov": {"optimizer": "nesterov", "momentum": 0.9},
    "nesterov-wd": {"optimizer": "nesterov", "momentum": 0.7, "weight_decay": 0.05},
    "nesterov-classic": {"optimizer": "nesterov", "momentum": 0.9, "momentum_form": "classic"},
    "nesterov-classic-wd": {
        "optimizer": "nesterov",
        "momentum": 0.9,
        "momentum_form": "classic",
        "weight_decay": 0.05,
    },
    "rmsprop": {"optimizer": "rmsprop"},
    "rmsprop-wd": {"optimizer": "rmsprop", "beta2": 0.9, "epsilon": 1e-6, "weight_decay": 0.05},
    "adam": {"optimizer": "adam"},
    "adam-wd": {"optimizer": "adam", "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1},
    "adam-l1-wd": {"optimizer": "adam", "l1": 0.01, "weight_decay": 0.01},
    "adamw": {"optimizer": "adamw"},  # AdamW's default weight decay, 0.01
    "adamw-no-decay": {"optimizer": "adamw", "weight_decay": 0},
    "adamw-biases": {"optimizer": "adamw", "weight_decay": 0.1, "regularize_biases": True},
    # weight decay as an L2 penalty in the error (its gradient, lambda * w, is the same decay)
    "sgd-penalty": {"optimizer": "sgd", "weight_decay": 0.05, "penalty": "l2"},
    "adam-penalty-biases": {"optimizer": "adam", "weight_decay": 0.05, "penalty": "l2", "regularize_biases": True},
    "momentum-wd-biases": {
        "optimizer": "momentum",
        "momentum": 0.9,
        "weight_decay": 0.05,
        "l1": 0.01,
        "regularize_biases": True,
    },
}
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def post(extra: dict, data: str = "online", update_biases: bool = True, eta: float = 0.5) -> stepprop.Network:
    doc = {**DATA[data], "eta": eta, "update_biases": update_biases, **extra, "layers": POST_LAYERS}
    return stepprop.Network.from_dict(doc)


# ----------------------------------------------------------- against torch --


def torch_run(extra: dict, data: str, number: int) -> list[dict[str, float]]:
    """The post's network trained by torch.optim in float64, written here from
    the settings alone: each parameter after each of ``number`` updates."""
    torch = pytest.importorskip("torch")
    f64 = torch.float64
    opt_name = extra.get("optimizer", "sgd")
    wd = extra.get("weight_decay", 0.01 if opt_name == "adamw" else 0.0)
    l1 = extra.get("l1", 0.0)
    regb = extra.get("regularize_biases", False)
    mu = extra.get("momentum", 0.9)
    lr = 0.5
    W1 = torch.tensor(POST_LAYERS[0]["weights"], dtype=f64, requires_grad=True)
    W2 = torch.tensor(POST_LAYERS[1]["weights"], dtype=f64, requires_grad=True)
    # the post's biases are shared by a layer's neurons: one scalar each
    b1 = torch.tensor(POST_LAYERS[0]["bias"], dtype=f64, requires_grad=True)
    b2 = torch.tensor(POST_LAYERS[1]["bias"], dtype=f64, requires_grad=True)
    groups = [{"params": [W1, W2]}, {"params": [b1, b2], "weight_decay": wd if regb else 0.0}]
    eps = extra.get("epsilon", 1e-8)
    if opt_name == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, weight_decay=wd)
    elif opt_name in ("momentum", "nesterov"):
        opt = torch.optim.SGD(groups, lr=lr, momentum=mu, nesterov=opt_name == "nesterov", weight_decay=wd)
    elif opt_name == "rmsprop":
        opt = torch.optim.RMSprop(groups, lr=lr, alpha=extra.get("beta2", 0.99), eps=eps, weight_decay=wd)
    else:
        cls = torch.optim.Adam if opt_name == "adam" else torch.optim.AdamW
        betas = (extra.get("beta1", 0.9), extra.get("beta2", 0.999))
        opt = cls(groups, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    samples = DATA[data]["samples"]
    size = DATA[data]["batch_size"]
    batches = [samples[i : i + size] for i in range(0, len(samples), size)]
    out = []
    for k in range(number):
        batch = batches[k % len(batches)]
        opt.zero_grad()
        errors = []
        for sample in batch:
            x = torch.tensor(sample["inputs"], dtype=f64)
            target = torch.tensor(sample["targets"], dtype=f64)
            h = torch.sigmoid(W1 @ x + b1)
            o = torch.sigmoid(W2 @ h + b2)
            errors.append((0.5 * (target - o) ** 2).sum())
        loss = sum(errors) / len(errors)
        loss.backward()
        if l1:
            with torch.no_grad():
                for p in (W1, W2, b1, b2) if regb else (W1, W2):
                    p.grad += l1 * torch.sign(p)
        opt.step()
        values = dict(zip(("w1", "w2", "w3", "w4"), W1.detach().flatten().tolist()))
        values.update(zip(("w5", "w6", "w7", "w8"), W2.detach().flatten().tolist()))
        values.update(b1=b1.item(), b2=b2.item())
        out.append(values)
    return out


@pytest.mark.torch
@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("case", list(CASES))
def test_every_optimiser_as_torch_optim_takes_it(case, data):
    number = 6
    theirs = torch_run(CASES[case], data, number)
    traces = steps(post(CASES[case], data), number)
    assert len(traces) == number
    for k, (trace, expect) in enumerate(zip(traces, theirs)):
        assert set(trace.updated) == set(expect)
        for name, value in expect.items():
            assert trace.updated[name] == pytest.approx(value, rel=1e-12, abs=1e-15), (case, data, k + 1, name)
    # and the parameters really moved, the biases too
    assert all(traces[-1].updated[p] != traces[0].before[p] for p in ("w1", "w5", "b1", "b2"))


# ---------------------------------------------------------------- by hand --


def test_adams_first_update_moves_each_weight_by_about_eta():
    eta = 0.5
    net = post({"optimizer": "adam", "weight_decay": 0}, eta=eta, update_biases=False)
    trace = steps(net, 1)[0]
    moved = 0
    for name, g in trace.gradients.items():
        change = trace.updated[name] - trace.before[name]
        if name.startswith("b"):
            assert change == 0.0  # the biases are fixed
            continue
        assert g != 0.0
        # m_hat = g and sqrt(s_hat) = |g|: the step is eta * g / (|g| + epsilon)
        assert change == pytest.approx(-eta * g / (abs(g) + 1e-8), rel=1e-12)
        assert math.copysign(1.0, change) == -math.copysign(1.0, g)
        assert 0.0 < eta - abs(change) <= eta * 1e-8 / abs(g) * (1 + 1e-6)
        moved += 1
    assert moved == 8


def test_momentum_after_two_steps_is_the_second_gradient_plus_mu_times_the_first():
    mu, eta = 0.9, 0.5
    net = post({"optimizer": "momentum", "momentum": mu}, eta=eta)
    first, second = steps(net, 2)
    for name in first.gradients:
        g1, g2 = first.gradients[name], second.gradients[name]
        assert second.optim.quantities[f"v_{name}"] == pytest.approx(g2 + mu * g1, rel=1e-14)
        assert first.optim.quantities[f"v_{name}"] == g1
        w0 = first.before[name]
        assert second.updated[name] == pytest.approx(w0 - eta * g1 - eta * (g2 + mu * g1), rel=1e-14)
    # the second step starts from the first's parameters, its gradients are of them
    assert second.before == first.updated
    assert second.gradients != first.gradients


@pytest.mark.parametrize("name", ["momentum", "nesterov"])
def test_classic_and_pytorch_momentum_agree_for_a_constant_eta(name):
    eta, mu = 0.5, 0.8
    torchs = steps(post({"optimizer": name, "momentum": mu}, eta=eta), 5)
    classic = steps(post({"optimizer": name, "momentum": mu, "momentum_form": "classic"}, eta=eta), 5)
    for a, b in zip(torchs, classic):
        for p, value in a.updated.items():
            assert b.updated[p] == pytest.approx(value, rel=1e-13, abs=1e-16), p
            # the classic velocity is the change: -eta times torch's buffer
            assert b.optim.quantities[f"v_{p}"] == pytest.approx(-eta * a.optim.quantities[f"v_{p}"], rel=1e-12)


def one_weight(extra: dict, eta: float) -> stepprop.Network:
    """out = w * x (linear, no bias), E = 1/2 (target - out)^2, x = 2, w = 0.5, target = 0."""
    return stepprop.Network.from_dict(
        {
            "inputs": [2.0],
            "targets": [0.0],
            "eta": eta,
            "loss": "half_squared_error",
            **extra,
            "layers": [{"weights": [[0.5]], "activation": "linear"}],
        }
    )


def test_rmsprop_by_hand_for_one_weight():
    eta, rho, eps = 0.1, 0.99, 1e-8
    traces = steps(one_weight({"optimizer": "rmsprop"}, eta), 2)
    # update 1: out = 1, dE/dw = (out - target) * x = 2
    g1 = 2.0
    s1 = (1 - rho) * g1**2
    w1 = 0.5 - eta * g1 / (math.sqrt(s1) + eps)
    assert traces[0].gradients["w1"] == g1
    assert traces[0].updated["w1"] == pytest.approx(w1, rel=1e-15)
    assert w1 == pytest.approx(0.5 - 1.0, abs=1e-6)  # sqrt(0.04) = 0.2: a step of eta * g / 0.2 = 1
    # update 2: out = 2 * w1
    g2 = 2.0 * w1 * 2.0
    s2 = rho * s1 + (1 - rho) * g2**2
    w2 = w1 - eta * g2 / (math.sqrt(s2) + eps)
    assert traces[1].gradients["w1"] == pytest.approx(g2, rel=1e-15)
    assert traces[1].updated["w1"] == pytest.approx(w2, rel=1e-14)
    assert traces[1].optim.quantities["s_w1"] == pytest.approx(s2, rel=1e-14)


def test_l1_adds_l1_times_the_sign_of_each_weight():
    eta, l1 = 0.5, 0.02
    layers = [dict(POST_LAYERS[0]), POST_LAYERS[1]]
    layers[0]["weights"] = [[-0.15, 0.20], [0.25, -0.30]]  # w1 and w4 negative: sign -1
    doc = {**DATA["online"], "eta": eta, "update_biases": True, "layers": layers}
    plain = steps(stepprop.Network.from_dict(doc), 1)[0]
    with_l1 = steps(stepprop.Network.from_dict({**doc, "l1": l1}), 1)[0]
    assert with_l1.gradients == plain.gradients  # the gradient of the error itself is the same
    for name, g in plain.gradients.items():
        w = plain.before[name]
        if name.startswith("w"):
            expect = w - eta * (g + l1 * math.copysign(1.0, w))
        else:  # biases are not regularised unless regularize_biases: true
            expect = w - eta * g
        assert with_l1.updated[name] == pytest.approx(expect, rel=1e-15), name
    assert with_l1.updated["w1"] - plain.updated["w1"] == pytest.approx(+eta * l1, rel=1e-9)
    assert with_l1.updated["w5"] - plain.updated["w5"] == pytest.approx(-eta * l1, rel=1e-9)
    assert with_l1.optim.quantities["g_w1"] == pytest.approx(plain.gradients["w1"] - l1, rel=1e-15)


def test_adamw_decays_each_weight_by_eta_lambda_w_before_adams_step():
    eta, lam = 0.5, 0.1
    adam = steps(post({"optimizer": "adam", "weight_decay": 0}, eta=eta), 3)
    adamw = steps(post({"optimizer": "adamw", "weight_decay": lam}, eta=eta), 1)[0]
    first = adam[0]
    for name, w in first.before.items():
        decay = eta * lam * w if name.startswith("w") else 0.0  # the biases: not decayed
        assert adamw.updated[name] == pytest.approx(first.updated[name] - decay, rel=1e-14), name
    # AdamW's g is the gradient itself: the decay is not in the moments
    assert "g_w5" not in adamw.optim.quantities
    assert adamw.optim.quantities["m_w5"] == pytest.approx(0.1 * adamw.gradients["w5"], rel=1e-14)
    # Adam with weight decay puts lambda * w into the gradient (and moments) instead
    coupled = steps(post({"optimizer": "adam", "weight_decay": lam}, eta=eta), 1)[0]
    g = coupled.gradients["w5"] + lam * 0.40
    assert coupled.optim.quantities["g_w5"] == pytest.approx(g, rel=1e-15)
    assert coupled.optim.quantities["m_w5"] == pytest.approx(0.1 * g, rel=1e-14)
    assert coupled.optim.quantities["s_w5"] == pytest.approx(0.001 * g * g, rel=1e-12)


def test_adams_second_update_by_hand():
    eta, b1, b2, eps = 0.5, 0.9, 0.999, 1e-8
    first, second = steps(post({"optimizer": "adam", "weight_decay": 0}, eta=eta), 2)
    for name in first.gradients:
        g1, g2 = first.gradients[name], second.gradients[name]
        m = b1 * (1 - b1) * g1 + (1 - b1) * g2
        s = b2 * (1 - b2) * g1 * g1 + (1 - b2) * g2 * g2
        m_hat, s_hat = m / (1 - b1**2), s / (1 - b2**2)
        expect = first.updated[name] - eta * m_hat / (math.sqrt(s_hat) + eps)
        q = second.optim.quantities
        assert q[f"m_hat_{name}"] == pytest.approx(m_hat, rel=1e-12)
        assert q[f"s_hat_{name}"] == pytest.approx(s_hat, rel=1e-12)
        assert second.updated[name] == pytest.approx(expect, rel=1e-12)
        assert second.optim.t == 2


def test_weight_decay_leaves_the_biases_unless_asked():
    eta, lam = 0.5, 0.05
    plain = steps(post({}, eta=eta), 1)[0]
    for extra, decays_biases in (({}, False), ({"regularize_biases": True}, True)):
        trace = steps(post({"optimizer": "sgd", "weight_decay": lam, **extra}, eta=eta), 1)[0]
        for name, g in plain.gradients.items():
            w = plain.before[name]
            decays = name.startswith("w") or decays_biases
            expect = w - eta * (g + lam * w) if decays else w - eta * g
            assert trace.updated[name] == pytest.approx(expect, rel=1e-15), (name, extra)


# --------------------------------------------- compiled training = steps --


@pytest.fixture(params=["inline", "per-sample"])
def shape(request, monkeypatch):
    monkeypatch.setattr(training, "INLINE_NODES", 10**9 if request.param == "inline" else 0)
    return request.param


@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("case", list(CASES))
def test_training_is_the_consecutive_steps_bit_for_bit(case, data, shape):
    net = post(CASES[case], data)
    epochs = 3
    expect = steps(net, epochs * len(net.config.batches()))[-1].updated
    assert training.train(net, epochs).values == expect
    assert net.train(epochs).values == expect  # the API's train


@pytest.mark.parametrize("name", ["adam", "momentum"])
def test_bundled_optimiser_configs_train_as_they_step(name):
    net = stepprop.load(name)
    epochs = 4
    expect = steps(net, epochs * len(net.config.batches()))[-1].updated
    assert training.train(net, epochs).values == expect


@st.composite
def optimizers(draw: st.DrawFn) -> dict:
    """An optimiser and valid settings for it."""
    name = draw(st.sampled_from(OPTIMIZERS))
    extra: dict = {"optimizer": name}
    if name in ("momentum", "nesterov"):
        extra["momentum"] = draw(st.floats(0.01, 0.99))  # (0 is sgd: an error)
        extra["momentum_form"] = draw(st.sampled_from(("pytorch", "classic")))
    if name in ("adam", "adamw"):
        extra["beta1"] = draw(st.floats(0.0, 0.99))
    if name in ("rmsprop", "adam", "adamw"):
        extra["beta2"] = draw(st.floats(0.5, 0.9999))
        extra["epsilon"] = draw(st.sampled_from((1e-8, 1e-6, 1e-3)))
    if draw(st.booleans()):
        extra["weight_decay"] = draw(st.floats(0.0, 0.2))
    if draw(st.integers(0, 3)) == 0:
        extra["l1"] = draw(st.floats(0.0, 0.05))
    if draw(st.integers(0, 3)) == 0:
        extra["regularize_biases"] = True
    return extra


def _check_training(case: tuple[str, int], extra: dict, inline: bool, epochs: int) -> None:
    doc = yaml.safe_load(case[0])
    doc.update(extra)
    net = net_of(yaml.safe_dump(doc, sort_keys=False))
    with mock.patch.object(training, "INLINE_NODES", 10**9 if inline else 0):
        try:
            expect = steps(net, epochs * len(net.config.batches()))[-1].updated
        except TrainingDiverged:  # (training may still return the last, finite, parameters)
            assume(False)
        assert training.train(net, epochs).values == expect


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_samples=3), optimizers(), st.booleans())
def test_random_networks_train_as_they_step(case, extra, inline):
    _check_training(case, extra, inline, 2)


@pytest.mark.slow
@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), optimizers(), st.booleans(), st.integers(1, 5))
def test_random_networks_train_as_they_step_many(case, extra, inline, epochs):
    _check_training(case, extra, inline, epochs)


# ---------------------------------------------------- printed equations --

EQUATION_CASES = ["sgd-wd", "sgd-l1", "momentum", "momentum-classic-wd", "nesterov", "nesterov-classic"]
EQUATION_CASES += ["rmsprop-wd", "adam-wd", "adam-l1-wd", "adamw", "adamw-biases", "sgd-penalty", "adam-penalty-biases"]


@pytest.mark.parametrize("places", [None, "4sf"])
@pytest.mark.parametrize("case", EQUATION_CASES)
def test_printed_equations_of_three_updates_evaluate_to_their_numbers(case, places):
    net = post(CASES[case], "online")
    rounder = rounding.rounder(places) if places is not None else None
    traces = steps(net, 3, rounder, places)
    assert [t.optim.t for t in traces] == [1, 2, 3]
    for trace in traces:
        env = environment(trace)
        doc = worked.explain(trace)
        text = "\n".join(eq.name or "" for eq in doc.equations())
        assert "+" in text  # the updates are there
        assert problems(doc, env, 9, places) == []
        assert problems(worked.explain(trace, compact=True), env, 9, places) == []


@pytest.mark.parametrize("name", ["adam", "rmsprop"])
def test_rounding_to_decimals_that_divides_by_zero_says_to_use_significant_figures(name):
    net = post({"optimizer": name}, "online")
    with pytest.raises(TrainingDiverged, match=r"significant figures.*--round 4sf"):
        net.steps(3, round=4)
    assert len(net.steps(3, round="4sf")) == 3  # and significant figures work
    result = run("explain", "adam", "--steps", "2", "--round", "4")
    assert result.exit_code not in (0, 2)
    assert "significant figures" in result.stderr


# -------------------------------------------------------------- commands --


def test_explain_steps_text_shows_the_second_update():
    out = run("explain", "adam", "--steps", "2", "--only", "w5", code=0).stdout
    assert "Step 1 of 2" in out
    assert "Step 2 of 2" in out
    assert "m_hat_w5 =" in out
    assert "beta_1^2" in out  # the bias correction of update 2
    second = out[out.index("Step 2 of 2") :]
    assert "beta_1^1" not in second


def test_explain_steps_json_carries_the_state():
    data = json.loads(run("explain", "adam", "--steps", "3", "--format", "json", code=0).stdout)
    assert data["stepprop"] == 1 and data["command"] == "explain"
    chain = data["steps"]
    assert len(chain) == 3
    assert [s["optimizer"]["t"] for s in chain] == [1, 2, 3]
    assert all(s["optimizer"]["name"] == "adam" for s in chain)
    # before the first update the state is 0
    assert chain[0]["optimizer"]["state_before"] and set(chain[0]["optimizer"]["state_before"].values()) == {0.0}
    for a, b in zip(chain, chain[1:]):
        before = b["optimizer"]["state_before"]
        assert before
        for key, value in before.items():
            name = re.fullmatch(r"([msv]_\w+)\(t-1\)", key)
            assert name, key
            assert value == a["optimizer"]["quantities"][name.group(1)], key
        assert b["updated"] != a["updated"]
    # independently: update 1's m_w5 is (1 - beta1) * (dE/dw5 + lambda * w5)
    first = chain[0]
    g = first["gradients"]["w5"] + 0.01 * 0.40
    assert first["optimizer"]["quantities"]["m_w5"] == pytest.approx(0.1 * g, rel=1e-14)
    # the plain update has no optimiser block
    plain = json.loads(run("explain", "mazur", "--steps", "2", "--format", "json", code=0).stdout)
    assert [s["optimizer"] for s in plain["steps"]] == [None, None]


def test_json_momentum_state_carried():
    chain = json.loads(run("explain", "momentum", "--steps", "3", "--format", "json", code=0).stdout)["steps"]
    for a, b in zip(chain, chain[1:]):
        assert b["optimizer"]["state_before"]["v_w5(t-1)"] == a["optimizer"]["quantities"]["v_w5"]
    # v after two updates: g2 + mu * g1
    g1, g2 = chain[0]["gradients"]["w5"], chain[1]["gradients"]["w5"]
    assert chain[1]["optimizer"]["quantities"]["v_w5"] == pytest.approx(g2 + 0.9 * g1, rel=1e-14)


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_explain_steps_in_every_format(fmt):
    result = run("explain", "adam", "--steps", "2", "--format", fmt, code=0)
    out = result.stdout
    assert out.strip()
    assert "2 of 2" in out
    assert "m_hat" in out or "hat" in out


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "adam", "--steps", "0"),
        ("explain", "adam", "--steps", "1001"),
        ("explain", "adam", "--steps", "2", "--view", "matrix"),
        ("explain", "adam", "--steps", "2", "--names"),
    ],
)
def test_explain_steps_usage_errors(args):
    result = run(*args, code=2)
    assert "Error:" in result.stderr
    assert result.stdout == ""


def test_train_adam():
    result = run("train", "adam", "--epochs", "50", code=0)
    assert "w5" in result.stdout
    net = stepprop.load("adam")
    assert net.train(50).values == steps(net, 50)[-1].updated


def _adam_answers() -> dict[str, float]:
    """Every name explain --names lists for adam's first update: the network's
    values from the API, each optimiser quantity worked out here by hand."""
    names = json.loads(run("explain", "adam", "--names", "--format", "json", code=0).stdout)["names"]
    step = stepprop.load("adam").steps(1)[0]
    known = step.names
    eta, b1, b2, eps, lam = 0.5, 0.9, 0.999, 1e-8, 0.01
    mine: dict[str, float] = {}
    for p, w in step.before.items():
        if not p.startswith("w"):
            continue
        g = step.gradients[p] + lam * w
        m, s = (1 - b1) * g, (1 - b2) * g * g
        m_hat, s_hat = m / (1 - b1), s / (1 - b2)
        mine.update({f"g_{p}": g, f"m_{p}": m, f"s_{p}": s, f"m_hat_{p}": m_hat, f"s_hat_{p}": s_hat})
        mine[f"{p}+"] = w - eta * m_hat / (math.sqrt(s_hat) + eps)
    answers = {}
    for name in names:
        if name in mine:
            answers[name] = mine[name]
        elif name in known:
            answers[name] = known[name]
    assert set(mine) <= set(answers)
    return answers


def test_check_grades_every_optimiser_quantity(workdir):
    answers = _adam_answers()
    path = workdir / "answers.yaml"
    path.write_text("".join(f"{name}: {value!r}\n" for name, value in answers.items()))
    result = run("check", "adam", str(path), "--format", "json")
    data = json.loads(result.stdout)
    graded = {a["name"]: a["status"] for a in data["answers"]}
    quantities = [n for n in answers if re.match(r"(g|m|s|m_hat|s_hat)_w\d$", n)]
    assert len(quantities) == 40
    for name in quantities:
        assert graded.get(name) == "correct", (name, graded.get(name))
    assert data["counts"]["wrong"] == 0
    assert result.exit_code == 0
    # a wrong m_hat_w5 is caught
    path.write_text(f"m_hat_w5: {answers['m_hat_w5'] * 1.5!r}\n")
    data = json.loads(run("check", "adam", str(path), "--format", "json").stdout)
    assert [a["status"] for a in data["answers"]] == ["wrong"]


# ------------------------------------------------------ the L2 penalty --


def _squares(values: dict[str, float], biases: bool) -> float:
    return sum(v * v for p, v in values.items() if p.startswith("w") or biases)


@pytest.mark.parametrize("biases", [False, True])
def test_the_penalised_error_is_e_total_plus_half_lambda_times_the_squared_weights(biases):
    lam = 0.05
    net = post({"optimizer": "sgd", "weight_decay": lam, "penalty": "l2", "regularize_biases": biases})
    first, second = net.steps(2)
    for step in (first, second):
        names = step.names
        assert names["E_reg"] == pytest.approx(step.error + lam / 2 * _squares(step.before, biases), rel=1e-14)
        assert names["E_reg+"] == pytest.approx(step.error_after + lam / 2 * _squares(step.updated, biases), rel=1e-14)
    # the post's weights: 0.15^2 + 0.2^2 + ... + 0.55^2 = 1.13, its E_total 0.298371109
    assert first.names["E_reg"] == pytest.approx(0.298371109 + lam / 2 * (1.13 + (0.35**2 + 0.6**2) * biases))
    # without penalty: l2 the same decay has no penalised error
    assert "E_reg" not in post({"optimizer": "sgd", "weight_decay": lam}).step().names


def test_the_error_lines_show_the_penalty(workdir):
    path = workdir / "l2.yaml"
    doc = {**DATA["online"], "eta": 0.5, "weight_decay": 0.01, "penalty": "l2", "layers": POST_LAYERS}
    path.write_text(yaml.safe_dump(doc))
    out = run("explain", str(path), code=0).stdout
    errors = out[out.index("The total error") : out.index("The backwards pass")]
    assert "E_reg = E_total + lambda/2 * (w1^2 + w2^2 + w3^2 + w4^2 + w5^2 + w6^2 + w7^2 + w8^2)" in errors
    assert "= 0.298371109 + 0.01/2 * (0.15^2 + 0.2^2 + 0.25^2 + 0.3^2 + 0.4^2 + 0.45^2 + 0.5^2 + 0.55^2)" in errors
    assert "= 0.304021109" in errors  # 0.298371109 + 0.005 * 1.13
    assert "g_w5 = dE_total/dw5 + lambda * w5" in out
    summary = out[out.index("The updated parameters") :]
    assert "E_reg = 0.304021109" in summary and "E_reg+ = " in summary
    data = json.loads(run("explain", str(path), "--format", "json", code=0).stdout)
    assert data["optimizer"]["penalized_error"] == pytest.approx(0.298371109 + 0.005 * 1.13)
    assert data["optimizer"]["penalized_error_after"] < data["optimizer"]["penalized_error"]
    # check grades it; leaving the penalty's derivative out of the gradient keeps E_reg right
    step = stepprop.Network.from_dict(doc).step()
    answers = workdir / "answers.yaml"
    wrong = step.before["w5"] - 0.5 * step.gradients["w5"]
    answers.write_text(f"E_reg: {step.names['E_reg']!r}\nE_reg+: {step.names['E_reg+']!r}\nw5+: {wrong!r}\n")
    data = json.loads(run("check", str(path), str(answers), "--format", "json").stdout)
    graded = {a["name"]: a for a in data["answers"]}
    assert graded["E_reg"]["status"] == graded["E_reg+"]["status"] == "correct"
    assert graded["w5+"]["mistake"] == "l2_left_out_of_gradient"


@pytest.mark.parametrize("fmt", ["latex", "html"])
def test_the_optimisers_symbols_are_typeset(fmt):
    """beta, epsilon, lambda and mu are Greek letters, m_hat a hat, sqrt a root."""
    out = run("explain", "adam", "--steps", "2", "--only", "w5", "--format", fmt, code=0).stdout
    if fmt == "latex":
        for wanted in (r"\beta_{1}", r"\hat{m}_{w5}", r"\hat{s}_{w5}", r"\sqrt{", r"\epsilon", r"\lambda"):
            assert wanted in out, wanted
        assert r"\mathit{beta}" not in out and "m_hat" not in out and r"\operatorname{sqrt}" not in out
    else:
        for wanted in ("<mi>β</mi>", "<mi>ε</mi>", "<mi>λ</mi>", "<msqrt>", '<mover accent="true"><mi>m</mi>'):
            assert wanted in out, wanted
        assert "<mi>beta</mi>" not in out and "<mi>m_hat</mi>" not in out
    momentum = run("explain", "momentum", "--steps", "2", "--only", "w5", "--format", fmt, code=0).stdout
    assert (r"\mu" if fmt == "latex" else "<mi>μ</mi>") in momentum


def test_the_optimisers_latex_compiles(tmp_path):
    import shutil

    from test_exports import _pdflatex

    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine (pdflatex) is installed here, so the LaTeX is not compiled")
    config = tmp_path / "l2.yaml"
    doc = {**DATA["online"], "eta": 0.5, "optimizer": "adam", "weight_decay": 0.01, "penalty": "l2"}
    config.write_text(yaml.safe_dump({**doc, "l1": 0.01, "layers": POST_LAYERS}))
    for name, args in {"adam": ("adam", "--steps", "2"), "l2": (str(config), "--steps", "2")}.items():
        run("explain", *args, "--format", "latex", "-o", str(tmp_path / f"{name}.tex"), code=0)
        assert _pdflatex(engine, tmp_path, name) >= 1


# ---------------------------------------------------------- config errors --

MAZUR = """\
inputs: [0.05, 0.10]
targets: [0.01, 0.99]
eta: 0.5
layers:
  - weights: [[0.15, 0.20], [0.25, 0.30]]
    bias: 0.35
  - weights: [[0.40, 0.45], [0.50, 0.55]]
    bias: 0.60
"""

# (extra lines, the line of the error, what the message must say)
BAD = {
    "unknown": ("optimizer: adma\n", 9, r"unknown optimizer 'adma' \(did you mean 'adam'\?\)"),
    "beta1": ("optimizer: adam\nbeta1: 1.5\n", 10, r"beta1 .*1\.5"),
    "foreign": ("optimizer: adam\nmomentum: 0.9\n", 10, r"momentum is a setting of momentum and nesterov"),
    "adamw-penalty": ("optimizer: adamw\nweight_decay: 0.1\npenalty: l2\n", 11, r"penalty: l2"),
    "penalty-alone": ("penalty: l2\n", 9, r"penalty: l2 needs weight_decay"),
    "negative-decay": ("weight_decay: -1\n", 9, r"weight_decay must be at least 0"),
    "alias": ("optimiser: adam\n", 9, r"'optimiser'.*did you mean 'optimizer'"),
    "form": ("optimizer: momentum\nmomentum_form: clasic\n", 10, r"clasic"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_config_errors_are_located(case, workdir):
    extra, line, message = BAD[case]
    path = workdir / "bad.yaml"
    path.write_text(MAZUR + extra)
    result = run("explain", str(path))
    assert result.exit_code != 0
    assert result.stdout == ""
    assert re.search(rf"bad\.yaml:{line}:\d+: ", result.stderr), result.stderr
    assert re.search(message, result.stderr), result.stderr
    # through the API: a ConfigError with the same words
    with pytest.raises(ConfigError, match=message):
        configs.parse(MAZUR + extra, "bad.yaml")
    with pytest.raises(ConfigError, match=message):
        stepprop.Network.from_dict(yaml.safe_load(MAZUR + extra))


@pytest.mark.parametrize("case", list(CASES))
def test_saving_round_trips_the_optimiser(case):
    net = post(CASES[case])
    again = stepprop.Network.from_dict(net.to_dict())
    assert again.config.optim == net.config.optim
    assert configs.parse(net.to_yaml()).optim == net.config.optim
    # the settings are the config's, defaults filled in
    optim = net.config.optim
    assert optim.name == CASES[case]["optimizer"]
    assert optim.weight_decay == CASES[case].get("weight_decay", 0.01 if optim.name == "adamw" else 0.0)
    assert optim.l1 == CASES[case].get("l1", 0.0)
    if optim.name == "rmsprop":
        assert optim.beta2 == CASES[case].get("beta2", 0.99)
    if optim.name in ("adam", "adamw"):
        assert optim.beta2 == CASES[case].get("beta2", 0.999)
