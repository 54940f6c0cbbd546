"""Names of every recorded quantity, in the post's notation.

One function, :func:`sym_of`, turns a graph node into its symbol, and the
symbols' ``ascii`` spelling is the name everywhere: in explain's text, in the
JSON keys, and in the answers that ``check`` grades.

* values: ``net_h1``, ``out_h1``, ``E_o1``, ``E_total`` (and ``E``, the mean
  over a batch of several samples);
* gradients of a sample's error: ``dE_total/dout_o1``, ``dE_total/dw5``, and
  ``delta_o1`` (the same as ``dE_total/dnet_o1``);
* local partials recorded by the engine: ``dout_o1/dnet_o1``,
  ``dnet_o1/dw5``, ``dnet_o1/dout_h1``, ``dE_o1/dout_o1``;
* the part of a gradient that flows through one neuron k:
  ``dE_o1/dout_h1`` (the post's name: through o1) is delta_o1 * w5;
* with several samples in a batch, a sample's quantities end in ``[k]``
  (``out_o1[2]``), and ``dE/dw5`` is the gradient of the batch error.

These are the names stepprop works in; a config's ``notation: nielsen`` shows
and reads them in Nielsen's names instead (see :mod:`stepprop.notation`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from .expr import D, Sym, Via
from .optim import PENALIZED, QUANTITIES, state_name
from .rounding import rounder

if TYPE_CHECKING:
    from .config import Config
    from .engine import Node
    from .network import BatchGraph
    from .step import StepTrace


_MARK = r"\[(\d+)\]$"  # a sample's quantity: out_o1[2]


def param_sym(name: str) -> Sym:
    return Sym(name[0], name[1:])


def sym_of(graph: BatchGraph, node: Node) -> Sym:
    """The symbol of a node of a batch graph (made once per node)."""
    known = graph.symbols
    found = known.get(node)
    if found is None:
        found = known[node] = _sym_of(graph, node)
    return found


def _sym_of(graph: BatchGraph, node: Node) -> Sym:
    info = graph.info[node]
    sample = graph.sample_numbers[info.sample] + 1 if (info.sample is not None and graph.multi) else None
    role = info.role
    if role == "param":
        return param_sym(info.base)
    if role == "input":
        return Sym("i", info.base[1:], "", sample)
    if role == "total":
        return Sym("E", "total", "", sample)
    if role == "batch":
        return Sym("E")
    base = {"net": "net", "out": "out", "error": "E", "target": "target"}[role]
    return Sym(base, info.neuron or "", "", sample)


def layer_title(config: Config, li: int) -> str:
    """A layer's title: Output layer, Hidden layer, or Hidden layer 2 with
    several, numbered from 1 (from 2 in Nielsen's notation, the inputs being 1)."""
    n = len(config.layers)
    if li == n - 1:
        return "Output layer"
    first = 2 if config.notation == "nielsen" else 1
    return "Hidden layer" if n == 2 else f"Hidden layer {li + first}"


def change_name(param: str) -> str:
    """The name of a parameter's change in the update (Delta w5): change_w5."""
    return f"change_{param}"


def change_sym(param: str) -> Sym:
    """The symbol of a parameter's change (Delta w5), spelled change_w5."""
    return Sym("change", param)


def error_sym(graph: BatchGraph, s: int) -> Sym:
    """E_total of sample s (0-based position in the batch)."""
    return sym_of(graph, graph.totals[s])


def batch_sym(graph: BatchGraph) -> Sym:
    return sym_of(graph, graph.root)


def delta_sign(config: Config) -> int:
    """delta_n as a multiple of dE_total/dnet_n: 1, or -1 in the error
    convention (``delta: error``: delta_o = (target - out) * f'(net))."""
    return -1 if config.delta == "error" else 1


def delta_sym(graph: BatchGraph, net: Node) -> Sym:
    """delta_o1: the symbol of dE_total/dnet_o1 (made once per net input)."""
    key = (net, "delta")
    found = graph.symbols.get(key)
    if found is None:
        s = sym_of(graph, net)
        found = graph.symbols[key] = Sym("delta", s.sub, "", s.sample)
    return found


def through_sym(graph: BatchGraph, child: Node) -> Sym:
    """E_k, where k is the neuron of ``child``: the error 'through' k."""
    s = sym_of(graph, child)
    return Sym("E", s.sub, "", s.sample)


def direct_sym(graph: BatchGraph, error: Node, net: Node) -> Via:
    """A cross-entropy's direct edge from a net input (used where out is
    saturated): not the path share dE_o2/dnet_o1 through out_o2, so named apart."""
    d = D(sym_of(graph, error), sym_of(graph, net))
    return Via(d, "the direct edge", f"{d.ascii} (direct)")


def is_path_share(graph: BatchGraph, child: Node, parent: Node) -> bool:
    """Whether child <- parent is an edge whose share gets a dE_k/d... name:
    from a neuron into another neuron, or inside the output layer."""
    ci, pi = graph.info[child], graph.info[parent]
    if ci.role not in ("net", "out") or pi.role not in ("net", "out"):
        return False
    last = len(graph.net.config.layers) - 1
    return ci.neuron != pi.neuron or ci.layer == last


def values_of(graph: BatchGraph, samples: Collection[int] | None = None) -> dict[str, float]:
    """Every computed forward quantity by name (``samples``: only those samples'
    and the batch's own, such as its error)."""
    out = {}
    info = graph.info
    for node in graph.tape.nodes:
        if node.op is not None and (samples is None or info[node].sample is None or info[node].sample in samples):
            out[sym_of(graph, node).ascii] = node.data
    return out


def _bare(graph: BatchGraph, node: Node) -> tuple[str, str]:
    """(the node's name without its sample mark, the mark): ('out_h1', '[2]')."""
    known = graph.bare
    found = known.get(node)
    if found is None:
        sym = sym_of(graph, node)
        found = known[node] = (Sym(sym.base, sym.sub, sym.sup).ascii, f"[{sym.sample}]" if sym.sample else "")
    return found


def terms_of(
    trace: StepTrace, at: dict[str, tuple[int, Node]] | None = None, samples: Iterable[int] | None = None
) -> dict[str, float]:
    """Every chain-rule term of a step by name (see the module docstring);
    ``at``, if given, gets each term's sample and the node it is worked out
    at, for ``worked_order``; ``samples`` (positions in the batch): only
    theirs, and the batch's.

    The names are D(num, den).ascii, spelled here from each node's name
    directly: this runs for every re-run of ``check``, on whole batches."""
    graph = trace.graph
    info = graph.info
    sign = delta_sign(trace.config)
    terms: dict[str, float] = {}
    for s in range(len(trace.samples)) if samples is None else samples:
        record = trace.samples[s]
        root, mark = _bare(graph, graph.totals[s])
        adjoints = record.adjoints
        for node in graph.reach(s):  # the parameters and the sample's nodes: linear in the batch
            role = info[node].role
            if role not in ("net", "out", "param") or node not in adjoints:
                continue
            name, own = _bare(graph, node)
            terms[f"d{root}/d{name}{own or mark}"] = adjoints[node]
            if role == "net":
                terms[f"delta_{name[4:]}{own}"] = sign * adjoints[node]
            if at is not None:
                at[f"d{root}/d{name}{own or mark}"] = (s, node)
                if role == "net":
                    at[f"delta_{name[4:]}{own}"] = (s, node)
        for node, value in record.inputs.items():  # the gradient with respect to each input
            name, own = _bare(graph, node)
            terms[f"d{root}/d{name}{own}"] = value
            if at is not None:
                at[f"d{root}/d{name}{own}"] = (s, node)
        contributions = record.contributions
        for node in graph.sample_nodes[s]:
            role = info[node].role
            if node.op is None or role not in ("net", "out", "error"):
                continue
            child, own = _bare(graph, node)
            through = f"E_{info[node].neuron}"
            for j, (parent, partial) in enumerate(zip(node.parents, node.partials)):
                if not parent.requires_grad and info[parent].role != "input":
                    continue  # (a target: nothing to differentiate by)
                if role == "error" and info[parent].role == "net":
                    continue  # a cross-entropy's direct edge, used only where out is saturated
                pname, pmark = _bare(graph, parent)
                suffix = own or pmark
                terms[f"d{child}/d{pname}{suffix}"] = partial
                if (node, j) in contributions and is_path_share(graph, node, parent):
                    terms[f"d{through}/d{pname}{suffix}"] = contributions[(node, j)]
                if at is not None:
                    at[f"d{child}/d{pname}{suffix}"] = at[f"d{through}/d{pname}{suffix}"] = (s, node)
    if graph.multi:
        batch = batch_sym(graph)
        for name, value in trace.gradients.items():
            terms[D(batch, param_sym(name)).ascii] = value
    return terms


def input_gradients(trace: StepTrace) -> dict[str, float]:
    """d E / d input for every input of every sample of the step, by the
    input's name (i1, or i1[2] in a batch): the gradient of the error the step
    descends (a batch's E: its share of each sample's dE_total/di1[k])."""
    graph = trace.graph
    out: dict[str, float] = {}
    for s, record in enumerate(trace.samples):
        scale = graph.root.partials[s] if graph.multi else 1.0
        for node, value in record.inputs.items():
            out[sym_of(graph, node).ascii] = scale * value
    return out


# in a layer, the backward pass works from the errors to the outputs to the net inputs
_BACKWARD = {"error": 1, "out": 2, "net": 3}


def worked_order(trace: StepTrace) -> dict[str, tuple[int, ...]]:
    """Each checkable name's place in the order a worked example (and a student)
    computes it: the forward values and errors in the tape's order; the
    backward pass, sample by sample, layer by layer from the error back to the
    parameters (in a layer: the outputs' terms, then the net inputs'); the
    batch's gradients; the updates; the error after them."""
    graph = trace.graph
    info = graph.info
    layers = len(trace.config.layers)
    order: dict[str, tuple[int, ...]] = {}
    for node in graph.tape.nodes:
        if node.op is not None:
            order[sym_of(graph, node).ascii] = (0, node.index)
    order["error"] = (0, graph.root.index)
    at: dict[str, tuple[int, Node]] = {}
    batch = len(graph.totals)  # the batch's gradients come after every sample
    for name in terms_of(trace, at):
        if name not in at:
            order[name] = (1, batch)
            continue
        s, node = at[name]
        i = info[node]
        layer = -1 if i.role == "param" else layers if i.layer is None else i.layer
        order[name] = (1, s, -layer, _BACKWARD.get(i.role, 0), node.index)
    quantities = trace.optim.quantities if trace.optim is not None else {}
    # the updates as the worked example makes them: the output layer's first, as its backward pass
    params = trace.net.params
    in_order = sorted(trace.updated, key=lambda p: -params[p].layer if p in params else 0)
    for k, p in enumerate(in_order):
        # an optimiser's quantities of the parameter (g_w5, m_w5, ...) come before its change and update
        for j, kind in enumerate(QUANTITIES):
            if state_name(kind, p) in quantities:
                order[state_name(kind, p)] = (2, 2 * k - 1, j)
        order[change_name(p)] = (2, 2 * k)
        order[f"{p}+"] = (2, 2 * k + 1)
    order["error_after"] = order[batch_sym(graph).updated().ascii] = (3,)
    if trace.optim is not None and trace.optim.penalized is not None:  # E_reg after the error, E_reg+ last
        order[PENALIZED.ascii] = (0, graph.root.index, 1)
        order[PENALIZED.updated().ascii] = (3, 1)
    return order


def error_names(trace: StepTrace) -> set[str]:
    """The names of the errors (E_o1, E_total, E, error, ...): forward
    quantities that no step of the backward pass uses."""
    graph = trace.graph
    found = {"error", "error_after", batch_sym(graph).updated().ascii, PENALIZED.ascii, PENALIZED.updated().ascii}
    for node in graph.tape.nodes:
        if graph.info[node].role in ("error", "total", "batch"):
            found.add(sym_of(graph, node).ascii)
    return found


def samples_named(numbers: Sequence[int], wanted: Collection[str] | None) -> list[int] | None:
    """The positions in a batch of the samples ``wanted`` names (out_o1[2]: the
    one numbered 2); ``numbers``: each position's sample number, from 0 (a
    graph's sample_numbers). None for every sample: nothing wanted in
    particular, or a batch of one, whose names have no [k]."""
    if wanted is None or len(numbers) < 2:
        return None
    marks = {m.group(1) for name in wanted if (m := re.search(_MARK, name))}
    return [s for s, number in enumerate(numbers) if str(number + 1) in marks]


def checkable(trace: StepTrace, wanted: Collection[str] | None = None) -> dict[str, float]:
    """Every name a student can check after one step, with its value; with
    ``wanted``, at least those (in a batch, the chain-rule terms of only the
    samples they name: what ``check`` re-runs need, linear in the answers)."""
    graph = trace.graph
    samples = samples_named(graph.sample_numbers, wanted)
    out = dict(values_of(graph, None if samples is None else set(samples)))
    out.update(terms_of(trace, samples=samples))
    out.update({change_name(p): v for p, v in trace.changes.items()})
    out.update({f"{p}+": v for p, v in trace.updated.items()})
    if trace.optim is not None:  # the optimiser's quantities: g_w5, v_w5, m_hat_w5, ...
        out.update(trace.optim.quantities)
        if trace.optim.penalized is not None:  # the error with the L2 penalty, before and after
            out[PENALIZED.ascii], out[PENALIZED.updated().ascii] = trace.optim.penalized
    out["error"] = trace.error
    out["error_after"] = trace.error_after
    # the same two numbers by the names the worked example shows them under
    out[batch_sym(trace.graph).updated().ascii] = trace.error_after
    return out


def environment(trace: StepTrace) -> dict[str, float]:
    """Every symbol a worked example of the step prints, with its value: what
    its equations are evaluated with (the parameters, inputs, targets and eta
    as well as every checkable name)."""
    graph = trace.graph
    out = dict(trace.before)
    eta = trace.config.eta
    if trace.rounding is not None:  # by hand, eta is written down rounded too
        eta = rounder(trace.rounding)(eta)
    out["eta"] = eta
    if trace.optim is not None:  # the hyperparameters (mu, beta_1, ...) and the state before the update
        out.update(trace.optim.hyper)
        out.update(trace.optim.previous())
    for node in graph.tape.nodes:
        info = graph.info[node]
        if info.role in ("input", "target"):
            out[sym_of(graph, node).ascii] = node.data
        if info.role == "error":  # a cross-entropy's direct edges
            for parent, partial in zip(node.parents, node.partials):
                if graph.info[parent].role == "net":
                    out[direct_sym(graph, node, parent).ascii] = partial
    out.update(checkable(trace))
    return out
