"""Grade a student's numbers and name the likely mistake.

Each answer is compared with the exact value to the digits the student
wrote (``correct``), then with a hand calculation that rounds every
intermediate result to as many decimals as the student used (``rounded``).
Anything else is ``wrong``: the calculation is then re-run with each mistake
of the catalogue (:mod:`stepprop.grading.catalogue`), and a mistake whose
numbers reproduce the student's is named.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .. import names, worked
from ..config import Config, ConfigError, show, suggest
from ..document import Document, Eq, Label, Section, Table, Text
from ..errors import StepPropError, TrainingDiverged
from ..expr import D, Expr, Num, Sym, Via, substitute
from ..network import Net
from ..rounding import Rounding, describe
from ..rounding import rounder as rounder_of
from ..step import PLAIN, StepTrace, steps
from ..words import count
from .answers import (
    FEW_DIGITS,
    PRECISE,
    Answer,
    Answers,
    agrees,
    load_answers,
    right,
    spellings,
    to_places,
    truncated,
)
from .catalogue import Mistake, catalogue, pair, rename_name
from .follow import FollowThrough

if TYPE_CHECKING:
    from ..matrix import MatrixForm

__all__ = ["Answer", "Answers", "Grades", "Graded", "check", "load_answers"]

CORRECT, ROUNDED, CARRIED, AMBIGUOUS, WRONG, UNANSWERED = (
    "correct",
    "rounded",
    "carried",
    "ambiguous",
    "wrong",
    "unanswered",
)
STATUSES = (CORRECT, ROUNDED, CARRIED, AMBIGUOUS, WRONG, UNANSWERED)
BEFORE_UPDATE = "before_update"  # what also_from says for the value before the update


# two mistakes together, for an answer no one mistake explains: the pairs a check of one
# step works out record at most this many nodes in all, one at least (well under a second)
PAIR_BUDGET = 20_000
# after training, each mistake (or pair) tried is trained as long: a check tries as many as
# fit this many recorded values x epochs (3 for 10,000 epochs of the post's network), and
# one at least, so that it costs at most about twice the training (see Checker.tried)
TRAINED_BUDGET = 1_000_000

# a hand calculation over many epochs is not done on paper: beyond this,
# answers after training are compared with exact arithmetic only
MAX_ROUNDED_EPOCHS = 3
# a step of more than this many recorded values (130 samples of the post's network) is not
# worked on paper either: answers about a larger one are compared with exact arithmetic only
HAND_NODES = 2_000
# how close (relative) a mistake's number must be to count when it does not
# agree to every digit the student wrote (their own rounding along the way)
LOOSE = 1e-4


@dataclass
class Run:
    """The numbers of one way of calculating (exact, rounded, or a mistake).

    A mistake's run keeps only its numbers; its recorded step is made again
    when a worked line of it is shown (a classroom-sized batch is large)."""

    values: dict[str, float]  # by the student's names
    recorded: StepTrace | None
    mistake: Mistake | None
    decimals: Rounding | None
    remake: Callable[[], StepTrace] | None = None
    definitions: worked.Definitions | None = None
    scope: frozenset[str] | None = None  # the names it has every value of (None: every name)

    @property
    def trace(self) -> StepTrace:
        if self.recorded is None:
            assert self.remake is not None
            self.recorded = self.remake()
        return self.recorded

    @property
    def shown(self) -> bool:
        """Whether its calculation can be shown line by line (one recorded step)."""
        return self.recorded is not None or self.remake is not None

    def defining(self, name: str) -> list[Eq]:
        """The worked example's equations defining ``name`` (each part of the
        worked example built once: the follow-through and the details read them)."""
        if self.definitions is None:
            self.definitions = worked.Definitions(self.trace)
        return self.definitions(name)

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
    also_from: list[str] = field(default_factory=list)  # (ambiguous) what else gives those digits
    follows_from: str | None = None  # (carried) the earliest wrong answer it is right from
    working: list[Eq] = field(default_factory=list)  # (carried) its equations, with the student's numbers

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.answer.graded(self.status, self.exact, self.note),
            "rounded_value": self.rounded_value,
            "mistake": self.mistakes[0].id if self.mistakes else None,
            "mistakes": list(dict.fromkeys(m.id for m in self.mistakes)),  # (a mistake's variants: one id)
            "explanation": self.mistakes[0].explain(self.answer.name) if self.mistakes else None,
            "also_from": list(self.also_from),
            "follows_from": self.follows_from,
        }


class Checker:
    """Computes (and caches) the numbers of each way of calculating."""

    def __init__(self, config: Config, epochs: int | None = None, step: int = 1):
        from ..notation import notation_of

        self.config = config
        self.epochs = epochs
        self.step = step  # the answers are about this update of consecutive ones (1: the first)
        self.mistakes = catalogue(config)
        self.notation = notation_of(Net(config))  # the names answers are read in (and shown)
        self._runs: dict[tuple[int, Rounding | None], Run] = {}
        self._order: dict[str, tuple[int, ...]] | None = None
        self._pairs: dict[tuple[str, str], Mistake | None] = {}  # two mistakes made together, once made
        self.wanted: set[str] = set()  # the names graded: what a re-run works out (see want)
        self._pairs_run = 0  # pairs of mistakes worked out so far (see _pair)
        self._tried: list[Mistake] | None = None

    def want(self, written: Iterable[str]) -> None:
        """The names answers give (as written): re-runs work out these (the
        exact calculation works out every name, to read any spelling)."""
        self.wanted |= {self.resolve(w) or w for w in written}

    @property
    def rounding_applies(self) -> bool:
        """Whether a student may have worked it by hand, rounding as they went:
        a step of a small network (HAND_NODES), after a few epochs at most."""
        if self.epochs is not None and self.epochs > MAX_ROUNDED_EPOCHS:
            return False
        return len(self.run().trace.graph.tape.nodes) <= HAND_NODES

    def run(self, mistake: Mistake | None = None, decimals: Rounding | None = None) -> Run:
        """The numbers of a way of calculating: exactly, or a mistake's; rounded
        as by hand to ``decimals`` (4, or '3sf' for significant figures)."""
        key = (id(mistake), decimals)
        found = self._runs.get(key)
        if found is None or (found.scope is not None and not self.wanted <= found.scope):
            found = self._runs[key] = self._compute(mistake, decimals)
        return found

    def order(self) -> dict[str, tuple[int, ...]]:
        """Each name's place in the order the worked example computes it."""
        if self._order is None:
            self._order = names.worked_order(self.run().trace)
        return self._order

    def hand_roundings(self, answer: Answer) -> list[Rounding]:
        """How the student may have rounded along the way: to the decimals written,
        or to the significant figures written."""
        if not self.rounding_applies:
            return []
        # to one or two decimals (or figures), nobody works a network by hand
        found: list[Rounding] = []
        if answer.decimals >= FEW_DIGITS or answer.significant >= FEW_DIGITS:
            found.append(min(answer.decimals, 15))
        if answer.significant >= FEW_DIGITS:
            found.append(f"{min(answer.significant, 15)}sf")
        return found

    def _compute(self, mistake: Mistake | None, decimals: Rounding | None) -> Run:
        try:
            run = self._calculate(mistake, decimals)
        except TrainingDiverged:
            if mistake is None and decimals is None:
                raise  # (a hand calculation that cannot be done, Adam's to 3 decimals, is just not a match)
            return Run({}, self.run().trace, mistake, decimals)  # this mistake gives no number at all
        if mistake is not None and run.recorded is not None:  # keep the numbers; remade if shown
            run.recorded = None
            run.remake = lambda: self._calculate(mistake, decimals, shown=True).trace
        return run

    def _calculate(self, mistake: Mistake | None, decimals: Rounding | None, shown: bool = False) -> Run:
        """A way of calculating's numbers (``shown``: its step recorded whole, to
        show its working; otherwise only what the names answered need)."""
        cfg = mistake.config if mistake else self.config
        variation = mistake.variation if mistake else PLAIN
        rounder = rounder_of(decimals) if decimals is not None else None
        net = Net(cfg)
        extra: dict[str, float] = {}
        if self.epochs:
            from ..training import train  # (here: only a check after training trains)

            result = train(net, self.epochs, variation=variation, rounder=rounder)
            net = Net(net.with_values(result.values))
            extra = {"error": result.error}  # in this mode: the last epoch's error, as train reports it
        if mistake is not None and mistake.procedure is not None:  # not one step: its numbers only
            if self.step > 1:
                return Run({}, self.run().trace, mistake, decimals)  # (worked for a first step only)
            values = mistake.procedure(net, rounder, decimals)
            values.update(extra)
            return Run(values, None, mistake, decimals)
        scope = None if (mistake is None and decimals is None) or shown else frozenset(self.wanted)
        wanted = scope
        if scope is not None and mistake is not None and mistake.rename is not None:
            back = {v: k for k, v in mistake.rename.items()}
            wanted = frozenset(rename_name(name, back) or name for name in scope)
        batches = cfg.batches()
        index = (self.step - 1) % len(batches)  # the first step is on the first batch, the next on the next
        first = sum(len(b) for b in batches[:index])
        recorded = names.samples_named(range(first, first + len(batches[index])), wanted)
        # the updates before this one made the same way (a mistake made at every update)
        trace = steps(net, self.step, rounder, decimals, variation, recorded=recorded)[-1]
        values = names.checkable(trace, wanted)
        values.update(extra)
        if mistake is not None and mistake.rename is not None:
            renamed = {}
            for key, value in values.items():
                new = rename_name(key, mistake.rename)
                if new is not None:
                    renamed[new] = value
            values = renamed
        return Run(values, trace, mistake, decimals, scope=scope)

    def resolve(self, written: str) -> str | None:
        """The canonical name of what a student wrote (see answers.spellings), or None."""
        known = self.run().values
        if written in known:
            return written
        written = self.notation.canonical(written) or written  # (Nielsen's names: the post's)
        if written in known:
            return written
        lower = self.__dict__.setdefault("_lower", {name.lower(): name for name in known})
        for spelling in spellings(written):
            if spelling in known:
                return spelling
            if spelling.lower() in lower:
                return lower[spelling.lower()]
        found = self.matrix_entry(written)
        if found is not None:
            try:
                return found[0].scalar_name(found[1])
            except StepPropError:
                return None  # (grade says why)
        found = self.matrix_entry(f"{written}(1)")
        if found is not None:  # a 1 x 1 matrix is its number, and so is a shared bias's column
            form, spelled = found
            matrix = form.entry_name(spelled)
            entries = {n for row in form.names()[matrix[0]] for n in row} if matrix else set()
            if len(entries) == 1:
                return entries.pop()
        return None

    def matrix_entry(self, written: str) -> tuple[MatrixForm, str] | None:
        """The step's matrix form and its spelling of ``written``, where that names
        an entry of one of its matrices (an answer given as a whole vector or
        matrix: z^[2](1,1); dE/dW^[2](1,2), δ^[2](1) and ΔW^[2](2,1) as on paper)."""
        split = re.fullmatch(r"(.*?)(\(\s*\d+\s*(?:,\s*\d+\s*)?\))", written)
        if split is None:
            return None
        from ..matrix import MatrixForm

        form = self.__dict__.get("_matrix")
        if form is None:
            form = self.__dict__["_matrix"] = MatrixForm(self.run().trace)
        own = self.notation.canonical(written)  # Nielsen's z^3(1): z^[2](1)
        if own is not None and form.entry_name(own) is not None:
            return form, own
        base, index = split.groups()
        base = base.strip()
        for spelled in (base, *_course(base, self.config), *spellings(base)):
            if form.entry_name(spelled + index) is not None:
                return form, spelled + index
        return None

    def grade(self, answer: Answer) -> Graded:
        exact_run = self.run()
        name = self.resolve(answer.name)
        if name is not None and name != answer.name:
            answer = dataclasses.replace(answer, name=name, written_as=answer.written_as or answer.name)
        exact = exact_run.values.get(answer.name)
        if exact is not None and answer.blank:
            return Graded(answer, UNANSWERED, exact)
        found = self.matrix_entry(answer.name) if exact is None else None
        if found is not None:
            try:
                found[0].scalar_name(found[1])
            except StepPropError as exc:
                raise ConfigError(str(exc), "", answer.line, answer.column) from None
        base = answer.name.partition("(")[0]
        if exact is None and answer.name.endswith(")") and self.resolve(base) is not None:
            raise ConfigError(
                f"{show(base)} is one number: write its answer as a number, not a list", "", answer.line, answer.column
            )
        whole = self.matrix_entry(f"{answer.name}(1)") if exact is None else None
        if whole is not None:  # (a 1 x 1 matrix is resolved to its number)
            rows, cols = whole[0].size(whole[1])
            raise ConfigError(
                f"{show(answer.name)} is {rows} x {cols}: write its answer as a list, "
                + ("[1, 2]" if 1 in (rows, cols) else "[[1, 2], [3, 4]] (a list of its rows)"),
                "",
                answer.line,
                answer.column,
            )
        given = self.notation.canonical(answer.name) or answer.name
        if exact is None and given in names.environment(exact_run.trace):  # w5, i1, target_o1, eta
            written = answer.part_of or answer.written_as or answer.name
            update = f"; its update is {written}+" if given in exact_run.trace.before else ""
            raise ConfigError(
                f"{show(written)} is given in the config, not worked out by the step: there is nothing to check"
                + update,
                "",
                answer.line,
                answer.column,
            )
        if exact is None:
            raise ConfigError(
                f"unknown quantity '{show(answer.name)}'"
                f"{suggest(answer.name, self.notation.values(exact_run.values), 3)}; "
                "'stepprop explain --names' (Step.names in Python) lists every name",
                "",
                answer.line,
                answer.column,
            )
        if right(exact, answer):
            return self._unless_ambiguous(Graded(answer, CORRECT, exact))
        for rounding in self.hand_roundings(answer):
            rounded = self.run(None, rounding).values.get(answer.name)
            if rounded is not None and agrees(rounded, answer):
                return Graded(
                    answer,
                    ROUNDED,
                    exact,
                    rounded_value=rounded,
                    note=f"a hand calculation rounded to {describe(rounding)} at every step",
                )
        graded = Graded(answer, WRONG, exact)
        self._diagnose(graded)
        return graded

    def _unless_ambiguous(self, graded: Graded) -> Graded:
        """Right to the digits written, unless those digits are also what a
        mistake gives, or the parameter's value before the update: then they
        cannot tell (``ambiguous``), whatever the student meant."""
        answer = graded.answer
        also: list[tuple[str, str, float]] = []  # (id, words, value)
        for m in self.same_digits(answer, graded.exact):
            also.append((m.id, f"{m.label} ({m.title})", self.run(m).values[answer.name]))
        before = self.run().trace.before
        if answer.name.endswith("+") and answer.name[:-1] in before:
            value = before[answer.name[:-1]]
            if value != graded.exact and right(value, answer):
                also.append((BEFORE_UPDATE, f"the value before the update ({answer.name[:-1]})", value))
        if not also:
            return graded
        graded.status = AMBIGUOUS
        graded.also_from = list(dict.fromkeys(ident for ident, _, _ in also))
        _, words, value = also[0]
        more = f" and {len(also) - 1} more" if len(also) > 1 else ""
        graded.note = f"these digits are also those of {words}{more}, {value:.10g}: write more digits"
        return graded

    def same_digits(self, answer: Answer, exact: float) -> list[Mistake]:
        """The mistakes tried whose number of the answer's quantity differs from
        the exact one but agrees with the answer to the digits written."""
        return [m for m in self._changing(answer.name, exact) if right(self.run(m).values[answer.name], answer)]

    def _allowance(self) -> int | None:
        """How many mistakes and pairs a check after training works out in all
        (see TRAINED_BUDGET); None for one step, where every mistake is tried."""
        if not self.epochs:
            return None
        cost = len(self.run().trace.graph.tape.nodes) * (self.epochs + 1)
        return max(1, TRAINED_BUDGET // cost)

    def tried(self) -> list[Mistake]:
        """The mistakes a check tries (in catalogue order): every one for a step;
        after training, the first variant of each mistake before the second
        variant of any, as many as the budget allows."""
        if self._tried is None:
            allowance = self._allowance()
            if allowance is None or allowance >= len(self.mistakes):
                self._tried = list(self.mistakes)
            else:
                seen: dict[str, int] = {}
                variant = []  # which variant of its mistake each is: 0 for the first
                for m in self.mistakes:
                    variant.append(seen.get(m.id, 0))
                    seen[m.id] = variant[-1] + 1
                ranked = sorted(range(len(self.mistakes)), key=lambda i: (variant[i], i))[:allowance]
                self._tried = [self.mistakes[i] for i in sorted(ranked)]
        return self._tried

    def _none(self) -> str:
        """The note of an answer no mistake tried reproduces."""
        tried = len(self.tried())
        if tried == len(self.mistakes):
            return "no common mistake reproduces it"
        return f"none of the {count(tried, 'mistake')} tried reproduces it (of {len(self.mistakes)}: see the summary)"

    def _changing(self, name: str, exact: float) -> list[Mistake]:
        """The mistakes tried whose calculation gives another value of ``name``."""
        out = []
        for m in self.tried():
            value = self.run(m).values.get(name)
            if value is not None and not (value == exact or abs(value - exact) <= PRECISE * abs(exact)):
                out.append(m)
        return out

    def _pair(self, graded: Graded, changing: list[Mistake]) -> bool:
        """Two mistakes together, where no one alone gives the answer. Every pair
        that can be made together is worked out where the network is small; a
        larger one (or a long training first) gets a budget, spent on the pairs
        whose numbers, estimated from each mistake's alone, come nearest."""
        answer = graded.answer
        exact = graded.exact
        if answer.significant < FEW_DIGITS:
            return False
        values = {m.id: self.run(m).values[answer.name] for m in changing}
        candidates = []
        for i, a in enumerate(changing):
            for b in changing[i + 1 :]:
                key = (a.id, b.id)
                if key not in self._pairs:
                    self._pairs[key] = pair(self.config, a, b)
                both = self._pairs[key]
                if both is not None:
                    miss = min(abs(e - answer.value) for e in _estimates(exact, values[a.id], values[b.id]))
                    candidates.append((miss if math.isfinite(miss) else math.inf, both))
        candidates.sort(key=lambda t: t[0])
        allowance = self._allowance()
        if allowance is None:
            allowance = -(-PAIR_BUDGET // len(self.run().trace.graph.tape.nodes))
        else:  # after training, pairs have what the single mistakes left of the budget
            allowance -= len(self.tried())
        for _, both in candidates:
            fresh = (id(both), None) not in self._runs
            if fresh and self._pairs_run >= allowance:
                break  # the check's budget for pairs is spent (those worked out already are free)
            self._pairs_run += fresh
            value = self.run(both).values.get(answer.name)
            if value is not None and agrees(value, answer):
                graded.mistakes, graded.mistaken, graded.approximate = [both], self.run(both), False
                _name_mistake(graded)
                return True
        return False

    def _diagnose(self, graded: Graded) -> None:
        answer = graded.answer
        if truncated(graded.exact, answer):
            graded.note = "the exact value cut off in the last digit: round it instead"
            return
        tiers: list[tuple[Rounding | None, bool]] = [(None, False)]
        tiers += [(rounding, False) for rounding in self.hand_roundings(answer)]
        if answer.significant >= FEW_DIGITS:
            tiers.append((None, True))
        # only a mistake that changes this quantity can explain a wrong value of it
        changing = self._changing(answer.name, graded.exact)
        near = [m for m in changing if _near(self.run(m).values.get(answer.name, math.nan), answer.value)]
        for decimals, loose in tiers:
            found = []
            # rounding along the way moves a mistake's number a little: only near ones are re-run rounded
            for m in changing if decimals is None else near:
                run = self.run(m, decimals)
                value = run.values.get(answer.name)
                if value is None or not math.isfinite(value):
                    continue
                miss = abs(value - answer.value)
                if loose:  # near the mistake's number, and nearer to it than to the right one
                    close = miss <= LOOSE * abs(value) and miss < abs(graded.exact - answer.value)
                else:
                    close = agrees(value, answer)
                if close:
                    found.append((m, run))
            if found:
                graded.mistakes = [m for m, _ in found]
                graded.mistaken = found[0][1]
                graded.approximate = loose
                _name_mistake(graded)
                return
        # no mistake: the sign, a slip in the last digit, or perhaps the number of another quantity
        if graded.exact != 0 and right(-graded.exact, answer):
            graded.note = "the right number with the wrong sign"
            return
        slip = _units(answer.value - graded.exact, answer.decimals)
        if answer.significant >= FEW_DIGITS and 1 <= slip <= 2:
            graded.note = (
                f"{slip} off in the last digit written (the exact value rounds to {_rounded(graded.exact, answer)})"
            )
            return
        if answer.significant < FEW_DIGITS:
            graded.note = self._none()
            return
        if self._pair(graded, changing):
            return
        kind, right_text = _slip(graded.exact, answer)
        if kind:
            graded.note = f"a slip of one digit ({kind}): the exact value is {right_text}"
            return
        for m in changing:  # a slip made on a mistake's number
            kind, their = _slip(self.run(m).values[answer.name], answer)
            if kind:
                graded.mistakes, graded.mistaken, graded.approximate = [m], self.run(m), True
                graded.note = f"{m.label}: {m.title}, and a slip of one digit ({kind}) from its {their}"
                return
        unit = 10.0**-answer.decimals  # a value that rounds to the answer is within half of this
        for other, value in self.run().values.items():
            if not abs(value - answer.value) <= unit:  # (NaN too) a quick test before the exact one
                continue
            if other != answer.name and abs(value) > 1e-12 and abs(value - 1) > 1e-12 and agrees(value, answer):
                graded.note = f"this is the value of {other}"
                return
        graded.note = self._none()


def _estimates(exact: float, a: float, b: float) -> tuple[float, float]:
    """Two mistakes' number, estimated from each one's alone: their changes
    added, or their factors multiplied."""
    product = a * b / exact if exact != 0 else math.nan
    return exact + (a - exact) + (b - exact), product


def _name_mistake(graded: Graded) -> None:
    first = graded.mistakes[0]
    close = " (close, not to every digit)" if graded.approximate else ""
    graded.note = f"{first.label}: {first.title}{close}"


def prefer_consistent(checker: Checker, graded: list[Graded]) -> None:
    """Where several mistakes give a wrong answer's number, name first the one
    that agrees with the student's other answers: fewest of their right
    answers it would have made wrong, then most of their wrong ones it gives
    too. (With two samples, dropping the error's 1/2 and summing the batch
    give the same dE/dw; only the first changes E_total[1].)"""
    right_ones = _right_ones(graded)
    for g in graded:
        if g.status != WRONG or len(g.mistakes) < 2:
            continue

        def evidence(m: Mistake, g: Graded = g) -> tuple[int, int]:
            against = sum(1 for _ in _made_wrong(checker, m, right_ones))
            support = sum(1 for other in graded if other is not g and other.status == WRONG and m in other.mistakes)
            return against, -support

        ranked = sorted(g.mistakes, key=evidence)
        if ranked[0] is not g.mistakes[0]:
            decimals = g.mistaken.decimals if g.mistaken is not None else None
            g.mistakes = ranked
            g.mistaken = checker.run(ranked[0], decimals)
            _name_mistake(g)


def _near(value: float, given: float) -> bool:
    """Within a few percent: what a hand calculation's rounding could move a number."""
    return math.isfinite(value) and abs(value - given) <= 0.05 * max(abs(value), abs(given))


def _slip(exact: float, answer: Answer) -> tuple[str, str]:
    """('a digit changed', '0.3775') where the answer is the exact value with one
    digit changed, dropped, added, or two neighbours swapped (0.3375 for 0.3775)."""
    written = answer.digits_text.lstrip("+")
    for places in (answer.decimals, answer.decimals + 1, answer.decimals - 1):
        if places < 0:
            continue
        rounded = to_places(exact, places)
        right = str(rounded)
        kind = _one_edit(written, right)
        if kind:
            if places < answer.decimals and rounded != Decimal(repr(exact)):
                right += f" to {count(places, 'decimal')}"  # (not the exact value itself)
            return kind, right
    return "", ""


def _one_edit(a: str, b: str) -> str:
    """How a differs from b by one edit of a digit, or ''."""
    if a == b:
        return ""
    if len(a) == len(b):
        diff = [k for k in range(len(a)) if a[k] != b[k]]
        if len(diff) == 1 and a[diff[0]].isdigit() and b[diff[0]].isdigit():
            return "a digit changed"
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return "two digits swapped"
        return ""
    longer, shorter, kind = (a, b, "a digit added") if len(a) > len(b) else (b, a, "a digit dropped")
    if len(longer) - len(shorter) != 1:
        return ""
    # not the last digit: a number with one digit more or less at its end is written to
    # other decimals (-0.0115 is not -0.011 with a 5 added), not slipped
    for k in range(len(longer) - 1):
        if longer[k].isdigit() and longer[:k] + longer[k + 1 :] == shorter:
            return kind
    return ""


def _units(difference: float, decimals: int) -> int:
    """How many units of the last decimal written a difference is (rounded), for
    any number of decimals (10 ** 330 is beyond a float)."""
    if decimals < 300:
        return round(abs(difference) * 10**decimals)
    from decimal import Decimal

    return round(Decimal(repr(abs(difference))).scaleb(decimals))


def _rounded(x: float, answer: Answer) -> str:
    """``x`` to the decimals the student wrote."""
    return str(to_places(x, answer.decimals))


def check(
    config: Config, answers: list[Answer], epochs: int | None = None, source: str = "", step: int | None = None
) -> Grades:
    """Grade one student's answers (``epochs``: about the network after that
    much training; ``step``: about the step-th consecutive update; by default
    what the answers file says)."""
    if epochs is None:
        epochs = getattr(answers, "epochs", None)
    if step is None:
        step = getattr(answers, "step", None)
    if epochs and step and step > 1:
        raise StepPropError("give either epochs (answers after training) or a step number, not both")
    return grade(Checker(config, epochs, step or 1), answers, source)


def grade(checker: Checker, answers: list[Answer], source: str = "") -> Grades:
    """Grade answers with a checker (whose runs a whole class shares)."""
    checker.want(a.name for a in answers)
    graded = []
    try:
        _whole_lists(checker, answers)
        for answer in answers:
            graded.append(checker.grade(answer))
    except ConfigError as exc:
        exc.path = source or exc.path
        exc.message = checker.notation.text(exc.message)  # (naming what it names as the config does)
        exc.args = (str(exc),)
        raise
    ruled_out(checker, graded)
    transposed(checker, graded)
    prefer_consistent(checker, graded)
    follow_through(checker, graded)
    return Grades(checker, graded, source)


def transposed(checker: Checker, graded: list[Graded]) -> None:
    """A square matrix answered transposed, every entry the exact value of its
    mirror (a delta^T in place of delta a^T): each wrong entry says so, in place
    of a mistake its number happens to match."""
    given: dict[str, dict[tuple[int, int], Graded]] = {}
    for g in graded:
        found = checker.matrix_entry(g.answer.written_as) if g.answer.part_of and not g.answer.blank else None
        where = found[0].entry_name(found[1]) if found is not None else None
        if where is not None and where[2] is not None:
            given.setdefault(g.answer.part_of, {})[(where[1], where[2])] = g
    exact = checker.run().values
    for entries in given.values():
        size = max(i for i, _ in entries)
        if size < 2 or len(entries) != size * size or not any(g.status == WRONG for g in entries.values()):
            continue
        if not all(right(exact[entries[(j, i)].answer.name], g.answer) for (i, j), g in entries.items()):
            continue
        for (i, j), g in entries.items():
            if g.status == WRONG:
                mirror = entries[(j, i)].answer.name
                g.mistakes, g.mistaken, g.approximate = [], None, False
                g.note = f"the matrix written transposed: this is entry ({j}, {i}), {mirror}"


def _right_ones(graded: list[Graded]) -> list[Graded]:
    """The answers that are the exact values, to the digits written."""
    return [g for g in graded if g.status in (CORRECT, ROUNDED, AMBIGUOUS)]


def _made_wrong(checker: Checker, m: Mistake, right_ones: list[Graded]) -> Iterator[Graded]:
    """The right answers that mistake ``m`` would have made wrong: the evidence
    of the student's other answers against it."""
    values = checker.run(m).values
    for other in right_ones:
        if other.answer.name in values and not right(values[other.answer.name], other.answer):
            yield other


def ruled_out(checker: Checker, graded: list[Graded]) -> None:
    """An ambiguous answer is right after all where every mistake that also
    gives its digits is ruled out by the student's other right answers: one
    whose number that mistake would have made different (a correct z^[1] rules
    out the hidden layer's weights read column by column, whatever out_o1's
    digits are). The value before the update is never ruled out."""
    order = checker.order()
    last = (len(order) + 1,)
    right_ones = sorted(_right_ones(graded), key=lambda g: order.get(g.answer.name, last))  # the earliest named
    for g in graded:
        if g.status != AMBIGUOUS or BEFORE_UPDATE in g.also_from:
            continue
        labels: list[str] = []
        against: list[str] = []
        for m in checker.same_digits(g.answer, g.exact):
            found = next((o.answer for o in _made_wrong(checker, m, right_ones) if o is not g), None)
            if found is None:
                break  # this mistake agrees with every other answer: still ambiguous
            labels.append(m.label)
            against.append(found.written_as or found.name)
        else:
            labels, against = list(dict.fromkeys(labels)), list(dict.fromkeys(against))
            g.status = CORRECT
            g.also_from = []
            g.note = (
                f"{' and '.join(labels)} {'gives' if len(labels) == 1 else 'give'} these digits too; your "
                f"{', '.join(against)} {'rules' if len(against) == 1 else 'rule'} "
                f"{'it' if len(labels) == 1 else 'them'} out"
            )


def _course(base: str, config: Config) -> list[str]:
    """A matrix name as Stanford CS230's code writes a gradient: dW^[2] (or dW2)
    for dE/dW^[2], db^[2], dA^[2]; and dZ^[2] for dE/dz^[2], which is delta^[2]
    where delta is the gradient (not under delta: error, where it is -delta)."""
    found = re.fullmatch(r"d([WbZzAa])\^?\[?(\d+)\]?", base)
    if found is None:
        return []
    letter, layer = found.groups()
    if letter in "Zz":
        return [f"delta^[{layer}]"] if config.delta == "gradient" else []
    matrix = {"W": "W", "b": "b", "A": "a", "a": "a"}[letter]
    return [f"dE_total/d{matrix}^[{layer}]", f"dE/d{matrix}^[{layer}]"]


def _whole_lists(checker: Checker, answers: list[Answer]) -> None:
    """A list answer gives every entry of its vector or matrix: one with too
    few is an error where it is written (too many: see MatrixForm.scalar_name)."""
    given: dict[str, list[Answer]] = {}
    for answer in answers:
        if answer.part_of:
            given.setdefault(answer.part_of, []).append(answer)
    for key, entries in given.items():
        first = entries[0]
        found = checker.matrix_entry(first.name)
        if found is None:
            continue  # (an unknown name: grade says so)
        rows, cols = found[0].size(found[1])
        if len(entries) < rows * cols:
            raise ConfigError(
                f"{show(key)} is {rows} x {cols}: the answer gives {len(entries)} of its {rows * cols} entries; "
                "write them all",
                "",
                first.line,
                first.column,
            )


def follow_through(checker: Checker, graded: list[Graded]) -> None:
    """Follow-through credit: a wrong answer that is right from the student's own
    numbers (see ``follow``) is ``carried``, naming the earliest wrong answer,
    in the order the worked example computes them, that it follows from."""
    wrong = {g.answer.name: g for g in graded if g.status == WRONG}
    if not wrong:
        return
    run = checker.run()
    given = {g.answer.name: g.answer for g in graded if not g.answer.blank}
    order = checker.order()
    found = FollowThrough(
        run.defining, names.environment(run.trace), order, names.error_names(run.trace), given, set(wrong)
    ).carried()

    def roots(name: str, seen: frozenset[str]) -> set[str]:
        if name not in found:
            return {name}
        if name in seen:  # (no equation is circular; guarded all the same)
            return set()
        return {r for n in found[name].uses for r in roots(n, seen | {name})}

    for name, carried in found.items():
        g = wrong[name]
        g.status = CARRIED
        g.working = carried.working
        g.follows_from = min(roots(name, frozenset()) or carried.uses, key=lambda n: order.get(n, (9,)))
        mine = ", ".join(carried.uses)
        via = "" if mine == g.follows_from else f" (carried from your {g.follows_from})"
        g.note = f"right from your {mine}{via}"


def counts_of(graded: list[Graded]) -> dict[str, int]:
    """How many answers have each status."""
    return {s: sum(g.status == s for g in graded) for s in STATUSES}


def report_header(checker: Checker, source: str) -> dict[str, Any]:
    """What the JSON of a check (one student's or a class's) opens with."""
    return {
        "stepprop": 1,
        "command": "check",
        "config": checker.config.source,
        "answers_file": source,
        "epochs": checker.epochs,
        "step": checker.step,
        "mistakes_tried": len(checker.tried()),  # (variants) all but after a long training: see tried()
        "mistakes_catalogued": len(checker.mistakes),
    }


def tried_line(checker: Checker) -> str | None:
    """The summary's line on the mistakes a check after training left untried."""
    tried = checker.tried()
    if len(tried) == len(checker.mistakes):
        return None
    numbers = [str(n) for n in dict.fromkeys(m.number for m in tried)]
    which = numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]
    return (
        f"{len(tried)} of the catalogue's {len(checker.mistakes)} mistakes tried (numbers {which}), each trained"
        f" for {count(checker.epochs or 0, 'epoch')} too: a check costs at most about twice the training"
    )


@dataclass
class Grades:
    """The grades of a file of answers (``stepprop check``)."""

    checker: Checker
    graded: list[Graded]
    source: str

    @property
    def wrong(self) -> int:
        return sum(g.status == WRONG for g in self.graded)

    def to_dict(self) -> dict[str, Any]:
        return {
            **report_header(self.checker, self.source),
            "counts": counts_of(self.graded),
            "answers": [g.to_dict() for g in self.graded],
        }

    def document(self) -> Document:
        cfg = self.checker.config
        when = (
            f"after {count(self.checker.epochs, 'epoch')} of training and one more step"
            if self.checker.epochs
            else f"update {self.checker.step} of consecutive training steps"
            if self.checker.step > 1
            else "one training step"
        )
        where = "given in Python" if self.source == "the answers" else f"from {self.source}"
        intro = [f"answers {where} for {cfg.source}: {when}"]
        counts = counts_of(self.graded)
        intro.append(", ".join(f"{n} {s}" for s, n in counts.items() if n or s in (CORRECT, ROUNDED, WRONG)))
        untried = tried_line(self.checker)
        if untried:
            intro.append(untried)
        first = self.first_wrong()
        if first is not None:
            carried = sum(g.follows_from == first for g in self.graded)
            later = f"; {carried} later {'answer is' if carried == 1 else 'answers are'} right from it"
            intro.append(f"the first wrong answer is {first}" + (later if carried else ""))
        rows: list[list] = []
        for g in self.graded:
            shown = g.answer.name
            if g.answer.written_as and g.answer.written_as not in (shown, self.checker.notation.name(shown)):
                shown += f" (as {g.answer.written_as})"
            rows.append([shown, g.answer.text, Num(g.exact), Label(g.status, g.status), g.note])
        sections = [Section("The answers", [Table(["name", "student", "stepprop", "status", "note"], rows)])]
        for g in self.graded:
            if g.status == WRONG:
                sections.append(self._details(g))
            elif g.status == CARRIED:
                sections.append(self._carried(g))
        return Document("Checking answers", intro, sections)

    def first_wrong(self) -> str | None:
        """The earliest wrong answer in the order the step works things out
        (where a student's calculation first went astray), or None."""
        order = self.checker.order()
        wrong = [g.answer.name for g in self.graded if g.status == WRONG]
        return min(wrong, key=lambda n: order.get(n, (9,)), default=None)

    def _carried(self, g: Graded) -> Section:
        name = g.answer.name
        items: list = [Text(f"you wrote {g.answer.text}; from your own numbers that is right:")]
        items += g.working
        items.append(Text(f"The error comes from your {g.follows_from}. The exact value:"))
        items += _lines_for(self.checker.run(), name, self.checker.epochs) or [Eq(Sym(name), [Num(g.exact)])]
        return Section(f"{name}: {g.answer.text} is right from your {g.follows_from}", items)

    def _details(self, g: Graded) -> Section:
        name = g.answer.name
        items: list = [Text(f"you wrote {g.answer.text}; the exact value is shown below")]
        items += _lines_for(self.checker.run(), name, self.checker.epochs) or [Eq(Sym(name), [Num(g.exact)])]
        if g.mistakes:
            first = g.mistakes[0]
            items.append(Text(("Likely " if g.approximate else "") + f"{first.label}: {first.explain(name)}."))
            run = g.mistaken
            if run is not None and run.shown:
                vname = run.variant_name(name)
                lines = _lines_for(run, vname, self.checker.epochs, run.mistake) if vname else []
                if lines:
                    items.append(Text("That calculation gives:"))
                    items += lines
            others = list(dict.fromkeys(m.title for m in g.mistakes[1:] if m.title != first.title))
            if others:
                items.append(Text("The same number also comes from: " + "; ".join(others)))
        else:
            items.append(Text(g.note[0].upper() + g.note[1:] + "."))
        return Section(f"{name}: {g.answer.text} is wrong", items)


def template(trace: StepTrace) -> str:
    """An answers file to fill in: every name of the worked example in its order,
    under the section it is derived in, each with what it is."""
    from ..expr import plain, symbols
    from ..notation import notation_of

    doc = worked.explain(trace, inputs=True, changes=True)  # every name, each where it is derived
    cfg = trace.config
    shown = notation_of(trace.net, trace.graph.multi)  # the names written in the config's notation
    lines = [
        f"# Answers for stepprop check, for {cfg.source}: one training step"
        + (f" on batch {trace.batch_index + 1}" if len(cfg.batches()) > 1 else "")
        + ".",
        "# Fill in the numbers you worked out; leave the rest blank (they are 'unanswered').",
        "# Numbers as 0.5933, -0.5933, 0,5933, 5.933e-1, 5.933 x 10^-1 or -1/4.",
    ]
    known = names.checkable(trace)
    seen: set[str] = set()

    def emit(name: str, what: str) -> None:
        if name in known and name not in seen:
            seen.add(name)
            lines.append(f"{yaml_key(shown.name(name))}:{f'   # {what}' if what else ''}")

    def walk(items: list, depth: int) -> None:
        for item in items:
            if isinstance(item, Section):
                lines.append("")
                lines.append("#" + " " * (2 * depth + 1) + shown.text(item.title))
                walk(item.items, depth + 1)
            elif isinstance(item, Eq) and not item.reused:
                formula = next((r for r in item.rhs if symbols(r)), None)
                line = shown.name(item.name) if item.name else ""
                if item.name:
                    emit(item.name, f"= {plain(shown.expr(formula))}" if formula is not None else shown.text(item.note))
                # the same number by another name (delta_o1 = dE_total/dnet_o1), and the
                # factors this line names, where they are derived nowhere else
                for leaf in [item.lhs, *(s for r in item.rhs for s in symbols(r))]:
                    if isinstance(leaf, (Sym, D, Via)) and item.name:
                        alias = any(r == leaf for r in item.rhs) or leaf == item.lhs
                        emit(leaf.ascii, f"= {line}" if alias else f"a factor in the line of {line}")

    walk(doc.sections, 0)
    rest = [name for name in known if name not in seen]
    if rest:
        lines += ["", "# Other names"]
        for name in rest:
            emit(name, "")
    return "\n".join(lines) + "\n"


def yaml_key(name: str) -> str:
    """A name as a YAML key (quoted where YAML would read it otherwise)."""
    import re

    return name if re.fullmatch(r"[A-Za-z][\w/+\[\]^]*", name) else f'"{name}"'


def _lines_for(run: Run, name: str, epochs: int | None, mistake: Mistake | None = None) -> list[Eq]:
    """The equations of a worked example that define ``name`` (with numbers)."""
    if epochs and name == "error":
        return []
    found = run.defining(name)
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


def _rename(e: Expr, mapping: dict[str, str]) -> Expr:
    """An expression with parameter symbols renamed (variant -> student)."""

    def sym(s: Sym) -> Sym:
        key = s.base + s.sub
        if s.base in ("w", "b") and s.sub.isdigit() and key in mapping:
            new = mapping[key]
            return s.replace(new[0], new[1:])
        return s

    def leaf(x: Expr) -> Expr:
        if isinstance(x, Sym):
            return sym(x)
        if isinstance(x, D):
            return D(sym(x.num), sym(x.den))
        if isinstance(x, Via):
            return Via(D(sym(x.d.num), sym(x.d.den)), x.through, rename_name(x.name, mapping) or x.name)
        return x

    return substitute(e, leaf)
