"""Any scalar expression as a recorded graph: the computational-graph
exercises of CS231n-style courses.

An expression config gives one or more assignments and the inputs' values::

    expression: |
      q = x + y
      f = q * z
    values: {x: -2, y: 5, z: -4}

The text is read by stepprop's own parser (:mod:`stepprop.exprparse`), never
by Python.  :func:`record` builds the graph on the recording engine
(:mod:`stepprop.engine`): every operation is one of :mod:`stepprop.ops`
(its value, local gradients, printed formula and slips defined there), each
node named (an assigned name, an input, or ``n1``, ``n2`` ... for the steps
inside an assignment), then runs one backward pass from the output.  Its
record, :class:`GraphTrace`, holds every value, local gradient, path share
and gradient: what ``explain``, ``check``, ``diagram`` and ``verify`` show.

This module knows nothing about click or rich.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from . import exprparse as P
from .engine import Node, Rounder, Tape
from .errors import ConfigError, StepPropError
from .ops import OPS, Op

# the keys of an expression config
KEYS = ("expression", "values", "output")
DEFAULT_OUTPUT = "f"  # the name of a lone expression's result
MAX_NODES = 20_000  # operations in one expression (a config is at most 1 MB)
# the functions of an expression -> the op that computes each (log is ln)
FUNCTION_OPS = {
    "exp": "exp",
    "log": "log",
    "ln": "log",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "abs": "abs",
    "sqrt": "sqrt",
    "max": "max",
    "min": "min",
}
BINARY_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
EULER = "e"  # a worked example writes exp(x) as e^x: a name e would read as Euler's number
EULER_TAKEN = "'e' is Euler's number in the worked example (exp(x) is written e^x): choose another name"


class Statement(NamedTuple):
    """One assignment: ``name = tree`` (its text from ``start`` to ``end``)."""

    name: str
    tree: P.Node
    start: int
    end: int


class Expression(NamedTuple):
    """An expression config: its assignments, the inputs' values (in the
    order given) and the output's name; ``source`` names the file,
    ``place(offset)`` gives an offset of ``text``'s line and column in it."""

    source: str
    text: str
    statements: tuple[Statement, ...]
    values: dict[str, float]
    output: str
    place: Callable[[int], tuple[int, int]]

    @property
    def inputs(self) -> list[str]:
        return list(self.values)

    def error(self, message: str, offset: int) -> ConfigError:
        """A ConfigError at an offset of the expression's text."""
        line, column = self.place(offset)
        return ConfigError(message, self.source, line, column)

    def written(self, s: Statement) -> str:
        """An assignment as written, in one line (a lone formula with its name: f = ...)."""
        text = excerpt(self.text, s.start, s.end, 200)
        return text if text.startswith(s.name) and "=" in text else f"{s.name} = {text}"

    def to_dict(self) -> dict[str, Any]:
        """The config's keys (what a saved copy writes)."""
        out: dict[str, Any] = {"expression": self.text, "values": dict(self.values)}
        if self.statements and self.output != self.statements[-1].name:
            out["output"] = self.output
        return out

    def with_values(self, values: Mapping[str, float]) -> Expression:
        return self._replace(values={**self.values, **values})


# ------------------------------------------------------------- the config --


def is_expression(root: Any) -> bool:
    """Is this YAML node tree an expression config (a mapping with ``expression``)?"""
    import yaml

    return isinstance(root, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == "expression" for k, _ in root.value
    )


def from_yaml(root: Any, source: str, file_text: str) -> Expression:
    """An expression config from its YAML node tree (see :func:`is_expression`)."""
    import yaml

    from .config import Validator, show, suggest

    v = Validator(source)
    top = v.mapping(root, "an expression config", KEYS)
    node = top["expression"][1]
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        raise v.error(node, f"expected the expression as text (expression: | and its lines), found {v.kind(node)}")
    text = node.value
    place = _placer(node, file_text, text)
    try:
        program = P.parse_program(text)
    except P.ExpressionError as exc:
        line, column = place(exc.offset)
        raise ConfigError(f"in the expression: {exc.message}", source, line, column) from None
    values: dict[str, float] = {}
    value_nodes: dict[str, Any] = {}
    if "values" in top:
        given = v.mapping(top["values"][1], "values (each input's name and its number)", None)
        for name, (key, value) in given.items():
            if name == EULER:
                raise v.error(key, EULER_TAKEN)
            if not _is_name(name):
                raise v.error(key, f"'{show(name)}' is not a name an expression can use (letters, digits and _)")
            values[name] = v.number(value, f"the value of {name}")
            value_nodes[name] = key
    statements = _statements(program, text, values, place, source)
    output = statements[-1].name
    if "output" in top:
        out_node = top["output"][1]
        output = v.string(out_node, "output")
        assigned = [s.name for s in statements]
        if output not in assigned:
            raise v.error(
                out_node,
                f"output '{show(output)}' is not assigned in the expression{suggest(output, assigned)}; "
                f"assigned: {', '.join(assigned)}",
            )
    used = set()
    for s in statements:
        used |= _names_in(s.tree)
    for name, key in value_nodes.items():
        if name not in used:
            raise v.error(key, f"values: '{show(name)}' is not used in the expression{suggest(name, sorted(used))}")
        if any(s.name == name for s in statements):
            raise v.error(key, f"'{show(name)}' is given a value and also assigned in the expression")
    return Expression(source, text, tuple(statements), values, output, place)


def _is_name(name: str) -> bool:
    return name.isidentifier() and name.isascii() and name not in P.FUNCTIONS


def _placer(node: Any, file_text: str, text: str) -> Callable[[int], tuple[int, int]]:
    """offset in the expression's text -> (line, column) in the file (1-based).

    YAML gives a scalar's text from its source by dropping indentation and a
    block's header, folding lines (``>``, a plain or quoted scalar on several
    lines) and reading a quoted scalar's escapes: the characters other than
    blanks are the source's, in the same order.  An offset is found by
    counting them; one at a blank, just after the character before it."""
    start = node.start_mark
    style = node.style

    def source() -> Iterator[tuple[int, int]]:
        """The index and width in the file of each of the scalar's characters but blanks."""
        index = sum(len(line) + 1 for line in file_text.split("\n")[: start.line]) + start.column
        if style in ("|", ">"):  # (the block's header line: its indicators, a comment)
            index = file_text.find("\n", index) + 1 or len(file_text)
        elif style in ("'", '"'):
            index += 1
        while index < len(file_text):
            width, blank = 1, file_text[index] in _BLANKS
            if style == "'" and file_text.startswith("''", index):
                width = 2
            elif style == '"' and file_text[index] == "\\":
                escaped = file_text[index + 1 : index + 2]
                width, blank = 2 + {"x": 2, "u": 4, "U": 8}.get(escaped, 0), escaped in "ntr \t\n"
            if not blank:
                yield index, width
            index += width

    def place(offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(text)))
        count = sum(1 for c in text[:offset] if c not in _BLANKS)
        if offset < len(text) and text[offset] not in _BLANKS:
            found = next(itertools.islice(source(), count, None), None)
            index = found[0] if found else None
        else:  # just after the character before it
            found = next(itertools.islice(source(), count - 1, None), None) if count else None
            index = found[0] + found[1] if found else next(source(), (None,))[0]
        if index is None:  # (never: the text is the scalar's)
            return start.line + 1, start.column + 1
        return _line_column(file_text, index)

    return place


_BLANKS = " \t\r\n"


def _line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of an index into ``text``."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _names_in(tree: P.Node) -> set[str]:
    found: set[str] = set()
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, P.Name):
            found.add(t.id)
        elif isinstance(t, P.Unary):
            stack.append(t.operand)
        elif isinstance(t, P.Binary):
            stack += [t.left, t.right]
        elif isinstance(t, P.Call):
            stack += list(t.args)
    return found


def _name_uses(tree: P.Node) -> list[P.Name]:
    """The names a tree reads, in the order they are written."""
    found: list[P.Name] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, P.Name):
            found.append(t)
        elif isinstance(t, P.Unary):
            stack.append(t.operand)
        elif isinstance(t, P.Binary):
            stack += [t.right, t.left]
        elif isinstance(t, P.Call):
            stack += list(reversed(t.args))
    return found


def _statements(
    program: list[P.Assignment], text: str, values: dict[str, float], place: Callable, source: str
) -> list[Statement]:
    def error(message: str, offset: int) -> ConfigError:
        line, column = place(offset)
        return ConfigError(message, source, line, column)

    out: list[Statement] = []
    assigned: dict[str, int] = {}
    for k, a in enumerate(program):
        name = a.target
        if name is None:
            if len(program) > 1:
                raise error(
                    "a line without 'name =' can only be the whole expression; name each step (q = x + y)", a.start
                )
            name = DEFAULT_OUTPUT
            if name in values or name in _names_in(a.value):
                raise error(f"name the result (it would be '{name}', a name the expression uses): f2 = ...", a.start)
        if name in P.FUNCTIONS:
            raise error(f"'{name}' is a function; choose another name for this step", a.target_start)
        if name == EULER:
            raise error(EULER_TAKEN, a.target_start)
        if name in assigned:
            raise error(
                f"'{name}' is assigned twice (first at line {place(assigned[name])[0]}); each step needs a name "
                "of its own",
                a.target_start,
            )
        for use in _name_uses(a.value):
            if use.id == EULER:
                raise error(EULER_TAKEN + "; for Euler's number itself write exp(1)", use.start)
            if use.id == name:
                raise error(f"'{name}' is used in its own assignment", use.start)
            if use.id not in values and use.id not in assigned:
                later = any(b.target == use.id for b in program[k + 1 :])
                if later:
                    raise error(f"'{use.id}' is used before it is assigned (assign it on an earlier line)", use.start)
                from .config import suggest

                known = list(values) + list(assigned)
                raise error(
                    f"'{use.id}' has no value: give it under values: ({use.id}: 1.5){suggest(use.id, known)}",
                    use.start,
                )
        assigned[name] = a.target_start
        out.append(Statement(name, a.value, a.start, a.end))
    return out


# --------------------------------------------------------------- the graph --


class Info(NamedTuple):
    """What a node of an expression's graph is: ``kind`` input, constant or
    operation; ``text``: its part of the expression as written; ``assigned``:
    the name of the assignment it belongs to (an input's: None)."""

    kind: str
    text: str
    start: int
    assigned: str | None


class GraphTrace:
    """An expression's graph, evaluated, with one backward pass from the
    output recorded: every value, local gradient, path share and gradient."""

    def __init__(self, expression: Expression, tape: Tape, info: dict[Node, Info], output: Node, rounding: Any):
        self.expression = expression
        self.tape = tape
        self.info = info
        self.output = output
        self.rounding = rounding
        self.by_name = {node.name: node for node in tape.nodes if info[node].kind != "constant"}
        self.uses = tape.consumers()
        self.contributions: dict[tuple[Node, int], float] = {}
        tape.backward(output, self.contributions)

    @property
    def nodes(self) -> list[Node]:
        """Every node, in the order they are worked out (inputs first)."""
        return self.tape.nodes

    @property
    def inputs(self) -> list[Node]:
        return [self.by_name[name] for name in self.expression.values]

    @property
    def operations(self) -> list[Node]:
        """The operations, in the order the forward pass works them out."""
        return [n for n in self.tape.nodes if n.op is not None]

    @property
    def backward_order(self) -> list[Node]:
        """The nodes whose gradients the backward pass works out, from the
        output back (the output first, the inputs last)."""
        reached = {self.output} | {n.parents[j] for (n, j) in self.contributions}
        return [n for n in reversed(self.tape.nodes[: self.output.index + 1]) if n in reached and self.named(n)]

    def written(self, node: Node) -> str:
        """A node's part of the expression as written, shortened in the middle
        when long (the steps of a sum of thousands of terms are each nearly
        all of it: in full, a table of them would grow as its square)."""
        return self.info[node].text

    def gradient_name(self, node: Node) -> str:
        return f"d{self.output.name}/d{node.name}"

    @staticmethod
    def local_name(child: Node, parent: Node) -> str:
        return f"d{child.name}/d{parent.name}"

    def named(self, node: Node) -> bool:
        return self.info[node].kind != "constant"

    @property
    def values(self) -> dict[str, float]:
        """Every input's and operation's value, by name, in the order worked out."""
        return {n.name: n.data for n in self.tape.nodes if self.named(n)}

    @property
    def gradients(self) -> dict[str, float]:
        """d(output)/d(node) for every input and operation: df/dx, df/dq."""
        return {self.gradient_name(n): n.grad for n in self.tape.nodes if self.named(n)}

    @property
    def locals(self) -> dict[str, float]:
        """Every local gradient d(child)/d(parent) of an edge from a named node: dq/dx."""
        out: dict[str, float] = {}
        for child in self.operations:
            for parent, d in zip(child.parents, child.partials):
                if self.named(parent):
                    key = self.local_name(child, parent)
                    out[key] = out.get(key, 0.0) + d if child.parents.count(parent) > 1 else d
        return out

    @property
    def order(self) -> list[str]:
        """The operations' names in the order the forward pass visits them."""
        return [n.name for n in self.operations]

    def names(self) -> dict[str, float]:
        """Every checkable name with its value: the operations' values, the
        local gradients and the gradients (an input is given, not worked out)."""
        out = {n.name: n.data for n in self.operations}
        out.update(self.locals)
        out.update(self.gradients)  # (a local gradient of the output's is its gradient too)
        return out


WRITTEN = 60  # the most characters of a node's text a table shows


def excerpt(text: str, start: int, end: int, limit: int = WRITTEN) -> str:
    """text[start:end] on one line, shortened in the middle when long. Only
    its two ends are read: each step of a sum of thousands of terms holds
    nearly all of it, and whole they would take memory quadratic in the
    expression."""
    piece = text[start:end] if end - start <= 2 * limit else f"{text[start : start + limit]} {text[end - limit : end]}"
    return shortened(" ".join(piece.split()), limit)


def shortened(text: str, limit: int = WRITTEN) -> str:
    """``text``, or its start and end around " ... " (cut at blanks) when longer than ``limit``."""
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    head, tail = text[:half], text[-half:]
    head = head[: head.rfind(" ")] if " " in head else head
    tail = tail[tail.find(" ") + 1 :] if " " in tail else tail
    return f"{head.rstrip()} ... {tail.lstrip()}"


def record(
    expression: Expression,
    rounder: Rounder | None = None,
    rounding: Any = None,
    values: Mapping[str, float] | None = None,
) -> GraphTrace:
    """The expression's graph built on the recording engine, evaluated and
    differentiated (``rounder``: a hand calculation that rounds every
    result; ``values``: other values of the inputs)."""
    tape = Tape(rounder)
    info: dict[Node, Info] = {}
    given = {**expression.values, **(values or {})}
    known: dict[str, Node] = {}
    for name, value in given.items():
        node = tape.leaf(name, rounder(value) if rounder is not None else value)
        info[node] = Info("input", name, -1, None)
        known[name] = node
    taken = set(given) | {s.name for s in expression.statements}
    counter = [0]

    def fresh() -> str:
        while True:
            counter[0] += 1
            name = f"n{counter[0]}"
            if name not in taken:
                taken.add(name)
                return name

    for s in expression.statements:
        known[s.name] = _build(expression, tape, info, known, s, fresh, rounder)
        if len(tape.nodes) > MAX_NODES:
            raise expression.error(f"the expression has more than {MAX_NODES:,} operations", s.start)
    return GraphTrace(expression, tape, info, known[expression.output], rounding)


def _build(
    expression: Expression,
    tape: Tape,
    info: dict[Node, Info],
    known: dict[str, Node],
    s: Statement,
    fresh: Callable[[], str],
    rounder: Rounder | None,
) -> Node:
    """The nodes of one assignment (no recursion: a sum of thousands of terms is deep)."""
    text = expression.text
    done: dict[int, Node] = {}  # id of a tree node -> its graph node
    stack: list[tuple[P.Node, bool]] = [(s.tree, False)]
    top = s.tree
    while stack:
        t, expanded = stack.pop()
        if isinstance(t, P.Name):
            done[id(t)] = known[t.id]
            continue
        if isinstance(t, P.Number):
            done[id(t)] = _constant(tape, info, t.value, text[t.start : t.end], t.start, s.name, rounder)
            continue
        operands = _operands(t)
        if not expanded:
            stack.append((t, True))
            stack += [(o, False) for o in reversed(operands)]
            continue
        op, parents, attrs = _operation(expression, t, [done[id(o)] for o in operands], operands)
        if op is None:  # a negative number: a constant
            value = -parents[0].data
            done[id(t)] = _constant(tape, info, value, text[t.start : t.end], t.start, s.name, rounder)
            continue
        name = s.name if t is top else fresh()
        done[id(t)] = _apply(expression, tape, info, op, parents, name, t, s.name, attrs)
    node = done[id(top)]
    if node.name != s.name:  # the assignment of a name or a number: q = x
        node = _apply(expression, tape, info, OPS["linear"], [node], s.name, top, s.name, {})
    return node


def _operands(t: P.Node) -> list[P.Node]:
    if isinstance(t, P.Unary):
        return [t.operand]
    if isinstance(t, P.Binary):
        return [t.left] if t.op == "^" else [t.left, t.right]
    if isinstance(t, P.Call):
        return list(t.args)
    return []


def _operation(
    expression: Expression, t: P.Node, parents: list[Node], operands: list[P.Node]
) -> tuple[Op | None, list[Node], dict[str, Any]]:
    if isinstance(t, P.Unary):
        if isinstance(operands[0], P.Number):
            return None, parents, {}
        return OPS["neg"], parents, {}
    if isinstance(t, P.Binary):
        if t.op == "^":
            p = _constant_power(t.right)
            if p is None:
                raise expression.error(
                    "the power of ^ must be a number (x^2, x^0.5, x^-1); for x to the power y write exp(y * log(x))",
                    t.right.start,
                )
            return OPS["pow"], parents, {"p": p}
        return OPS[BINARY_OPS[t.op]], parents, {}
    assert isinstance(t, P.Call)
    return OPS[FUNCTION_OPS[t.function]], parents, {}


def _constant_power(t: P.Node) -> float | None:
    if isinstance(t, P.Number):
        return t.value
    if isinstance(t, P.Unary) and isinstance(t.operand, P.Number):
        return -t.operand.value
    return None


def _constant(
    tape: Tape, info: dict[Node, Info], value: float, text: str, start: int, assigned: str, rounder: Rounder | None
) -> Node:
    node = tape.leaf(text, rounder(value) if rounder is not None else value, requires_grad=False)
    info[node] = Info("constant", text, start, assigned)
    return node


def _apply(
    expression: Expression,
    tape: Tape,
    info: dict[Node, Info],
    op: Op,
    parents: Sequence[Node],
    name: str,
    t: P.Node,
    assigned: str,
    attrs: dict[str, Any],
) -> Node:
    """One operation recorded; a value or local gradient that cannot be worked
    out (a log of a negative number, a division by 0) is an error at its place."""
    text = excerpt(expression.text, t.start, t.end)
    try:
        node = tape.apply(op, parents, name, **attrs)
    except (ArithmeticError, ValueError) as exc:
        raise _unworkable(expression, op, parents, attrs, text, t.start, exc) from None
    if not math.isfinite(node.data):
        raise _unworkable(expression, op, parents, attrs, text, t.start, None)
    info[node] = Info("operation", text, t.start, assigned)
    for parent, d in zip(parents, node.partials):
        if not math.isfinite(d):
            raise expression.error(
                f"the local gradient of {text} with respect to {parent.name} is {_plain(d)} here "
                f"(at {_plain(parent.data)}): not a finite number",
                t.start,
            )
    return node


def _unworkable(
    expression: Expression,
    op: Op,
    parents: Sequence[Node],
    attrs: dict[str, Any],
    text: str,
    start: int,
    exc: Exception | None,
) -> ConfigError:
    """Why the operation ``text`` (at ``start``) cannot be recorded: its value
    has none (a division by 0, a log of a negative number), or is not
    finite, or only its local gradient is infinite (sqrt at 0), as ``exc``
    (None: its value came out infinite) says."""
    xs = [p.data for p in parents]
    what = f"{op.words} of {', '.join(_plain(x) for x in xs)}"
    try:
        value: float | None = op.compiled(len(xs), attrs)[0](xs)
    except (ArithmeticError, ValueError):
        value = None
    if value is not None and math.isfinite(value):  # (the value is fine: its local gradient raised)
        return expression.error(
            f"the local gradient of {text} is not finite here ({what}): an infinite slope, or too large for "
            "floating point",
            start,
        )
    if op.name == "log" and xs[0] < 0:  # (ln of a negative number computes as -inf, ln(0)'s limit)
        return expression.error(f"{text} has no real value here ({what})", start)
    if value is not None:
        return expression.error(f"{text} is {_plain(value)} here ({what}): not a finite number", start)
    if isinstance(exc, ZeroDivisionError):
        return expression.error(f"{text} cannot be worked out here: it divides by 0", start)
    if isinstance(exc, OverflowError):
        return expression.error(f"{text} is too large to compute with here", start)
    return expression.error(f"{text} has no real value here ({what})", start)


def _plain(x: float) -> str:
    from .expr import fmt

    return fmt(x)


def parse(text: str, source: str = "<expression>") -> Expression:
    """An expression config from YAML text."""
    from .config import compose

    root = compose(text, source, "the file is empty; an expression config has expression: and values:")
    if not is_expression(root):
        raise StepPropError(f"{source}: not an expression config (no expression: key)")
    return from_yaml(root, source, text)
