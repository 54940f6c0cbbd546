"""The worked example is read off the recorded trace: one source of truth."""

import ast
from pathlib import Path

import pytest

from stepprop import config, derivation, network
from stepprop.check import checkable
from stepprop.expr import Document, Eq, Num, Section

PACKAGE = Path(__file__).resolve().parent.parent / "stepprop"
CONFIGS = sorted((PACKAGE / "configs").glob("*.yaml"))


def walk(items):
    for item in items:
        if isinstance(item, Section):
            yield from walk(item.items)
        else:
            yield item


def equations(doc: Document):
    for section in doc.sections:
        yield from (i for i in walk(section.items) if isinstance(i, Eq))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_named_equation_shows_the_recorded_number(path):
    net = network.Network(config.load(path))
    for batch in range(len(net.config.batches())):
        trace = network.step(net, batch)
        known = checkable(trace)
        doc = derivation.explain(trace)
        named = [eq for eq in equations(doc) if eq.name]
        assert named
        for eq in named:
            assert eq.name in known, eq.name
            last = eq.rhs[-1]
            assert isinstance(last, Num), eq
            assert last.value == known[eq.name], (eq.name, last.value, known[eq.name])
        # every parameter gets its derivation and its update
        defined = {eq.name for eq in named}
        for p in net.params:
            assert f"{p}+" in defined
            grad = f"dE/d{p}" if trace.graph.multi else f"dE_total/d{p}"
            assert grad in defined


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_only_restricts_to_the_named_parameters(path):
    net = network.Network(config.load(path))
    trace = network.step(net)
    first = net.param_order()[-1]
    doc = derivation.explain(trace, [first])
    updates = {eq.name for eq in equations(doc) if eq.name and eq.name.endswith("+")}
    assert updates == {f"{first}+"}


def test_weight_numbering_follows_the_post():
    net = network.Network(config.load())
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
    net = network.Network(config.load(PACKAGE / "configs" / "tanh-relu.yaml"))
    flat = [n for layer in net.neurons for n in layer]
    assert flat == ["h1_1", "h1_2", "h1_3", "h2_1", "h2_2", "o1"]
    assert len(set(flat)) == len(flat)


def test_a_layer_may_name_its_neurons():
    cfg = config.parse(
        "inputs: [1, 2]\ntargets: [0.5]\neta: 0.1\n"
        "layers:\n  - {name: g, weights: [[0.1, 0.2], [0.3, 0.4]]}\n  - {weights: [[0.5, 0.6]]}\n"
    )
    assert network.Network(cfg).neurons == [["g1", "g2"], ["o1"]]


def test_per_neuron_biases_are_numbered_in_order():
    cfg = config.parse(
        "inputs: [1, 2]\ntargets: [0.5]\neta: 0.1\n"
        "layers:\n  - {weights: [[0.1, 0.2], [0.3, 0.4]], bias: [0.1, 0.2]}\n  - {weights: [[0.5, 0.6]], bias: 0.3}\n"
    )
    net = network.Network(cfg)
    assert [(b, net.params[b].targets) for b in ("b1", "b2", "b3")] == [
        ("b1", ("h1",)),
        ("b2", ("h2",)),
        ("b3", ("o1",)),
    ]


COMPUTATION = [
    "config.py",
    "engine.py",
    "network.py",
    "names.py",
    "derivation.py",
    "expr.py",
    "report.py",
    "check.py",
    "mistakes.py",
    "diagram.py",
    "errors.py",
    "files.py",
]


@pytest.mark.parametrize("module", COMPUTATION)
def test_computation_never_imports_click_or_rich(module):
    tree = ast.parse((PACKAGE / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""]
        else:
            continue
        for mod in mods:
            assert mod.split(".")[0] not in ("click", "rich"), (module, mod)
