"""``stepprop check``: grading a student's numbers and naming the mistake.

Every expected number below is worked out by hand in this file, with plain
float arithmetic on the post's network (inputs 0.05, 0.10; targets 0.01,
0.99; w1..w8 = .15 .2 .25 .3 .4 .45 .5 .55; b1 = .35 shared by h1 and h2;
b2 = .6 shared by o1 and o2; eta 0.5; sigmoid; E = sum of 1/2 (t - out)^2;
biases fixed) or on small configs written out here.  A wrong answer is the
number a student gets by making one mistake of the catalogue; the test then
asks check to name that mistake and no other.  Nothing expected is read back
from stepprop itself, except in the ``explain --names`` round trip.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from conftest import BUNDLED, agrees, run

import stepprop
from stepprop import config as configs
from stepprop.errors import StepPropError
from stepprop.grading import check, load_answers

DATA = Path(__file__).resolve().parent.parent / "stepprop" / "configs" / "answers"
STEP_ANSWERS = DATA / "mazur-post-step.yaml"
TRAINED_ANSWERS = DATA / "mazur-post-10000.yaml"

ALL_IDS = {
    "weights_transposed": 1,
    "updated_weights_in_hidden_deltas": 2,
    "activation_derivative_left_out": 3,
    "gradient_added": 4,
    "squared_error_without_half": 5,
    "mean_instead_of_sum": 5,
    "sum_instead_of_mean": 5,
    "learning_rate_forgotten": 6,
    "fixed_bias_updated": 7,
    "bias_not_updated": 7,
    "shared_bias_split": 7,
    "biases_pooled": 7,
    "weight_of_another_input": 1,
    "another_activations_derivative": 3,
    "derivative_at_the_net_input": 3,
    "cross_terms_ignored": 3,
    "textbook_sign_convention": 4,
    "targets_swapped": 8,
    "another_neurons_output": 9,
    "bias_left_out": 10,
    "batch_summed": 5,
    "batch_averaged": 5,
    "online_updates": 11,
    "first_sample_only": 11,
}


# ------------------------------------------------------------ by hand --


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def fmt(x: float, places: int = 9) -> str:
    """A number as a student writes it, to ``places`` decimals."""
    return f"{x:.{places}f}"


# The post's network, the forward and backward pass written out.
I1, I2 = 0.05, 0.10
T1, T2 = 0.01, 0.99
W1, W2, W3, W4, W5, W6, W7, W8 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55
B1, B2 = 0.35, 0.60
ETA = 0.5

NET_H1 = W1 * I1 + W2 * I2 + B1
NET_H2 = W3 * I1 + W4 * I2 + B1
OUT_H1, OUT_H2 = sigmoid(NET_H1), sigmoid(NET_H2)
NET_O1 = W5 * OUT_H1 + W6 * OUT_H2 + B2
NET_O2 = W7 * OUT_H1 + W8 * OUT_H2 + B2
OUT_O1, OUT_O2 = sigmoid(NET_O1), sigmoid(NET_O2)
E_TOTAL = 0.5 * (T1 - OUT_O1) ** 2 + 0.5 * (T2 - OUT_O2) ** 2
DELTA_O1 = (OUT_O1 - T1) * OUT_O1 * (1 - OUT_O1)
DELTA_O2 = (OUT_O2 - T2) * OUT_O2 * (1 - OUT_O2)
DE_DOUT_H1 = DELTA_O1 * W5 + DELTA_O2 * W7
DE_DOUT_H2 = DELTA_O1 * W6 + DELTA_O2 * W8
DELTA_H1 = DE_DOUT_H1 * OUT_H1 * (1 - OUT_H1)
DELTA_H2 = DE_DOUT_H2 * OUT_H2 * (1 - OUT_H2)
GRAD = {
    "w1": DELTA_H1 * I1,
    "w2": DELTA_H1 * I2,
    "w3": DELTA_H2 * I1,
    "w4": DELTA_H2 * I2,
    "w5": DELTA_O1 * OUT_H1,
    "w6": DELTA_O1 * OUT_H2,
    "w7": DELTA_O2 * OUT_H1,
    "w8": DELTA_O2 * OUT_H2,
}
WEIGHTS = {"w1": W1, "w2": W2, "w3": W3, "w4": W4, "w5": W5, "w6": W6, "w7": W7, "w8": W8}


def post_error(w: dict[str, float], b1: float = B1, b2: float = B2) -> float:
    """E_total of the post's sample with these weights (a forward pass by hand)."""
    h1 = sigmoid(w["w1"] * I1 + w["w2"] * I2 + b1)
    h2 = sigmoid(w["w3"] * I1 + w["w4"] * I2 + b1)
    o1 = sigmoid(w["w5"] * h1 + w["w6"] * h2 + b2)
    o2 = sigmoid(w["w7"] * h1 + w["w8"] * h2 + b2)
    return 0.5 * (T1 - o1) ** 2 + 0.5 * (T2 - o2) ** 2


def test_the_hand_calculation_is_the_posts():
    """The hand calculation above reproduces the post's printed figures."""
    assert agrees(OUT_H1, "0.593269992")
    assert agrees(OUT_O2, "0.772928465")
    assert agrees(E_TOTAL, "0.298371109")
    assert agrees(DELTA_O1, "0.138498562")
    assert agrees(GRAD["w5"], "0.082167041")
    assert agrees(DE_DOUT_H1, "0.036350306")
    assert agrees(W1 - ETA * GRAD["w1"], "0.149780716")


# The post's network with biases that are updated (shared_bias_split, bias_not_updated).
POST_UPDATING_BIASES = """\
inputs: [0.05, 0.10]
targets: [0.01, 0.99]
eta: 0.5
update_biases: true
layers:
  - weights: [[0.15, 0.20], [0.25, 0.30]]
    bias: 0.35
  - weights: [[0.40, 0.45], [0.50, 0.55]]
    bias: 0.60
"""

# A 2-2-3 network of our own: one bias per neuron, updated, the mean squared
# error (three outputs, so that neither the sum of (t - out)^2 nor of
# 1/2 (t - out)^2 is the same as the mean), eta 0.4.
# Names: w1 w2 (h1), w3 w4 (h2), w5 w6 (o1), w7 w8 (o2), w9 w10 (o3);
# b1 b2 (h1, h2), b3 b4 b5 (o1, o2, o3).
OWN = """\
inputs: [0.1, 0.2]
targets: [0.2, 0.7, 0.9]
eta: 0.4
update_biases: true
loss: mean_squared_error
layers:
  - weights: [[0.1, 0.3], [0.2, 0.4]]
    bias: [0.1, 0.2]
  - weights: [[0.5, 0.6], [0.7, 0.8], [0.3, 0.9]]
    bias: [0.3, 0.4, 0.5]
"""
OWN_X = [0.1, 0.2]
OWN_T = [0.2, 0.7, 0.9]
OWN_W1 = [[0.1, 0.3], [0.2, 0.4]]
OWN_B1 = [0.1, 0.2]
OWN_W2 = [[0.5, 0.6], [0.7, 0.8], [0.3, 0.9]]
OWN_B2 = [0.3, 0.4, 0.5]
OWN_ETA = 0.4


def own_by_hand() -> dict[str, object]:
    """Forward pass and output/hidden deltas of OWN, with the mean squared error."""
    h = [sigmoid(sum(w * x for w, x in zip(row, OWN_X)) + b) for row, b in zip(OWN_W1, OWN_B1)]
    o = [sigmoid(sum(w * x for w, x in zip(row, h)) + b) for row, b in zip(OWN_W2, OWN_B2)]
    n = len(o)
    d_out = [2 * (ok - tk) / n for ok, tk in zip(o, OWN_T)]  # d/d out of (1/n) sum (t - out)^2
    delta_o = [g * ok * (1 - ok) for g, ok in zip(d_out, o)]
    delta_h = [sum(delta_o[k] * OWN_W2[k][j] for k in range(n)) * h[j] * (1 - h[j]) for j in range(len(h))]
    return {
        "h": h,
        "o": o,
        "delta_o": delta_o,
        "delta_h": delta_h,
        "mse": sum((tk - ok) ** 2 for ok, tk in zip(o, OWN_T)) / n,
    }


# ------------------------------------------------------------- helpers --


def write_answers(folder: Path, answers: dict[str, str], name: str = "answers.yaml") -> Path:
    path = folder / name
    path.write_text("".join(f"{json.dumps(k)}: {v}\n" for k, v in answers.items()), encoding="utf-8")
    return path


def grade(
    folder: Path, answers: dict[str, str], config_text: str | None = None, epochs: int | None = None
) -> dict[str, dict]:
    """Grade through the library; the JSON form of each answer by name."""
    path = write_answers(folder, answers)
    cfg = configs.load() if config_text is None else configs.parse(config_text, "own.yaml")
    report = check(cfg, load_answers(path), epochs, str(path))
    return {a["name"]: a for a in report.to_dict()["answers"]}


# ------------------------------------------------ the post's own numbers --


@pytest.fixture(scope="module")
def step_json() -> dict:
    result = run("check", str(STEP_ANSWERS), "--format", "json")
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def trained_json() -> dict:
    """The post's figures after 10,000 epochs (trained once for the module: the
    default suite's only 10,000 epochs through the command line)."""
    result = run("check", "--epochs", "10000", str(TRAINED_ANSWERS), "--format", "json")
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


def by_name(data: dict) -> dict[str, dict]:
    return {a["name"]: a for a in data["answers"]}


def test_the_posts_step_figures(step_json):
    answers = by_name(step_json)
    written = [
        line.split(":")[0]
        for line in STEP_ANSWERS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert list(answers) == written
    for name, a in answers.items():
        if name == "error_after":
            assert a["status"] == "wrong"
            assert a["given_text"] == "0.291027924"
            assert a["mistake"] == "updated_weights_in_hidden_deltas"
            assert "mistake 2" in a["note"]
        elif name == "dE_o2/dout_h1":
            assert a["status"] == "rounded", a
            assert a["mistake"] is None
        else:
            assert a["status"] == "correct", a
            assert a["mistake"] is None and a["mistakes"] == []
    assert step_json["counts"] == {
        "correct": len(answers) - 2,
        "rounded": 1,
        "carried": 0,
        "ambiguous": 0,
        "wrong": 1,
        "unanswered": 0,
    }
    assert step_json["epochs"] is None


def test_error_after_exact_value_is_the_hand_calculation(step_json):
    updated = {n: WEIGHTS[n] - ETA * GRAD[n] for n in WEIGHTS}
    exact_after = post_error(updated)
    a = by_name(step_json)["error_after"]
    assert a["exact"] == pytest.approx(exact_after, rel=1e-12)
    assert not agrees(exact_after, "0.291027924")
    # mistake 2 by hand: the hidden deltas with w5+ ... w8+
    d_h1 = (DELTA_O1 * updated["w5"] + DELTA_O2 * updated["w7"]) * OUT_H1 * (1 - OUT_H1)
    d_h2 = (DELTA_O1 * updated["w6"] + DELTA_O2 * updated["w8"]) * OUT_H2 * (1 - OUT_H2)
    mistaken = dict(updated)
    for n, d, x in (("w1", d_h1, I1), ("w2", d_h1, I2), ("w3", d_h2, I1), ("w4", d_h2, I2)):
        mistaken[n] = WEIGHTS[n] - ETA * d * x
    assert agrees(post_error(mistaken), "0.291027924")
    assert set(a["mistakes"]) == {"updated_weights_in_hidden_deltas"}


def test_the_posts_figures_after_10000_epochs(trained_json):
    answers = by_name(trained_json)
    assert trained_json["epochs"] == 10000
    assert answers["error"]["status"] == "correct"
    for name, given in (("out_o1", "0.015912196"), ("out_o2", "0.984065734")):
        a = answers[name]
        assert a["given_text"] == given
        assert a["status"] == "wrong", a
        assert a["mistake"] == "updated_weights_in_hidden_deltas"
        assert set(a["mistakes"]) == {"updated_weights_in_hidden_deltas"}
        assert "mistake 2" in a["note"]
    assert trained_json["counts"] == {
        "correct": 1,
        "rounded": 0,
        "carried": 0,
        "ambiguous": 0,
        "wrong": 2,
        "unanswered": 0,
    }


def test_after_a_long_training_the_check_tries_what_its_budget_allows(trained_json):
    """Each mistake tried after 10,000 epochs is trained 10,000 epochs too: a check
    tries the first form of each mistake, in catalogue order, while its budget lasts,
    and says how many it tried."""
    from stepprop.grading import TRAINED_BUDGET, Checker

    checker = Checker(configs.load(), 10000)
    nodes = len(checker.run().trace.graph.tape.nodes)
    allowed = TRAINED_BUDGET // (nodes * 10001)
    assert 2 <= allowed < len(checker.mistakes)
    assert trained_json["mistakes_tried"] == allowed
    assert trained_json["mistakes_catalogued"] == len(checker.mistakes)
    tried = [m.id for m in checker.tried()]
    ids = list(dict.fromkeys(m.id for m in checker.mistakes))
    assert tried == ids[:allowed]  # one form of each, before a second form of any
    text = run("check", "--epochs", "10000", str(TRAINED_ANSWERS)).stdout
    assert f"{allowed} of the catalogue's {len(checker.mistakes)} mistakes tried" in text


def test_a_short_training_tries_every_mistake(tmp_path):
    from stepprop.grading import Checker

    checker = Checker(configs.load(), 100)
    assert checker.tried() == checker.mistakes
    data = json.loads(
        run("check", "--epochs", "100", str(write_answers(tmp_path, {"out_o1": "0.5"})), "--format", "json").stdout
    )
    assert data["mistakes_tried"] == data["mistakes_catalogued"] == len(checker.mistakes)


def test_after_a_long_training_a_second_form_waits_for_every_first_form():
    from stepprop.grading import TRAINED_BUDGET, Checker

    nodes = len(Checker(configs.load()).run().trace.graph.tape.nodes)
    first = Checker(configs.load())
    ids = list(dict.fromkeys(m.id for m in first.mistakes))
    epochs = TRAINED_BUDGET // (nodes * (len(ids) + 2)) - 1  # room for every first form and two more
    checker = Checker(configs.load(), epochs)
    tried = checker.tried()
    assert len(tried) == len(ids) + 2
    assert list(dict.fromkeys(m.id for m in tried)) == ids
    assert tried == [m for m in checker.mistakes if m in tried]  # in catalogue order


def test_an_answer_after_training_no_mistake_tried_reproduces(tmp_path):
    (answer,) = grade(tmp_path, {"out_o1": "0.0123456"}, epochs=10000).values()
    assert answer["status"] == "wrong"
    assert re.match(r"none of the \d+ mistakes tried reproduces it \(of 24", answer["note"]), answer["note"]


def test_the_posts_figure_that_was_rounded_along_the_way(step_json):
    """-0.019049119 is delta_o2 rounded to 9 decimals, times w7: a hand calculation."""
    a = by_name(step_json)["dE_o2/dout_h1"]
    assert a["exact"] == pytest.approx(DELTA_O2 * W7, rel=1e-12)
    assert not agrees(DELTA_O2 * W7, "-0.019049119")
    assert a["rounded_value"] is not None and agrees(a["rounded_value"], "-0.019049119")


# ------------------------------------------------------ each mistake --

# (id, quantity, the mistaken number worked out by hand, config or None for the post's)
MISTAKE_CASES = [
    # 1: weights read column by column: net_h1 = w1*i1 + w3*i2 + b1
    pytest.param("weights_transposed", "net_h1", W1 * I1 + W3 * I2 + B1, None, id="1-net_h1"),
    # 1: the output layer read column by column: net_o1 = w5*out_h1 + w7*out_h2 + b2
    pytest.param("weights_transposed", "net_o1", W5 * OUT_H1 + W7 * OUT_H2 + B2, None, id="1-net_o1"),
    # 1, backwards pass only: dnet_o2/dout_h1 taken as w6 (h2 -> o1), not w7
    pytest.param("weights_transposed", "dE_o2/dout_h1", DELTA_O2 * W6, None, id="1b-dE_o2/dout_h1"),
    pytest.param(
        "weights_transposed", "dE_total/dout_h1", DELTA_O1 * W5 + DELTA_O2 * W6, None, id="1b-dE_total/dout_h1"
    ),
    # 2: the hidden deltas with the updated w5+, w7+
    pytest.param(
        "updated_weights_in_hidden_deltas",
        "dE_total/dout_h1",
        DELTA_O1 * (W5 - ETA * GRAD["w5"]) + DELTA_O2 * (W7 - ETA * GRAD["w7"]),
        None,
        id="2-dout_h1",
    ),
    pytest.param(
        "updated_weights_in_hidden_deltas",
        "dE_total/dw1",
        (DELTA_O1 * (W5 - ETA * GRAD["w5"]) + DELTA_O2 * (W7 - ETA * GRAD["w7"])) * OUT_H1 * (1 - OUT_H1) * I1,
        None,
        id="2-dw1",
    ),
    # 3: out_o1 * (1 - out_o1) left out: dE/dw5 = (out_o1 - t1) * out_h1
    pytest.param("activation_derivative_left_out", "dE_total/dw5", (OUT_O1 - T1) * OUT_H1, None, id="3-dw5"),
    # 3: out_h1 * (1 - out_h1) left out: dE/dw1 = dE/dout_h1 * i1
    pytest.param("activation_derivative_left_out", "dE_total/dw1", DE_DOUT_H1 * I1, None, id="3-dw1"),
    # 4: w5+ = w5 + eta * dE/dw5
    pytest.param("gradient_added", "w5+", W5 + ETA * GRAD["w5"], None, id="4-w5+"),
    pytest.param("gradient_added", "w1+", W1 + ETA * GRAD["w1"], None, id="4-w1+"),
    # 5: (t - out)^2 without the 1/2: dE/dout_o1 = 2 (out_o1 - t1)
    pytest.param("squared_error_without_half", "dE_total/dout_o1", 2 * (OUT_O1 - T1), None, id="5-no-half"),
    pytest.param(
        "squared_error_without_half", "E_total", (T1 - OUT_O1) ** 2 + (T2 - OUT_O2) ** 2, None, id="5-no-half-E"
    ),
    # 5: the mean over the two outputs of 1/2 (t - out)^2
    pytest.param("mean_instead_of_sum", "E_total", E_TOTAL / 2, None, id="5-mean-E"),
    pytest.param("mean_instead_of_sum", "dE_total/dout_o1", (OUT_O1 - T1) / 2, None, id="5-mean-dout"),
    # 6: the learning rate forgotten; with the post's eta = 0.5 the updates are
    # those of "no 1/2" too, but the error after them is not (it has the 1/2)
    pytest.param(
        "learning_rate_forgotten",
        "error_after",
        post_error({n: WEIGHTS[n] - GRAD[n] for n in WEIGHTS}),
        None,
        id="6-error_after",
    ),
    # 7: the post's fixed b2 updated anyway: b2+ = b2 - eta * (delta_o1 + delta_o2)
    pytest.param("fixed_bias_updated", "b2+", B2 - ETA * (DELTA_O1 + DELTA_O2), None, id="7-fixed-b2"),
    pytest.param("fixed_bias_updated", "b1+", B1 - ETA * (DELTA_H1 + DELTA_H2), None, id="7-fixed-b1"),
    # 7: a shared bias treated as o1's own: b2+ = b2 - eta * delta_o1 (biases updated)
    pytest.param("shared_bias_split", "b2+", B2 - ETA * DELTA_O1, POST_UPDATING_BIASES, id="7-split-b2"),
    pytest.param("shared_bias_split", "b1+", B1 - ETA * DELTA_H1, POST_UPDATING_BIASES, id="7-split-b1"),
    # 7: biases that should be updated kept fixed
    pytest.param("bias_not_updated", "b2+", B2, POST_UPDATING_BIASES, id="7-not-updated-b2"),
    # 3: tanh's derivative 1 - out^2 used for the logistic function: dE/dw5
    pytest.param(
        "another_activations_derivative", "dE_total/dw5", (OUT_O1 - T1) * (1 - OUT_O1**2) * OUT_H1, None, id="3-tanh"
    ),
    # 3: the derivative at the net input, net_o1 * (1 - net_o1)
    pytest.param(
        "derivative_at_the_net_input", "dE_total/dw5", (OUT_O1 - T1) * NET_O1 * (1 - NET_O1) * OUT_H1, None, id="3-net"
    ),
    # 4: the textbook's sign, delta = (t - out) * f'
    pytest.param("textbook_sign_convention", "delta_o1", -DELTA_O1, None, id="4-textbook"),
    # 8: the targets swapped: E_total = 1/2 (t2 - out_o1)^2 + 1/2 (t1 - out_o2)^2
    pytest.param(
        "targets_swapped", "E_total", 0.5 * (T2 - OUT_O1) ** 2 + 0.5 * (T1 - OUT_O2) ** 2, None, id="8-targets"
    ),
    # 9: dnet_o1/dw5 taken as out_h2: dE/dw5 = delta_o1 * out_h2
    pytest.param("another_neurons_output", "dnet_o1/dw5", OUT_H2, None, id="9-other-output"),
    # 10: the bias left out: net_h1 = w1 * i1 + w2 * i2
    pytest.param("bias_left_out", "net_h1", W1 * I1 + W2 * I2, None, id="10-no-bias"),
]

# a softmax layer with targets that are not one-hot (so that every delta has cross terms)
SOFTMAX = """
inputs: [1.0]
targets: [0.7, 0.3]
eta: 0.5
loss: cross_entropy
layers:
  - {weights: [[0.5], [-0.3]], activation: softmax}
"""
SOFT_OUT = [math.exp(0.5) / (math.exp(0.5) + math.exp(-0.3)), math.exp(-0.3) / (math.exp(0.5) + math.exp(-0.3))]
# one output: the post's hidden layer, and w5, w6 into o1 alone
ONE_OUT = """
inputs: [0.05, 0.10]
targets: [0.01]
eta: 0.5
update_biases: false
layers:
  - {weights: [[0.15, 0.20], [0.25, 0.30]], bias: 0.35}
  - {weights: [[0.40, 0.45]], bias: 0.60}
"""
ONE_OUT_O = sigmoid(W5 * OUT_H1 + W6 * OUT_H2 + B2)
ONE_OUT_DELTA = (ONE_OUT_O - T1) * ONE_OUT_O * (1 - ONE_OUT_O)

# a batch of three samples into one sigmoid neuron, its error their mean (or, _SUM, their sum)
BATCH3 = """
samples:
  - {inputs: [1.0], targets: [0.0]}
  - {inputs: [0.5], targets: [1.0]}
  - {inputs: [-1.0], targets: [0.5]}
eta: 0.5
layers:
  - {weights: [[0.3]], bias: 0.1}
"""
BATCH3_SUM = BATCH3 + "batch_error: sum\n"
BATCH3_X, BATCH3_T = [1.0, 0.5, -1.0], [0.0, 1.0, 0.5]
BATCH3_OUT = [sigmoid(0.3 * x + 0.1) for x in BATCH3_X]
# dE_total[k]/dw1 = (out - t) * out * (1 - out) * x
BATCH3_GRADS = [(o - t) * o * (1 - o) * x for o, t, x in zip(BATCH3_OUT, BATCH3_T, BATCH3_X)]


def batch3_online(samples: int) -> tuple[list[float], float, float]:
    """BATCH3's first ``samples`` samples one at a time, an update after each:
    each sample's output, then w1 and b1 after the last update."""
    w, b = 0.3, 0.1
    outs = []
    for x, t in list(zip(BATCH3_X, BATCH3_T))[:samples]:
        o = sigmoid(w * x + b)
        outs.append(o)
        delta = (o - t) * o * (1 - o)
        w, b = w - 0.5 * delta * x, b - 0.5 * delta
    return outs, w, b


MISTAKE_CASES += [
    # 11: online: sample 2's forward pass with the weights sample 1's update left
    pytest.param("online_updates", "out_o1[2]", batch3_online(3)[0][1], BATCH3, id="11-online-out"),
    pytest.param("online_updates", "w1+", batch3_online(3)[1], BATCH3, id="11-online-w1"),
    # 11: the first sample's update alone
    pytest.param("first_sample_only", "w1+", batch3_online(1)[1], BATCH3, id="11-first-sample"),
]

MISTAKE_CASES += [
    # 5: the samples' gradients added up where the batch error is their mean
    pytest.param("batch_summed", "dE/dw1", math.fsum(BATCH3_GRADS), BATCH3, id="5-batch-summed"),
    pytest.param("batch_summed", "w1+", 0.3 - 0.5 * math.fsum(BATCH3_GRADS), BATCH3, id="5-batch-summed-update"),
    # 5: their mean where the batch error is their sum
    pytest.param("batch_averaged", "dE/dw1", math.fsum(BATCH3_GRADS) / 3, BATCH3_SUM, id="5-batch-averaged"),
]

MISTAKE_CASES += [
    # 3: softmax's cross terms left out: delta_o1 = dE/dout_o1 * out_o1 (1 - out_o1) = -t1 (1 - out_o1)
    pytest.param("cross_terms_ignored", "delta_o1", -0.7 * (1 - SOFT_OUT[0]), SOFTMAX, id="3-cross-terms"),
    # 1: one output: dnet_o1/dout_h1 taken as w6 (h2 -> o1), not w5
    pytest.param("weight_of_another_input", "dE_total/dout_h1", ONE_OUT_DELTA * W6, ONE_OUT, id="1c-one-output"),
]


def _own_cases() -> list:
    h = own_by_hand()
    o, d_o, d_h = h["o"], h["delta_o"], h["delta_h"]
    return [
        # 5: the sum of (t - out)^2 where the config takes the mean
        pytest.param(
            "sum_instead_of_mean", "E_total", sum((t - ok) ** 2 for ok, t in zip(o, OWN_T)), OWN, id="5-sum-E"
        ),
        # 5: the sum of 1/2 (t - out)^2: dE/dout_o1 = out_o1 - t1
        pytest.param("sum_instead_of_mean", "dE_total/dout_o1", o[0] - OWN_T[0], OWN, id="5-sum-half-dout"),
        # 6: w5+ = w5 - dE/dw5 (eta = 0.4 forgotten)
        pytest.param("learning_rate_forgotten", "w5+", OWN_W2[0][0] - d_o[0] * h["h"][0], OWN, id="6-own-w5+"),
        # 7: per-neuron biases kept fixed
        pytest.param("bias_not_updated", "b3+", OWN_B2[0], OWN, id="7-own-not-updated"),
        # 7: per-neuron biases pooled: b3+ = b3 - eta * (delta_o1 + delta_o2 + delta_o3)
        pytest.param("biases_pooled", "b3+", OWN_B2[0] - OWN_ETA * sum(d_o), OWN, id="7-pooled-b3"),
        pytest.param("biases_pooled", "b2+", OWN_B1[1] - OWN_ETA * sum(d_h), OWN, id="7-pooled-b2"),
    ]


MISTAKE_CASES += _own_cases()


def _exact(name: str, config_text: str | None) -> float:
    """The exact value of a quantity of MISTAKE_CASES, by hand."""
    if config_text is None:
        table = {
            "net_h1": NET_H1,
            "net_o1": NET_O1,
            "dE_o2/dout_h1": DELTA_O2 * W7,
            "dE_total/dout_h1": DE_DOUT_H1,
            "dE_total/dw1": GRAD["w1"],
            "dE_total/dw5": GRAD["w5"],
            "w5+": W5 - ETA * GRAD["w5"],
            "w1+": W1 - ETA * GRAD["w1"],
            "dE_total/dout_o1": OUT_O1 - T1,
            "E_total": E_TOTAL,
            "error_after": post_error({n: WEIGHTS[n] - ETA * GRAD[n] for n in WEIGHTS}),
            "b2+": B2,
            "b1+": B1,
            "delta_o1": DELTA_O1,
            "dnet_o1/dw5": OUT_H1,
        }
        return table[name]
    if config_text == SOFTMAX:
        return {"delta_o1": SOFT_OUT[0] - 0.7}[name]
    if config_text == BATCH3:
        mean = math.fsum(BATCH3_GRADS) / 3
        return {"dE/dw1": mean, "w1+": 0.3 - 0.5 * mean, "out_o1[2]": BATCH3_OUT[1]}[name]
    if config_text == BATCH3_SUM:
        return {"dE/dw1": math.fsum(BATCH3_GRADS)}[name]
    if config_text == ONE_OUT:
        return {"dE_total/dout_h1": ONE_OUT_DELTA * W5}[name]
    if config_text == POST_UPDATING_BIASES:
        return {"b2+": B2 - ETA * (DELTA_O1 + DELTA_O2), "b1+": B1 - ETA * (DELTA_H1 + DELTA_H2)}[name]
    h = own_by_hand()
    return {
        "E_total": h["mse"],
        "dE_total/dout_o1": 2 * (h["o"][0] - OWN_T[0]) / 3,
        "w5+": OWN_W2[0][0] - OWN_ETA * h["delta_o"][0] * h["h"][0],
        "b3+": OWN_B2[0] - OWN_ETA * h["delta_o"][0],
        "b2+": OWN_B1[1] - OWN_ETA * h["delta_h"][1],
    }[name]


@pytest.mark.parametrize("mistake,name,value,config_text", MISTAKE_CASES)
def test_each_mistake_is_named_alone(tmp_path, mistake, name, value, config_text):
    given = fmt(value)
    exact = _exact(name, config_text)
    assert not agrees(exact, given), "the mistaken number must differ from the exact one"
    a = grade(tmp_path, {name: given}, config_text)[name]
    assert a["exact"] == pytest.approx(exact, rel=1e-12, abs=1e-15)
    assert a["status"] == "wrong", a
    assert a["mistake"] == mistake, a
    assert set(a["mistakes"]) == {mistake}, a
    assert a["note"].startswith(f"mistake {ALL_IDS[mistake]}:"), a
    assert "close" not in a["note"]  # reproduced to every digit, not approximately
    assert a["explanation"]


def test_every_catalogue_mistake_has_a_case():
    from stepprop.grading.catalogue import catalogue

    covered = {p.values[0] for p in MISTAKE_CASES}
    assert covered == set(ALL_IDS)
    for text in (None, POST_UPDATING_BIASES, OWN, SOFTMAX, ONE_OUT, BATCH3, BATCH3_SUM):
        cfg = configs.load() if text is None else configs.parse(text)
        for m in catalogue(cfg):
            assert m.id in ALL_IDS and ALL_IDS[m.id] == m.number, m


def test_a_readers_comment_transposed_weight_in_the_backwards_pass(tmp_path):
    """A reader wrote dE_o2/dout_h1 = -0.017144288, close to delta_o2 * w6
    (= -0.0171442...): w6 (h2 -> o1) used where w7 (h1 -> o2) belongs."""
    assert abs(DELTA_O2 * W6 - (-0.017144288)) < 1e-4 * abs(DELTA_O2 * W6)
    assert not agrees(DELTA_O2 * W6, "-0.017144288")
    a = grade(tmp_path, {"dE_o2/dout_h1": "-0.017144288"})["dE_o2/dout_h1"]
    assert a["status"] == "wrong"
    assert a["mistake"] == "weights_transposed"
    assert set(a["mistakes"]) == {"weights_transposed"}
    assert "mistake 1" in a["note"] and "close" in a["note"]  # near, not to every digit
    assert "w6" in a["explanation"] and "w7" in a["explanation"]


def test_a_readers_comment_in_the_text_output(tmp_path):
    path = write_answers(tmp_path, {"dE_o2/dout_h1": "-0.017144288"})
    result = run("check", str(path))
    assert result.exit_code == 1
    details = result.stdout.split("dE_o2/dout_h1: -0.017144288 is wrong", 1)[1]
    assert "mistake 1" in details and "w6" in details and "w7" in details


def test_a_wrong_number_no_mistake_explains(tmp_path):
    a = grade(tmp_path, {"out_h1": "0.123456"})["out_h1"]
    assert a["status"] == "wrong"
    assert a["mistake"] is None and a["mistakes"] == []
    assert a["note"]


def test_a_slip_in_the_last_digit_is_named_and_blamed_on_no_mistake(tmp_path):
    """0.593269993 for 0.593269992: no mistake of the catalogue gives it (those that
    leave out_h1 alone must not be named as 'close'); a TA says: one off in the
    last digit."""
    slips = {"out_h1": "0.593269993", "w1+": "0.149780717", "dE_total/dw5": "0.0821670407"}
    for name, right in (("out_h1", "0.593269992"), ("w1+", "0.149780716"), ("dE_total/dw5", "0.0821670406")):
        a = grade(tmp_path, {name: slips[name]})[name]
        assert a["status"] == "wrong" and a["mistakes"] == [], a
        assert a["note"] == f"1 off in the last digit written (the exact value rounds to {right})"
    # together, dE_total/dw5 is right from that out_h1: delta_o1 * 0.593269993 = 0.08216704070
    together = grade(tmp_path, slips)
    assert together["dE_total/dw5"]["status"] == "carried"
    assert together["dE_total/dw5"]["follows_from"] == "out_h1"
    assert together["w1+"]["status"] == "wrong"


def test_a_computers_last_bits_are_correct(tmp_path):
    """17 digits from 1/(1 + math.exp(-net)) can differ in the last bit from the
    engine's overflow-safe sigmoid: right within 1e-9, never wrong."""
    out = json.loads(run("explain", "--format", "json").stdout)["values"]["out_o1"]
    near = out * (1 + 4e-16)
    assert near != out and len(repr(near)) >= 18
    graded = grade(tmp_path, {"out_o1": repr(near), "E_total": "0.29837110"})
    assert graded["out_o1"]["status"] == "correct" and graded["out_o1"]["mistakes"] == []
    assert grade(tmp_path, {"out_o1": repr(out * (1 + 2e-9))})["out_o1"]["status"] == "wrong"


def test_an_answer_that_could_be_the_value_before_the_update_is_ambiguous(tmp_path):
    """w5+ written 0.4: w5 moves from 0.4 to 0.3589, and one decimal can't tell the
    update from leaving w5 alone; it is not 'correct'."""
    graded = grade(tmp_path, {"w5+": "0.4"})["w5+"]
    assert graded["status"] == "ambiguous" and "before_update" in graded["also_from"]
    assert grade(tmp_path, {"w5+": "0.3589"})["w5+"]["status"] == "correct"


def test_a_mistake_that_leaves_a_value_alone_is_never_named_for_it(tmp_path):
    """Few digits: only mistakes that change the value may 'give the same'."""
    graded = grade(tmp_path, {"dnet_h1/dw1": "0.05", "b1+": "0.35"})
    for name in ("dnet_h1/dw1", "b1+"):
        assert graded[name]["status"] == "correct" and graded[name]["note"] == "", graded[name]


# ------------------------------------------------- digits and rounding --


def test_the_textbook_sign_is_shown_in_its_own_convention(workdir):
    """Mistake 4's working is the step in the textbook's convention: true lines
    (delta_o1 = -dE_total/dnet_o1 = ...), not dE_total/dout_o1 with its sign lost."""
    (workdir / "a.yaml").write_text("delta_o1: -0.1385\n")
    result = run("check", "a.yaml", code=1)
    shown = result.output[result.output.index("That calculation gives:") :]
    assert "delta_o1 = -dE_total/dnet_o1\n" in shown and "= -dE_total/dout_o1 * dout_o1/dnet_o1\n" in shown, shown


@pytest.mark.parametrize(
    "written, name",
    [("∆w6", "change_w6"), ("Δw_7", "change_w7"), ("dE/dw_8", "dE_total/dw8"), ("w_5+", "w5+"), ("b_1+", "b1+")],
)
def test_names_as_keyboards_and_papers_write_them(written, name):
    """The increment sign ∆ (U+2206) for Δ, and an index written w_5."""
    graded = stepprop.check(None, {written: "0.1"}).graded[0]
    assert graded.answer.name == name and graded.answer.written_as == written


def test_fewer_digits(tmp_path):
    graded = grade(tmp_path, {"out_h1": "0.5933", "out_h2": "0.5969", "net_h1": "0.3775", "net_o1": "1.106"})
    assert graded["out_h1"]["status"] == "correct"
    assert graded["out_h2"]["status"] == "correct"
    assert graded["net_h1"]["status"] == "correct"
    # net_o1 with the hidden weights read the other way is 1.10612, which three decimals can't tell
    # apart; alone it is ambiguous, but that mistake's net_h1 is 0.3825: this student's right net_h1 rules it out
    alone = grade(tmp_path, {"net_o1": "1.106"})["net_o1"]
    assert alone["status"] == "ambiguous" and alone["also_from"] == ["weights_transposed"]
    assert "write more digits" in alone["note"]
    assert graded["net_o1"]["status"] == "correct" and graded["net_o1"]["also_from"] == []
    assert graded["net_o1"]["note"] == "mistake 1 gives these digits too; your net_h1 rules it out"
    # two digits of out_h1: 0.59 is also what reading the weights the other way gives (0.5945)
    assert grade(tmp_path, {"out_h1": "0.59"})["out_h1"]["status"] == "ambiguous"
    for wrong in ("0.5932", "0.5934", "0.594", "0.60"):
        assert grade(tmp_path, {"out_h1": wrong})["out_h1"]["status"] == "wrong", wrong


def half_up(x: float, places: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def hand_rounded(places: int | None) -> dict[str, float]:
    """The post's step by hand, every intermediate rounded (half up) to ``places``:
    each value, each local derivative, each product and each sum."""
    r = (lambda x: x) if places is None else (lambda x: half_up(x, places))
    v: dict[str, float] = {}
    v["net_h1"] = nh1 = r(W1 * I1 + W2 * I2 + B1)
    v["net_h2"] = nh2 = r(W3 * I1 + W4 * I2 + B1)
    v["out_h1"] = h1 = r(sigmoid(nh1))
    v["out_h2"] = h2 = r(sigmoid(nh2))
    v["net_o1"] = no1 = r(W5 * h1 + W6 * h2 + B2)
    v["net_o2"] = no2 = r(W7 * h1 + W8 * h2 + B2)
    v["out_o1"] = o1 = r(sigmoid(no1))
    v["out_o2"] = o2 = r(sigmoid(no2))
    v["E_o1"] = e1 = r(0.5 * (T1 - o1) ** 2)
    v["E_o2"] = e2 = r(0.5 * (T2 - o2) ** 2)
    v["E_total"] = r(e1 + e2)
    v["dE_total/dout_o1"] = g1 = r(o1 - T1)
    v["dE_total/dout_o2"] = g2 = r(o2 - T2)
    v["dout_o1/dnet_o1"] = s1 = r(o1 * (1 - o1))
    v["dout_o2/dnet_o2"] = s2 = r(o2 * (1 - o2))
    v["delta_o1"] = d1 = r(g1 * s1)
    v["delta_o2"] = d2 = r(g2 * s2)
    grads = {"w5": r(d1 * h1), "w6": r(d1 * h2), "w7": r(d2 * h1), "w8": r(d2 * h2)}
    v["dE_o1/dout_h1"] = a1 = r(d1 * W5)
    v["dE_o2/dout_h1"] = a2 = r(d2 * W7)
    v["dE_total/dout_h1"] = gh1 = r(a1 + a2)
    v["dE_total/dout_h2"] = gh2 = r(r(d1 * W6) + r(d2 * W8))
    v["dout_h1/dnet_h1"] = sh1 = r(h1 * (1 - h1))
    v["dout_h2/dnet_h2"] = sh2 = r(h2 * (1 - h2))
    v["delta_h1"] = dh1 = r(gh1 * sh1)
    v["delta_h2"] = dh2 = r(gh2 * sh2)
    grads.update({"w1": r(dh1 * I1), "w2": r(dh1 * I2), "w3": r(dh2 * I1), "w4": r(dh2 * I2)})
    for n, g in grads.items():
        v[f"dE_total/d{n}"] = g
        v[f"{n}+"] = r(WEIGHTS[n] - r(ETA * g))
    return v


@pytest.mark.parametrize("places", [4, 3])
def test_hand_rounded_chains_are_rounded(tmp_path, places):
    exact = hand_rounded(None)
    by_hand = hand_rounded(places)
    differ = [n for n in by_hand if by_hand[n] != half_up(exact[n], places)]
    same = [n for n in by_hand if n not in differ]
    if places == 4:
        # these come out differently when every step is rounded to 4 decimals
        assert {"dE_o2/dout_h1", "dE_total/dout_h1", "delta_h2", "w2+", "w6+"} <= set(differ)
        # and these don't (then they are simply correct)
        assert {"out_h1", "dE_total/dw5"} <= set(same)
    assert len(differ) >= 5
    graded = grade(tmp_path, {n: fmt(v, places) for n, v in by_hand.items()})
    for n in differ:
        assert graded[n]["status"] == "rounded", (n, by_hand[n], graded[n])
        assert graded[n]["rounded_value"] == pytest.approx(by_hand[n], abs=10.0 ** -(places + 3))
        assert graded[n]["mistake"] is None
    for n in same:  # right to the digits written; ambiguous where a mistake gives those digits too
        assert graded[n]["status"] in ("correct", "ambiguous"), (n, by_hand[n], graded[n])
        assert (graded[n]["status"] == "ambiguous") == bool(graded[n]["also_from"])


def test_a_mistake_made_while_rounding(tmp_path):
    """The gradient added, every step rounded to 4 decimals: w2+ = w2 + eta * dE/dw2
    comes out 0.2005 by hand, not 0.2004 (the exact mistaken number, rounded)."""
    by_hand = hand_rounded(4)
    mistaken = half_up(W2 + half_up(ETA * by_hand["dE_total/dw2"], 4), 4)
    assert fmt(mistaken, 4) == "0.2005"
    assert half_up(W2 + ETA * GRAD["w2"], 4) != mistaken
    for given in (fmt(mistaken, 4), fmt(W2 + ETA * GRAD["w2"], 4)):
        a = grade(tmp_path, {"w2+": given})["w2+"]
        assert a["status"] == "wrong", a
        assert a["mistake"] == "gradient_added" and set(a["mistakes"]) == {"gradient_added"}, a


def test_rounding_is_not_accepted_after_many_epochs(trained_json):
    """After 10,000 epochs a hand calculation is not done: only exact or wrong."""
    assert all(a["status"] != "rounded" for a in trained_json["answers"])


# -------------------------------------------------------------- errors --


def test_unknown_name(tmp_path):
    path = write_answers(tmp_path, {"out_h1": "0.5933", "dE_totl/dw5": "0.082167041"})
    result = run("check", str(path))
    assert result.exit_code == 1
    err = result.stderr
    assert f"{path}:2:1" in err
    assert "unknown quantity 'dE_totl/dw5'" in err
    assert "did you mean" in err and "'dE_total/dw5'" in err
    assert "explain --names" in err
    assert result.stdout == ""


def test_unknown_name_library_error(tmp_path):
    path = write_answers(tmp_path, {"out_h1": "0.5933", "net_o3": "1.1"})
    with pytest.raises(StepPropError) as info:
        check(configs.load(), load_answers(path), None, str(path))
    assert str(info.value).startswith(f"{path}:2:1:")
    assert "did you mean" in str(info.value) and "'net_o1'" in str(info.value)


@pytest.mark.parametrize(
    "text,words",
    [
        ("out_h1: abc\n", ["1:9", "out_h1", "number"]),
        ("out_h1: true\n", ["1:9", "number"]),
        ("out_h1: .nan\n", ["number"]),
        ("out_h1: [0.5]\n", ["number"]),
        ("- 0.5933\n", ["mapping"]),
        ("{}\n", ["no answers"]),
        ("out_h1: 0.5933\nout_h1: 0.5933\n", ["2:1", "out_h1"]),
        ("out_h1: 0.5933\n  bad: [\n", ["YAML"]),
    ],
)
def test_bad_answers_files(tmp_path, text, words):
    path = tmp_path / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert str(path) in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n", "\n\n"])
def test_empty_answers_file(tmp_path, text):
    path = tmp_path / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 1
    assert f"{path}:" in result.stderr and "empty" in result.stderr
    assert "internal error" not in result.stderr


def test_empty_answers_file_is_not_called_a_config(tmp_path):
    """The message is about an answers file, not about a config's layers."""
    path = tmp_path / "answers.yaml"
    path.write_text("", encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 1
    assert "config" not in result.stderr and "layers" not in result.stderr
    assert "answer" in result.stderr


@pytest.mark.parametrize("text", ["0x1F", "0b1"])
def test_hex_and_binary_answers(tmp_path, text):
    path = tmp_path / "answers.yaml"
    path.write_text(f"out_h1: {text}\n", encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 1
    assert "internal error" not in result.output
    assert f"{path}:1:9: write the answer for out_h1 as a number, like 0.5933" in result.stderr


def test_missing_answers_file(tmp_path):
    result = run("check", str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 1
    assert str(tmp_path / "nowhere.yaml") in result.stderr and "no such file" in result.stderr


def test_missing_config_file(tmp_path):
    answers = write_answers(tmp_path, {"out_h1": "0.5933"})
    result = run("check", str(tmp_path / "nowhere.yaml"), str(answers))
    assert result.exit_code == 1
    assert "no such file" in result.stderr


def test_answers_file_is_a_directory(tmp_path):
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert "directory" in result.stderr


def test_too_many_files(tmp_path):
    answers = write_answers(tmp_path, {"out_h1": "0.5933"})
    result = run("check", str(answers), str(answers), str(answers))
    assert result.exit_code == 2
    assert "[CONFIG] ANSWERS" in result.stderr


def test_no_files():
    result = run("check")
    assert result.exit_code == 2


# ----------------------------------------------------------------- CLI --


def test_text_output(tmp_path):
    wrong_w5 = fmt(W5 + ETA * GRAD["w5"])
    path = write_answers(
        tmp_path, {"out_h1": "0.5933", "dE_o2/dout_h1": "-0.019049119", "w5+": wrong_w5, "out_o1": "0.42"}
    )
    result = run("check", str(path))
    assert result.exit_code == 1
    out = result.stdout
    table = out.split("\n")
    header = next(line for line in table if line.split()[:5] == ["name", "student", "stepprop", "status", "note"])
    row: dict[str, str] = {}
    for line in table[table.index(header) :]:  # the table's rows come first, then the details
        if line.split() and line.split()[0] in ("out_h1", "dE_o2/dout_h1", "w5+", "out_o1"):
            row.setdefault(line.split()[0], line)
    assert "correct" in row["out_h1"] and "0.5933" in row["out_h1"] and "0.593269992" in row["out_h1"]
    assert "rounded" in row["dE_o2/dout_h1"] and "9 decimals" in row["dE_o2/dout_h1"]
    assert "wrong" in row["w5+"] and "mistake 4" in row["w5+"] and wrong_w5 in row["w5+"]
    assert "wrong" in row["out_o1"]
    assert "1 correct, 1 rounded, 2 wrong" in out
    # a details section for each wrong answer, and only for those
    assert f"w5+: {wrong_w5} is wrong" in out
    details = out.split(f"w5+: {wrong_w5} is wrong", 1)[1].split("out_o1: 0.42 is wrong")[0]
    assert "mistake 4" in details and "subtract" in details
    assert "out_o1: 0.42 is wrong" in out
    assert out.count(" is wrong") == 2


def test_text_output_of_the_posts_step():
    result = run("check", str(STEP_ANSWERS))
    assert result.exit_code == 1
    out = result.stdout
    assert "error_after: 0.291027924 is wrong" in out
    details = out.split("error_after: 0.291027924 is wrong", 1)[1]
    assert "mistake 2" in details and "updated" in details
    assert out.count(" is wrong") == 1


def test_json_output_fields(tmp_path):
    wrong = fmt(W1 * I1 + W3 * I2 + B1)
    path = write_answers(tmp_path, {"out_h1": "0.5933", "net_h1": wrong})
    result = run("check", str(path), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["command"] == "check"
    assert data["answers_file"] == str(path)
    assert data["counts"] == {"correct": 1, "rounded": 0, "carried": 0, "ambiguous": 0, "wrong": 1, "unanswered": 0}
    first, second = data["answers"]
    assert first["name"] == "out_h1" and first["given"] == 0.5933 and first["status"] == "correct"
    assert first["exact"] == pytest.approx(OUT_H1, rel=1e-14)
    assert first["mistake"] is None
    assert second["name"] == "net_h1" and second["given"] == float(wrong) and second["status"] == "wrong"
    assert second["exact"] == pytest.approx(NET_H1, rel=1e-14)
    assert second["mistake"] == "weights_transposed"
    assert "w2" in second["explanation"] and "w3" in second["explanation"]


@pytest.mark.parametrize(
    "fmt_,heading",
    [
        ("markdown", "## error_after: 0.291027924 is wrong"),
        ("latex", "error\\_after: 0.291027924 is wrong"),
        ("html", "error_after: 0.291027924 is wrong"),
    ],
)
def test_other_formats(fmt_, heading):
    result = run("check", str(STEP_ANSWERS), "--format", fmt_)
    assert result.exit_code == 1
    assert heading in result.stdout
    assert "mistake 2" in result.stdout


def test_exit_status_zero_when_nothing_is_wrong(tmp_path):
    path = write_answers(tmp_path, {"out_h1": "0.593269992", "dE_o2/dout_h1": "-0.019049119"})
    for fmt_ in ("text", "json"):
        result = run("check", str(path), "--format", fmt_)
        assert result.exit_code == 0, result.output
    data = json.loads(run("check", str(path), "--format", "json").stdout)
    assert data["counts"] == {"correct": 1, "rounded": 1, "carried": 0, "ambiguous": 0, "wrong": 0, "unanswered": 0}


def test_explicit_config_file(tmp_path):
    cfg = tmp_path / "own.yaml"
    cfg.write_text(OWN, encoding="utf-8")
    h = own_by_hand()
    pooled = OWN_B2[0] - OWN_ETA * sum(h["delta_o"])
    answers = write_answers(tmp_path, {"out_o3": fmt(h["o"][2]), "E_total": fmt(h["mse"]), "b3+": fmt(pooled)})
    result = run("check", str(cfg), str(answers), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["config"] == str(cfg)
    graded = by_name(data)
    assert graded["out_o3"]["status"] == "correct"
    assert graded["E_total"]["status"] == "correct"
    assert graded["b3+"]["status"] == "wrong" and graded["b3+"]["mistake"] == "biases_pooled"
    # the same answers are wrong for the post's network, which has no o3
    result = run("check", str(answers))
    assert result.exit_code == 1 and "unknown quantity 'out_o3'" in result.stderr
    # and only correct ones: exit 0
    ok = write_answers(tmp_path, {"out_o3": fmt(h["o"][2])}, "ok.yaml")
    assert run("check", str(cfg), str(ok)).exit_code == 0


def test_bundled_config_by_name(tmp_path):
    answers = write_answers(tmp_path, {"out_h1": "0.5933"})
    assert run("check", "mazur", str(answers)).exit_code == 0


# ------------------------------------------------------- explain --names --


@pytest.mark.parametrize("bundled", BUNDLED)
def test_every_listed_name_is_accepted_and_correct(tmp_path, bundled):
    names_text = run("explain", bundled, "--names").stdout.split()
    names = json.loads(run("explain", bundled, "--names", "--format", "json").stdout)["names"]
    assert names == names_text
    assert len(names) == len(set(names))
    step = json.loads(run("explain", bundled, "--format", "json").stdout)
    exact = {
        **step["values"],
        **step["terms"],
        **{f"{p}+": v for p, v in step["updated"].items()},
        **{f"change_{p}": v for p, v in step["changes"].items()},
        "error": step["error"],
        "error_after": step["error_after"],
        # the error after the step, by the name the worked example shows it under (Nielsen's: C+)
        **{n: step["error_after"] for n in names if n in ("E_total+", "E+", "C+")},
        # an optimiser's quantities: g_w5, v_w5, m_hat_w5, ...
        **(step["optimizer"] or {}).get("quantities", {}),
    }
    assert set(names) <= set(exact)
    # every digit (a short repr such as 0.5 is also what some mistake gives, to one decimal)
    path = write_answers(tmp_path, {n: f"{exact[n]:.15e}" for n in names})
    result = run("check", bundled, str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    graded = json.loads(result.stdout)["answers"]
    assert [a["name"] for a in graded] == names
    assert all(a["status"] == "correct" for a in graded), [a for a in graded if a["status"] != "correct"]


def test_after_training_the_listed_names_are_accepted(tmp_path):
    """With --epochs, the names explain --names lists are still accepted (1 epoch: fast)."""
    names = run("explain", "--names").stdout.split()
    path = write_answers(tmp_path, {n: "0.5" for n in names})
    result = run("check", "--epochs", "1", str(path), "--format", "json")
    assert result.exit_code == 1
    assert [a["name"] for a in json.loads(result.stdout)["answers"]] == names


@pytest.mark.parametrize("name", ["final_error", "sample_errors", "E_o1+"])
def test_after_training_check_refuses_the_names_not_listed(tmp_path, name):
    """Names a student might write (train --format json's keys, an output's error
    after the step) that explain --names does not list are refused, with a
    pointer to the list.  (E+ is E_total+, the error after the step.)"""
    assert name not in run("explain", "--names").stdout.split()
    path = write_answers(tmp_path, {name: "0.2910"})
    result = run("check", "--epochs", "1", str(path), "--format", "json", code=1)
    assert result.stdout == ""
    assert f"unknown quantity '{name}'" in result.stderr and "explain --names" in result.stderr


def test_the_posts_names_include_every_quantity_of_the_post():
    names = set(run("explain", "--names").stdout.split())
    written = {
        line.split(":")[0]
        for line in STEP_ANSWERS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert written <= names
    assert {"b1+", "b2+", "delta_h1", "dE_total/db2", "dnet_o2/dout_h1"} <= names


# ------------------------------------------- names and numbers as written --


@pytest.mark.parametrize(
    "written, name",
    [
        ("∂E/∂w5", "dE_total/dw5"),
        ("∂E_total/∂w5", "dE_total/dw5"),
        ("dE/dw5", "dE_total/dw5"),
        ("DE_TOTAL/DW5", "dE_total/dw5"),
        ("w5_new", "w5+"),
        ("w5'", "w5+"),
        ("w5^+", "w5+"),
        ("δ_o1", "delta_o1"),
        ("δo1", "delta_o1"),
        ("Out_H1", "out_h1"),
        ("E", "E_total"),
        ("E+", "E_total+"),
    ],
)
def test_names_as_students_write_them(tmp_path, written, name):
    exact = json.loads(run("explain", "--format", "json").stdout)
    value = {**exact["values"], **exact["terms"], **{f"{p}+": v for p, v in exact["updated"].items()}}.get(
        name, exact["error_after"]
    )
    (answer,) = json.loads(
        run("check", str(write_answers(tmp_path, {written: f"{value:.12e}"})), "--format", "json").stdout
    )["answers"]
    assert (answer["name"], answer["written_as"], answer["status"]) == (name, written, "correct")


def test_a_batchs_error_may_be_called_e_total(tmp_path):
    graded = json.loads(
        run("check", "softmax", str(write_answers(tmp_path, {"E_total": "1.10667793"})), "--format", "json").stdout
    )["answers"][0]
    assert graded["name"] == "E" and graded["status"] == "correct"


@pytest.mark.parametrize(
    "written, value",
    [
        ("0,5933", 0.5933),
        ("−0.5933", -0.5933),
        ("5.933 x 10^-1", 0.5933),
        ("5.933×10^-1", 0.5933),
        ("5.933 * 10^(-1)", 0.5933),
        ("-1/4", -0.25),
    ],
)
def test_numbers_as_students_write_them(tmp_path, written, value):
    (answer,) = grade_list(tmp_path, {"out_h1": written})
    assert answer["given"] == pytest.approx(value) and answer["given_text"] == written


def grade_list(tmp_path, answers):
    return json.loads(run("check", str(write_answers(tmp_path, answers)), "--format", "json").stdout)["answers"]


def test_a_number_in_a_form_not_read_says_which_forms_are(tmp_path):
    result = run("check", str(write_answers(tmp_path, {"out_h1": "about 0.6"})))
    assert result.exit_code == 1 and ":1:11:" in result.stderr  # "out_h1": about 0.6
    assert "0,5933" in result.stderr and "5.933 x 10^-1" in result.stderr and "-1/4" in result.stderr


def test_the_right_number_with_the_wrong_sign(tmp_path):
    (answer,) = grade_list(tmp_path, {"out_h1": "-0.59327"})
    assert answer["status"] == "wrong" and answer["note"] == "the right number with the wrong sign"


def test_a_fraction_is_exact(tmp_path):
    (answer,) = grade_list(tmp_path, {"dnet_o1/dout_h1": "2/5"})  # w5 = 0.4
    assert answer["status"] == "correct" and answer["given_text"] == "2/5"


# ------------------------------------------------ the template, unanswered --


@pytest.mark.parametrize("bundled", BUNDLED)
def test_the_template_lists_every_name_in_the_worked_examples_order(tmp_path, bundled):
    path = tmp_path / "answers.yaml"
    run("check", "--template", bundled, "-o", str(path), code=0)
    text = path.read_text(encoding="utf-8")
    listed = [line.split(":")[0].strip('"') for line in text.splitlines() if line and not line.startswith("#")]
    names = run("explain", bundled, "--names").stdout.split()
    assert set(listed) == set(names) and len(listed) == len(names)
    # what each is, as the worked example derives it
    if bundled == "mazur":
        assert "out_h1:   # = 1/(1 + e^-net_h1)" in text and "w5+:   # = w5 - eta * dE_total/dw5" in text
    # left blank, every answer is unanswered, which is not wrong
    data = json.loads(run("check", bundled, str(path), "--format", "json", code=0).stdout)
    assert data["counts"]["unanswered"] == len(names) and data["counts"]["wrong"] == 0
    assert all(a["given"] is None for a in data["answers"])


def test_a_filled_in_template_is_graded(tmp_path):
    path = tmp_path / "answers.yaml"
    run("check", "--template", "-o", str(path), code=0)
    text = path.read_text(encoding="utf-8")
    text = text.replace("out_h1:   #", "out_h1: 0.5933   #").replace("w5+:   #", "w5+: 0.4411   #")
    path.write_text(text, encoding="utf-8")
    graded = {a["name"]: a for a in json.loads(run("check", str(path), "--format", "json", code=1).stdout)["answers"]}
    assert graded["out_h1"]["status"] == "correct"
    assert graded["w5+"]["status"] == "wrong" and graded["w5+"]["mistake"] == "gradient_added"
    assert graded["net_h1"]["status"] == "unanswered"


def test_a_blank_answer_is_unanswered_not_an_error(tmp_path):
    (answer,) = grade_list(tmp_path, {"out_h1": ""})
    assert answer["status"] == "unanswered" and answer["given"] is None and answer["exact"] > 0


def test_template_takes_at_most_a_config():
    result = run("check", "--template", "mazur", "answers.yaml")
    assert result.exit_code == 2 and "--template" in result.stderr


# ---------------------------------------------------------------- readable --


def test_statuses_are_coloured_and_tables_never_cut_at_narrow_widths(tmp_path):
    import io

    from rich.console import Console

    from stepprop.api import check

    answers = write_answers(tmp_path, {"dE_total/dw5": "0.0822", "w5+": "0.44108", "out_h1": "0.5933"})
    grades = check(None, answers)
    for width in (60, 100):
        plain_out = io.StringIO()
        Console(file=plain_out, width=width, color_system=None).print(grades)
        assert "…" not in plain_out.getvalue()
    coloured = io.StringIO()
    Console(file=coloured, width=120, force_terminal=True, color_system="standard").print(grades)
    text = coloured.getvalue()
    assert "\x1b[1;31mwrong" in text and "\x1b[1;32mcorrect" in text
    html = grades.render("html")
    assert '<td class="status wrong">wrong</td>' in html and '<td class="status correct">correct</td>' in html


def test_a_hand_calculation_to_significant_figures_is_rounded_not_wrong(tmp_path):
    """A student working to 3 significant figures at every step (what explain
    --round 3sf prints) is 'rounded' where that drifts from the exact value."""
    by_hand = json.loads(run("explain", "--round", "3sf", "--format", "json").stdout)
    exact = json.loads(run("explain", "--format", "json").stdout)
    assert by_hand["rounding"] == "3sf"
    drifted = {
        name: value
        for name, value in by_hand["terms"].items()
        if "[" not in name and f"{value:.3g}" != f"{exact['terms'][name]:.3g}"
    }
    assert len(drifted) >= 3  # the chain rule in 3 figures drifts in the last one
    from stepprop.rounding import written

    # as the student writes them: three figures, trailing zeros included (0.0360)
    graded = grade_list(tmp_path, {n: written(v, "3sf") for n, v in drifted.items()})
    for a in graded:
        assert a["status"] in ("rounded", "ambiguous"), a
        if a["status"] == "rounded":
            assert "3 significant figures" in a["note"], a
    assert sum(a["status"] == "rounded" for a in graded) >= 3


def test_the_details_show_the_line_that_defines_each_name(tmp_path):
    """The details of a wrong answer quote the worked example's own line, found
    without building the whole worked example: the same line either way."""
    from stepprop import config, worked
    from stepprop.network import Net
    from stepprop.step import step

    for bundled in BUNDLED:
        trace = step(Net(config.load(config.BUNDLED_DIR / f"{bundled}.yaml")))
        # every line a name can have: with the input gradients and the changes
        whole = worked._Builder(trace).document(None, inputs=True, changes=True).equations()
        for name in list(names_of(trace))[::7]:  # a sample of every kind of name
            expected = [eq for eq in whole if eq.name == name and not eq.reused]
            found = worked.defining(trace, name)
            assert [(eq.lhs, eq.rhs) for eq in found] == [(eq.lhs, eq.rhs) for eq in expected], name


def names_of(trace):
    from stepprop.names import checkable

    return checkable(trace)


@pytest.mark.parametrize(
    "written, kind",
    [
        ("0.3375", "a digit changed"),  # a reader of the post, for net_h1 = 0.3775
        ("0.3757", "two digits swapped"),
        ("0.775", "a digit dropped"),
        ("0.37775", "a digit added"),
    ],
)
def test_a_slip_of_one_digit(tmp_path, written, kind):
    (answer,) = grade_list(tmp_path, {"net_h1": written})
    assert answer["status"] == "wrong" and answer["mistakes"] == []
    assert answer["note"].startswith(f"a slip of one digit ({kind})"), answer["note"]


def test_a_digit_more_or_less_at_the_end_is_not_a_slip(tmp_path):
    """-0.0115 for -0.010571307 is no slip: it reads as -0.011 with a 5 added only
    when the exact value is cut to fewer decimals than the student wrote."""
    mitchell = ONE_OUTPUT + "delta: error\nbias_input: -1\n"
    graded = grade(tmp_path, {"delta_h2": "-0.0115"}, mitchell)["delta_h2"]
    assert graded["status"] == "wrong" and "slip" not in graded["note"], graded["note"]
    assert "slip" not in grade(tmp_path, {"net_h1": "0.37751"})["net_h1"]["note"]


# ------------------------------------------------- two mistakes, or a slip on one --


def test_two_mistakes_together(tmp_path):
    """The activation derivative left out (3) and the gradient added (4), in one
    update: w5+ = w5 + eta * (out_o1 - t1) * out_h1; no one mistake gives it."""
    w5 = W5 + ETA * (OUT_O1 - T1) * OUT_H1
    assert f"{w5:.6f}" == "0.619915"
    answer = grade(tmp_path, {"w5+": f"{w5:.6f}"})["w5+"]
    assert answer["status"] == "wrong"
    assert answer["mistakes"] == ["activation_derivative_left_out+gradient_added"]
    assert answer["note"] == "mistakes 3 and 4: activation derivative left out, and gradient added, not subtracted"
    text = run("check", str(write_answers(tmp_path, {"w5+": f"{w5:.6f}"}))).stdout
    assert "w5+ = w5 + eta * dE_total/dw5 = 0.4 + 0.5 * 0.439829649 = 0.619914824" in text


def test_one_mistake_is_named_before_two(tmp_path):
    """w5 + eta * dE/dw5 is mistake 4 alone, never a pair that also gives it."""
    answer = grade(tmp_path, {"w5+": fmt(W5 + ETA * GRAD["w5"])})["w5+"]
    assert answer["mistakes"] == ["gradient_added"]


def test_a_pair_of_mistakes_in_the_class_table(tmp_path):
    w5 = f"{W5 + ETA * (OUT_O1 - T1) * OUT_H1:.6f}"
    (tmp_path / "class.csv").write_text(f"id,w5+\nann,{w5}\n", encoding="utf-8")
    result = run("check", str(tmp_path / "class.csv"))
    assert result.exit_code == 1, result.output
    assert "3 and 4: activation derivative left out, and gradient added, not subtracted" in result.stdout


def test_a_slip_of_one_digit_on_a_mistakes_number(tmp_path):
    """dE_total/dw5 with the activation derivative left out is 0.439830; a
    student who also miscopies a digit writes 0.438830."""
    mistaken = (OUT_O1 - T1) * OUT_H1
    assert f"{mistaken:.6f}" == "0.439830"
    answer = grade(tmp_path, {"dE_total/dw5": "0.438830"})["dE_total/dw5"]
    assert answer["status"] == "wrong" and answer["mistakes"] == ["activation_derivative_left_out"]
    assert answer["note"] == (
        "mistake 3: activation derivative left out, and a slip of one digit (a digit changed) from its 0.439830"
    )


def test_a_checker_shared_by_students_works_out_each_ones_names(tmp_path):
    """A class shares one checker; a mistake's numbers are worked out for the
    names answered so far, and again when a later student answers others (here
    the third sample's gradient, after a student who answered the first's)."""
    from stepprop.grading import Checker
    from stepprop.grading import grade as grade_with

    checker = Checker(configs.parse(BATCH3, "batch3.yaml"))
    # the activation derivative left out: dE_total[k]/dw1 = (out - t) * x
    left_out = [(o - t) * x for o, t, x in zip(BATCH3_OUT, BATCH3_T, BATCH3_X)]
    for k in (1, 3):
        name = f"dE_total/dw1[{k}]"
        answers = load_answers(write_answers(tmp_path, {name: fmt(left_out[k - 1])}))
        (graded,) = grade_with(checker, answers).to_dict()["answers"]
        assert graded["mistakes"] == ["activation_derivative_left_out"], (name, graded["note"])


def test_hand_rounding_is_not_tried_on_a_step_too_big_for_paper():
    """A step of the post's network over 200 samples records more values than
    anyone works by hand: its answers are compared exactly."""
    from stepprop.grading import HAND_NODES, Checker

    small = Checker(configs.load())
    sample = "  - {inputs: [0.05, 0.1], targets: [0.01, 0.99]}\n"
    big = configs.parse(
        "samples:\n" + sample * 200 + "eta: 0.5\nlayers:\n  - {weights: [[0.15, 0.2], [0.25, 0.3]], bias: 0.35}\n"
        "  - {weights: [[0.4, 0.45], [0.5, 0.55]], bias: 0.6}\n",
        "big.yaml",
    )
    large = Checker(big)
    assert small.rounding_applies and not large.rounding_applies
    assert len(large.run().trace.graph.tape.nodes) > HAND_NODES


# ------------------------------------------------- follow-through credit --


def carried_case(tmp_path: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """A student whose out_h1 is wrong (0.61) and who works on correctly from it:
    dE_total/dw5 = delta_o1 * 0.61, then w5+ = w5 - eta * (their dE_total/dw5)."""
    grad = f"{DELTA_O1 * 0.61:.5f}"
    written = {"out_h1": "0.61", "out_o1": fmt(OUT_O1), "dE_total/dw5": grad, "w5+": f"{W5 - ETA * float(grad):.5f}"}
    return grade(tmp_path, written), written


def test_an_answer_right_from_a_wrong_earlier_one_is_carried(tmp_path):
    graded, written = carried_case(tmp_path)
    assert written["dE_total/dw5"] == "0.08448" and written["w5+"] == "0.35776"
    assert graded["out_h1"]["status"] == "wrong" and graded["out_h1"]["follows_from"] is None
    assert graded["out_o1"]["status"] == "correct"
    gradient, update = graded["dE_total/dw5"], graded["w5+"]
    assert gradient["status"] == "carried" and gradient["follows_from"] == "out_h1"
    assert gradient["note"] == "right from your out_h1"
    # the update follows from the student's gradient, and through it from out_h1: the earliest
    assert update["status"] == "carried" and update["follows_from"] == "out_h1"
    assert update["note"] == "right from your dE_total/dw5 (carried from your out_h1)"
    assert update["exact"] == pytest.approx(W5 - ETA * GRAD["w5"])


def test_a_carried_answers_working_is_a_true_equation(tmp_path):
    """The details show the equation with the student's numbers; it evaluates to the
    number it states, and that number rounds to what the student wrote."""
    from test_equations import problems

    from stepprop.document import Document, Section
    from stepprop.expr import Num, plain

    path = write_answers(tmp_path, carried_case(tmp_path)[1])
    grades = check(configs.load(), load_answers(path), None, str(path))
    carried = {g.answer.name: g for g in grades.graded if g.status == "carried"}
    assert set(carried) == {"dE_total/dw5", "w5+"}
    exact = {"dE_total/dout_o1": OUT_O1 - T1, "dout_o1/dnet_o1": OUT_O1 * (1 - OUT_O1), "delta_o1": DELTA_O1}
    student = {**exact, "out_h1": 0.61, "dE_total/dw5": 0.08448, "w5": W5, "eta": ETA}
    for name, g in carried.items():
        *redone, last = g.working
        assert last.name == name
        assert problems(Document("", [], [Section("", g.working)]), student) == []
        assert isinstance(last.rhs[-1], Num) and agrees(last.rhs[-1].value, g.answer.text)
    # dnet_o1/dw5, which the student did not write, is redone from their out_h1
    first = carried["dE_total/dw5"].working
    assert [eq.name for eq in first] == ["dnet_o1/dw5", "dE_total/dw5"]
    assert plain(first[-1].rhs[1], 9) == "0.74136507 * 0.186815602 * 0.61"
    assert "0.08448" in plain(carried["w5+"].working[-1].rhs[1], 9)


def test_the_summary_names_the_first_wrong_step(tmp_path):
    path = write_answers(tmp_path, carried_case(tmp_path)[1])
    result = run("check", str(path))
    assert result.exit_code == 1
    assert "1 correct, 0 rounded, 2 carried, 1 wrong" in result.stdout
    assert "the first wrong answer is out_h1; 2 later answers are right from it" in result.stdout
    assert "dE_total/dw5: 0.08448 is right from your out_h1" in result.stdout
    # the first wrong answer is first in the worked example's order, not the file's
    late = write_answers(tmp_path, {"w5+": "0.3", "dE_total/dout_h1": "0.5", "out_o2": "0.7"})
    assert "the first wrong answer is out_o2\n" in run("check", str(late)).stdout


def test_a_mistaken_gradient_carried_into_its_update(tmp_path):
    """dE_total/dw5 without the sigmoid's derivative (mistake 3), then the update
    done right from it: the update is carried, the gradient names the mistake."""
    forgot = (OUT_O1 - T1) * OUT_H1
    graded = grade(tmp_path, {"dE_total/dw5": fmt(forgot), "w5+": fmt(W5 - ETA * float(fmt(forgot)))})
    assert graded["dE_total/dw5"]["status"] == "wrong"
    assert graded["dE_total/dw5"]["mistake"] == "activation_derivative_left_out"
    assert graded["w5+"]["status"] == "carried" and graded["w5+"]["follows_from"] == "dE_total/dw5"


def test_a_wrong_answer_not_from_the_earlier_wrong_one_stays_wrong(tmp_path):
    graded = grade(tmp_path, {"out_h1": "0.61", "dE_total/dw5": "0.05", "w5+": "0.3"})
    assert [graded[n]["status"] for n in ("out_h1", "dE_total/dw5", "w5+")] == ["wrong"] * 3
    assert all(graded[n]["follows_from"] is None for n in graded)


def test_the_same_wrong_number_under_two_names_is_not_carried(tmp_path):
    """delta_o1 and dE_total/dnet_o1 are one quantity: writing the same wrong number
    for both is one mistake, not an answer right from another."""
    graded = grade(tmp_path, {"delta_o1": "0.2", "dE_total/dnet_o1": "0.2"})
    assert [g["status"] for g in graded.values()] == ["wrong", "wrong"]


def test_follow_through_in_a_batch(tmp_path):
    """xor, a batch of four: sample 2's out_h1 wrong (+0.05); dE_total/dw2[2] done
    right from it, through everything it changes that the student did not write
    (out_o1[2], delta_o1[2], dout_h1/dnet_h1[2]), is carried; sample 3's is not."""
    xor = (configs.BUNDLED_DIR / "xor.yaml").read_text(encoding="utf-8")
    # sample 2: inputs (0, 1), target 1; w1..w4 = .5 -.4 -.3 .6, b1 .1, b2 -.2; w5 .7, w6 -.5, b3 .2
    h1, h2 = sigmoid(-0.4 + 0.1), sigmoid(0.6 - 0.2)
    mine = float(fmt(h1 + 0.05))
    o = sigmoid(0.7 * mine - 0.5 * h2 + 0.2)
    gradient = (o - 1) * o * (1 - o) * 0.7 * mine * (1 - mine) * 1.0
    graded = grade(tmp_path, {"out_h1[2]": fmt(mine), "dE_total/dw2[2]": fmt(gradient)}, xor)
    assert graded["out_h1[2]"]["status"] == "wrong"
    assert graded["dE_total/dw2[2]"]["status"] == "carried"
    assert graded["dE_total/dw2[2]"]["follows_from"] == "out_h1[2]"
    # the same number for sample 3 is not right from sample 2's out_h1
    other = grade(tmp_path, {"out_h1[2]": fmt(mine), "dE_total/dw2[3]": fmt(gradient)}, xor)
    assert other["dE_total/dw2[3]"]["status"] == "wrong"


def test_a_hidden_delta_is_carried_from_a_wrong_output_delta(tmp_path):
    """delta_h1 = (delta_o1 w5 + delta_o2 w7) dout_h1/dnet_h1 from the student's
    wrong delta_o1, through dE_o1/dout_h1 and dE_total/dout_h1, which they did not
    write (worked out at the same node as delta_o1)."""
    graded = grade(tmp_path, {"delta_o1": "0.1485", "delta_o2": "-0.0381", "delta_h1": "0.0097"})
    assert graded["delta_o1"]["status"] == "wrong"
    assert graded["delta_h1"]["status"] == "carried" and graded["delta_h1"]["follows_from"] == "delta_o1"


ONE_OUTPUT = """
inputs: [1.0, 0.5, -0.5]
targets: [0.9]
eta: 0.5
layers:
  - weights: [[0.2, -0.3, 0.4], [0.1, 0.5, -0.2]]
    bias: [0.1, -0.2]
  - weights: [[0.3, -0.4]]
    bias: [0.2]
"""


def test_one_outputs_total_error_is_carried_with_its_error(tmp_path):
    """With one output E_total is E_o1: right from the student's out_o1 as E_o1 is."""
    graded = grade(tmp_path, {"out_o1": "0.6000", "E_o1": "0.045", "E_total": "0.045"}, ONE_OUTPUT)
    assert graded["out_o1"]["status"] == "wrong"
    for name in ("E_o1", "E_total"):
        assert graded[name]["status"] == "carried" and graded[name]["follows_from"] == "out_o1", graded[name]
    assert grade(tmp_path, {"out_o1": "0.6000", "E_total": "0.05"}, ONE_OUTPUT)["E_total"]["status"] == "wrong"


def test_a_threshold_worked_on_an_input_of_plus_one_is_named(tmp_path):
    """bias_input: -1 (Mitchell): net_h1 = w1 i1 + w2 i2 + w3 i3 - b1; a student
    who adds the bias makes mistake 7, and the update, in the error term's words."""
    mitchell = ONE_OUTPUT + "delta: error\nbias_input: -1\n"
    graded = grade(tmp_path, {"net_h1": "-0.05", "w7+": "0.2743"}, mitchell)
    assert graded["net_h1"]["mistake"] == "bias_input_plus_one"
    assert graded["net_h1"]["note"] == "mistake 7: the bias's input taken as +1"
    assert graded["w7+"]["mistake"] == "gradient_added"
    assert graded["w7+"]["note"] == "mistake 4: eta * delta * x subtracted, not added"
    # no such mistake where the bias's input is +1
    assert grade(tmp_path, {"net_h1": "-0.45"}, ONE_OUTPUT)["net_h1"]["mistake"] != "bias_input_plus_one"


# -------------------------------------------- the batch's error, and evidence --


BATCH2 = """
samples:
  - {inputs: [1.0], targets: [0.0]}
  - {inputs: [0.5], targets: [1.0]}
eta: 0.5
layers:
  - {weights: [[0.3]], bias: 0.1}
"""


def test_the_students_other_answers_say_which_mistake(tmp_path):
    """With two samples, summing the batch and dropping the error's 1/2 both double
    dE/dw1. A right E_total[1] rules the 1/2 out: the batch was summed. A doubled
    E_total[1] rules the sum out (it leaves a sample's error alone)."""
    out = BATCH3_OUT[:2]
    summed = math.fsum(BATCH3_GRADS[:2])
    half = [0.5 * (t - o) ** 2 for o, t in zip(out, BATCH3_T)]
    right_e1 = grade(tmp_path, {"dE/dw1": fmt(summed), "E_total[1]": fmt(half[0])}, BATCH2)["dE/dw1"]
    assert right_e1["mistake"] == "batch_summed"
    assert set(right_e1["mistakes"]) >= {"batch_summed", "squared_error_without_half"}
    doubled = grade(tmp_path, {"dE/dw1": fmt(summed), "E_total[1]": fmt(2 * half[0])}, BATCH2)["dE/dw1"]
    assert doubled["mistake"] == "squared_error_without_half"


def test_a_summed_batch_error(tmp_path):
    """batch_error: sum: E and every batch gradient are the sums of the samples'."""
    e = [0.5 * (t - o) ** 2 for o, t in zip(BATCH3_OUT, BATCH3_T)]
    graded = grade(
        tmp_path,
        {"E": fmt(math.fsum(e)), "dE/dw1": fmt(math.fsum(BATCH3_GRADS)), "E_total[2]": fmt(e[1])},
        BATCH3_SUM,
    )
    assert [g["status"] for g in graded.values()] == ["correct"] * 3


def test_online_updates_after_training(tmp_path):
    """--epochs 1: the online student trained online too: an epoch and the step are
    six updates, one per sample, in file order."""
    w, b = 0.3, 0.1
    for x, t in list(zip(BATCH3_X, BATCH3_T)) * 2:
        o = sigmoid(w * x + b)
        delta = (o - t) * o * (1 - o)
        w, b = w - 0.5 * delta * x, b - 0.5 * delta
    graded = grade(tmp_path, {"w1+": fmt(w), "b1+": fmt(b)}, BATCH3, epochs=1)
    assert [g["mistake"] for g in graded.values()] == ["online_updates", "online_updates"]


def test_online_updates_over_a_batch_too_long_to_record(tmp_path):
    """A batch of 20 samples (more than are recorded one by one) taken one at a
    time: the update after the last is still named."""
    xs = [(k - 10) / 10 for k in range(20)]
    ts = [k % 2 for k in range(20)]
    text = "samples:\n" + "".join(f"  - {{inputs: [{x}], targets: [{t}]}}\n" for x, t in zip(xs, ts))
    text += "eta: 0.5\nlayers:\n  - {weights: [[0.3]], bias: 0.1}\n"
    w, b = 0.3, 0.1
    for x, t in zip(xs, ts):
        o = sigmoid(w * x + b)
        delta = (o - t) * o * (1 - o)
        w, b = w - 0.5 * delta * x, b - 0.5 * delta
    graded = grade(tmp_path, {"w1+": fmt(w), "b1+": fmt(b)}, text)
    assert [g["mistake"] for g in graded.values()] == ["online_updates", "online_updates"]


def test_a_pair_named_most_often_for_a_question(tmp_path):
    w5 = f"{W5 + ETA * (OUT_O1 - T1) * OUT_H1:.6f}"
    (tmp_path / "class.csv").write_text(f"id,w5+\nann,{w5}\nbob,{w5}\n", encoding="utf-8")
    result = run("check", str(tmp_path / "class.csv"))
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("w5+")]
    assert "3 and 4: activation derivative left out, and gradient added, not subtracted (2)" in line, result.stdout


def test_a_step_recording_some_samples_gives_the_same_numbers():
    """What check's re-runs do: the chain rule recorded for the samples answered
    only; every gradient, update and named value of those samples is the same."""
    from stepprop.names import checkable
    from stepprop.network import Net
    from stepprop.step import step

    net = Net(configs.parse(BATCH3, "batch3.yaml"))
    whole, some = step(net), step(net, recorded=[2])
    assert some.gradients == whole.gradients and some.updated == whole.updated
    assert some.samples[0].adjoints == {}
    # (each step builds its own graph: the records' keys are its own nodes)
    assert [*some.samples[2].adjoints.values()] == [*whole.samples[2].adjoints.values()]
    wanted = {"dE_total/dw1[3]", "w1+"}
    part = checkable(some, wanted)
    full = checkable(whole)
    assert all(part[name] == full[name] for name in wanted)


def test_changes_and_input_gradients_are_graded_as_students_write_them(tmp_path):
    graded = grade_list(
        tmp_path,
        {
            "Δw5": "-0.0410835",  # the change of w5: -eta * dE/dw5 = -0.0410835203
            "delta_w6": "-0.0413338",
            "change_w7": "0.01130127",
            "change_b1": "0.0000",  # a fixed bias does not change
            "dE_total/di1": "0.003804",  # delta_h1 * w1 + delta_h2 * w3
            "dnet_h1/di2": "0.2",  # = w2
        },
    )
    assert [a["name"] for a in graded] == [
        "change_w5",
        "change_w6",
        "change_w7",
        "change_b1",
        "dE_total/di1",
        "dnet_h1/di2",
    ]
    assert all(a["status"] == "correct" for a in graded), graded
    assert graded[0]["written_as"] == "Δw5"


def test_a_change_with_the_wrong_sign_names_the_mistake(tmp_path):
    result = run("check", str(write_answers(tmp_path, {"Δw5": "0.0411"})), "--format", "json")
    answer = json.loads(result.stdout)["answers"][0]
    assert result.exit_code == 1 and answer["status"] == "wrong"
    assert answer["note"] == "mistake 4: gradient added, not subtracted"
    # the details quote the worked example's line for the change, with numbers
    text = run("check", str(write_answers(tmp_path, {"Δw5": "0.0411"}))).stdout
    assert "change_w5 = -eta * dE_total/dw5 = -0.5 * 0.0821670406 = -0.0410835203" in text


def test_the_template_gives_the_changes_and_input_gradients_their_formulas():
    text = run("check", "--template").stdout
    assert "change_w5:   # = -eta * dE_total/dw5\n" in text
    assert "dE_total/di1:   # = dE_total/dnet_h1 * dnet_h1/di1 + dE_total/dnet_h2 * dnet_h2/di1\n" in text
