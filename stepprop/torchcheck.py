"""The same step in PyTorch (float64), as an independent check of the gradients.

PyTorch is an optional extra: nothing else in stepprop imports it.  The
network is written here with PyTorch's own operations (matrix products,
torch.sigmoid, torch.softmax, ...), from the config's numbers, with the same
semantics: a shared bias is one parameter, the batch error is the mean of the
samples' E_total (or their sum), and each loss is the per-sample sum (or mean) over outputs.
An expression's graph is built node by node, each operation PyTorch's own
(``Op.torch``: torch.exp, torch.maximum, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import ops
from .config import Sample
from .network import Net

if TYPE_CHECKING:
    from .graph import GraphTrace


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _torch() -> Any:
    import warnings

    with warnings.catch_warnings():  # e.g. "Failed to initialize NumPy": not needed here
        warnings.simplefilter("ignore")
        import torch
    return torch


def gradients(net: Net, batch: Sequence[Sample]) -> dict[str, float]:
    """d(batch error)/d p for every parameter, by PyTorch autograd."""
    torch = _torch()
    d = torch.float64
    cfg = net.config
    weights: list[Any] = []
    biases: list[Any] = []
    for layer in cfg.layers:
        weights.append(torch.tensor(layer.weights, dtype=d, requires_grad=True))
        if layer.bias is None:
            biases.append(None)
        elif isinstance(layer.bias, tuple):
            biases.append(torch.tensor(layer.bias, dtype=d, requires_grad=True))
        else:
            biases.append(torch.tensor(layer.bias, dtype=d, requires_grad=True))  # one scalar, broadcast
    x = torch.tensor([s.inputs for s in batch], dtype=d)  # samples x inputs
    t = torch.tensor([s.targets for s in batch], dtype=d)
    out = x
    for layer, w, b in zip(cfg.layers, weights, biases):
        net_in = out @ w.T
        if b is not None:
            net_in = net_in + cfg.bias_input * b  # (a threshold, bias_input: -1, is subtracted)
        act = ops.activation(layer.activation)
        out = act.torch(torch, net_in, act.attrs_of(cfg))
    loss = ops.loss(cfg.loss)
    per_sample = loss.torch(torch, out, t, loss.attrs_of(cfg))
    error = ops.reduction(cfg.batch_error).torch(torch, per_sample)  # their mean, or their sum
    error.backward()
    grads: dict[str, float] = {}
    for li in range(len(cfg.layers)):
        gw = weights[li].grad
        for r, row in enumerate(net.weight_names[li]):
            for c, name in enumerate(row):
                grads[name] = float(gw[r, c])
        names = net.bias_names[li]
        if names is not None:
            gb: Any = biases[li].grad
            if gb.dim() == 0:
                grads[names[0]] = float(gb)
            else:
                for r, name in enumerate(names):
                    grads[name] = float(gb[r])
    return grads


def expression_gradients(trace: GraphTrace) -> dict[str, float]:
    """d output / d input (df/dx) for every input of an expression's graph,
    by PyTorch autograd: the same nodes, each operation PyTorch's own."""
    torch = _torch()
    tensors: dict[Any, Any] = {}
    for node in trace.nodes[: trace.output.index + 1]:
        if node.op is None:  # an input, or a constant (no gradient)
            tensors[node] = torch.tensor(node.data, dtype=torch.float64, requires_grad=node.requires_grad)
        else:
            op: Any = node.op  # (an expression's op: ops.Basic, or an activation)
            tensors[node] = op.torch(torch, *(tensors[p] for p in node.parents), attrs=node.attrs)
    inputs = trace.inputs
    out = tensors[trace.output]
    if not inputs or not out.requires_grad:  # (an output of constants alone)
        return {trace.gradient_name(n): 0.0 for n in inputs}
    found = torch.autograd.grad(out, [tensors[n] for n in inputs], allow_unused=True)
    # (an input the output does not depend on, under output:, has no gradient: 0)
    return {trace.gradient_name(n): 0.0 if g is None else float(g) for n, g in zip(inputs, found)}
