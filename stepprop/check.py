"""Grade a student's numbers and name the likely mistake.

Each answer is compared with the exact value to the digits the student
wrote (``correct``), then with a hand calculation that rounds every
intermediate result to as many decimals as the student used (``rounded``).
Anything else is ``wrong``: the calculation is then re-run with each mistake
of the catalogue (:mod:`stepprop.mistakes`), and a mistake whose numbers
reproduce the student's is named.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from . import derivation, names
from .config import Config, ConfigError, Validator, compose, read_text, show, suggest
from .expr import D, Document, Eq, Expr, Num, Section, Sym, Table, Text
from .mistakes import Mistake, catalogue, rename_name
from .network import EXACT, Network, StepTrace, decimal_rounder, step, train

CORRECT, ROUNDED, WRONG = "correct", "rounded", "wrong"

# a hand calculation over many epochs is not done on paper: beyond this,
# answers after training are compared with exact arithmetic only
MAX_ROUNDED_EPOCHS = 3
# how close (relative) a mistake's number must be to count when it does not
# agree to every digit the student wrote (their own rounding along the way)
LOOSE = 1e-4


_DECIMAL = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Answer:
    name: str
    text: str  # as written in the file
    value: float
    line: int
    column: int

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
    """Does the number agree with the answer to the digits the student wrote?"""
    if not math.isfinite(x):
        return False
    given = Decimal(answer.text.strip().replace("_", ""))
    half = Decimal(5).scaleb(-answer.decimals - 1)
    return abs(Decimal(repr(x)) - given) <= half


class Answers(list[Answer]):
    """The answers of a file, and its settings (``epochs: N`` for answers
    about the network after N epochs of training)."""

    epochs: int | None = None


def load_answers(path: str | Path) -> Answers:
    """The answers file: a YAML mapping of quantity names to numbers,
    and optionally ``epochs: N``."""
    source = str(path)
    root = compose(
        read_text(path, "an answers"),
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


def checkable(trace: StepTrace) -> dict[str, float]:
    """Every name a student can check after one step, with its value."""
    out = dict(names.values_of(trace.graph))
    out.update(names.terms_of(trace))
    out.update({f"{p}+": v for p, v in trace.updated.items()})
    out["error"] = trace.error
    out["error_after"] = trace.error_after
    # the same two numbers by the names the worked example shows them under
    out[names.batch_sym(trace.graph).updated().ascii] = trace.error_after
    return out


@dataclass
class Run:
    """The numbers of one way of calculating (exact, rounded, or a mistake)."""

    values: dict[str, float]  # by the student's names
    trace: StepTrace
    mistake: Mistake | None
    decimals: int | None

    def variant_name(self, name: str) -> str | None:
        m = self.mistake
        if m is None or m.rename is None:
            return name
        back = {v: k for k, v in m.rename.items()}
        return rename_name(name, back)


@dataclass
class Graded:
    answer: Answer
    status: str
    exact: float
    note: str = ""
    rounded_value: float | None = None
    mistakes: list[Mistake] = field(default_factory=list)
    approximate: bool = False
    mistaken: Run | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.answer.name,
            "given": self.answer.value,
            "given_text": self.answer.text,
            "exact": self.exact,
            "status": self.status,
            "note": self.note,
            "rounded_value": self.rounded_value,
            "mistake": self.mistakes[0].id if self.mistakes else None,
            "mistakes": [m.id for m in self.mistakes],
            "explanation": self.mistakes[0].explain(self.answer.name) if self.mistakes else None,
        }


class Checker:
    """Computes (and caches) the numbers of each way of calculating."""

    def __init__(self, config: Config, epochs: int | None = None):
        self.config = config
        self.epochs = epochs
        self.mistakes = catalogue(config)
        self._runs: dict[tuple[int, int | None], Run] = {}

    @property
    def rounding_applies(self) -> bool:
        return self.epochs is None or self.epochs <= MAX_ROUNDED_EPOCHS

    def run(self, mistake: Mistake | None = None, decimals: int | None = None) -> Run:
        key = (id(mistake), decimals)
        if key not in self._runs:
            self._runs[key] = self._compute(mistake, decimals)
        return self._runs[key]

    def _compute(self, mistake: Mistake | None, decimals: int | None) -> Run:
        cfg = mistake.config if mistake else self.config
        rule = mistake.rule if mistake else EXACT
        rounder = decimal_rounder(decimals) if decimals is not None else None
        net = Network(cfg)
        extra: dict[str, float] = {}
        if self.epochs:
            result = train(net, self.epochs, rule=rule, rounder=rounder)
            net = Network(net.with_values(result.values))
            extra = {"error": result.error}  # in this mode: the last epoch's error, as train reports it
        trace = step(net, 0, rounder, decimals, rule)
        values = checkable(trace)
        values.update(extra)
        if mistake is not None and mistake.rename is not None:
            renamed = {}
            for key, value in values.items():
                new = rename_name(key, mistake.rename)
                if new is not None:
                    renamed[new] = value
            values = renamed
        return Run(values, trace, mistake, decimals)

    def grade(self, answer: Answer) -> Graded:
        exact_run = self.run()
        exact = exact_run.values.get(answer.name)
        if exact is None:
            raise ConfigError(
                f"unknown quantity '{show(answer.name)}'{suggest(answer.name, exact_run.values, 3)}; "
                "'stepprop explain --names' lists every name",
                "",
                answer.line,
                answer.column,
            )
        if agrees(exact, answer):
            graded = Graded(answer, CORRECT, exact)
            if answer.significant < FEW_DIGITS:
                same = [m.title for m in self.mistakes if agrees(self.run(m).values.get(answer.name, math.nan), answer)]
                if same:
                    digits = f"{answer.significant} significant digit{'s' if answer.significant != 1 else ''}"
                    graded.note = f"but only {digits}: '{same[0]}' and other mistakes give the same"
            return graded
        if self.rounding_applies:
            rounded = self.run(None, answer.decimals).values[answer.name]
            if agrees(rounded, answer):
                return Graded(
                    answer,
                    ROUNDED,
                    exact,
                    rounded_value=rounded,
                    note=f"a hand calculation rounded to {answer.decimals} decimals at every step",
                )
        graded = Graded(answer, WRONG, exact)
        self._diagnose(graded)
        return graded

    def _diagnose(self, graded: Graded) -> None:
        answer = graded.answer
        if _truncated(graded.exact, answer):
            graded.note = "the exact value cut off in the last digit: round it instead"
            return
        tiers: list[tuple[int | None, bool]] = [(None, False)]
        if self.rounding_applies:
            tiers.append((answer.decimals, False))
        if answer.significant >= FEW_DIGITS:
            tiers.append((None, True))
        for decimals, loose in tiers:
            found = []
            for m in self.mistakes:
                run = self.run(m, decimals)
                value = run.values.get(answer.name)
                if value is None or not math.isfinite(value):
                    continue
                close = abs(value - answer.value) <= LOOSE * abs(value) if loose else agrees(value, answer)
                if close:
                    found.append((m, run))
            if found:
                graded.mistakes = [m for m, _ in found]
                graded.mistaken = found[0][1]
                graded.approximate = loose
                first = found[0][0]
                graded.note = f"mistake {first.number}: {first.title}" + (
                    " (close, not to every digit)" if loose else ""
                )
                return
        # no mistake: perhaps the number belongs to another quantity
        if answer.significant < FEW_DIGITS:
            graded.note = "no common mistake reproduces it"
            return
        for other, value in self.run().values.items():
            if other != answer.name and abs(value) > 1e-12 and abs(value - 1) > 1e-12 and agrees(value, answer):
                graded.note = f"this is the value of {other}"
                return
        graded.note = "no common mistake reproduces it"


def _truncated(exact: float, answer: Answer) -> bool:
    """Is the answer the exact value with its digits cut off, not rounded?"""
    if answer.significant < FEW_DIGITS or not math.isfinite(exact):
        return False
    places = Decimal(1).scaleb(-answer.decimals)
    from decimal import ROUND_DOWN

    return Decimal(repr(exact)).quantize(places, rounding=ROUND_DOWN) == Decimal(answer.text.strip().replace("_", ""))


def check(config: Config, answers: list[Answer], epochs: int | None = None, source: str = "") -> Report:
    if epochs is None:
        epochs = getattr(answers, "epochs", None)
    checker = Checker(config, epochs)
    graded = []
    for answer in answers:
        try:
            graded.append(checker.grade(answer))
        except ConfigError as exc:
            exc.path = source or exc.path
            raise
    return Report(checker, graded, source)


@dataclass
class Report:
    checker: Checker
    graded: list[Graded]
    source: str

    @property
    def wrong(self) -> int:
        return sum(g.status == WRONG for g in self.graded)

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(g.status == s for g in self.graded) for s in (CORRECT, ROUNDED, WRONG)}
        return {
            "stepprop": 1,
            "command": "check",
            "config": self.checker.config.source,
            "answers_file": self.source,
            "epochs": self.checker.epochs,
            "counts": counts,
            "answers": [g.to_dict() for g in self.graded],
        }

    def document(self) -> Document:
        cfg = self.checker.config
        when = (
            f"after {self.checker.epochs} epochs of training and one more step"
            if self.checker.epochs
            else "one training step"
        )
        intro = [f"answers from {self.source} for {cfg.source}: {when}"]
        counts = {s: sum(g.status == s for g in self.graded) for s in (CORRECT, ROUNDED, WRONG)}
        intro.append(", ".join(f"{n} {s}" for s, n in counts.items()))
        rows: list[list] = []
        for g in self.graded:
            rows.append([g.answer.name, g.answer.text, Num(g.exact), g.status, g.note])
        sections = [Section("The answers", [Table(["name", "student", "stepprop", "status", "note"], rows)])]
        for g in self.graded:
            if g.status == WRONG:
                sections.append(self._details(g))
        return Document("Checking answers", intro, sections)

    def _details(self, g: Graded) -> Section:
        name = g.answer.name
        items: list = [Text(f"you wrote {g.answer.text}; the exact value is shown below")]
        items += _lines_for(self.checker.run().trace, name, self.checker.epochs) or [Eq(Sym(name), [Num(g.exact)])]
        if g.mistakes:
            first = g.mistakes[0]
            items.append(Text(("Likely " if g.approximate else "") + f"mistake {first.number}: {first.explain(name)}."))
            run = g.mistaken
            if run is not None:
                vname = run.variant_name(name)
                lines = _lines_for(run.trace, vname, self.checker.epochs, run.mistake) if vname else []
                if lines:
                    items.append(Text("That calculation gives:"))
                    items += lines
            others = list(dict.fromkeys(m.title for m in g.mistakes[1:] if m.title != first.title))
            if others:
                items.append(Text("The same number also comes from: " + "; ".join(others)))
        else:
            items.append(Text(g.note[0].upper() + g.note[1:] + "."))
        return Section(f"{name}: {g.answer.text} is wrong", items)


def _lines_for(trace: StepTrace, name: str, epochs: int | None, mistake: Mistake | None = None) -> list[Eq]:
    """The equations of a worked example that define ``name`` (with numbers)."""
    if epochs and name == "error":
        return []
    doc = derivation.explain(trace)
    found: list[Eq] = []
    for section in doc.sections:
        for eq in _equations(section.items):
            if eq.name == name and not eq.reused:
                found.append(eq)
    if mistake is not None and mistake.rename is not None:
        found = [
            dataclasses.replace(
                eq, lhs=_rename(eq.lhs, mistake.rename), rhs=[_rename(r, mistake.rename) for r in eq.rhs]
            )
            for eq in found
        ]
    # the main line: the result with its factors and numbers
    results = [eq for eq in found if eq.result]
    return (results or found)[-1:]


def _equations(items: list) -> list[Eq]:
    out = []
    for item in items:
        if isinstance(item, Section):
            out += _equations(item.items)
        elif isinstance(item, Eq):
            out.append(item)
    return out


def _rename(e: Expr, mapping: dict[str, str]) -> Expr:
    """An expression with parameter symbols renamed (variant -> student)."""
    if isinstance(e, Sym):
        key = e.base + e.sub
        if e.base in ("w", "b") and e.sub.isdigit() and key in mapping:
            new = mapping[key]
            return dataclasses.replace(e, base=new[0], sub=new[1:])
        return e
    if isinstance(e, D):
        return D(cast(Sym, _rename(e.num, mapping)), cast(Sym, _rename(e.den, mapping)))
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(e):
        value = getattr(e, f.name)
        if isinstance(value, tuple):
            changes[f.name] = tuple(_rename(v, mapping) for v in value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes[f.name] = _rename(cast(Expr, value), mapping)
    return cast(Expr, dataclasses.replace(e, **changes))
