"""Which samples of a batch a worked example derives step by step, and
samples as a user writes them (``all``, ``3``, ``1,5``, ``2-6``).

Kept apart from the worked example itself: every format, JSON too, checks
the choice before anything is derived, and JSON needs nothing else of it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import StepPropError

if TYPE_CHECKING:
    from .step import StepTrace

STEPWISE_SAMPLES = 10  # a batch of at most this many samples is derived step by step for every sample


def stepwise(trace: StepTrace, samples: str | int | Sequence[int] | None) -> list[int]:
    """The positions in the batch of the samples to derive step by step."""
    numbers = [k + 1 for k in trace.graph.sample_numbers]
    if samples is None:
        return list(range(len(numbers) if len(numbers) <= STEPWISE_SAMPLES else 1))
    if isinstance(samples, str):
        if samples.strip().lower() == "all":
            return list(range(len(numbers)))
        samples = sample_list(samples)
    wanted = [samples] if isinstance(samples, int) else list(samples)
    for k in wanted:
        if k not in numbers:
            raise StepPropError(
                f"sample {k} is not in this step's batch (its samples are {samples_text(numbers)}); "
                "choose the batch with --batch"
            )
    return sorted({numbers.index(k) for k in wanted})


def sample_list(text: str) -> list[int]:
    """'2', '1,5', '3-6', '1 4-5': sample numbers as a user writes them."""
    out: list[int] = []
    for part in re.split(r"[,\s]+", text.strip()):
        m = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", part)
        if not m:
            raise StepPropError(
                f"cannot read '{part}' as samples: write 'all', a number (3), a list (1,5) or a range (2-6)"
            )
        first = int(m.group(1))
        last = int(m.group(2) or first)
        if last < first:
            raise StepPropError(f"'{part}' is not a range of samples: write the smaller number first (2-6)")
        if last - first > 1_000_000:
            raise StepPropError(f"'{part}' is more samples than any batch holds")
        out += range(first, last + 1)
    return out


def samples_text(numbers: Sequence[int]) -> str:
    """'sample 3', 'samples 2-150', 'samples 1, 4, 7-9' (runs of consecutive numbers joined)."""
    runs: list[list[int]] = []
    for k in numbers:
        if runs and k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    return f"{'sample' if len(numbers) == 1 else 'samples'} {text}"
