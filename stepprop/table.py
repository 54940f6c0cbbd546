"""Tables as a spreadsheet saves them (CSV): the delimiter, each row with its
line and the place of each cell, and numbers as people write them in a cell.

Shared by a class's answers (:func:`stepprop.grading.answers.load_class`) and
samples from a CSV file (a config's ``samples: {csv: ...}``)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from .errors import ConfigError
from .words import show

# what a spreadsheet saves; the names (the header) never hold one of these, so the
# first that the header holds is the delimiter. (csv.Sniffer prefers ',' where every
# cell is a decimal comma: 0,5933;0,7514 is two cells, not three.)
DELIMITERS = ("\t", ";", ",")


class Row:
    """A row of cells: the line it starts on (1-based) and, when asked, where
    each cell starts on that line (counted only for a message)."""

    __slots__ = ("cells", "delimiter", "line", "text")

    def __init__(self, cells: list[str], line: int, text: str, delimiter: str):
        self.cells = cells
        self.line = line
        self.text = text  # the row's (first) line
        self.delimiter = delimiter

    def column(self, k: int) -> int:
        """Where cell ``k`` (0-based) starts on its line, 1-based; past the
        last cell, just after the line's end (a missing cell's place)."""
        starts = [1]
        quoted = False
        for i, ch in enumerate(self.text):
            if ch == '"':
                quoted = not quoted
            elif ch == self.delimiter and not quoted:
                starts.append(i + 2)
        return starts[k] if k < len(starts) else len(self.text) + 1


def rows(raw: str, source: str) -> Iterator[Row]:
    """The rows of CSV text that hold anything, in order (blank lines skipped);
    the delimiter is the first of DELIMITERS the first such line holds. A
    ConfigError where the csv module cannot read it."""
    import csv  # (here: only a table needs it)
    import io

    raw = raw.lstrip("\ufeff")
    lines = raw.splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = next((d for d in DELIMITERS if d in first), ",")
    reader = csv.reader(io.StringIO(raw), delimiter=delimiter, skipinitialspace=True)
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if any(cell.strip() for cell in cells):
                yield Row(cells, line, lines[line - 1] if line <= len(lines) else "", delimiter)
    except csv.Error as exc:
        raise ConfigError(f"not a CSV file the csv module can read ({exc})", source, reader.line_num) from None


NUMBER_FORMS = "0.5933, -0.5933 (or −0.5933), 0,5933, 5.933e-1, 5.933 x 10^-1 or a fraction such as -1/4"
_DECIMAL = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_TIMES_TEN = re.compile(r"^([-+]?(?:\d[\d_]*\.?\d*|\.\d+))\s*(?:x|X|×|\*|·)\s*10\s*\^\s*\(?\s*([-+]?\d+)\s*\)?$")
_FRACTION = re.compile(r"^([-+]?\d+)\s*/\s*(\d+)$")


# more digits than anyone writes, or than a float can tell apart many times over
MAX_DIGITS = 40


def read_number(raw: str) -> tuple[float, str] | None:
    """A number as students write it, as (value, plain decimal spelling), or None
    (``number_problem`` says why, where it is a number out of range).

    0.5933; −0.5933 (the minus sign a PDF copies); 0,5933 (a decimal comma);
    5.933e-1, 5.933 x 10^-1, 5.933 × 10^(-1); and fractions such as -1/4,
    which are exact (their decimal spelling has every digit)."""
    found = _read_number(raw)
    if found is None or number_problem(raw, found) is not None:
        return None
    return found


def number_problem(raw: str, found: tuple[float, str] | None = None) -> str | None:
    """Why a number as written can't be checked (too many digits, or beyond what a
    float holds), or None."""
    if len(raw.strip()) > 10 * MAX_DIGITS:
        return f"longer than {10 * MAX_DIGITS} characters: write it with fewer digits"
    found = found if found is not None else _read_number(raw)
    if found is None:
        return None
    value, spelled = found
    mantissa = spelled.lower().partition("e")[0]
    if sum(ch.isdigit() for ch in mantissa) > MAX_DIGITS and "/" not in raw:
        return f"more than {MAX_DIGITS} digits: write it with fewer"
    if not math.isfinite(value) or (value == 0 and any(ch in "123456789" for ch in mantissa)):
        return "beyond the numbers stepprop works with (about 1e-308 to 1e308 in size)"
    return None


def _read_number(raw: str) -> tuple[float, str] | None:
    t = raw.strip().replace("\u2212", "-").replace("\u2013", "-")
    if len(t) > 10 * MAX_DIGITS:
        return None  # (number_problem says why)
    if _DECIMAL.match(t):
        return float(t.replace("_", "")), t
    if t.count(",") == 1 and "." not in t and _DECIMAL.match(t.replace(",", ".")):
        t = t.replace(",", ".")
        return float(t), t
    m = _TIMES_TEN.match(t.replace(",", ".") if "." not in t else t)
    if m:
        t = f"{m.group(1)}e{m.group(2)}"
        return float(t.replace("_", "")), t
    m = _FRACTION.match(t)
    if m and int(m.group(2)) != 0:
        value = int(m.group(1)) / int(m.group(2))
        return value, f"{value:.17e}"  # exact: every digit
    return None


def cell_number(raw: str) -> float | str:
    """A table's cell as a finite number, or why it is not one (quickly: most
    cells are plain decimals that float reads)."""
    try:
        value = float(raw)
    except ValueError:
        found = read_number(raw)
        if found is not None:
            return found[0]
        text = raw.strip()
        if not text:
            return "an empty field, not a number"
        return number_problem(raw) or f"'{show(text)}' is not a number (write it like {NUMBER_FORMS})"
    if not math.isfinite(value):
        return f"'{show(raw.strip())}' is not a finite number (NaN and infinities are not data stepprop trains on)"
    return value
