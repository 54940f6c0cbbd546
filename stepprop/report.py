"""Machine-readable results (plain dicts, ready for ``json.dumps``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .rounding import Rounding, describe
from .words import count

if TYPE_CHECKING:
    from .document import Document
    from .network import Net
    from .step import StepTrace
    from .training import TrainResult

FORMAT_VERSION = 1


def _network_dict(net: Net) -> dict[str, Any]:
    cfg = net.config
    return {
        "source": cfg.source,
        "shape": list(cfg.shape),
        "inputs": net.input_names,
        "neurons": net.neurons,
        "activations": [layer.activation for layer in cfg.layers],
        "loss": cfg.loss,
        "eta": cfg.eta,
        "update_biases": cfg.update_biases,
        "bias_input": cfg.bias_input,
        "samples": len(cfg.samples),
        "batch_size": cfg.effective_batch_size,
        "parameters": {
            name: {
                "kind": p.kind,
                "from": p.source,
                "to": list(p.targets),
                "layer": p.layer + 1,
                "trainable": p.trainable,
            }
            for name, p in net.params.items()
        },
    }


def step_dict(trace: StepTrace) -> dict[str, Any]:
    """The JSON form of one recorded step (``stepprop explain --format json``)."""
    from . import names as N

    net = trace.net
    g = trace.graph
    samples = []
    for s in range(len(g.totals)):
        samples.append(
            {
                "sample": g.sample_numbers[s] + 1,
                "inputs": [g.by_sample[s][n].data for n in net.input_names],
                "targets": [g.by_sample[s][f"target_{n}"].data for n in net.output_names],
                "outputs": [g.by_sample[s][f"out_{n}"].data for n in net.output_names],
                "error": g.totals[s].data,
            }
        )
    optimizer = None
    if trace.optim is not None:  # the optimiser's part: its settings, t, its state before and its quantities
        record = trace.optim
        optimizer = {
            "name": record.settings.name,
            "settings": record.settings.to_dict(),
            "hyperparameters": record.hyper,
            "t": record.t,
            "state_before": record.previous(),
            "quantities": dict(record.quantities),
        }
        if record.penalized is not None:  # penalty: l2's error with the penalty, before and after the update
            optimizer["penalized_error"], optimizer["penalized_error_after"] = record.penalized
    return {
        "stepprop": FORMAT_VERSION,
        "command": "explain",
        "network": _network_dict(net),
        "batch": trace.batch_index + 1,
        "optimizer": optimizer,
        "rounding": trace.rounding,
        "values": N.values_of(g),
        "terms": N.terms_of(trace),
        "gradients": dict(trace.gradients),
        "input_gradients": N.input_gradients(trace),
        "changes": dict(trace.changes),
        "updated": dict(trace.updated),
        "error": trace.error,
        "error_after": trace.error_after,
        "samples": samples,
        "layer_gradients": net.layers_data(trace.gradients),
        "layers": net.layers_data(trace.updated),
    }


def train_dict(net: Net, result: TrainResult, rounding: Rounding | None = None) -> dict[str, Any]:
    """The JSON form of a training run (``stepprop train --format json``)."""
    out: dict[str, Any] = {
        "stepprop": FORMAT_VERSION,
        "command": "train",
        "network": _network_dict(net),
        "epochs": result.epochs,
        "interrupted": result.interrupted,
        "rounding": rounding,
        "error": result.error,
        "final_error": result.final_error,
        "inputs": [list(s.inputs) for s in net.config.samples],
        "outputs": result.outputs,
        "targets": [list(s.targets) for s in net.config.samples],
        "sample_errors": result.sample_errors,
        "parameters": dict(result.values),
        "layers": net.layers_data(result.values),
    }
    if result.history:
        out["history"] = [[epoch, error] for epoch, error in result.history]
    return out


def train_document(
    net: Net, result: TrainResult, every: int | None = None, rounding: Rounding | None = None
) -> Document:
    """A training run laid out for reading (``stepprop train``)."""
    from .document import Document, Section, Table
    from .expr import Num

    cfg = net.config
    title = "Training" + (f" (interrupted at epoch {result.epochs})" if result.interrupted else "")
    batches = len(cfg.batches())
    intro = [
        f"network {net.shape} from {cfg.source}",
        f"{count(result.epochs, 'epoch')} of {count(batches, 'update')} "
        f"each (batch size {cfg.effective_batch_size}, "
        f"{count(len(cfg.samples), 'sample')}), "
        f"eta = {cfg.eta!r}",
    ]
    if rounding is not None:
        intro.append(f"hand-calculation mode: every intermediate result is rounded to {describe(rounding)}")
    if result.interrupted:
        intro.append(f"INTERRUPTED: these are the results after epoch {result.epochs}")
    errors = Section(
        "The error",
        [
            Table(
                ["", "error"],
                [
                    [
                        f"last epoch (epoch {result.epochs}): mean E_total, each sample before its update",
                        Num(result.error),
                    ],
                    ["final parameters: mean E_total over all samples", Num(result.final_error)],
                ],
            )
        ],
    )
    headers = ["sample", *net.input_names]
    for n in net.output_names:
        headers += [f"out_{n}", f"target_{n}"]
    headers.append("E_total")
    rows: list[list] = []
    for k, (outs, sample, err) in enumerate(zip(result.outputs, cfg.samples, result.sample_errors)):
        row: list = [str(k + 1), *(Num(x) for x in sample.inputs)]
        for o, t in zip(outs, sample.targets):
            row += [Num(o), Num(t)]
        row.append(Num(err))
        rows.append(row)
    outputs = Section("The outputs", [Table(headers, rows)])
    prows: list[list] = []
    from .network import param_key

    for name in sorted(net.params, key=param_key):
        p = net.params[name]
        prows.append(
            [name, p.connects, Num(net.values[name]), Num(result.values[name]), "" if p.trainable else "fixed"]
        )
    params = Section("The trained parameters", [Table(["parameter", "connects", "initial", "trained", "note"], prows)])
    sections = [errors, outputs, params]
    if result.history:
        sections.insert(
            0,
            Section(
                "The error every epoch" if every == 1 else f"The error every {every} epochs",
                [Table(["epoch", "error"], [[str(e), Num(err)] for e, err in result.history])],
            ),
        )
    return Document(title, intro, sections)
