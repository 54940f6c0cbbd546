"""Evidence that the gradients are right: `stepprop verify`.

Every gradient of one step of a network (d batch error / d parameter), or
of an expression (d output / d input: df/dx), is compared with

* central finite differences, computed by forward passes only (no backward
  pass is involved), and
* PyTorch's autograd in float64 with the same semantics, when PyTorch is
  installed (an optional extra; stepprop never needs it to run).

A sceptical reader can run this on any config: two independent methods must
agree with the engine's numbers.  Where a finite difference says nothing
(a step that may cross a kink, where a derivative jumps; a step that leaves
where the expression has a value), the row says so and is not failed.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .config import Config
from .document import Document, Section, Table
from .expr import Num, fmt
from .network import Net
from .step import step

if TYPE_CHECKING:
    from .engine import Node
    from .graph import Expression, GraphTrace

TOLERANCE = 1e-6  # relative, against finite differences and against PyTorch
ABSOLUTE = 1e-9  # below this, a difference is rounding noise around zero
KINK_WIDTH = 1e-4  # an input this close to a kink may be crossed by a finite-difference step
NO_TORCH = "PyTorch is not installed: pip install 'stepprop[torch]' to compare with its autograd too"


class Row(NamedTuple):
    name: str
    engine: float
    numeric: float | None  # (None: the finite difference has no value, see note)
    numeric_error: float | None
    torch: float | None
    torch_error: float | None
    ok: bool
    note: str


@dataclass(frozen=True)
class Verification:
    """Every gradient of one step (or of an expression) beside its independent
    recomputations."""

    config: Config | Expression
    rows: list[Row]
    torch_available: bool
    torch_note: str
    h: float
    batch: int = 1

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stepprop": 1, "command": "verify", "config": self.config.source}
        if isinstance(self.config, Config):
            out["ok"] = self.ok
        else:
            out.update(kind="expression", output=self.config.output, inputs=self.config.inputs, ok=self.ok)
        out.update(
            {
                "tolerance": TOLERANCE,
                "finite_difference_step": self.h,
                "torch": self.torch_available,
                "torch_note": self.torch_note,
                "gradients": [r._asdict() for r in self.rows],
            }
        )
        return out

    def document(self) -> Document:
        """The table a reader sees (``stepprop verify``)."""
        network = isinstance(self.config, Config)
        headers = ["parameter" if network else "gradient", "engine", "finite difference", "rel. error"]
        if self.torch_available:
            headers += ["PyTorch", "rel. error"]
        headers += ["result", "note"]
        rows: list[list] = []
        for r in self.rows:
            row: list = [r.name, Num(r.engine), _shown(r.numeric), _error(r.numeric_error)]
            if self.torch_available:
                row += [_shown(r.torch), _error(r.torch_error)]
            row += ["ok" if r.ok else "DISAGREES", r.note]
            rows.append(row)
        if isinstance(self.config, Config):
            intro = [f"network from {self.config.source}, batch {self.batch}"]
            each = "|p|)"
        else:
            e = self.config
            intro = [f"the expression from {e.source}: the gradients of {e.output} with respect to its inputs"]
            each = "|x|) for each input x"
        intro.append(
            f"central finite differences with step h = {self.h:g} x max(1, {each}; tolerance "
            f"{TOLERANCE:g} relative (or {ABSOLUTE:g} absolute)"
        )
        if self.torch_note:
            intro.append(self.torch_note)
        verdict = "every gradient agrees" if self.ok else "SOME GRADIENTS DISAGREE"
        return Document(
            f"Verifying the gradients: {verdict}", intro, [Section("The gradients", [Table(headers, rows)])]
        )


def _shown(x: float | None) -> Num | str:
    return "" if x is None else Num(x)


def _error(x: float | None) -> str:
    return "" if x is None else f"{x:.1e}"


def relative(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= ABSOLUTE or relative(a, b) <= TOLERANCE


def _torch_gradients(
    compute: Callable[[Any], dict[str, float]], use_torch: bool
) -> tuple[dict[str, float] | None, str]:
    """PyTorch's gradients, ``compute(torchcheck)``, when it is installed and
    wanted; else None, and what to say about it."""
    if not use_torch:
        return None, ""
    from . import torchcheck

    if not torchcheck.available():
        return None, NO_TORCH
    return compute(torchcheck), ""


def _row(
    name: str,
    engine: float,
    ends: tuple[float, float] | None,
    step_size: float,
    scale: float,
    kink: str | None,
    t: float | None,
    refine: Callable[[], tuple[float, float] | None] | None = None,
) -> Row:
    """One gradient beside the central finite difference of the function's
    values at ± ``step_size`` (``ends``; None: it has none there) and
    PyTorch's ``t``.  ``scale``: the size of the numbers the function adds
    up, for its rounding noise; ``kink``: a node whose kink the step may
    cross; ``refine()``: where the difference disagrees or has no value,
    another estimate from smaller steps and its error (None: none)."""
    torch_ok = t is None or _agree(engine, t)
    torch_error = None if t is None else relative(engine, t)
    numeric = None
    if ends is not None:
        up, down = ends
        numeric = (up - down) / (2 * step_size)
        # a finite difference of large numbers carries rounding noise of about
        # eps * |f| / h: a disagreement within it says nothing about the engine
        noise = 16 * sys.float_info.epsilon * max(abs(up), abs(down), scale) / step_size
        within_noise = abs(engine - numeric) <= noise
        note = ""
        if not _agree(engine, numeric):
            if kink is not None:
                note = f"{kink} is at a kink (where a derivative jumps): finite differences don't apply"
            elif within_noise:
                note = f"within the finite difference's rounding noise ({noise:.1e})"
        fd_ok = _agree(engine, numeric) or within_noise or kink is not None
        if fd_ok or refine is None:
            return Row(name, engine, numeric, relative(engine, numeric), t, torch_error, fd_ok and torch_ok, note)
    refined = refine() if refine is not None else None
    if refined is None:
        note = "no finite value a step h away (the edge of where an operation is defined): no finite difference"
        return Row(name, engine, None, None, t, torch_error, torch_ok, note)
    value, err = refined
    first = "no finite value a step h away" if numeric is None else f"at h, {fmt(numeric)}: the curvature is large here"
    fd_ok = True
    if _agree(engine, value):
        note = f"{first}; Ridders' extrapolation of smaller steps agrees"
    elif abs(engine - value) <= 4 * err:
        note = f"{first}; smaller steps do not settle (Ridders' error estimate {err:.1e}): they say nothing"
    else:
        note, fd_ok = f"{first}; Ridders' extrapolation of smaller steps disagrees too", False
    return Row(name, engine, value, relative(engine, value), t, torch_error, fd_ok and torch_ok, note)


def _ridders(central: Callable[[float], float | None], step_size: float) -> tuple[float, float] | None:
    """The derivative from central differences ``central(s)`` at shrinking
    steps from ``step_size``, extrapolated to a step of 0 (Ridders' method,
    as Numerical Recipes' dfridr), and an estimate of its error; where
    ``central`` has no value (None: a step crosses the edge of where the
    function is defined), the steps start at a tenth of the first that has."""
    shrink, rows = 1.4, 10
    s, first = step_size, central(step_size)
    for _ in range(40):  # (down to about 1e-6 of the step)
        if first is not None:
            break
        s /= shrink
        if central(s) is not None:  # the edge is about s away: start well inside it
            s /= 10
            first = central(s)
    if first is None:
        return None
    table = [[first]]
    best, err = first, math.inf
    for i in range(1, rows):
        s /= shrink
        d = central(s)
        if d is None:
            break
        row = [d]
        factor = shrink**2
        for j in range(1, i + 1):
            row.append((row[j - 1] * factor - table[i - 1][j - 1]) / (factor - 1))
            factor *= shrink**2
            e = max(abs(row[j] - row[j - 1]), abs(row[j] - table[i - 1][j - 1]))
            if e <= err:
                best, err = row[j], e
        table.append(row)
        if abs(row[i] - table[i - 1][i - 1]) >= 2 * err:  # the extrapolation got worse: stop
            break
    return best, err


def verify(config: Config, batch_index: int = 0, h: float = 1e-6, use_torch: bool = True) -> Verification:
    net = Net(config)
    trace = step(net, batch_index)
    batch = config.batches()[batch_index]
    graph = trace.graph
    tape, root = graph.tape, graph.root

    def error(values: dict[str, float]) -> float:
        """The batch error at these parameters: a forward pass over the recorded
        tape that records nothing (the same operations, no graph built)."""
        return tape.values_with({graph.leaves[name]: value for name, value in values.items()})[root]

    torch_grads, note = _torch_gradients(lambda torchcheck: torchcheck.gradients(net, batch), use_torch)
    kinks = _kinks(trace)
    rows = []
    for name in net.params:
        base = dict(trace.before)
        step_size = h * max(1.0, abs(base[name]))
        up, down = dict(base), dict(base)
        up[name] += step_size
        down[name] -= step_size
        t = torch_grads.get(name) if torch_grads is not None else None
        kink = kinks[0] if kinks else None
        rows.append(_row(name, trace.gradients[name], (error(up), error(down)), step_size, abs(trace.error), kink, t))
    return Verification(config, rows, torch_grads is not None, note, h, batch_index + 1)


def _kinks(trace: Any) -> list[str]:
    """The nodes whose inputs are so close to where their derivative jumps
    (ReLU's and leaky ReLU's net input 0, an absolute error's out = target) that a
    finite-difference step may cross it."""
    out = []
    for node in trace.graph.tape.nodes:
        if node.op is not None and node.op.kinked([p.data for p in node.parents], KINK_WIDTH):
            out.append(node.name)
    return out


# ----------------------------------------------------------- an expression --


def verify_expression(expression: Expression, h: float = 1e-6, use_torch: bool = True) -> Verification:
    """d output / d input for every input of an expression (see
    :mod:`stepprop.graph`) against a central finite difference of its output,
    by forward passes over the recorded graph, and PyTorch's autograd of the
    same graph, each operation PyTorch's own (``Op.torch``)."""
    from .graph import record

    trace = record(expression)
    torch_grads, note = _torch_gradients(lambda torchcheck: torchcheck.expression_gradients(trace), use_torch)
    nodes = trace.nodes[: trace.output.index + 1]
    base = {node: node.data for node in nodes}
    # the rounding noise of the output: each node's (eps * |value|) times its gradient
    scale = math.fsum(abs(node.data * node.grad) for node in nodes)
    rows = []
    for leaf in trace.inputs:
        name = trace.gradient_name(leaf)
        step_size = h * max(1.0, abs(leaf.data))
        up, down = (_forward(trace, nodes, leaf, leaf.data + d) for d in (step_size, -step_size))
        ends = None if up is None or down is None else (up[trace.output], down[trace.output])
        kink = None if up is None or down is None else _crossed(nodes, base, up, down)
        t = torch_grads.get(name) if torch_grads is not None else None
        refine = functools.partial(_ridders, functools.partial(_central, trace, nodes, leaf), step_size)
        rows.append(_row(name, leaf.grad, ends, step_size, scale, kink, t, refine))
    return Verification(expression, rows, torch_grads is not None, note, h)


def _central(trace: GraphTrace, nodes: list[Node], leaf: Node, step_size: float) -> float | None:
    """The central difference of the output for the input ``leaf`` at ± ``step_size``."""
    up, down = (_forward(trace, nodes, leaf, leaf.data + d) for d in (step_size, -step_size))
    if up is None or down is None:
        return None
    return (up[trace.output] - down[trace.output]) / (2 * step_size)


def _forward(trace: GraphTrace, nodes: list[Node], leaf: Node, value: float) -> dict[Node, float] | None:
    """The value of each of ``nodes`` (the output's and the ones before it)
    with the input ``leaf`` at ``value``, by a forward pass that records
    nothing; None where the output has no finite value."""
    try:
        values = trace.tape.values_with({leaf: value}, nodes)
    except (ArithmeticError, ValueError):  # a log of 0, a division by 0, an overflow
        return None
    return values if math.isfinite(values[trace.output]) else None


def _crossed(nodes: list[Node], base: dict[Node, float], up: dict[Node, float], down: dict[Node, float]) -> str | None:
    """The first operation whose arguments the step moves and that is within
    a kink's width (KINK_WIDTH, widened by how far they move) of a kink."""
    for node in nodes:
        op = node.op
        if op is None:
            continue
        moved = max((max(abs(up[p] - base[p]), abs(down[p] - base[p])) for p in node.parents), default=0.0)
        if moved > 0 and op.kinked([base[p] for p in node.parents], KINK_WIDTH + 2 * moved):
            return node.name
    return None
