"""What the network diagram shows, read off a recorded step.

A :class:`Diagram` lists the columns of neurons (inputs, hidden layers,
outputs), the bias nodes, and every edge with the parameter it carries and
the number to print on it: the weight before the step, after it
(``--after``), or its gradient (``--gradients``).  Layout and drawing are
the views' business (``stepprop.views.diagram``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import names as N
from .errors import StepPropError
from .expr import D

if TYPE_CHECKING:
    from .step import StepTrace

MODES = ("before", "after", "gradients")


@dataclass(frozen=True)
class DNode:
    id: str  # i1, h1, o1, or bias1 (the bias node of layer 1)
    column: int  # 0 = inputs
    title: str  # the text in the circle
    caption: str = ""  # beside it, before the number: "target", "b1 ="
    value: float | None = None  # the number beside it: an input, a target, a shared bias
    bias: bool = False


@dataclass(frozen=True)
class DEdge:
    source: str
    target: str
    name: str | None  # w5, b1; None for an edge whose bias is labelled on its node
    label: str | None  # what the number is called: w5, w5+, dE_total/dw5
    value: float | None


@dataclass(frozen=True)
class Diagram:
    columns: list[list[DNode]]
    biases: list[DNode]
    edges: list[DEdge]
    mode: str
    title: str
    activations: list[str]
    numbering: int = 0  # added to a layer's number where it is written (Nielsen's: 1, the inputs being layer 1)


def diagram(trace: StepTrace, mode: str = "before") -> Diagram:
    if mode not in MODES:
        raise StepPropError(f"no diagram mode '{mode}': choose one of {', '.join(MODES)}")
    net = trace.net
    cfg = net.config
    g = trace.graph
    first = g.by_sample[0]

    def number(pname: str) -> tuple[str, float]:
        if mode == "after":
            return f"{pname}+", trace.updated[pname]
        if mode == "gradients":
            return D(N.batch_sym(g), N.param_sym(pname)).ascii, trace.gradients[pname]
        return pname, trace.before[pname]

    columns = [[DNode(n, 0, n, "", first[n].data) for n in net.input_names]]
    for li, neurons in enumerate(net.neurons):
        last = li == len(net.neurons) - 1
        column = []
        for n in neurons:
            if last:
                column.append(DNode(n, li + 1, n, "target", first[f"target_{n}"].data))
            else:
                column.append(DNode(n, li + 1, n))
        columns.append(column)
    edges: list[DEdge] = []
    biases: list[DNode] = []
    for li, layer in enumerate(cfg.layers):
        sources = net.input_names if li == 0 else net.neurons[li - 1]
        for r, target in enumerate(net.neurons[li]):
            for c, source in enumerate(sources):
                pname = net.weight_names[li][r][c]
                label, value = number(pname)
                edges.append(DEdge(source, target, pname, label, value))
        bnames = net.bias_names[li]
        if bnames is None:
            continue
        bias_id = f"bias{li + 1}"
        if isinstance(layer.bias, tuple):
            biases.append(DNode(bias_id, li, f"{cfg.bias_input:g}", bias=True))  # the constant input: 1 or -1
            for target, pname in zip(net.neurons[li], bnames):
                label, value = number(pname)
                edges.append(DEdge(bias_id, target, pname, label, value))
        else:
            label, value = number(bnames[0])
            biases.append(DNode(bias_id, li, bnames[0], f"{label} =", value, bias=True))
            for target in net.neurons[li]:
                edges.append(DEdge(bias_id, target, None, None, None))
    what = {"before": "the weights", "after": "the weights after one step", "gradients": "the gradients of one step"}[
        mode
    ]
    sample = " (inputs and targets of sample 1)" if len(cfg.samples) > 1 else ""
    return Diagram(
        columns, biases, edges, mode, f"network {net.shape}: {what}{sample}", [layer.activation for layer in cfg.layers]
    )
