"""One training step on one batch, fully recorded.

:func:`step` records the forward pass, runs the backward pass once per sample
(keeping each path's share) and once for the batch, and applies the update
rule.  Its record, :class:`StepTrace`, holds every value, local partial,
gradient and update: everything ``explain`` shows is read from it.

The step knows nothing about mistakes.  A :class:`Variation`, given from
outside, may change it in two general ways, which the training compiler
honours too:

* the update rule, an expression of the parameter ``P``, its gradient ``G``
  and ``eta`` (plain gradient descent is ``P - eta * G``), and groups of
  parameters updated with the sum of the group's gradients;
* replaced local partials (:class:`Override`): a recorded d(node)/d(parent)
  taken as another expression of the parameters, which may read a
  parameter's value after this step's update (``w5+``).  Such a step is
  worked out layer by layer, from the output back, with one backward pass
  per layer.
"""

# no `from __future__ import annotations` here: a NamedTuple of string annotations
# costs start-up a compile per field (annotations naming what comes later are quoted)
import math
from collections.abc import Callable, Collection, Mapping
from typing import NamedTuple

from .config import Config
from .engine import Node, Rounder
from .errors import StepPropError, TrainingDiverged
from .expr import Add, Expr, Neg, Sub, Sym, add, evaluate, symbols
from .network import BatchGraph, Net
from .optim import SGD, START, UPDATED, Assign, P, Settings, State, decayed, penalized, rule, state_name
from .rounding import Rounding, describe
from .words import count


def increment(rule: Expr) -> Expr:
    """What an update rule adds to the parameter P: -eta * G for the post's
    P - eta * G (every rule is P plus or minus a change; anything else is
    written as the rule minus P)."""
    if isinstance(rule, Sub) and rule.a == P:
        return Neg(rule.b)
    if isinstance(rule, Add) and rule.terms[0] == P and len(rule.terms) > 1:
        return add(*rule.terms[1:])
    return Sub(rule, P)


class Override(NamedTuple):
    """The local partial d(node)/d(node.parents[position]) taken as ``value``, an
    expression of parameter symbols (``w7``: its value; ``w5+``: its value
    after the update) and of the node's own numbers (``out``: its value;
    ``x0``, ``x1`` ...: its parents'); ``note`` is what a worked example says
    about it."""

    node: Node
    position: int
    value: Expr
    note: str = ""


class Variation(NamedTuple):
    """How a step may differ from the plain procedure (see the module docstring)."""

    update: Expr = SGD
    pools: tuple[tuple[str, ...], ...] = ()
    overrides: Callable[[Net, BatchGraph], list[Override]] | None = None


PLAIN = Variation()


def batch_combined(graph: BatchGraph) -> Expr:
    """The gradient of a batch's error from its samples' gradients g0, g1, ...:
    their mean (or their sum), as the batch error is of the samples' errors
    (what a hand calculation works out, rounding as it goes)."""
    op = graph.root.op
    assert op is not None and graph.multi
    return op.value([Sym(f"g{s}") for s in range(len(graph.totals))], {})


def batch_gradients(graph: BatchGraph, rounder: Rounder | None, per_sample: list[dict[str, float]] | None = None):
    """d(batch error)/dp for every parameter.

    Exactly, one backward pass from the batch error does it.  A hand
    calculation (``rounder``) of a batch of several samples takes the mean of
    the samples' gradients (``per_sample``, or one backward pass each), which
    is what its worked example shows (or their sum: ``batch_error: sum``)."""
    if rounder is None or not graph.multi:
        graph.tape.backward(graph.root)
        return {name: node.grad for name, node in graph.leaves.items()}
    if per_sample is None:
        per_sample = []
        for s, total in enumerate(graph.totals):
            graph.tape.backward(total, within=graph.reach(s))
            per_sample.append({name: node.grad for name, node in graph.leaves.items()})
    combined = batch_combined(graph)
    return {
        name: evaluate(combined, {f"g{s}": grads[name] for s, grads in enumerate(per_sample)}, rounder)
        for name in graph.leaves
    }


def reads_updated(e: Expr) -> bool:
    """Does an override read a parameter's value after the update?"""
    return any(isinstance(s, Sym) and s.sup == "+" for s in symbols(e))


class OptimRecord(NamedTuple):
    """An optimiser's part of a step (see :mod:`stepprop.optim`): the update's
    number ``t``, the state before it and after it, and every quantity it
    worked out, by name (g_w5, v_w5, m_w5, s_w5, m_hat_w5, s_hat_w5)."""

    settings: Settings
    t: int
    hyper: dict[str, float]  # the hyperparameters as the update used them (by hand: as written, rounded)
    state_before: State
    quantities: dict[str, float]
    state_after: State
    params: tuple[str, ...]  # the parameters updated
    # penalty: l2: the error with the penalty, before and after the update (E_reg, E_reg+)
    penalized: tuple[float, float] | None = None

    def previous(self) -> dict[str, float]:
        """The state before the update, by its names in the rules (v_w5(t-1))."""
        return {
            f"{state_name(kind, p)}(t-1)": self.state_before.of(kind, p)
            for kind in self.settings.state
            for p in self.params
        }


class Updater:
    """Turns gradients into new parameter values under a variation (and
    rounding), by the config's optimiser, from the optimiser's ``state``."""

    def __init__(
        self,
        net: Net,
        variation: Variation,
        rounder: Rounder | None,
        state: State = START,
        rounding: Rounding | None = None,
    ):
        self.settings = net.config.optim
        self.rounding = rounding  # (what a message says of a hand calculation's rounding)
        self.variation = variation
        self.rounder = rounder
        self.eta = rounder(net.config.eta) if rounder is not None else net.config.eta  # by hand, as written
        self.trainable = [name for name, p in net.params.items() if p.trainable]
        self.kinds = {name: p.kind for name, p in net.params.items()}
        self.state = state
        self.t = state.t + 1
        self.pool: dict[str, tuple[str, ...]] = {}
        for group in variation.pools:
            for name in group:
                self.pool[name] = group
        self._rules: dict[str, tuple[tuple[Assign, ...], Expr]] = {}

    def gradient_expr(self, name: str) -> Expr:
        """What G is for this parameter: its gradient, or its group's sum."""
        return add(*(Sym(n) for n in self.pool.get(name, (name,))))

    def rule(self, name: str) -> tuple[Assign, ...]:
        """The optimiser's assignments for parameter ``name`` at this update."""
        return self._rule(name)[0]

    def _rule(self, name: str) -> tuple[tuple[Assign, ...], Expr]:
        """(the assignments, the change the last one makes: what it adds to P), made once per kind."""
        kind = self.kinds[name]
        found = self._rules.get(kind)
        if found is None:
            lines = rule(self.settings, kind, self.t, self.variation.update)
            found = self._rules[kind] = (lines, increment(lines[-1].value))
        return found

    def constants(self) -> dict[str, float]:
        """eta, t and the hyperparameters, as the rules name them (by hand: as written)."""
        r = self.rounder or (lambda x: x)
        found = {"eta": self.eta, "t": float(self.t)}
        found.update({k: r(v) for k, v in self.settings.hyper.items()})
        return found

    def work(
        self, before: dict[str, float], grads: dict[str, float]
    ) -> tuple[dict[str, float], dict[str, float], dict[str, float], State]:
        """(the parameters after the update, each one's change, the optimiser's
        quantities by name, its state after the update)."""
        out = dict(before)
        changes = dict.fromkeys(before, 0.0)
        quantities: dict[str, float] = {}
        state: dict[str, dict[str, float]] = {kind: {} for kind in self.settings.state}
        r = self.rounder
        constants = self.constants()
        for name in self.trainable:
            env = dict(constants)
            env["P"] = before[name]
            env["G"] = evaluate(self.gradient_expr(name), grads, r)
            for kind in self.settings.state:
                env[f"{kind}(t-1)"] = self.state.of(kind, name)
            lines, change = self._rule(name)
            for line in lines:
                try:
                    value = evaluate(line.value, env, r)
                except (ZeroDivisionError, OverflowError, ValueError):
                    what = f"{name}+" if line.kind == UPDATED else state_name(line.kind, name)
                    why = (
                        f": rounded to {describe(self.rounding)}, a number it divides by is 0 (epsilon and a "
                        "small second moment round to 0); round to significant figures instead (--round 4sf)"
                        if self.rounding is not None
                        else "; the numbers of this config overflow: try a smaller eta"
                    )
                    raise TrainingDiverged(f"{what} cannot be worked out at update {self.t}{why}") from None
                if line.kind == UPDATED:
                    out[name] = value
                    changes[name] = evaluate(change, env, r)
                else:
                    env[line.kind] = value
                    quantities[state_name(line.kind, name)] = value
            for kind in self.settings.state:
                state[kind][name] = env[kind]
        return out, changes, quantities, State(self.t, state)

    def with_penalty(self, error: float, values: Mapping[str, float]) -> float:
        """The error with the L2 penalty (penalty: l2) at these parameter values."""
        names = decayed(self.settings, {name: self.kinds[name] for name in self.trainable})
        env = {"E": error, **self.constants(), **{name: values[name] for name in names}}
        return evaluate(penalized(Sym("E"), [Sym(name) for name in names]), env, self.rounder)

    def updated(self, before: dict[str, float], grads: dict[str, float]) -> dict[str, float]:
        return self.work(before, grads)[0]


class SampleRecord(NamedTuple):
    """One sample's part of a step: its adjoints (d E_total / d node) and the
    share of each path (child, position) -> number, as the engine summed them;
    ``inputs``: d E_total / d input, for each of the sample's inputs."""

    adjoints: dict[Node, float]
    contributions: dict[tuple[Node, int], float]
    inputs: dict[Node, float]


def input_gradients(graph: BatchGraph, s: int, rounder: Rounder | None) -> dict[Node, float]:
    """d E_total / d input for each input of sample s, right after the
    sample's backward pass: the shares through the first layer's net inputs
    (each one's gradient times its recorded local partial, the weight), added
    up in the order and with the rounding the engine adds a parameter's."""
    info = graph.info
    first = [graph.by_sample[s][f"net_{n}"] for n in graph.net.neurons[0]]
    found: dict[Node, float] = {}
    for net in reversed(first):  # (the engine goes from the last node back)
        for parent, d in zip(net.parents, net.partials):
            if info[parent].role == "input":
                share = net.grad * d
                found[parent] = found.get(parent, 0.0) + (rounder(share) if rounder is not None else share)
    named = graph.by_sample[s]
    ordered = {named[n]: found[named[n]] for n in graph.net.input_names}
    return ordered if rounder is None else {node: rounder(v) for node, v in ordered.items()}


class StepTrace(NamedTuple):
    """Everything about one training step on one batch."""

    net: Net
    graph: BatchGraph  # values and local partials before the update
    samples: list[SampleRecord]
    gradients: dict[str, float]  # d(batch error)/d p
    before: dict[str, float]  # parameter values before the update
    updated: dict[str, float]  # after the update (unchanged when not trainable)
    changes: dict[str, float]  # what the update added to each parameter (Delta w)
    error: float
    error_after: float  # the batch error with the updated parameters
    batch_index: int = 0
    rounding: Rounding | None = None  # hand-calculation mode: 4 (decimals) or "3sf"
    variation: Variation = PLAIN
    overrides: tuple[Override, ...] = ()
    optim: "OptimRecord | None" = None  # an optimiser's quantities (None: the post's plain update)

    @property
    def config(self) -> Config:
        return self.net.config

    def override(self, node: Node, position: int) -> Override | None:
        for o in self.overrides:
            if o.node is node and o.position == position:
                return o
        return None


def check_finite(
    graph: BatchGraph, what: str, rounding: Rounding | None = None, values: Mapping[Node, float] | None = None
) -> None:
    """Stop at the first value of the graph (or of ``values``, the graph's nodes'
    values computed otherwise) that is not a finite number."""
    if values is None:
        bad = graph.first_bad()
        value = bad.data if bad is not None else 0.0
    else:
        bad = next((node for node in graph.tape.nodes if not math.isfinite(values[node])), None)
        value = values[bad] if bad is not None else 0.0
    if bad is None:
        return
    if rounding is not None:
        raise TrainingDiverged(
            f"{bad.name} is {value} {what}: rounded to {describe(rounding)}, a number reaches the edge of "
            f"its range (an output of exactly 0 or 1); try more digits"
        )
    raise TrainingDiverged(f"{bad.name} is {value} {what}; the numbers of this config overflow")


OUT = Sym("out")


def local(j: int) -> Sym:
    """The value of a node's parent j, in an override (x0, x1, ...)."""
    return Sym(f"x{j}")


def local_values(node: Node) -> dict[str, float]:
    """What an override's ``out`` and ``x0``, ``x1`` ... stand for at a node."""
    found = {f"x{j}": p.data for j, p in enumerate(node.parents)}
    found["out"] = node.data
    return found


def apply_overrides(
    net: Net, graph: BatchGraph, overrides: list[Override], updater: Updater, rounder: Rounder | None = None
) -> None:
    """Put the replaced local partials into the graph (after a forward pass,
    which recomputes them).  Partials that read updated parameters need the
    gradients first: one backward pass per layer, from the output back."""
    values = {name: node.data for name, node in graph.leaves.items()}

    def put(o: Override, env: dict[str, float]) -> None:
        value = evaluate(o.value, {**env, **local_values(o.node)})
        o.node.partials[o.position] = rounder(value) if rounder is not None else value  # as a local partial is

    for o in overrides:
        if not reads_updated(o.value):
            put(o, values)
    later = [o for o in overrides if reads_updated(o.value)]
    if not later:
        return
    for _ in range(len(net.config.layers) - 1):
        grads = batch_gradients(graph, rounder)
        env = dict(values)
        env.update({f"{name}+": v for name, v in updater.updated(values, grads).items()})
        for o in later:
            put(o, env)


def step(
    net: Net,
    batch_index: int = 0,
    rounder: Rounder | None = None,
    rounding: Rounding | None = None,
    variation: Variation = PLAIN,
    recorded: Collection[int] | None = None,
    state: State = START,
) -> StepTrace:
    """One training step on batch ``batch_index`` of the config, fully recorded
    (``recorded``: only these samples' chain-rule records, where nothing else
    needs the others; what a re-run that is not shown works out)."""
    cfg = net.config
    batches = cfg.batches()
    if not 0 <= batch_index < len(batches):
        raise StepPropError(
            f"this config has {count(len(batches), 'batch', 'batches')}; batch {batch_index + 1} does not exist"
        )
    first = batch_index * cfg.effective_batch_size
    leaves = net.leaves()
    if rounder is not None:
        for node in leaves.values():
            node.data = rounder(node.data)
    try:
        graph = net.build(batches[batch_index], leaves, rounder, first)
    except (OverflowError, ZeroDivisionError):
        raise TrainingDiverged(
            "a number of this config is too large to compute with (floating-point overflow); "
            "check the weights and inputs"
        ) from None
    check_finite(graph, "in the forward pass", rounding)
    updater = Updater(net, variation, rounder, state, rounding)
    overrides = variation.overrides(net, graph) if variation.overrides is not None else []
    apply_overrides(net, graph, overrides, updater, rounder)
    tape = graph.tape
    records = []
    for s, total in enumerate(graph.totals):
        if recorded is not None and s not in recorded and rounder is None:
            records.append(SampleRecord({}, {}, {}))  # (a hand calculation needs each sample's gradient)
            continue
        contributions: dict[tuple[Node, int], float] = {}
        reach = graph.reach(s)
        tape.backward(total, contributions, within=reach)
        adjoints = {n: n.grad for n in reach if n.requires_grad}
        records.append(SampleRecord(adjoints, contributions, input_gradients(graph, s, rounder)))
    per_sample = None if rounder is None else [{name: r.adjoints[leaves[name]] for name in net.params} for r in records]
    gradients = batch_gradients(graph, rounder, per_sample)
    for name, value in gradients.items():
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"the gradient dE/d{name} is {value}: the numbers of this config overflow in "
                "the backwards pass; try smaller weights or inputs"
            )
    before = {name: leaves[name].data for name in net.params}
    updated, changes, quantities, state_after = updater.work(before, gradients)
    optim = (
        None
        if updater.settings.plain
        else OptimRecord(
            updater.settings,
            updater.t,
            {h: v for h, v in updater.constants().items() if h not in ("eta", "t")},
            state,
            quantities,
            state_after,
            tuple(updater.trainable),
        )
    )
    try:  # the same batch, forward only, with the updated parameters
        after = tape.values_with({leaves[name]: value for name, value in updated.items()})
    except (OverflowError, ZeroDivisionError):
        raise TrainingDiverged("the updated parameters overflow the forward pass; try a smaller eta") from None
    try:
        check_finite(graph, "after the update", rounding, after)
    except TrainingDiverged as exc:
        raise TrainingDiverged(
            f"{exc}; try a smaller eta (now {cfg.eta:g})" if rounding is None else str(exc)
        ) from None
    if optim is not None and optim.settings.penalty == "l2":
        try:
            pair = (updater.with_penalty(graph.root.data, before), updater.with_penalty(after[graph.root], updated))
        except (OverflowError, ZeroDivisionError, ValueError):
            pair = (math.inf, math.inf)
        if not all(map(math.isfinite, pair)):
            raise TrainingDiverged("the error with the L2 penalty overflows; try a smaller eta or weight_decay")
        optim = optim._replace(penalized=pair)
    return StepTrace(
        net,
        graph,
        records,
        gradients,
        before,
        updated,
        changes,
        graph.root.data,
        after[graph.root],
        batch_index,
        rounding,
        variation,
        tuple(overrides),
        optim,
    )


def steps(
    net: Net,
    number: int,
    rounder: Rounder | None = None,
    rounding: Rounding | None = None,
    variation: Variation = PLAIN,
    first: int = 0,
    recorded: Collection[int] | None = None,
) -> list[StepTrace]:
    """``number`` consecutive steps from batch ``first`` (online: one per
    sample; then the next epoch's), each from the parameters and the
    optimiser's state the one before left (``recorded``: as :func:`step`
    takes it, for the last step)."""
    traces: list[StepTrace] = []
    state = START
    batches = len(net.config.batches())
    for k in range(number):
        last = k == number - 1
        trace = step(net, (first + k) % batches, rounder, rounding, variation, recorded if last else None, state)
        traces.append(trace)
        # (plain gradient descent carries nothing: its rule reads no state and no t)
        state = trace.optim.state_after if trace.optim is not None else START
        net = Net(net.with_values(trace.updated))
    return traces
