"""The worked example: names, numbering, --only.  (That every printed
equation evaluates to its number is tests/test_equations.py.)"""

import pytest
from conftest import CONFIGS

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
