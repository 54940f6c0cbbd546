"""Views: lay out recorded results for a reader.  They format numbers and
arrange text; they never compute a number of their own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

PIECE = 1 << 18  # characters written at a time (about)
# the Greek letters symbols are named by, as MathML and LaTeX write them
GREEK = {
    "alpha": ("α", r"\alpha"),
    "beta": ("β", r"\beta"),
    "delta": ("δ", r"\delta"),
    "epsilon": ("ε", r"\epsilon"),
    "eta": ("η", r"\eta"),
    "lambda": ("λ", r"\lambda"),
    "mu": ("μ", r"\mu"),
}
HAT = "_hat"  # a name's ending for a hat over its letter: m_hat is m with a hat (an estimate)


def in_pieces(lines: Iterable[str]) -> Iterator[str]:
    """Lines joined into pieces of many, each ending in a newline; blank lines
    at the very end are left out (a long document is written as it is made,
    never held whole)."""
    batch: list[str] = []
    size = 0
    blanks = 0  # blank lines held back until a line follows them
    for line in lines:
        if not line:
            blanks += 1
            continue
        if blanks:
            batch += [""] * blanks
            blanks = 0
        batch.append(line)
        size += len(line)
        if size >= PIECE:
            yield "\n".join(batch) + "\n"
            batch = []
            size = 0
    if batch:
        yield "\n".join(batch) + "\n"
