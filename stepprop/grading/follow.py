"""Follow-through credit: the calculation redone from a student's own answers.

An exam gives credit for a step done right from an earlier wrong number. Here
that is the worked example's own equation for an answer (``dE_total/dw5 =
delta_o1 * out_h1``, ``w5+ = w5 - eta * dE_total/dw5``) evaluated with the
student's numbers where they wrote them; a quantity they did not write that
depends on a wrong one (``dout_h1/dnet_h1`` from their ``out_h1``) is redone
from its own equation the same way, in the order the worked example computes
them. Every number comes from those printed equations, which the tests
evaluate against the engine's trace.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from ..document import Eq
from ..expr import D, Expr, Num, Sym, Via, evaluate, substitute, symbols
from .answers import Answer, right

_SAMPLE = re.compile(r"\[(\d+)\]$")


class Carried(NamedTuple):
    """A wrong answer that is right from the student's own numbers: the wrong
    answers it uses (directly or through quantities they did not write), and
    the working, last line the answer's own."""

    uses: list[str]
    working: list[Eq]


class Redo(NamedTuple):
    value: float
    uses: frozenset[str]  # the wrong answers it was computed from
    working: tuple[Eq, ...]  # how, for a quantity the student did not write


class FollowThrough:
    """The calculation redone from the student's answers ``given`` (by name),
    of which ``wrong`` are wrong; ``defining`` gives the worked example's
    equations for a name, ``exact`` every symbol's exact value, ``order`` each
    name's place in the worked example, ``errors`` the error quantities (no step
    but another error's uses them)."""

    def __init__(
        self,
        defining: Callable[[str], list[Eq]],
        exact: Mapping[str, float],
        order: Mapping[str, tuple[int, ...]],
        errors: set[str],
        given: Mapping[str, Answer],
        wrong: set[str],
    ):
        self.defining, self.exact, self.order, self.errors = defining, exact, order, errors
        self.given, self.wrong = given, wrong
        self.redone: dict[str, Redo] = {}
        self.active: set[str] = set()

    def carried(self) -> dict[str, Carried]:
        """Every wrong answer that is right from the student's numbers."""
        found: dict[str, Carried] = {}
        for name in sorted(self.wrong, key=self._place):
            answer = self.given[name]
            for eq, step in self._steps(name):
                same = step.ascii if isinstance(step, (Sym, D, Via)) else None
                if same in found and _follows(self.given[same].value, answer, self.exact.get(name, math.nan)):
                    # another name for an answer carried (E_total = E_o1, one output): as that one
                    line = Eq(eq.lhs, [step, _written(self.given[same])], name=name)
                    found[name] = Carried(found[same].uses, [*found[same].working, line])
                    break
                done = self._step(name, eq, step)
                if done is not None and done.uses and _follows(done.value, answer, self.exact.get(name, math.nan)):
                    found[name] = Carried(sorted(done.uses, key=self._place), list(done.working))
                    break
        return found

    def _steps(self, name: str) -> Iterator[tuple[Eq, Expr]]:
        """The steps of the worked example's equations for ``name``, in order."""
        for eq in self.defining(name):
            for step in eq.rhs:
                yield eq, step

    def _place(self, name: str) -> tuple[int, ...]:
        return self.order.get(name, (9,))

    def _step(self, name: str, eq: Eq, step: Expr, alias: bool = False) -> Redo | None:
        """One step of ``name``'s equation with the student's numbers: its value,
        the wrong answers it uses, the working (the quantities redone, then the
        step itself with its numbers). A step that is another name for the same
        number (delta_o1 = dE_total/dnet_o1) counts only with ``alias``: for a
        quantity redone, not for an answer (the same answer twice is not a step)."""
        if isinstance(step, (Sym, D, Via)) and not alias:
            return None
        leaves = list(dict.fromkeys(leaf.ascii for leaf in symbols(step)))
        if not leaves or name in leaves:
            return None
        values: dict[str, float] = {}
        uses: set[str] = set()
        working: list[Eq] = []
        for leaf in leaves:
            redo = self.mine(leaf)
            if redo is None:
                return None
            values[leaf] = redo.value
            uses |= redo.uses
            for line in redo.working:
                if line not in working:
                    working.append(line)
        try:
            value = evaluate(step, values)
        except (ArithmeticError, KeyError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        numbers = substitute(step, lambda leaf: self._number(leaf, values))
        working.append(Eq(eq.lhs, [step, numbers, Num(value)], name=name))
        return Redo(value, frozenset(uses), tuple(working))

    def mine(self, name: str) -> Redo | None:
        """A quantity as the student has it: their answer; else redone from its
        equation where it may depend on a wrong answer; else its exact value."""
        answer = self.given.get(name)
        if answer is not None:
            return Redo(answer.value, frozenset({name} & self.wrong), ())
        if name not in self.exact:
            return None
        if name in self.redone:
            return self.redone[name]
        exact = Redo(self.exact[name], frozenset(), ())
        if name in self.active or not self._may_use_wrong(name):
            return exact
        self.active.add(name)
        try:
            found = exact
            for eq, step in self._steps(name):
                done = self._step(name, eq, step, alias=True)
                if done is not None and done.uses:  # (else: another form of it may use them)
                    found = done
                    break
        finally:
            self.active.discard(name)
        self.redone[name] = found
        return found

    def _may_use_wrong(self, name: str) -> bool:
        """Whether a quantity can depend on one of the wrong answers: one worked
        out before it, in the same sample (or in none), and no error but
        for another error."""
        place = self.order.get(name)
        if place is None:
            return False
        sample = _sample(name)
        for w in self.wrong:
            # (at the same place: worked out at the same node, as dE_o1/dout_h1 from delta_o1)
            if w == name or self._place(w) > place or (w in self.errors and name not in self.errors):
                continue
            other = _sample(w)
            if sample is None or other is None or sample == other:
                return True
        return False

    def _number(self, leaf: Expr, values: Mapping[str, float]) -> Expr | None:
        """A leaf as the student's working has it: their answer as written,
        else its (redone or exact) value."""
        if not isinstance(leaf, (Sym, D, Via)):
            return None
        answer = self.given.get(leaf.ascii)
        if answer is not None:
            return _written(answer)
        return Num(values[leaf.ascii])


def _written(answer: Answer) -> Num:
    """An answer's number as the student wrote it."""
    return Num(answer.value, written=answer.text.lstrip("+-"))


def _sample(name: str) -> str | None:
    m = _SAMPLE.search(name)
    return m.group(1) if m else None


def _follows(value: float, answer: Answer, exact: float) -> bool:
    """Right from the student's numbers: to the digits written, or one off in the
    last of them (the factors they didn't write down were rounded too) where
    their earlier answers make a difference at those digits."""
    if right(value, answer):
        return True
    unit = 10.0**-answer.decimals
    return abs(value - answer.value) <= 1.5 * unit and round(value / unit) != round(exact / unit)
