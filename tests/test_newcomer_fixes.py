"""What a newcomer tripped on: the learning rate called lr, a bare number for
one target, -0.0 in a new config, "1 epochs", unreadable plot ticks, a table
without the inputs, a saved network that forgot its training.

Every expected value here is worked out by hand (or from the YAML written in
the test), never read back from stepprop."""

from __future__ import annotations

import json
import math
import re

import pytest
import yaml
from conftest import run

import stepprop
from stepprop import config, ops
from stepprop.api import new_config
from stepprop.views.plot import terminal


def write(tmp_path, text: str, name: str = "mine.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# a 2-1 network: line 1 inputs, line 2 targets, line 3 eta, line 4 loss, line 5 activation
ONE_OUTPUT = """\
inputs: [1.0, 0.5]
targets: [1]
eta: 0.5
loss: half_squared_error
activation: sigmoid
layers:
  - weights: [[0.3, -0.2]]
    bias: 0.1
"""


def refused(tmp_path, text: str) -> str:
    """The one-line error of ``stepprop explain`` on this config (exit 1)."""
    path = write(tmp_path, text)
    result = run("explain", path, code=1)
    assert result.stderr.startswith(f"Error: {path}:"), result.stderr
    return result.stderr


# -------------------------------------------- 1. suggestions for other names --


@pytest.mark.parametrize("key", ["learning_rate", "lr", "learningrate", "alpha", "Learning-Rate"])
def test_the_learning_rate_by_another_name_suggests_eta(tmp_path, key):
    text = ONE_OUTPUT.replace("eta: 0.5", f"{key}: 0.5")
    err = refused(tmp_path, text)
    # the key starts line 3, column 1
    assert f"mine.yaml:3:1: unknown key '{key}' in the config (did you mean 'eta'?)" in err
    with pytest.raises(stepprop.ConfigError) as caught:
        stepprop.load(tmp_path / "mine.yaml")
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "(did you mean 'eta'?)" in caught.value.message


@pytest.mark.parametrize(
    "written, meant",
    [
        ("mse", "mean_squared_error"),
        ("MSE", "mean_squared_error"),
        ("ce", "cross_entropy"),
        ("crossentropy", "cross_entropy"),
        ("cross-entropy", "cross_entropy"),
        ("bce", "binary_cross_entropy"),
    ],
)
def test_a_loss_by_its_common_abbreviation_suggests_its_name(tmp_path, written, meant):
    err = refused(tmp_path, ONE_OUTPUT.replace("loss: half_squared_error", f"loss: {written}"))
    # the value after 'loss: ' starts line 4, column 7
    assert f"mine.yaml:4:7: unknown loss '{written}' (did you mean '{meant}'?)" in err


@pytest.mark.parametrize("written, meant", [("logistic", "sigmoid"), ("identity", "linear")])
def test_an_activation_by_another_name_suggests_its_name(tmp_path, written, meant):
    # the top-level default: the value after 'activation: ' starts line 5, column 13
    err = refused(tmp_path, ONE_OUTPUT.replace("activation: sigmoid", f"activation: {written}"))
    assert f"mine.yaml:5:13: unknown activation '{written}' (did you mean '{meant}'?)" in err
    # a layer's own: line 9, after '    activation: ' (column 17)
    err = refused(tmp_path, ONE_OUTPUT + f"    activation: {written}\n")
    assert f"mine.yaml:9:17: unknown activation of layer 1 '{written}' (did you mean '{meant}'?)" in err


def test_a_name_no_alias_is_close_to_gets_no_suggestion(tmp_path):
    err = refused(tmp_path, ONE_OUTPUT.replace("loss: half_squared_error", "loss: zzz"))
    assert "mine.yaml:4:7: unknown loss 'zzz'; choose one of" in err


def test_every_alias_names_an_existing_activation_loss_or_key_and_is_no_name_itself():
    for alias, name in ops.ALIASES.items():
        assert name in ops.ACTIVATIONS + ops.LOSSES, (alias, name)
        assert alias not in ops.OPS, alias
    for alias, key in config.KEY_ALIASES.items():
        assert key in config.TOP_KEYS + config.LAYER_KEYS, (alias, key)
        assert alias not in config.TOP_KEYS + config.LAYER_KEYS, alias


# ---------------------------------------------- 2. a bare number for a list --


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_a_bare_number_is_the_target_of_a_one_output_network(tmp_path):
    path = write(tmp_path, ONE_OUTPUT.replace("targets: [1]", "targets: 1"))
    data = json.loads(run("explain", path, "--format", "json", code=0).stdout)
    (sample,) = data["samples"]
    assert sample["targets"] == [1.0] and sample["inputs"] == [1.0, 0.5]
    # by hand: net = 0.3 * 1 + (-0.2) * 0.5 + 0.1 = 0.3
    out = _sigmoid(0.3)
    assert data["values"]["out_o1"] == pytest.approx(out, rel=1e-12)
    assert data["error"] == pytest.approx(0.5 * (1 - out) ** 2, rel=1e-12)
    net = stepprop.load(path)
    assert net.config.samples[0].targets == (1.0,)


def test_a_bare_number_is_the_input_of_a_one_input_network(tmp_path):
    text = "inputs: 2\ntargets: 1\neta: 0.1\nactivation: linear\nlayers:\n  - weights: [[0.4]]\n"
    net = stepprop.load(write(tmp_path, text))
    assert net.config.samples[0] == ((2.0,), (1.0,))
    step = net.step()
    # by hand: out = 0.4 * 2 = 0.8; E = 1/2 (1 - 0.8)^2 = 0.02; dE/dw1 = -(1 - 0.8) * 2 = -0.4
    assert step.values["out_o1"] == pytest.approx(0.8, rel=1e-12)
    assert step.error == pytest.approx(0.02, rel=1e-9)
    assert step.gradients["w1"] == pytest.approx(-0.4, rel=1e-9)
    assert step.updated["w1"] == pytest.approx(0.4 + 0.1 * 0.4, rel=1e-12)


def test_bare_numbers_in_samples(tmp_path):
    text = (
        "samples:\n  - {inputs: 1, targets: 0}\n  - {inputs: [3], targets: 1}\n"
        "eta: 0.1\nactivation: linear\nlayers:\n  - weights: [[0.5]]\n"
    )
    net = stepprop.load(write(tmp_path, text))
    assert [tuple(s) for s in net.config.samples] == [((1.0,), (0.0,)), ((3.0,), (1.0,))]
    # by hand: outputs 0.5 and 1.5; the batch error is the mean of 1/2 0.5^2 and 1/2 0.5^2
    assert net.step().error == pytest.approx(0.125, rel=1e-12)
    # the library's dict form takes them too
    mine = stepprop.Network.from_dict(
        {"inputs": 1, "targets": 0.5, "eta": 0.1, "activation": "linear", "layers": [{"weights": [[0.5]]}]}
    )
    assert mine.config.samples[0] == ((1.0,), (0.5,))


def test_a_bare_number_for_several_outputs_is_a_located_error(tmp_path):
    two_outputs = ONE_OUTPUT.replace("weights: [[0.3, -0.2]]", "weights: [[0.3, -0.2], [0.1, 0.1]]")
    err = refused(tmp_path, two_outputs.replace("targets: [1]", "targets: 1"))
    # the number starts line 2, column 10
    assert "mine.yaml:2:10: expected 2 targets (one per output neuron), found the single number 1" in err
    assert "list of 2 numbers" in err
    # in samples: the second sample's targets, line 3, column 31
    text = (
        "samples:\n  - {inputs: [0, 1], targets: [0, 1]}\n  - {inputs: [1, 1], targets: 1}\n"
        "eta: 0.5\nlayers:\n  - weights: [[0.1, 0.2], [0.3, 0.4]]\n"
    )
    err = refused(tmp_path, text)
    assert "mine.yaml:3:31: expected 2 numbers for the targets of sample 2" in err and "the single number 1" in err


def test_a_bare_number_for_several_inputs_is_a_located_error(tmp_path):
    err = refused(tmp_path, ONE_OUTPUT.replace("inputs: [1.0, 0.5]", "inputs: 0.5"))
    # the number starts line 1, column 9; layer 1's weight row has 2 numbers
    assert "mine.yaml:1:9: expected 2 inputs" in err and "found the single number 0.5" in err


def test_a_word_where_the_targets_belong_is_still_refused(tmp_path):
    err = refused(tmp_path, ONE_OUTPUT.replace("targets: [1]", "targets: one"))
    assert "mine.yaml:2:10: expected a list of numbers for targets, found the text 'one'" in err


# ------------------------------------------------ 3. no -0.0 from stepprop init --

NEGATIVE_ZERO = re.compile(r"-0\.0(?![0-9])")


def test_init_never_writes_a_negative_zero(tmp_path):
    # seeds 1 and 32 of 2-2-1 drew a small negative number that rounded to -0.0
    for seed in ("1", "32"):
        text = run("init", "2-2-1", "--seed", seed, code=0).stdout
        assert not NEGATIVE_ZERO.search(text), text
    for shape in ("2-2-1", "2-3-1", "3-4-4-2", "1-1", "4-8-3"):
        for bias in ("shared", "per-neuron"):
            for seed in range(60):
                text = new_config(shape, bias=bias, seed=seed)
                assert not NEGATIVE_ZERO.search(text), (shape, bias, seed)
                numbers = [
                    x
                    for layer in yaml.safe_load(text)["layers"]
                    for x in [v for row in layer["weights"] for v in row]
                    + (layer["bias"] if isinstance(layer.get("bias"), list) else [layer.get("bias", 1.0)])
                ]
                assert all(math.copysign(1.0, x) == 1.0 for x in numbers if x == 0), (shape, bias, seed)


# ------------------------------------------------- 4. one epoch, not 1 epochs --


def test_check_after_one_epoch_says_epoch(tmp_path):
    answers = write(tmp_path, "out_h1: 0.5933\n", "answers.yaml")
    # (the exit status says whether an answer is wrong; the banner is the point here)
    text = run("check", "--epochs", "1", answers).stdout
    assert "after 1 epoch of training and one more step" in text
    assert "1 epochs" not in text
    text = run("check", "--epochs", "2", answers).stdout
    assert "after 2 epochs of training and one more step" in text


def test_every_count_of_one_is_singular():
    net = stepprop.load()
    grades = stepprop.check(net, {"out_h1": "0.5933"}, epochs=1).render("text")
    assert "after 1 epoch of training" in grades
    grades = stepprop.check_class(net, {"ann": {"out_h1": "0.5933"}}, epochs=1).render("text")
    assert "answers of 1 student from" in grades and "after 1 epoch of training" in grades
    trained = net.train(1, every=1)
    text = trained.render("text")
    assert "1 epoch of 1 update each (batch size 1, 1 sample)" in text
    assert "The error every epoch" in text
    assert repr(trained).startswith("<stepprop.TrainResult 1 epoch, error ")
    assert repr(trained.network).endswith("trained 1 epoch>")
    assert "1 epochs" not in text + repr(trained) + repr(trained.network)
    assert "The error every 2 epochs" in net.train(4, every=2).render("text")


# --------------------------------------------------- 5. readable plot ticks --


def y_labels(plot: str) -> list[str]:
    """The y tick labels of a plotext plot: what stands before each '┤'."""
    return [line.split("┤")[0].strip() for line in plot.splitlines() if "┤" in line]


@pytest.mark.parametrize(
    "errors",
    [
        [1e-23 * (2 - k / 50) for k in range(50)],  # tiny, within one decade
        [0.3 * 10 ** (-k / 5) for k in range(100)],  # falling through 20 decades (log scale)
        [0.25 - k * 1e-6 for k in range(100)],  # nearly flat
        [0.7 / (k + 1) for k in range(30)],
    ],
)
def test_the_terminal_plot_has_short_readable_y_ticks(monkeypatch, errors):
    pytest.importorskip("plotext")
    monkeypatch.setenv("NO_COLOR", "1")
    plot = terminal(list(enumerate(errors, start=1)))
    labels = y_labels(plot)
    assert len(labels) >= 2, plot
    assert all(0 < len(label) <= 8 for label in labels), labels
    values = [float(label) for label in labels]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values), labels  # top down, distinct
    lo, hi = min(errors), max(errors)
    assert all(lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9) for v in values), (labels, lo, hi)


# ------------------------------------------ 6. the inputs beside the outputs --

TWO_SAMPLES = """\
samples:
  - {inputs: [0.25, -0.5], targets: [0.1]}
  - {inputs: [0.75, 1.5], targets: [0.9]}
eta: 0.5
layers:
  - weights: [[0.2, 0.4]]
"""


def test_the_outputs_table_shows_each_samples_inputs(tmp_path):
    path = write(tmp_path, TWO_SAMPLES)
    text = run("train", path, "--epochs", "2", code=0).stdout
    table = text.split("The outputs")[1].split("The trained parameters")[0]
    header = next(line for line in table.splitlines() if line.startswith("sample"))
    assert header.split() == ["sample", "i1", "i2", "out_o1", "target_o1", "E_total"]
    rows = [line.split() for line in table.splitlines() if re.match(r"^[12] ", line)]
    assert [row[:3] for row in rows] == [["1", "0.25", "-0.5"], ["2", "0.75", "1.5"]]
    assert [row[4] for row in rows] == ["0.1", "0.9"]
    markdown = stepprop.load(path).train(2).render("markdown")
    assert "| sample | i1 | i2 | out_o1 | target_o1 | E_total |" in markdown
    assert re.search(r"^\| 1 \| 0\.25 \| -0\.5 \| ", markdown, flags=re.M)


def test_the_json_of_training_keeps_its_keys_and_adds_the_inputs(tmp_path):
    data = json.loads(run("train", write(tmp_path, TWO_SAMPLES), "--epochs", "2", "--format", "json", code=0).stdout)
    assert {"epochs", "error", "final_error", "outputs", "targets", "sample_errors", "parameters", "layers"} <= set(
        data
    )
    assert data["inputs"] == [[0.25, -0.5], [0.75, 1.5]]
    assert data["targets"] == [[0.1], [0.9]]


# ------------------------------------ 7. a saved network says how it was trained --


@pytest.mark.parametrize("epochs, said", [("1", "1 epoch"), ("7", "7 epochs")])
def test_the_saved_network_says_how_many_epochs_from_what(tmp_path, epochs, said):
    source = write(tmp_path, TWO_SAMPLES)
    saved = tmp_path / "trained.yaml"
    result = run("train", source, "--epochs", epochs, "--format", "json", "--save", str(saved), code=0)
    text = saved.read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# trained by stepprop for {said} from {source}"
    again = stepprop.load(saved)  # a comment: the file still loads, with the trained parameters
    assert again.values == json.loads(result.stdout)["parameters"]


def test_training_a_trained_network_on_counts_every_epoch(tmp_path):
    # 3 epochs, then 4 more: 7 epochs from the bundled xor.yaml
    trained = stepprop.load("xor").train(3).network.train(4).network
    text = trained.to_yaml()
    assert text.splitlines()[0] == "# trained by stepprop for 7 epochs from the bundled xor.yaml"
    path = tmp_path / "trained.yaml"
    path.write_text(text, encoding="utf-8")
    assert stepprop.load(path).values == trained.values
    # a network never trained still says where it was written from
    assert stepprop.load("xor").to_yaml().splitlines()[0] == "# written by stepprop from the bundled xor.yaml"
