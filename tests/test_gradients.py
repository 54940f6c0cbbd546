"""Every gradient stepprop computes agrees with central finite differences.

Random fully connected networks (1-3 layers of 1-4 neurons, 1-3 inputs,
weights in [-2, 2], every activation, every loss, shared / per-neuron / no
biases, 1-4 samples, any batch size) are written as YAML, loaded with
``config.parse`` and stepped.  The reference numbers never come from the
engine's backward pass:

* finite differences perturb one parameter and re-run the forward pass only
  (``net.build(...).root.data``);
* the forward pass itself is checked against a plain-Python re-implementation
  of the network (:func:`reference_errors`), which also fixes the naming
  convention of the parameters (w1.. row by row and layer by layer, b1..
  layer by layer, one name for a shared bias).

Tolerances.  With the step ``H = 1e-6`` the central difference of a smooth
function is off by about ``H**2 * |E'''| / 6`` (truncation, at most ~1e-9
here) plus the rounding noise of the two forward passes divided by ``H``.
The rounding noise of a forward pass is bounded by ``(number of nodes) *
eps * (largest intermediate magnitude)``; binary cross-entropy adds
``eps * (1 - t) / (1 - out)`` per output for the cancellation in ``1 - out``
(if it is computed from ``out``).
We allow 10 times that noise over ``H``, plus ``1e-6`` relative (truncation)
and ``1e-9`` absolute.  A wrong derivative (a missing factor, a wrong
activation derivative, a path left out or counted twice) is off by far more
for all but vanishing gradients, which is what the tests are for.
ReLU kinks are avoided: examples where some ReLU net input is within 1e-3 of
0 are skipped (a step of 1e-6 in a first-layer weight moves a third-layer
net input by at most ~2e-4 with these bounds).

Also: the update rule, error_after, batch gradient = mean of the samples',
Tape.backward twice, train() = step() after step(), a
40-layer network under a small recursion limit, saturated outputs.
"""

from __future__ import annotations

import math
import random
import sys

import pytest
import yaml
from conftest import networks as cases
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from stepprop import config as configmod
from stepprop import training as training_module
from stepprop.engine import Tape
from stepprop.errors import TrainingDiverged
from stepprop.names import input_gradients
from stepprop.network import Net as Network
from stepprop.step import step
from stepprop.training import train

EPS = sys.float_info.epsilon
H = 1e-6
RELU_MARGIN = 1e-3
CE_LOSSES = ("cross_entropy", "binary_cross_entropy")


# --------------------------------------------------------------- helpers --


def load(text: str):
    cfg = configmod.parse(text, "<hypothesis>")
    return cfg, Network(cfg)


def usable(net: Network, batch_index: int):
    """The batch's graph at the initial values, after skipping examples that
    finite differences cannot judge: a value that is not finite (say the log
    of an output that is exactly 0), a ReLU kink within reach of the step, or
    a step whose update overflows (step refuses it: TrainingDiverged)."""
    cfg = net.config
    graph = net.build(cfg.batches()[batch_index], net.leaves())
    assume(graph.first_bad() is None)
    for li, layer in enumerate(cfg.layers):
        if layer.activation == "relu":
            for node in graph.nets_by_layer[li]:
                assume(abs(node.data) > RELU_MARGIN)
    try:
        step(net, batch_index)
    except TrainingDiverged:
        assume(False)
    return graph


def noise(graph, loss: str) -> float:
    """A bound on the rounding error of one forward pass of ``graph``."""
    nodes = graph.tape.nodes
    big = max(1.0, max(abs(n.data) for n in nodes))
    out = len(nodes) * EPS * big
    if loss == "binary_cross_entropy":
        for named in graph.by_sample:
            for name in graph.net.output_names:
                o = named[f"out_{name}"].data
                t = named[f"target_{name}"].data
                if 0 < o < 1:  # (else the loss cannot be computing log(1 - out))
                    out += EPS * ((1 - t) / (1 - o) + t / o)
    return out


def assert_close_fd(grad: float, fd: float, slack: float, what: str) -> None:
    tol = 1e-6 * max(abs(grad), abs(fd)) + 10 * slack / H + 1e-9
    assert abs(grad - fd) <= tol, f"{what}: engine {grad!r}, finite differences {fd!r} (tolerance {tol:.3g})"


def perturbed(net: Network, batch, values: dict[str, float], name: str):
    """(batch error, per-sample E_total list) at values[name] + H and - H,
    and the step actually taken (after rounding of the perturbed values)."""
    up, down = dict(values), dict(values)
    up[name] = values[name] + H
    down[name] = values[name] - H
    g_up = net.build(batch, net.leaves(up))
    g_down = net.build(batch, net.leaves(down))
    return g_up, g_down, up[name] - down[name]


def param_arrays(cfg, values: dict[str, float]):
    """Per layer: (weight rows, bias per neuron or None), read from ``values``
    by the naming convention alone (not through Network's tables)."""
    out = []
    k = b = 0
    for layer in cfg.layers:
        rows = []
        for row in layer.weights:
            cur = []
            for _ in row:
                k += 1
                cur.append(values[f"w{k}"])
            rows.append(cur)
        out.append(rows)
    result = []
    for layer, rows in zip(cfg.layers, out):
        if layer.bias is None:
            bias = None
        elif isinstance(layer.bias, tuple):
            bias = []
            for _ in layer.bias:
                b += 1
                bias.append(values[f"b{b}"])
        else:
            b += 1
            bias = [values[f"b{b}"]] * len(rows)
        result.append((rows, bias))
    return result


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


def reference_errors(cfg, batch, values: dict[str, float]) -> list[float]:
    """Each sample's E_total, computed without the engine."""
    params = param_arrays(cfg, values)
    totals = []
    for sample in batch:
        xs = list(sample.inputs)
        for layer, (rows, bias) in zip(cfg.layers, params):
            nets = [
                sum(w * x for w, x in zip(row, xs)) + (cfg.bias_input * bias[r] if bias is not None else 0.0)
                for r, row in enumerate(rows)
            ]
            act = layer.activation
            if act == "softmax":
                m = max(nets)
                exps = [math.exp(v - m) for v in nets]
                xs = [e / math.fsum(exps) for e in exps]
            elif act == "sigmoid":
                xs = [_sigmoid(v) for v in nets]
            elif act == "tanh":
                xs = [math.tanh(v) for v in nets]
            elif act == "relu":
                xs = [max(v, 0.0) for v in nets]
            else:
                xs = nets
        n = len(xs)
        terms = []
        for o, t in zip(xs, sample.targets):
            if cfg.loss == "half_squared_error":
                terms.append(0.5 * (t - o) ** 2)
            elif cfg.loss == "mean_squared_error":
                terms.append((t - o) ** 2 / n)
            elif cfg.loss == "cross_entropy":
                terms.append(-t * math.log(o))
            else:
                terms.append(-(t * math.log(o) + (1 - t) * math.log(1 - o)))
        totals.append(math.fsum(terms))
    return totals


def abs_adjoints(graph, root) -> dict:
    """d root / d node with every local partial replaced by its absolute
    value: the size of the terms that backpropagation adds up, to scale the
    tolerance of comparisons between two ways of summing them."""
    acc = {root: 1.0}
    for node in reversed(graph.tape.nodes):
        a = acc.get(node, 0.0)
        if a == 0.0 or node.op is None:
            continue
        for parent, d in zip(node.parents, node.partials):
            acc[parent] = acc.get(parent, 0.0) + a * abs(d)
    return acc


def close(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b)) + abs_


# ----------------------------------------------------------------- tests --


@settings(max_examples=80, deadline=None)
@given(cases())
def test_batch_gradients_match_finite_differences(case):
    text, batch_index = case
    cfg, net = load(text)
    graph = usable(net, batch_index)
    trace = step(net, batch_index)
    assert set(trace.gradients) == set(net.params)
    batch = cfg.batches()[batch_index]
    for name in net.params:
        g_up, g_down, h2 = perturbed(net, batch, net.values, name)
        fd = (g_up.root.data - g_down.root.data) / h2
        slack = max(noise(g_up, cfg.loss), noise(g_down, cfg.loss), noise(graph, cfg.loss))
        assert_close_fd(trace.gradients[name], fd, slack, f"dE/d{name}")


@settings(max_examples=50, deadline=None)
@given(cases(min_samples=2, min_batch=2))
def test_per_sample_gradients_match_finite_differences(case):
    text, batch_index = case
    cfg, net = load(text)
    graph = usable(net, batch_index)
    trace = step(net, batch_index)
    batch = cfg.batches()[batch_index]
    assert len(trace.samples) == len(batch)
    for name in net.params:
        g_up, g_down, h2 = perturbed(net, batch, net.values, name)
        slack = max(noise(g_up, cfg.loss), noise(g_down, cfg.loss), noise(graph, cfg.loss))
        leaf = trace.graph.leaves[name]
        for s, record in enumerate(trace.samples):
            fd = (g_up.totals[s].data - g_down.totals[s].data) / h2
            assert_close_fd(record.adjoints[leaf], fd, slack, f"dE_total[{s + 1}]/d{name}")


@settings(max_examples=50, deadline=None)
@given(cases())
def test_input_gradients_match_finite_differences(case):
    """dE_total/di of each sample, and d(batch error)/di, against moving one
    input of one sample (the others, and every parameter, left as they are)."""
    text, batch_index = case
    cfg, net = load(text)
    graph = usable(net, batch_index)
    trace = step(net, batch_index)
    by_name = input_gradients(trace)
    assert len(by_name) == len(trace.samples) * len(net.input_names)
    batch = cfg.batches()[batch_index]
    for s, sample in enumerate(batch):
        record = trace.samples[s]
        assert list(record.inputs) == [trace.graph.by_sample[s][n] for n in net.input_names]
        for k, name in enumerate(net.input_names):

            def moved(by: float, s: int = s, k: int = k, sample=sample):
                inputs = list(sample.inputs)
                inputs[k] += by
                changed = list(batch)
                changed[s] = sample._replace(inputs=tuple(inputs))
                return net.build(changed, net.leaves()), inputs[k]

            (g_up, x_up), (g_down, x_down) = moved(H), moved(-H)
            slack = max(noise(g_up, cfg.loss), noise(g_down, cfg.loss), noise(graph, cfg.loss))
            node = trace.graph.by_sample[s][name]
            fd = (g_up.totals[s].data - g_down.totals[s].data) / (x_up - x_down)
            assert_close_fd(record.inputs[node], fd, slack, f"dE_total[{s + 1}]/d{name}")
            fd_batch = (g_up.root.data - g_down.root.data) / (x_up - x_down)
            key = name + (f"[{trace.graph.sample_numbers[s] + 1}]" if trace.graph.multi else "")
            assert_close_fd(by_name[key], fd_batch, slack, f"dE/d{key}")


@settings(max_examples=30, deadline=None)
@given(cases())
def test_update_rule(case):
    text, batch_index = case
    cfg, net = load(text)
    usable(net, batch_index)
    trace = step(net, batch_index)
    assert trace.before == net.values
    assert set(trace.updated) == set(net.params)
    for name, param in net.params.items():
        before = trace.before[name]
        is_bias = name.startswith("b")
        assert param.kind == ("bias" if is_bias else "weight")
        if is_bias and not cfg.update_biases:
            assert trace.updated[name] == before, name
            assert trace.changes[name] == 0.0, name
        else:
            expected = before - cfg.eta * trace.gradients[name]
            assert trace.updated[name] == expected, (name, trace.updated[name], expected)
            # the change is worked out on its own: exactly -eta * dE/dw, and w+ = w + change
            assert trace.changes[name] == -(cfg.eta * trace.gradients[name]), name
            assert trace.updated[name] == before + trace.changes[name], name


@settings(max_examples=30, deadline=None)
@given(cases())
def test_error_before_and_after_the_update(case):
    text, batch_index = case
    cfg, net = load(text)
    usable(net, batch_index)
    trace = step(net, batch_index)
    batch = cfg.batches()[batch_index]
    # the engine's forward pass agrees with an independent one ...
    before = reference_errors(cfg, batch, net.values)
    assert close(trace.error, batch_of(cfg, before), 1e-9, 1e-12)
    for total, ref in zip(trace.graph.totals, before):
        assert close(total.data, ref, 1e-9, 1e-12)
    # ... and error_after is the batch error at the updated values
    again = net.build(batch, net.leaves(trace.updated)).root.data
    assert trace.error_after == again  # the same forward pass
    after = reference_errors(cfg, batch, trace.updated)
    if all(math.isfinite(e) for e in after):
        assert close(trace.error_after, batch_of(cfg, after), 1e-9, 1e-12)


@settings(max_examples=40, deadline=None)
@given(cases(min_batch=2))
def test_batch_gradient_is_mean_of_sample_gradients(case):
    """... or their sum, where the batch error is the sum of the samples' (batch_error: sum)."""
    text, batch_index = case
    cfg, net = load(text)
    usable(net, batch_index)
    trace = step(net, batch_index)
    n = len(trace.samples)
    assert n == len(cfg.batches()[batch_index])
    scale = abs_adjoints(trace.graph, trace.graph.root)
    for name in net.params:
        leaf = trace.graph.leaves[name]
        per_sample = [record.adjoints[leaf] for record in trace.samples]
        expected = batch_of(cfg, per_sample)
        g = trace.gradients[name]
        if n == 1:
            assert g == per_sample[0], name
        assert abs(g - expected) <= 1e-12 * scale.get(leaf, 0.0) + 1e-300, (name, g, expected, per_sample)


def batch_of(cfg, values: list[float]) -> float:
    """The batch's number from its samples': their mean, or (batch_error: sum) their sum."""
    return math.fsum(values) / len(values) if cfg.batch_error == "mean" else math.fsum(values)


@settings(max_examples=25, deadline=None)
@given(cases())
def test_backward_twice_gives_the_same_gradients(case):
    text, batch_index = case
    cfg, net = load(text)
    graph = net.build(cfg.batches()[batch_index], net.leaves())
    assume(graph.first_bad() is None)
    tape = graph.tape
    tape.backward(graph.root)
    first = [node.grad for node in tape.nodes]
    tape.backward(graph.root)
    assert [node.grad for node in tape.nodes] == first
    # another root in between, with contributions recorded, leaves no trace
    contributions: dict = {}
    tape.backward(graph.totals[-1], contributions)
    tape.backward(graph.root)
    assert [node.grad for node in tape.nodes] == first
    # and a step from the same network gives the same gradients every time
    a = step(net, batch_index).gradients
    b = step(net, batch_index).gradients
    assert a == b
    assert a == {name: graph.leaves[name].grad for name in net.params}


@settings(max_examples=20, deadline=None)
@given(cases(), st.integers(1, 3))
def test_training_follows_the_steps(case, epochs):
    """train() makes exactly the updates of step() on each batch in turn
    (step() is checked above); test_training checks that more widely."""
    text, _ = case
    cfg, net = load(text)
    values = dict(net.values)
    current = net
    try:
        for _ in range(epochs):
            for b in range(len(cfg.batches())):
                values = step(current, b).updated
                current = Network(current.with_values(values))
    except TrainingDiverged:
        assume(False)  # a forward pass overflowed (log of 0): nothing to compare
    result = train(Network(cfg), epochs)
    assert result.values == values  # bit for bit


@pytest.mark.parametrize(
    "loss, act, nets",
    [
        ("binary_cross_entropy", "sigmoid", [40.0, -40.0]),  # out is exactly 1.0 in floating point
        ("binary_cross_entropy", "sigmoid", [800.0, -800.0]),  # exactly 1.0 and 0.0
        ("cross_entropy", "softmax", [800.0, -800.0]),  # the second share underflows to 0.0
        ("cross_entropy", "softmax", [30.0, -30.0]),
        ("half_squared_error", "sigmoid", [800.0, -800.0]),
        # between about -745 and -710 an output is a subnormal number, not 0:
        # the error is finite, and t / out would overflow, so the direct path is taken
        ("binary_cross_entropy", "sigmoid", [-720.0, 0.0]),
        ("cross_entropy", "softmax", [-720.0, 0.0]),
    ],
)
def test_saturated_outputs(loss, act, nets):
    """Outputs at (or within rounding of) 0 and 1: the error stays finite
    and the gradients are still its derivatives.  One layer, so that
    d E / d net_r is known in closed form as well."""
    t = [0.3, 0.6]
    x = [1.0, 0.5]
    doc = {
        "inputs": x,
        "targets": t,
        "eta": 0.1,
        "loss": loss,
        "layers": [{"weights": [[v, 0.0] for v in nets], "bias": [0.25, -0.25], "activation": act}],
    }
    cfg = configmod.parse(yaml.safe_dump(doc), "<saturated>")
    net = Network(cfg)
    trace = step(net)
    assert math.isfinite(trace.error) and math.isfinite(trace.error_after)
    z = [v + b for v, b in zip(nets, [0.25, -0.25])]
    if act == "softmax":
        m = max(z)
        e = [math.exp(v - m) for v in z]
        out = [v / math.fsum(e) for v in e]
    else:
        out = [_sigmoid(v) for v in z]
    if loss == "binary_cross_entropy":
        dnet = [o - tt for o, tt in zip(out, t)]
    elif loss == "cross_entropy" and act == "sigmoid":
        dnet = [-tt * (1 - o) for o, tt in zip(out, t)]
    elif loss == "cross_entropy":
        dnet = [-tt + o * sum(t) for o, tt in zip(out, t)]
    else:
        dnet = [-(tt - o) * o * (1 - o) for o, tt in zip(out, t)]
    expected = {
        "w1": dnet[0] * x[0],
        "w2": dnet[0] * x[1],
        "w3": dnet[1] * x[0],
        "w4": dnet[1] * x[1],
        "b1": dnet[0],
        "b2": dnet[1],
    }
    batch = cfg.batches()[0]
    for name, want in expected.items():
        assert close(trace.gradients[name], want, 1e-9, 1e-12), (name, trace.gradients[name], want)
        g_up, g_down, h2 = perturbed(net, batch, net.values, name)
        fd = (g_up.root.data - g_down.root.data) / h2
        assert_close_fd(trace.gradients[name], fd, max(noise(g_up, loss), noise(g_down, loss)), f"dE/d{name}")


def _deep_config(n_layers: int, act: str, seed: int) -> configmod.Config:
    """n_layers of width 2: rotations (so that gradients neither vanish nor
    explode), a sigmoid output layer, two samples."""
    rng = random.Random(seed)
    layers = []
    for li in range(n_layers):
        a = rng.uniform(-math.pi, math.pi)
        c, s = math.cos(a), math.sin(a)
        layer = {"weights": [[c, -s], [s, c]], "bias": [rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)]}
        layer["activation"] = "sigmoid" if li == n_layers - 1 else act
        layers.append(layer)
    doc = {
        "samples": [{"inputs": [0.6, -0.8], "targets": [0.2, 0.9]}, {"inputs": [-0.3, 0.5], "targets": [0.7, 0.1]}],
        "eta": 0.5,
        "layers": layers,
    }
    return configmod.parse(yaml.safe_dump(doc), "<deep>")


def _frames() -> int:
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


@pytest.mark.parametrize("act", ["linear", "tanh"])
def test_deep_network(act):
    n_layers = 40
    cfg = _deep_config(n_layers, act, seed=n_layers)
    net = Network(cfg)
    graph = net.build(cfg.batches()[0], net.leaves())
    # the graph is far deeper than the stack we allow the backward pass:
    # anything recursive per node (or per layer) would fail here
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + 25)
    try:
        graph.tape.backward(graph.root)
    finally:
        sys.setrecursionlimit(old)
    grads = {name: graph.leaves[name].grad for name in net.params}
    trace = step(net)
    assert trace.gradients == grads
    for name in net.params:
        g_up, g_down, h2 = perturbed(net, cfg.batches()[0], net.values, name)
        fd = (g_up.root.data - g_down.root.data) / h2
        assert_close_fd(grads[name], fd, max(noise(g_up, cfg.loss), noise(g_down, cfg.loss)), f"dE/d{name}")
    # the first layer's weights are still reached
    assert max(abs(grads[f"w{k}"]) for k in range(1, 5)) > 1e-6
    assert train(Network(cfg), 1).values == trace.updated  # bit for bit


def test_deep_tape_backward_without_recursion():
    """A plain chain of 5000 operations on the tape itself."""
    tape = Tape()
    x = tape.leaf("x", 0.3)
    node = x
    for k in range(5000):
        node = tape.apply("tanh" if k % 2 else "linear", [node], f"n{k}")
    tape.backward(node)
    expected = 1.0
    v = 0.3
    for k in range(5000):
        if k % 2:
            v = math.tanh(v)
            expected *= 1 - v * v
    assert close(x.grad, expected, 1e-9)
    assert x.grad != 0.0


def test_large_network_training_matches_steps():
    """Enough samples that the compiled trainer writes one function per
    sample instead of inlining the epoch; its updates must still be step()'s."""
    rng = random.Random(3)
    doc = {
        "samples": [
            {"inputs": [rng.uniform(-1, 1) for _ in range(3)], "targets": [rng.uniform(0.1, 0.9) for _ in range(3)]}
            for _ in range(200)
        ],
        "eta": 0.3,
        "batch_size": 7,
        "loss": "binary_cross_entropy",
        "layers": [
            {"weights": [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(4)], "bias": 0.1, "activation": "tanh"},
            {
                "weights": [[rng.uniform(-2, 2) for _ in range(4)] for _ in range(3)],
                "bias": [0.2, -0.1, 0.0],
                "activation": "softmax",
            },
        ],
    }
    cfg = configmod.parse(yaml.safe_dump(doc), "<large>")
    net = Network(cfg)
    inline_nodes = training_module.INLINE_NODES
    assert sum(len(net.build(b, net.leaves()).tape.nodes) for b in cfg.batches()) > inline_nodes
    current = net
    values = dict(net.values)
    for b in range(len(cfg.batches())):
        values = step(current, b).updated
        current = Network(current.with_values(values))
    assert train(Network(cfg), 1).values == values  # bit for bit
