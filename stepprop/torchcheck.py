"""The same step in PyTorch (float64), as an independent check of the gradients.

PyTorch is an optional extra: nothing else in stepprop imports it.  The
network is written here with PyTorch's own operations (matrix products,
torch.sigmoid, torch.softmax, ...), from the config's numbers, with the same
semantics: a shared bias is one parameter, the batch error is the mean of the
samples' E_total (or their sum), and each loss is the per-sample sum (or mean) over outputs.
"""

from collections.abc import Sequence
from typing import Any

from . import ops
from .config import Sample
from .network import Net


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def gradients(net: Net, batch: Sequence[Sample]) -> dict[str, float]:
    """d(batch error)/d p for every parameter, by PyTorch autograd."""
    import warnings

    with warnings.catch_warnings():  # e.g. "Failed to initialize NumPy": not needed here
        warnings.simplefilter("ignore")
        import torch

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
