"""Evidence that the gradients are right: `stepprop verify`.

Every gradient of one step is compared with

* central finite differences of the batch error, computed by forward passes
  only (no backward pass is involved), and
* PyTorch's autograd in float64 with the same config semantics, when PyTorch
  is installed (an optional extra; stepprop never needs it to run).

A sceptical reader can run this on any config: two independent methods must
agree with the engine's numbers.
"""

import sys
from dataclasses import dataclass
from typing import Any, NamedTuple

from .config import Config
from .document import Document, Section, Table
from .expr import Num
from .network import Net
from .step import step

TOLERANCE = 1e-6  # relative, against finite differences and against PyTorch
ABSOLUTE = 1e-9  # below this, a difference is rounding noise around zero
KINK_WIDTH = 1e-4  # an input this close to a kink may be crossed by a finite-difference step


class Row(NamedTuple):
    name: str
    engine: float
    numeric: float
    numeric_error: float
    torch: float | None
    torch_error: float | None
    ok: bool
    note: str


@dataclass(frozen=True)
class Verification:
    """Every gradient of one step beside its independent recomputations."""

    config: Config
    rows: list[Row]
    torch_available: bool
    torch_note: str
    h: float
    batch: int = 1

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stepprop": 1,
            "command": "verify",
            "config": self.config.source,
            "ok": self.ok,
            "tolerance": TOLERANCE,
            "finite_difference_step": self.h,
            "torch": self.torch_available,
            "torch_note": self.torch_note,
            "gradients": [r._asdict() for r in self.rows],
        }

    def document(self) -> Document:
        """The table a reader sees (``stepprop verify``)."""
        headers = ["parameter", "engine", "finite difference", "rel. error"]
        if self.torch_available:
            headers += ["PyTorch", "rel. error"]
        headers += ["result", "note"]
        rows: list[list] = []
        for r in self.rows:
            row: list = [r.name, Num(r.engine), Num(r.numeric), f"{r.numeric_error:.1e}"]
            if self.torch_available:
                row += [
                    Num(r.torch) if r.torch is not None else "",
                    f"{r.torch_error:.1e}" if r.torch_error is not None else "",
                ]
            row += ["ok" if r.ok else "DISAGREES", r.note]
            rows.append(row)
        intro = [
            f"network from {self.config.source}, batch {self.batch}",
            f"central finite differences with step h = {self.h:g} x max(1, |p|); tolerance "
            f"{TOLERANCE:g} relative (or {ABSOLUTE:g} absolute)",
        ]
        if self.torch_note:
            intro.append(self.torch_note)
        verdict = "every gradient agrees" if self.ok else "SOME GRADIENTS DISAGREE"
        return Document(
            f"Verifying the gradients: {verdict}", intro, [Section("The gradients", [Table(headers, rows)])]
        )


def relative(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= ABSOLUTE or relative(a, b) <= TOLERANCE


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

    torch_grads: dict[str, float] | None = None
    note = ""
    if use_torch:
        try:
            from . import torchcheck
        except ImportError:  # pragma: no cover - the module itself imports nothing optional
            torchcheck = None  # type: ignore[assignment]
        if torchcheck is not None and torchcheck.available():
            torch_grads = torchcheck.gradients(net, batch)
        else:
            note = "PyTorch is not installed: pip install 'stepprop[torch]' to compare with its autograd too"
    kinks = _kinks(trace)
    rows = []
    for name in net.params:
        base = dict(trace.before)
        step_size = h * max(1.0, abs(base[name]))
        up, down = dict(base), dict(base)
        up[name] += step_size
        down[name] -= step_size
        e_up, e_down = error(up), error(down)
        numeric = (e_up - e_down) / (2 * step_size)
        engine = trace.gradients[name]
        t = torch_grads.get(name) if torch_grads is not None else None
        # a finite difference of a large error carries rounding noise of about
        # eps * |E| / h: a disagreement within it says nothing about the engine
        noise = 16 * sys.float_info.epsilon * max(abs(e_up), abs(e_down), abs(trace.error)) / step_size
        within_noise = abs(engine - numeric) <= noise
        fd_ok = _agree(engine, numeric) or within_noise or bool(kinks)
        torch_ok = t is None or _agree(engine, t)
        row_note = ""
        if not _agree(engine, numeric):
            if kinks:
                row_note = f"{kinks[0]} is at a kink (where a derivative jumps): finite differences don't apply"
            elif within_noise:
                row_note = f"within the finite difference's rounding noise ({noise:.1e})"
        rows.append(
            Row(
                name,
                engine,
                numeric,
                relative(engine, numeric),
                t,
                None if t is None else relative(engine, t),
                fd_ok and torch_ok,
                row_note,
            )
        )
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
