"""A student's answers: the file, and what "agrees to the digits written" means."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal
from pathlib import Path

from ..config import ConfigError, Validator, compose, read_text, show

_DECIMAL = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Answer:
    name: str
    text: str  # as written in the file
    value: float
    line: int | None  # where it is written (None: not in a file)
    column: int | None

    def unplaced(self) -> Answer:
        """The same answer, not in any file (written in Python)."""
        return Answer(self.name, self.text, self.value, None, None)

    @property
    def decimals(self) -> int:
        """Decimal places written: 0.5933 -> 4, 3.51e-5 -> 7."""
        t = self.text.strip().lower().lstrip("+-").replace("_", "")
        mantissa, _, exponent = t.partition("e")
        places = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return max(0, places - (int(exponent) if exponent else 0))

    @property
    def significant(self) -> int:
        """Significant digits written: 0.5933 -> 4, 0.4 -> 1, 0 -> 0."""
        t = self.text.strip().lower().lstrip("+-").replace("_", "").partition("e")[0].replace(".", "")
        return len(t.lstrip("0"))


# an answer with fewer significant digits than this can't tell a mistake apart
FEW_DIGITS = 3


def agrees(x: float, answer: Answer) -> bool:
    """Is the answer ``x`` rounded to the digits the student wrote (half up, as
    on paper: 0.45 is 0.5, not 0.4)?"""
    if not math.isfinite(x):
        return False
    given = Decimal(answer.text.strip().replace("_", ""))
    places = Decimal(1).scaleb(-answer.decimals)
    return Decimal(repr(x)).quantize(places, rounding=ROUND_HALF_UP, context=_WIDE) == given


_WIDE = Context(prec=400)  # quantize never runs out of digits


class Answers(list[Answer]):
    """The answers of a file, and its settings (``epochs: N`` for answers
    about the network after N epochs of training)."""

    epochs: int | None = None


def load_answers(path: str | Path | None = None, text: str | None = None, source: str | None = None) -> Answers:
    """The answers of a file (or of ``text``): a YAML mapping of quantity
    names to numbers, and optionally ``epochs: N``."""
    source = source or str(path)
    root = compose(
        text if text is not None else read_text(path or "", "an answers"),
        source,
        "the answers file is empty: write one 'name: number' per line, e.g. out_h1: 0.5933",
    )
    check = Validator(source)
    pairs = check.mapping(root, "the answers (a mapping of names to numbers, e.g. out_h1: 0.5933)", None)
    if not pairs:
        raise ConfigError("no answers: write one 'name: number' per line, e.g. out_h1: 0.5933", source)
    if "layers" in pairs:
        raise ConfigError(
            "this is a config, not an answers file: the command is stepprop check [CONFIG] ANSWERS", source
        )
    answers = Answers()
    if "epochs" in pairs:
        answers.epochs = check.integer(pairs["epochs"][1], "epochs")
        if answers.epochs < 1:
            raise check.error(pairs["epochs"][1], "epochs must be at least 1")
    for key, (knode, vnode) in pairs.items():
        if key == "epochs":
            continue
        value = check.number(vnode, key)
        if not _DECIMAL.match(str(vnode.value).strip()):
            mark = vnode.start_mark
            raise ConfigError(
                f"write the answer for {show(key)} as a decimal number (like 0.5933), not '{show(vnode.value)}'",
                source,
                mark.line + 1,
                mark.column + 1,
            )
        answers.append(Answer(key, str(vnode.value), value, knode.start_mark.line + 1, knode.start_mark.column + 1))
    return answers


def truncated(exact: float, answer: Answer) -> bool:
    """Is the answer the exact value with its digits cut off, not rounded?"""
    if answer.significant < FEW_DIGITS or not math.isfinite(exact):
        return False
    places = Decimal(1).scaleb(-answer.decimals)
    return Decimal(repr(exact)).quantize(places, rounding=ROUND_DOWN) == Decimal(answer.text.strip().replace("_", ""))
