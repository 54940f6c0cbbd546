"""The loss curve: a sparkline or a plotext plot in the terminal, and an
image file through matplotlib (an optional extra)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..errors import StepPropError

BLOCKS = "▁▂▃▄▅▆▇█"


def use_log_scale(errors: list[float]) -> bool:
    """Log scale when the (positive) errors span more than two decades."""
    positive = [e for e in errors if e > 0]
    return len(positive) == len(errors) and bool(positive) and max(positive) / min(positive) > 100


def sparkline(curve: list[tuple[int, float]], width: int = 60) -> str:
    """One line of block characters (log-scaled when the error spans decades)."""
    if not curve:
        return ""
    step = max(1, math.ceil(len(curve) / width))
    values = [e for _, e in curve[::step]]
    if use_log_scale(values):
        values = [math.log10(v) for v in values]
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int((v - lo) / span * len(BLOCKS)))] for v in values)


def y_ticks(lo: float, hi: float, log: bool, most: int = 6) -> list[float]:
    """Round numbers for an axis from ``lo`` to ``hi``, at most ``most`` of
    them: powers of ten on a log scale, else multiples of 1, 2 or 5 times a
    power of ten."""
    if log:
        first, last = math.ceil(math.log10(lo)), math.floor(math.log10(hi))
        every = max(1, math.ceil((last - first + 1) / most))
        return [10.0**k for k in reversed(range(last, first - 1, -every))]  # the top decade always
    if not hi > lo:
        return [lo]
    rough = (hi - lo) / (most - 1)
    power = 10.0 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    slack = 1e-9  # 0.3 / 0.05 is 5.999999999999999
    return [k * step for k in range(math.ceil(lo / step - slack), math.floor(hi / step + slack) + 1)]


def tick_labels(ticks: list[float]) -> list[str]:
    """Short labels that tell the ticks apart: 3 significant figures, more
    only where 3 would print two ticks alike (0.2499 and 0.24992)."""
    labels = [f"{t:.3g}" for t in ticks]
    for digits in range(4, 18):
        if len(set(labels)) == len(labels):
            break
        labels = [f"{t:.{digits}g}" for t in ticks]
    return labels


def terminal(curve: list[tuple[int, float]], width: int = 70, height: int = 15) -> str:
    """A plot of the error for the terminal: plotext when installed, else a sparkline."""
    first, last = curve[0], curve[-1]
    try:
        import plotext as plt
    except ImportError:
        scale = " (log scale)" if use_log_scale([e for _, e in curve]) else ""
        return (
            f"error per epoch{scale}: {sparkline(curve)}\n"
            f"  epoch {first[0]}: {first[1]:.6g}   epoch {last[0]}: {last[1]:.6g}\n"
        )
    plt.clear_figure()
    plt.plot_size(width, height)
    xs = [e for e, _ in curve]
    ys = [v for _, v in curve]
    log = use_log_scale(ys)
    if log:
        plt.yscale("log")
    plt.plot(xs, ys, marker="braille")
    # plotext's own ticks print every digit (0.0000000000000000000000198); these are short
    ticks = y_ticks(min(ys), max(ys), log)
    plt.yticks(ticks, tick_labels(ticks))
    plt.title("error per epoch")
    plt.xlabel("epoch")
    plt.theme("clear")
    text = plt.build()
    if os.environ.get("NO_COLOR"):
        text = plt.uncolorize(text)
    return text + "\n"


FORMATS = (".svg", ".png", ".pdf")


def check_plot_target(path: str) -> None:
    """Fail before training, not after it, when the plot cannot be written."""
    if Path(path).suffix.lower() not in FORMATS:
        raise StepPropError(f"--plot {path}: choose a file ending in .svg, .png or .pdf")
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise StepPropError("--plot needs matplotlib, an optional extra: pip install 'stepprop[plot]'")


def save(curve: list[tuple[int, float]], path: str, title: str) -> None:
    """Write the curve as an image (.svg, .png or .pdf), atomically."""
    check_plot_target(path)
    suffix = Path(path).suffix.lower()
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    from ..files import write_bytes_atomic

    xs = [e for e, _ in curve]
    ys = [v for _, v in curve]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    try:
        ax.plot(xs, ys, color="#1a5fb4", linewidth=1.5)
        if use_log_scale(ys):
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("error (mean E_total per sample)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format=suffix[1:])
    finally:
        plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
