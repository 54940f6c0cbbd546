"""Grade answers about an expression's graph (:mod:`stepprop.graph`) and
name the graph's well-known mistakes.

Every value, gradient (``df/dq``) and local gradient (``dq/dx``) of the
graph can be answered.  Each answer is ``correct`` (the exact value, to the
digits written), ``rounded`` (a hand calculation that rounds every result
to the decimals or figures written), ``carried`` (wrong, but right from
the student's own wrong answers for the gradients and local gradients it
is made of: follow-through credit) or ``wrong``.  A wrong gradient is
re-worked with each slip of the backward pass, made at one place of the
graph at a time (the rest done right), and a slip that gives the student's
number is named:

* the local gradient left out (the upstream gradient passed on as it is);
* the upstream gradient not multiplied in (the local gradient alone);
* only one path summed, for a node used more than once;
* the sign of a subtraction, a division's denominator or a negation lost;
* the gradient of max (or min, or ReLU) sent to the wrong branch.

The last two are the operations' own (``Op.variants`` in
:mod:`stepprop.ops`): each says how the slip changes its local gradients.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..document import Document, Eq, Label, Section, Table, Text
from ..engine import Node
from ..errors import ConfigError
from ..expr import Num, Sym, evaluate
from ..graph import Expression, GraphTrace, record
from ..notation import MAZUR
from ..rounding import Rounding, describe
from ..rounding import rounder as rounder_of
from ..words import count
from . import CARRIED, CORRECT, ROUNDED, STATUSES, UNANSWERED, WRONG  # (the statuses of every check)
from .answers import FEW_DIGITS, Answer, agrees, right

LOOSE = 1e-4  # how close (relative) a slip's number must be when it does not agree to every digit written

# each slip: (its title, what it means)
SLIPS = {
    "local_left_out": (
        "the local gradient left out",
        "the upstream gradient passed on without multiplying it by the local gradient",
    ),
    "upstream_left_out": (
        "the upstream gradient not multiplied in",
        "the local gradient taken as the gradient, without multiplying it by the upstream gradient",
    ),
    "one_path": (
        "only one path summed",
        "a node used more than once collects the gradient of every path (their sum); one path was taken",
    ),
    "sign_lost": (
        "the sign lost",
        "the local gradient of a subtraction's second operand is -1, of a division's denominator -a/b^2, "
        "of a negation -1; the minus was dropped",
    ),
    "wrong_branch": (
        "the gradient sent to the wrong branch",
        "max passes the gradient to the larger operand only (min to the smaller; ReLU where its input is "
        "positive); it went to the other",
    ),
}


class Slip(NamedTuple):
    """One slip of the backward pass at one place: on an ``edge`` (child,
    position: a local or upstream gradient left out), at an operation
    (``child``, whose local gradients are taken as ``partials``: a lost sign,
    max's wrong branch), or at a ``node`` used more than once (only the paths
    of the edges ``kept`` summed); ``words``: what it means here."""

    id: str
    words: str
    edge: tuple[Node, int] | None = None
    child: Node | None = None
    partials: tuple[float, ...] = ()
    node: Node | None = None
    kept: tuple[tuple[Node, int], ...] = ()  # (one_path) the edges (child, position) whose paths were summed

    @property
    def title(self) -> str:
        return SLIPS[self.id][0]

    @property
    def priority(self) -> int:
        """Which of several slips that give the same number a grade names first:
        an operation's own slip says most, then a path left out."""
        return {"sign_lost": 0, "wrong_branch": 0, "one_path": 1}.get(self.id, 2)


def _share(slip: Slip | None, child: Node, j: int, upstream: float) -> float | None:
    """The share of edge (child, j) under a slip (None: the path is not summed)."""
    d = child.partials[j]
    if slip is None:
        return upstream * d
    if slip.edge == (child, j):
        return upstream if slip.id == "local_left_out" else d  # (or the upstream gradient left out)
    if slip.child is child:
        return upstream * slip.partials[j]
    if slip.node is child.parents[j] and (child, j) not in slip.kept:
        return None  # (one_path) only the kept paths are summed
    return upstream * d


def backward(trace: GraphTrace, slip: Slip | None = None) -> dict[Node, float]:
    """d(output)/d(node) for every node, from the recorded local gradients,
    with one slip made (a whole backward pass: what :func:`slip_changes`
    works out in one product per changed node)."""
    grads: dict[Node, float] = {trace.output: 1.0}
    for child in reversed(trace.tape.nodes[: trace.output.index + 1]):
        upstream = grads.get(child)
        if child.op is None or upstream is None:
            continue
        for j, parent in enumerate(child.parents):
            share = _share(slip, child, j, upstream) if parent.requires_grad else None
            if share is not None:
                grads[parent] = grads.get(parent, 0.0) + share
    return grads


def slip_changes(trace: GraphTrace, slip: Slip) -> list[tuple[Node, float]]:
    """Each node whose gradient a slip changes directly, and by how much."""
    if slip.node is not None:
        node = slip.node
        kept = sum(trace.contributions.get(edge, 0.0) for edge in slip.kept)
        return [(node, kept - node.grad)]
    child = slip.edge[0] if slip.edge is not None else slip.child
    assert child is not None
    found = []
    for j, parent in enumerate(child.parents):
        if parent.requires_grad and (child, j) in trace.contributions:
            share = _share(slip, child, j, child.grad)
            change = (share or 0.0) - trace.contributions[(child, j)]
            if change:
                found.append((parent, change))
    return found


def operation_slips(trace: GraphTrace, child: Node, reaches: Sequence[int] | None = None) -> Iterator[Slip]:
    """An operation's own slips (``Op.variants``: a lost sign, max's wrong
    branch), each with the local gradients it gives; ``reaches``: the operand
    positions that matter (all by default)."""
    positions = range(len(child.parents)) if reaches is None else reaches
    for sid, varied in child.op.variants.items():  # type: ignore[union-attr]
        args = [Sym(f"a{k}") for k in range(len(child.parents))]
        env = {f"a{k}": p.data for k, p in enumerate(child.parents)}
        env["out"] = child.data
        try:
            values = tuple(evaluate(e, env) for e in varied(args, Sym("out"), child.attrs))
        except (ArithmeticError, ValueError):
            continue
        changed = [j for j in positions if values[j] != child.partials[j]]
        if changed:
            words = ", ".join(
                f"d{child.name}/d{child.parents[j].name} taken as {_plain(values[j])}, not {_plain(child.partials[j])}"
                for j in changed
            )
            yield Slip(sid, words, child=child, partials=values)


def slips_for(trace: GraphTrace, target: Node) -> Iterator[Slip]:
    """Every slip that can change d(output)/d(target): made on an edge into, an
    operation of, or a node between the target and the output."""
    between = _between(trace, target)
    for child in trace.operations:
        reaches = [j for j, p in enumerate(child.parents) if p in between and (child, j) in trace.contributions]
        if not reaches:
            continue
        yield from operation_slips(trace, child, reaches)
        for j in reaches:
            parent = child.parents[j]
            d = child.partials[j]
            if d != 1.0:
                yield Slip("local_left_out", f"d{child.name}/d{parent.name} = {_plain(d)} left out", (child, j))
            if child.grad != 1.0:
                yield Slip(
                    "upstream_left_out",
                    f"d{trace.output.name}/d{child.name} = {_plain(child.grad)} not multiplied in, "
                    f"at d{child.name}/d{parent.name}",
                    (child, j),
                )
    for node in between:
        edges = [(c, j) for c, j in trace.uses.get(node, []) if (c, j) in trace.contributions]
        used = f"{node.name} is used {count(len(edges), 'time')}"
        children = dict.fromkeys(c for c, _ in edges)
        for child in children if len(children) > 1 else ():
            kept = tuple(e for e in edges if e[0] is child)
            yield Slip("one_path", f"{used}; only the path through {child.name} was summed", node=node, kept=kept)
        for child in children:
            own = [e for e in edges if e[0] is child]
            others = tuple(e for e in edges if e[0] is not child)
            for edge in own if len(own) > 1 else ():  # (x * x: one of its two paths, d(x * x)/dx taken as x)
                words = f"{used}; only one of its {len(own)} paths through {child.name} was summed"
                yield Slip("one_path", words, node=node, kept=(edge, *others))


def sensitivities(trace: GraphTrace, target: Node) -> dict[Node, float]:
    """d(node)/d(target) for every node the target reaches (forward mode: each
    node's local gradients times its operands' sensitivities)."""
    found: dict[Node, float] = {target: 1.0}
    for node in trace.tape.nodes[target.index + 1 : trace.output.index + 1]:
        total = 0.0
        reached = False
        for parent, d in zip(node.parents, node.partials):
            s = found.get(parent)
            if s is not None:
                total += d * s
                reached = True
        if reached:
            found[node] = total
    return found


def _between(trace: GraphTrace, target: Node) -> set[Node]:
    """The target and every node on a path from it to the output."""
    ahead: set[Node] = {target}
    for node in trace.tape.nodes[target.index + 1 : trace.output.index + 1]:
        if any(p in ahead for p in node.parents):
            ahead.add(node)
    return ahead


def _plain(x: float) -> str:
    from ..expr import fmt

    return fmt(x)


# ---------------------------------------------------------------- grading --


@dataclass
class Graded:
    answer: Answer
    status: str
    exact: float
    note: str = ""
    slips: list[Slip] = dataclasses.field(default_factory=list)
    follows_from: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.answer.graded(self.status, self.exact, self.note),
            "mistake": self.slips[0].id if self.slips else None,
            "mistakes": list(dict.fromkeys(s.id for s in self.slips)),
            "explanation": self.slips[0].words if self.slips else None,
            "follows_from": self.follows_from,
        }


class Checker:
    """The exact graph, its hand calculations and its slips, for one expression."""

    notation = MAZUR  # (an expression's names are its own)

    def __init__(self, expression: Expression):
        self.expression = expression
        self.exact = record(expression)
        self.known = self.exact.names()
        self._rounded: dict[Rounding, dict[str, float] | None] = {}
        self._slipped: dict[Node, list[tuple[Slip, float]]] = {}
        self._document: Document | None = None

    def resolve(self, written: str) -> str | None:
        """The name a student means: ∂ for d, spaces ignored, case where unique."""
        t = written.strip().replace("∂", "d").replace(" ", "")
        if t in self.known:
            return t
        lower = [n for n in self.known if n.lower() == t.lower()]
        return lower[0] if len(lower) == 1 else None

    def rounded(self, rounding: Rounding) -> dict[str, float] | None:
        """Every name's value in a hand calculation rounded at every step (None: it cannot be worked)."""
        if rounding not in self._rounded:
            try:
                found: dict[str, float] | None = record(self.expression, rounder_of(rounding), rounding).names()
            except (ConfigError, ArithmeticError, ValueError):
                found = None
            self._rounded[rounding] = found
        return self._rounded[rounding]

    def slipped(self, node: Node) -> list[tuple[Slip, float]]:
        """Each slip that can change d(output)/d(node), with the gradient it gives.

        The backward pass is linear in the gradients it passes on: a slip that
        changes the gradient of node v by D changes d(output)/d(node) by D
        times dv/d(node), v's forward sensitivity to the node (one forward pass
        for the node, then a product per slip: linear in the graph)."""
        if node not in self._slipped:
            t = self.exact
            ahead = sensitivities(t, node)
            found = []
            for slip in slips_for(t, node):
                changes = slip_changes(t, slip)
                found.append((slip, node.grad + sum(change * ahead.get(v, 0.0) for v, change in changes)))
            self._slipped[node] = found
        return self._slipped[node]

    def node_of(self, name: str) -> tuple[Node, str] | None:
        """(the node, 'gradient' or 'local' or 'value') a name is about."""
        t = self.exact
        m = re.fullmatch(r"d(.+?)/d(.+)", name)
        if m is not None and m.group(1) == t.output.name and m.group(2) in t.by_name:
            return t.by_name[m.group(2)], "gradient"
        if m is not None and m.group(1) in t.by_name and m.group(2) in t.by_name:
            return t.by_name[m.group(2)], "local"
        if name in t.by_name:
            return t.by_name[name], "value"
        return None

    def order(self) -> dict[str, tuple[int, ...]]:
        """Each name's place in the order a student works them out: the forward
        pass, then the backward pass from the output (local gradients first)."""
        t = self.exact
        found: dict[str, tuple[int, ...]] = {}
        for node in t.operations:
            found[node.name] = (0, node.index)
        for k, node in enumerate(t.backward_order):
            for child, _ in t.uses.get(node, []):
                found.setdefault(t.local_name(child, node), (1, k, 0))
            found[t.gradient_name(node)] = (1, k, 1)
        return found

    def hand_roundings(self, answer: Answer) -> list[Rounding]:
        found: list[Rounding] = []
        if answer.decimals >= FEW_DIGITS or answer.significant >= FEW_DIGITS:
            found.append(min(answer.decimals, 15))
        if answer.significant >= FEW_DIGITS:
            found.append(f"{min(answer.significant, 15)}sf")
        return found

    def grade(self, answer: Answer, given: dict[str, Answer]) -> Graded:
        name = self.resolve(answer.name)
        t = self.exact
        if name is None:
            if answer.name.strip() in self.expression.values:
                raise ConfigError(
                    f"{answer.name} is an input, given in the config: there is nothing to check; its gradient is "
                    f"d{t.output.name}/d{answer.name}",
                    "",
                    answer.line,
                    answer.column,
                )
            from ..config import suggest

            raise ConfigError(
                f"unknown quantity '{answer.name}'{suggest(answer.name, self.known, 3)}; "
                "'stepprop explain --names' (Expression.names in Python) lists every name",
                "",
                answer.line,
                answer.column,
            )
        if name != answer.name:
            answer = dataclasses.replace(answer, name=name, written_as=answer.written_as or answer.name)
        exact = self.known[name]
        if answer.blank:
            return Graded(answer, UNANSWERED, exact)
        if right(exact, answer):
            return Graded(answer, CORRECT, exact)
        for rounding in self.hand_roundings(answer):
            values = self.rounded(rounding)
            if values is not None and agrees(values[name], answer):
                note = f"a hand calculation rounded to {describe(rounding)} at every step"
                return Graded(answer, ROUNDED, exact, note=note)
        graded = Graded(answer, WRONG, exact)
        self._diagnose(graded, given)
        return graded

    def _diagnose(self, graded: Graded, given: dict[str, Answer]) -> None:
        name = graded.answer.name
        found = self.node_of(name)
        if found is None:
            return
        node, kind = found
        if kind == "gradient":
            carried = self._carried(node, graded.answer, given)
            if carried:
                graded.status = CARRIED
                graded.follows_from = carried
                graded.note = "right from your own " + " and ".join(carried)
                return
            near = []
            for slip, value in self.slipped(node):
                if value == graded.exact:
                    continue
                if agrees(value, graded.answer):
                    graded.slips.append(slip)
                elif _close(value, graded.answer.value):
                    near.append(slip)
            graded.slips += near
            # (stable: exact matches before near ones) a slip whose local gradients the student
            # wrote right elsewhere is named last: their own answers rule it out
            graded.slips.sort(key=lambda s: (self._ruled_out(s, given), s.priority))
        elif kind == "local":
            # a local gradient d(child)/d(node): the operation's own slips of it (a lost sign, the wrong branch)
            child = self.exact.by_name[name.split("/")[0][1:]]
            for slip in operation_slips(self.exact, child):
                value = sum(p for p, parent in zip(slip.partials, child.parents) if parent is node)
                if value != graded.exact and (agrees(value, graded.answer) or _close(value, graded.answer.value)):
                    graded.slips.append(slip)
        if graded.slips:
            s = graded.slips[0]
            graded.note = f"{s.title}: {s.words}"
        elif graded.answer.value == -graded.exact:
            graded.note = "the sign is wrong"
        else:
            graded.note = "no common mistake gives this number"

    def _ruled_out(self, slip: Slip, given: dict[str, Answer]) -> bool:
        """Does a right answer of the student's contradict the slip (an operation's
        own slip takes a local gradient the student wrote right)?"""
        child = slip.child
        if child is None:
            return False
        for j, parent in enumerate(child.parents):
            name = self.exact.local_name(child, parent)
            mine = given.get(name)
            if slip.partials[j] != child.partials[j] and mine is not None and not mine.blank:
                if right(self.known.get(name, child.partials[j]), mine):
                    return True
        return False

    def _carried(self, node: Node, answer: Answer, given: dict[str, Answer]) -> list[str]:
        """The student's own answers this gradient is right from (upstream
        gradients and local gradients they wrote, wrong ones among them)."""
        t = self.exact
        total = 0.0
        used: list[str] = []
        for child, j in t.uses.get(node, []):
            if (child, j) not in t.contributions:
                continue
            up_name, local_name = t.gradient_name(child), t.local_name(child, node)
            upstream, local = child.grad, child.partials[j]
            for key in (up_name, local_name):
                mine = given.get(key)
                if mine is None or mine.blank or (key == local_name and child.parents.count(node) > 1):
                    continue
                if child is t.output:  # (df/df is 1; the output's local gradient is this very gradient)
                    continue
                exact = upstream if key == up_name else local
                if not right(exact, mine):
                    used.append(key)
                    if key == up_name:
                        upstream = mine.value
                    else:
                        local = mine.value
            total += upstream * local
        if used and (agrees(total, answer) or _close(total, answer.value)):
            return used
        return []


def _close(value: float, given: float) -> bool:
    return math.isfinite(value) and abs(value - given) <= LOOSE * max(abs(value), abs(given))


def counts_of(graded: list[Graded]) -> dict[str, int]:
    return {s: sum(g.status == s for g in graded) for s in STATUSES}


@dataclass
class GraphGrades:
    """The grades of a file of answers about an expression (``stepprop check``)."""

    checker: Checker
    graded: list[Graded]
    source: str

    @property
    def wrong(self) -> int:
        return sum(g.status == WRONG for g in self.graded)

    def first_wrong(self) -> str | None:
        order = self.checker.order()
        wrong = [g.answer.name for g in self.graded if g.status == WRONG]
        return min(wrong, key=lambda n: order.get(n, (9,)), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stepprop": 1,
            "command": "check",
            "config": self.checker.expression.source,
            "answers_file": self.source,
            "kind": "expression",
            "counts": counts_of(self.graded),
            "first_wrong": self.first_wrong(),
            "answers": [g.to_dict() for g in self.graded],
        }

    def document(self) -> Document:
        e = self.checker.expression
        where = "given in Python" if self.source == "the answers" else f"from {self.source}"
        counts = counts_of(self.graded)
        intro = [f"answers {where} for the expression of {e.source}"]
        intro.append(", ".join(f"{n} {s}" for s, n in counts.items() if n or s in (CORRECT, ROUNDED, WRONG)))
        first = self.first_wrong()
        if first is not None:
            intro.append(f"the first wrong answer is {first}")
        rows: list[list] = []
        for g in self.graded:
            written = g.answer.written_as
            shown = g.answer.name + (f" (as {written})" if written and written != g.answer.name else "")
            rows.append([shown, g.answer.text, Num(g.exact), Label(g.status, g.status), g.note])
        sections = [Section("The answers", [Table(["name", "student", "stepprop", "status", "note"], rows)])]
        for g in self.graded:
            if g.status == WRONG:
                sections.append(self._details(g))
        return Document("Checking answers", intro, sections)

    def _details(self, g: Graded) -> Section:
        name = g.answer.name
        items: list = [Text(f"you wrote {g.answer.text}; the worked line:")]
        items += _defining(self.checker, name) or [Eq(Sym(name), [Num(g.exact)])]
        if g.slips:
            s = g.slips[0]
            items.append(Text(f"Likely {s.title}: {s.words} ({SLIPS[s.id][1]})."))
            others = list(dict.fromkeys(o.title for o in g.slips[1:] if o.title != s.title))
            if others:
                items.append(Text("The same number also comes from: " + "; ".join(others)))
        else:
            items.append(Text(g.note[0].upper() + g.note[1:] + "."))
        return Section(f"{name}: {g.answer.text} is wrong", items)


def _defining(checker: Checker, name: str) -> list[Eq]:
    """The worked example's lines that define ``name`` (the example made once)."""
    if checker._document is None:
        from ..graphworked import explain

        checker._document = explain(checker.exact)
    return [eq for eq in checker._document.equations() if eq.name == name]


def check(expression: Expression, answers: list[Answer], source: str = "") -> GraphGrades:
    """Grade one student's answers about an expression."""
    checker = Checker(expression)
    given: dict[str, Answer] = {}
    for a in answers:
        name = checker.resolve(a.name)
        if name is not None:
            given[name] = a
    graded = []
    try:
        for a in answers:
            graded.append(checker.grade(a, given))
    except ConfigError as exc:
        exc.path = source or exc.path
        exc.args = (str(exc),)
        raise
    return GraphGrades(checker, graded, source)


def template(trace: GraphTrace) -> str:
    """An answers file to fill in: every value, local gradient and gradient, in
    the order a student works them out."""
    lines = [
        f"# Answers for stepprop check, for the expression of {trace.expression.source}.",
        "# Fill in the numbers you worked out; leave the rest blank (they are 'unanswered').",
        "",
        "# The forward pass",
    ]
    lines += [f"{n.name}:   # = {trace.written(n)}" for n in trace.operations]
    lines += ["", "# The backward pass, from the output back"]
    from ..graphworked import explain

    named = {eq.name for eq in explain(trace).equations()}  # (a constant local gradient is written inline)
    seen: set[str] = set()
    for node in trace.backward_order:
        for child, j in trace.uses.get(node, []):
            key = trace.local_name(child, node)
            # (the edges the backward pass takes: not those of a step after an output: q)
            if (child, j) in trace.contributions and key in named and key not in seen and child is not trace.output:
                seen.add(key)
                lines.append(f'"{key}":   # the local gradient')
        lines.append(f'"{trace.gradient_name(node)}":')
    return "\n".join(lines) + "\n"


Rounder = Callable[[float], float]
