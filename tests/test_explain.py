"""The worked example: names, numbering, --only.  (That every printed
equation evaluates to its number is tests/test_equations.py.)"""

import json

import pytest
from conftest import CONFIGS, run

from stepprop import config, network, worked
from stepprop import step as steps


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_only_restricts_to_the_named_parameters(path):
    net = network.Net(config.load(path))
    trace = steps.step(net)
    first = net.param_order()[-1]
    doc = worked.explain(trace, [first])
    updates = {eq.name for eq in doc.equations() if eq.name and eq.name.endswith("+")}
    assert updates == {f"{first}+"}


def test_weight_numbering_follows_the_post():
    net = network.Net(config.load())
    expect = {
        "w1": ("i1", "h1"),
        "w2": ("i2", "h1"),
        "w3": ("i1", "h2"),
        "w4": ("i2", "h2"),
        "w5": ("h1", "o1"),
        "w6": ("h2", "o1"),
        "w7": ("h1", "o2"),
        "w8": ("h2", "o2"),
    }
    for name, (source, target) in expect.items():
        p = net.params[name]
        assert (p.source, p.targets) == (source, (target,))
    assert net.params["b1"].targets == ("h1", "h2")
    assert net.params["b2"].targets == ("o1", "o2")
    assert set(net.params) == set(expect) | {"b1", "b2"}


def test_deep_networks_get_unambiguous_neuron_names():
    net = network.Net(config.load(config.BUNDLED_DIR / "tanh-relu.yaml"))
    flat = [n for layer in net.neurons for n in layer]
    assert flat == ["h1_1", "h1_2", "h1_3", "h2_1", "h2_2", "o1"]
    assert len(set(flat)) == len(flat)


def test_a_layer_may_name_its_neurons():
    cfg = config.parse(
        "inputs: [1, 2]\ntargets: [0.5]\neta: 0.1\n"
        "layers:\n  - {name: g, weights: [[0.1, 0.2], [0.3, 0.4]]}\n  - {weights: [[0.5, 0.6]]}\n"
    )
    assert network.Net(cfg).neurons == [["g1", "g2"], ["o1"]]


def test_per_neuron_biases_are_numbered_in_order():
    cfg = config.parse(
        "inputs: [1, 2]\ntargets: [0.5]\neta: 0.1\n"
        "layers:\n  - {weights: [[0.1, 0.2], [0.3, 0.4]], bias: [0.1, 0.2]}\n  - {weights: [[0.5, 0.6]], bias: 0.3}\n"
    )
    net = network.Net(cfg)
    assert [(b, net.params[b].targets) for b in ("b1", "b2", "b3")] == [
        ("b1", ("h1",)),
        ("b2", ("h2",)),
        ("b3", ("o1",)),
    ]


@pytest.mark.parametrize("batch_error, words, combine", [("mean", "the mean", "/2"), ("sum", "the sum", "")])
def test_a_batch_error_is_the_mean_or_the_sum(batch_error, words, combine):
    text = (
        "samples:\n  - {inputs: [1.0], targets: [0.0]}\n  - {inputs: [0.5], targets: [1.0]}\n"
        f"eta: 0.5\nbatch_error: {batch_error}\nlayers:\n  - {{weights: [[0.3]], bias: 0.1}}\n"
    )
    from stepprop.views.text import render_plain as render

    trace = steps.step(network.Net(config.parse(text)))
    out = render(worked.explain(trace))
    assert f"a batch's error E is {words} of its samples' E_total" in out
    if combine:
        assert "E = (E_total[1] + E_total[2])/2 = " in out
        assert "dE/dw1 = (dE_total/dw1[1] + dE_total/dw1[2])/2 = " in out
    else:
        assert "E = E_total[1] + E_total[2] = " in out
        assert "dE/dw1 = dE_total/dw1[1] + dE_total/dw1[2] = " in out
    assert config.parse(text).to_dict().get("batch_error", "mean") == batch_error


def _batch_of(n: int, tmp_path) -> str:
    """A 2-2-1 network with a batch of ``n`` samples, as a config file."""
    samples = "".join(f"  - {{inputs: [{k / 10:.1f}, {1 - k / 20:.2f}], targets: [{k % 2}]}}\n" for k in range(n))
    path = tmp_path / f"batch{n}.yaml"
    path.write_text(
        f"samples:\n{samples}eta: 0.5\nlayers:\n"
        "  - {weights: [[0.1, -0.2], [0.3, 0.4]], bias: 0.1}\n  - {weights: [[0.5, -0.6]], bias: 0.2}\n"
    )
    return str(path)


def test_a_batch_of_up_to_ten_is_derived_step_by_step_for_every_sample(tmp_path):
    out = run("explain", _batch_of(10, tmp_path), code=0).stdout
    assert "by the delta rule\n" not in out and "step by step for" not in out
    for k in range(1, 11):
        assert f"  sample {k}\n    dE_total/dw1[{k}] = dE_total/dout_h1[{k}] * " in out


def test_a_larger_batch_derives_its_first_sample_and_the_others_by_the_delta_rule(tmp_path):
    """11 samples: sample 1 step by step, samples 2-11 one line each; --samples
    chooses others (or all), and every number is the same."""
    path = _batch_of(11, tmp_path)
    out = run("explain", path, code=0).stdout
    assert "(samples 1-11)" in out
    assert "the derivations are step by step for sample 1; the other samples' gradients" in out
    assert "  sample 1\n    dE_total/dw1[1] = dE_total/dout_h1[1] * " in out
    assert "  sample 2\n" not in out
    assert "\n  samples 2-11, by the delta rule\n    dE_total/dw1[2] = delta_h1[2] * i1[2] = " in out
    for k in range(2, 12):
        assert f"    dE_total/dw5[{k}] = delta_o1[{k}] * out_h1[{k}] = " in out
        assert f"    dE_total/db2[{k}] = delta_o1[{k}] = " in out  # a bias: the delta itself
    # the forward pass and the errors of every sample stay
    assert "net_h1[11] = w1 * i1[11] + w2 * i2[11] + b1 * 1 = " in out

    chosen = run("explain", path, "--samples", "3,7-8", "--only", "w1", code=0).stdout
    for k in (3, 7, 8):
        assert f"  sample {k}\n    dE_total/dw1[{k}] = dE_total/dout_h1[{k}] * " in chosen
    assert "  samples 1-2, 4-6, 9-11, by the delta rule\n" in chosen
    every = run("explain", path, "--samples", "all", code=0).stdout
    assert "by the delta rule\n" not in every and "  sample 11\n    dE_total/dw1[11] = " in every
    # the same gradients and updates, whichever samples are shown step by step
    for text in (chosen, every):
        assert out.split("w1+ = ")[1].split("\n")[0] == text.split("w1+ = ")[1].split("\n")[0]


@pytest.mark.parametrize(
    "samples, message",
    [
        ("12", "sample 12 is not in this step's batch (its samples are samples 1-11)"),
        ("0", "sample 0 is not in this step's batch"),
        ("two", "cannot read 'two' as samples: write 'all', a number (3), a list (1,5) or a range (2-6)"),
        ("5-2", "'5-2' is not a range of samples"),
    ],
)
@pytest.mark.parametrize("extension", ["txt", "json"])
def test_samples_not_in_the_batch_are_refused_clearly(tmp_path, samples, message, extension):
    target = tmp_path / f"x.{extension}"
    result = run("explain", _batch_of(11, tmp_path), "--samples", samples, "-o", str(target), code=1)
    assert message in result.output
    assert not target.exists()


def test_the_library_takes_samples_by_number_list_range_or_all(tmp_path):
    import stepprop

    step = stepprop.load(_batch_of(12, tmp_path)).step()
    briefly = [s.title for s in step.explain(samples=4).sections[2].items[0].items[0].items if hasattr(s, "title")]
    assert briefly == ["sample 4", "samples 1-3, 5-12, by the delta rule"]
    for samples in ([4], "4", (4,)):
        assert step.render("text", samples=samples) == step.render("text", samples=4)
    assert "by the delta rule" not in step.render("markdown", samples="all")
    assert "samples 2-12, by the delta rule" in step.render("latex")
    assert step.stepwise() == [1] and step.stepwise("all") == list(range(1, 13))
    assert step.stepwise("3,5-6") == [3, 5, 6]
    assert stepprop.load(_batch_of(3, tmp_path)).step().stepwise() == [1, 2, 3]


def test_a_range_larger_than_any_batch_is_refused_without_building_it(tmp_path):
    result = run("explain", _batch_of(11, tmp_path), "--samples", "1-999999999", code=1)
    assert "'1-999999999' is more samples than any batch holds" in result.output


def test_inputs_and_changes_are_derived_on_request():
    plain = run("explain").stdout
    assert "di1" not in plain and "change_w5" not in plain  # the post's step, as the post shows it
    shown = run("explain", "--inputs", "--changes").stdout
    assert "The gradients with respect to the inputs" in shown
    assert "dE_total/di1 = dE_total/dnet_h1 * dnet_h1/di1 + dE_total/dnet_h2 * dnet_h2/di1" in shown
    assert "= delta_h1 * w1 + delta_h2 * w3" in shown
    assert "= 0.00380426688" in shown
    assert "change_w5 = -eta * dE_total/dw5 = -0.5 * 0.0821670406 = -0.0410835203" in shown
    # and from Python, in every format (LaTeX and MathML write the change as Delta w5)
    import stepprop

    step = stepprop.load().step()
    assert "\\Delta w_{5}" in step.render("latex", changes=True)
    assert "<mi>Δ</mi>" in step.render("html", changes=True)
    assert "\\partial i_{2}" in step.render("markdown", inputs=True)


def test_a_batch_derives_each_samples_input_gradients(tmp_path):
    path = tmp_path / "batch.yaml"
    path.write_text(
        "layers:\n  - {weights: [[0.1, 0.2]], bias: 0.1, activation: sigmoid}\n"
        "samples:\n  - {inputs: [1, 2], targets: [0]}\n  - {inputs: [3, -1], targets: [1]}\neta: 0.5\n"
    )
    shown = run("explain", str(path), "--inputs").stdout
    assert "dE_total/di1[1] = " in shown and "dE_total/di2[2] = " in shown


def test_the_compact_form_derives_one_weight_per_layer_and_tables_the_rest():
    import stepprop

    step = stepprop.load().step()
    doc = step.explain(compact=True)
    derived = {eq.name for eq in doc.equations() if eq.name and eq.name.startswith("dE_total/dw")}
    assert derived == {"dE_total/dw5", "dE_total/dw1"}  # the first weight of each layer
    titles = [s.title for s in doc.sections]
    assert titles == [
        "The forward pass",
        "The total error",
        "The backwards pass",
        "The neurons",
        "The updated parameters",
    ]
    # every parameter in the table, every neuron with its recorded numbers
    table = doc.sections[-1].items[0]
    assert [row[0] for row in table.rows] == ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2"]
    names = step.names
    for layer in doc.sections[3].items:
        for neuron, net, out, slope, delta in layer.items[0].rows:
            assert (net.value, out.value) == (names[f"net_{neuron}"], names[f"out_{neuron}"])
            assert slope.value == names[f"dout_{neuron}/dnet_{neuron}"]
            assert delta.value == names[f"delta_{neuron}"]
    # --only chooses the derivations; the tables stay whole
    only = step.explain(["w6"], compact=True)
    assert {eq.name for eq in only.equations() if eq.name and eq.name.endswith("+")} == {"w6+"}
    assert len(only.sections[-1].items[0].rows) == 10


def test_only_keeps_the_forward_pass_unless_told_not_to():
    shown = run("explain", "--only", "w5").stdout
    assert "The forward pass" in shown and "The total error" in shown
    bare = run("explain", "--only", "w5", "--no-forward").stdout
    assert "The forward pass" not in bare and "The total error" not in bare
    assert "dE_total/dw5 = " in bare


def test_the_full_form_has_the_table_of_the_neurons():
    shown = run("explain").stdout
    neurons = shown[shown.index("The neurons") : shown.index("The updated parameters")]
    assert "neuron" in neurons and "dout/dnet" in neurons and "delta" in neurons
    assert "o1      1.10590597   0.75136507  0.186815602    0.138498562" in neurons


THRESHOLDS = """\
inputs: [0.05, 0.1]
targets: [0.01, 0.99]
eta: 0.5
bias_input: -1
layers:
  - weights: [[0.15, 0.2], [0.25, 0.3]]
    bias: [0.35, 0.3]
  - weights: [[0.4, 0.45], [0.5, 0.55]]
    bias: 0.6
"""


def test_biases_as_thresholds_on_an_input_of_minus_one(tmp_path):
    path = tmp_path / "thresholds.yaml"
    path.write_text(THRESHOLDS)
    shown = run("explain", str(path)).stdout
    assert "biases are thresholds: each multiplies a constant input of -1 (bias_input: -1)" in shown
    assert "net_h1 = w1 * i1 + w2 * i2 + b1 * (-1) = 0.15 * 0.05 + 0.2 * 0.1 + 0.35 * (-1) = -0.3225" in shown
    assert "dnet_h1/db1 = -1" in shown and "dnet_o1/db3 = -1" in shown  # per neuron, and the shared b3
    assert "dE_total/db1 = delta_h1 * (-1) = " in shown
    step = json.loads(run("explain", str(path), "--format", "json").stdout)
    assert step["network"]["bias_input"] == -1
    assert step["terms"]["dnet_h1/db1"] == -1.0
    # the gradient of a threshold is minus its neuron's delta; finite differences agree
    assert step["gradients"]["b1"] == -step["terms"]["delta_h1"]
    assert "every gradient agrees" in run("verify", str(path), "--no-torch", code=0).stdout
    # a trained network keeps the convention
    saved = tmp_path / "trained.yaml"
    run("train", str(path), "--epochs", "5", "--save", str(saved), code=0)
    assert "bias_input: -1" in saved.read_text()


def test_a_bias_input_other_than_one_or_minus_one_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(THRESHOLDS.replace("bias_input: -1", "bias_input: 2"))
    result = run("explain", str(path), code=1)
    assert "bias_input must be 1" in result.stderr and ":4:" in result.stderr


def test_delta_as_the_error_term(tmp_path):
    """delta: error (Mitchell, Haykin, Fausett): delta_n = -dE_total/dnet_n, which at
    an output is (target - out) * f'; every gradient and update is the post's."""
    mazur = (config.BUNDLED_DIR / "mazur.yaml").read_text()
    path = tmp_path / "error.yaml"
    path.write_text(mazur + "\ndelta: error\n")
    shown = run("explain", str(path)).stdout
    assert "delta is the error term (delta: error): delta_n = -dE_total/dnet_n" in shown
    assert "delta_o1 = -dE_total/dnet_o1" in shown and "= -0.138498562" in shown
    assert "dE_total/dw5 = -delta_o1 * out_h1 = -(-0.138498562) * 0.593269992 = 0.0821670406" in shown
    # the update as the textbooks write it, w + eta * delta * input: the post's number
    assert (
        "= w5 + eta * delta_o1 * out_h1\n      = 0.4 + 0.5 * (-0.138498562) * 0.593269992\n      = 0.35891648" in shown
    )
    post = json.loads(run("explain", "--format", "json").stdout)
    step = json.loads(run("explain", str(path), "--format", "json").stdout)
    assert step["terms"]["delta_o1"] == -post["terms"]["delta_o1"]
    assert step["terms"]["dE_total/dnet_o1"] == post["terms"]["dE_total/dnet_o1"]
    assert step["gradients"] == post["gradients"] and step["updated"] == post["updated"]
    # a student who used the post's sign is told so
    answers = tmp_path / "answers.yaml"
    answers.write_text("delta_o1: 0.138498562\ndelta_h1: -0.00877135\n")
    graded = json.loads(run("check", str(path), str(answers), "--format", "json").stdout)["answers"]
    assert graded[0]["status"] == "wrong" and graded[0]["note"] == "mistake 4: the gradient's sign: delta = dE/dnet"
    assert graded[1]["status"] == "correct"


def test_the_error_terms_shortcut_is_target_minus_out(tmp_path):
    softmax = (config.BUNDLED_DIR / "softmax.yaml").read_text()
    path = tmp_path / "error.yaml"
    path.write_text(softmax + "\ndelta: error\n")
    shown = run("explain", str(path)).stdout
    assert "delta_o1[1] = target_o1[1] - out_o1[1] = 1 - 0.38805016 = 0.61194984" in shown
    assert "(the shortcut of softmax with cross_entropy: target - out, the same number)" in shown
