"""Hand-calculation mode: how a student rounds, as data.

A rounding is a number of decimals (``4``: 0.0510) or of significant figures
(``"3sf"``: 0.0510, 1.23, 123); every intermediate result is rounded half up,
as on paper, and printed with its trailing zeros, as a student writes it."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .words import count

if TYPE_CHECKING:  # decimal is imported where a number is rounded (start-up stays light)
    from decimal import Decimal

Rounder = Callable[[float], float]

Rounding = int | str  # 4 (decimals) or "3sf" (significant figures)
MAX_DECIMALS = 15
MAX_FIGURES = 15
_SF = r"(?i)^\s*(\d+)\s*sf\s*$"


def parse(text: str | int) -> Rounding:
    """'4' -> 4 decimals; '3sf' -> 3 significant figures; anything else: ValueError."""
    if isinstance(text, int) and not isinstance(text, bool):
        if 0 <= text <= MAX_DECIMALS:
            return text
        raise ValueError(f"round to 0 to {MAX_DECIMALS} decimals, not {text}")
    t = str(text).strip()
    if t.isdigit():
        return parse(int(t))
    m = re.match(_SF, t)
    if m and 1 <= int(m.group(1)) <= MAX_FIGURES:
        return f"{int(m.group(1))}sf"
    raise ValueError(
        f"round to N decimals (0 to {MAX_DECIMALS}, as --round 4) or to N significant figures "
        f"(1 to {MAX_FIGURES}, as --round 3sf), not '{text}'"
    )


def figures(rounding: Rounding) -> int | None:
    """The significant figures of a rounding (None: a rounding to decimals)."""
    return int(rounding[:-2]) if isinstance(rounding, str) else None


def describe(rounding: Rounding) -> str:
    n = figures(rounding)
    if n is not None:
        return count(n, "significant figure")
    return count(int(rounding), "decimal")


def _quantum(d: Decimal, rounding: Rounding) -> Decimal:
    from decimal import Decimal

    n = figures(rounding)
    if n is None:
        return Decimal(1).scaleb(-int(rounding))
    return Decimal(1).scaleb(d.adjusted() - n + 1)


@functools.cache
def _context() -> Any:
    from decimal import Context

    return Context(prec=80)


def _rounded(x: float, rounding: Rounding) -> Decimal | None:
    from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

    if not math.isfinite(x):
        return None
    d = Decimal(repr(x))
    if d == 0:
        return Decimal(0).quantize(_quantum(Decimal(1), rounding)) if figures(rounding) is None else d
    try:
        out = d.quantize(_quantum(d, rounding), rounding=ROUND_HALF_UP, context=_context())
    except InvalidOperation:  # too large to hold that many decimals: already coarser
        return d
    if figures(rounding) is not None and out.adjusted() > d.adjusted():  # 9.996 -> 10.00: one figure too many
        out = out.quantize(_quantum(out, rounding), rounding=ROUND_HALF_UP, context=_context())
    return out


def decimal_rounder(decimals: int) -> Rounder:
    """Round to ``decimals`` places, half away from zero (0.0190491185 -> 0.019049119)."""
    return rounder(decimals)


@functools.lru_cache(maxsize=32)
def rounder(rounding: Rounding) -> Rounder:
    """A function rounding a float as the student does (half up)."""

    places = None if figures(rounding) is not None else int(rounding)

    def apply(x: float) -> float:
        if places is not None:  # most numbers are rounded already: no Decimal needed
            text = repr(x)
            point = text.find(".")
            if "e" not in text and (point < 0 or len(text) - point - 1 <= places):
                return x
        d = _rounded(x, rounding)
        return x if d is None else float(d)

    return apply


def written(x: float, rounding: Rounding) -> str:
    """A number as the student writes it: rounded, with its trailing zeros (0.0510)."""
    d = _rounded(x, rounding)
    if d is None:
        return repr(x)
    text = format(d, "f")
    return text
