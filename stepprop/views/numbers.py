"""How numbers are printed."""

from __future__ import annotations

import math

DEFAULT_DIGITS = 9


def fmt(x: float, digits: int = DEFAULT_DIGITS) -> str:
    """``x`` to ``digits`` significant digits, without trailing zeros.

    Fixed notation down to 1e-10 (0.0000351085481, as the post writes such
    numbers), scientific notation beyond that.
    """
    if x == 0:
        return "0"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{digits}g}"
    if "e" not in text:
        return text
    exponent = int(text.split("e")[1])
    if -10 <= exponent < 0:
        fixed = f"{x:.{digits - 1 - exponent}f}"
        return fixed.rstrip("0").rstrip(".") if "." in fixed else fixed
    return text
