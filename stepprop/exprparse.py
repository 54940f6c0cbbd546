"""Expressions a user writes, read by our own parser (never by Python's).

A config may give a computational graph as text, CS231n style::

    q = x + y
    f = q * z

or as one bare expression, ``1/(1 + exp(-(w0*x0 + w1*x1 + w2)))``.  The text
is untrusted: it is read by the small Pratt parser below and by nothing else
(never ``eval``, ``exec``, ``compile`` or :mod:`ast`).  The grammar, in full::

    program    = statement { ("\\n" | ";") statement }     blank statements and # comments are skipped
    statement  = [ NAME "=" ] expression
    expression = term { ("+" | "-") term }                left-associative
    term       = signed { ("*" | "/") signed }            left-associative
    signed     = ("-" | "+") signed | power               -x^2 is -(x^2); a "+" sign is dropped
    power      = atom [ ("^" | "**") signed ]             right-associative: 2^3^2 is 2^(3^2); 2^-1 is allowed
    atom       = NUMBER | NAME | FUNCTION "(" expression { "," expression } ")" | "(" expression ")"

    NUMBER: 2, 0.5, .5, 5., 1e-3, 2.5E+2 (finite, never signed)   NAME: [A-Za-z_][A-Za-z0-9_]*, not a Python keyword
    FUNCTION: a key of FUNCTIONS, with its number of arguments     blanks: spaces, tabs (and the \r of a \r\n)

A newline always ends a statement, inside parentheses too, so a mistake is
reported on its own line.  Anything else raises an :class:`ExpressionError`:
a message written for the user and the offset of the first thing wrong,
which :func:`line_column` turns into a line and a column.

Parentheses, signs, powers and calls may nest :data:`MAX_NESTING` levels
deep, so the parser's recursion is bounded (at most 4 Python frames a level,
about 400 in all): a hostile text is refused at once, never with a
RecursionError.  A chain of ``+`` or ``*`` is a loop, not nesting, so a long
sum parses however long it is; its tree, though, is as deep on its left as
the sum is long, so a consumer walks a chain's left side in a loop (or
refuses a text that long) rather than recursing on it.

This module reads the text only: whether a name is defined, or assigned
twice, is for the layer that uses the tree.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import NamedTuple

from .errors import StepPropError

__all__ = [
    "FUNCTIONS",
    "MAX_NESTING",
    "Assignment",
    "Binary",
    "Call",
    "ExpressionError",
    "Name",
    "Node",
    "Number",
    "Unary",
    "line_column",
    "parse_program",
]

# A function's name -> its number of arguments.  ``ln`` is the same as
# ``log`` (the natural logarithm); a Call keeps the name as written.
FUNCTIONS: dict[str, int] = {
    "exp": 1,
    "log": 1,
    "ln": 1,
    "sigmoid": 1,
    "tanh": 1,
    "relu": 1,
    "abs": 1,
    "sqrt": 1,
    "max": 2,
    "min": 2,
}

# Parentheses, signs, powers and calls nested deeper than this are refused.
MAX_NESTING = 100


class ExpressionError(StepPropError):
    """A problem in an expression's text at ``offset`` (0-based index into the text)."""

    def __init__(self, message: str, offset: int):
        self.message = message
        self.offset = offset
        super().__init__(message, offset)  # (both in args: the error pickles)

    def __str__(self) -> str:
        return self.message


# ------------------------------------------------------------------ tree --
# NamedTuples: cheap to import and to build.  ``start``/``end`` are offsets
# into the text, end exclusive: text[node.start:node.end] is the node's own
# source (a parenthesised expression's node leaves its parentheses out).


class Number(NamedTuple):
    value: float  # finite and never negative: -2 is Unary("-", Number(2.0))
    start: int
    end: int


class Name(NamedTuple):
    id: str
    start: int
    end: int


class Unary(NamedTuple):
    op: str  # "-" (a "+" sign is dropped: +x is just x)
    operand: Node
    start: int
    end: int


class Binary(NamedTuple):
    op: str  # "+", "-", "*", "/" or "^" ("**" is read as "^")
    left: Node
    right: Node
    start: int
    end: int


class Call(NamedTuple):
    function: str  # a key of FUNCTIONS, as written ("ln" stays "ln")
    args: tuple[Node, ...]
    start: int
    end: int


Node = Number | Name | Unary | Binary | Call


class Assignment(NamedTuple):
    """One statement: ``target = value``, or a bare expression (``target`` None).
    ``start``/``end`` span the whole statement; ``target_start`` is the offset
    of the target's name (of the statement, which is the expression, when None)."""

    target: str | None
    value: Node
    start: int
    end: int
    target_start: int


def parse_program(text: str) -> list[Assignment]:
    """The statements of ``text`` in order; an :class:`ExpressionError` at the
    first thing wrong."""
    return _Parser(text).program()


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters) of ``offset`` in ``text``;
    an offset outside the text is taken as its nearest end."""
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


# ----------------------------------------------------------------- tokens --


class _Token(NamedTuple):
    kind: str  # "num", "name", "sep" (a newline or ";"), "end", or the operator itself: "+", "(", "==", ...
    text: str  # as written ("**" for the kind "^")
    start: int
    end: int


# One token (group 1), after the blanks and a comment before it.  No nested
# repetition: a match never backtracks more than a character, so no text can
# make it slow.
_TOKEN = re.compile(
    r"[ \t\r]*(?:#[^\n]*)?"
    r"([A-Za-z_][A-Za-z0-9_]*"  # a name
    r"|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # a number
    r"|\*\*|==|[-+*/^(),=;\n])?"  # an operator, a bracket, a comma or a separator
)
# a token's kind by its first character
_KINDS = {c: "name" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"}
_KINDS.update({c: "num" for c in "0123456789."})
_KINDS.update({c: c for c in "-+*/^(),="})
_KINDS.update({"\n": "sep", ";": "sep"})


# What a character the grammar has no use for is usually meant to be.
_HINTS = {
    "'": "there are no strings",
    '"': "there are no strings",
    "\u2018": "there are no strings",
    "\u2019": "there are no strings",
    "\u201c": "there are no strings",
    "\u201d": "there are no strings",
    "[": "there are no subscripts",
    "]": "there are no subscripts",
    ",": "a comma only separates a function's arguments",
    "\u2212": "write '-'",  # the minus sign of a PDF or a web page
    "\u2013": "write '-'",
    "\u2014": "write '-'",
    "\u00d7": "write '*'",
    "\u00b7": "write '*'",
    "\u22c5": "write '*'",
    "\u00f7": "write '/'",
    "\u00b2": "write ^2",
    "\u00b3": "write ^3",
    "\u00a0": "a non-breaking space: write a plain space",
}


def _unexpected_character(text: str, offset: int) -> ExpressionError:
    char = text[offset]
    message = f"unexpected character {char!r}"
    if not char.isascii():
        message += f" (U+{ord(char):04X})"
    hint = _HINTS.get(char)
    if char == "." and offset > 0 and (text[offset - 1].isalnum() or text[offset - 1] in "_)"):
        hint = "there is no attribute access"
    elif hint is None and not char.isascii() and char.isalnum():
        hint = "a name is ASCII letters, digits and '_'; a number is the digits 0-9"
    return ExpressionError(f"{message}: {hint}" if hint else message, offset)


_KEYWORDS = frozenset(keyword.kwlist)  # not names: lambda, import, True, None, ...
_new_token = tuple.__new__  # (builds a _Token without the Python-level __new__: a long sum has many)


def _token_at(text: str, pos: int) -> _Token:
    """The token after the blanks and comments from ``pos``: an "end" token
    at the end of the text; an ExpressionError where there is no token."""
    m = _TOKEN.match(text, pos)
    assert m is not None  # (every part of the pattern is optional)
    start, end = m.span(1)
    if start < 0:  # nothing but blanks and comments from pos
        pos = m.end()
        if pos == len(text):
            return _new_token(_Token, ("end", "", pos, pos))
        raise _unexpected_character(text, pos)
    word = m.group(1)
    kind = _KINDS[word[0]]
    if kind == "name":
        if word in _KEYWORDS:
            raise ExpressionError(
                f"{word!r} is not allowed in an expression (it is a Python keyword, not a name)", start
            )
    elif kind == "num":
        if math.isinf(float(word)):
            raise ExpressionError(f"the number {_quote(word)} is too large (not a finite float)", start)
    elif end - start == 2:
        kind = word  # "==", or "**" read as "^"
        if kind == "**":
            kind = "^"
    return _new_token(_Token, (kind, word, start, end))


def _cut(text: str, limit: int = 30) -> str:
    """``text`` for a message, cut short when long."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quote(text: str) -> str:
    return repr(_cut(text))


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the text"
    if token.text == "\n":
        return "the end of the line"
    return _quote(token.text)


def _unknown_function(name: str, offset: int) -> ExpressionError:
    known = ", ".join(FUNCTIONS)
    import difflib  # (only on this error's path: keeps the module's import cheap)

    close = difflib.get_close_matches(name.lower(), FUNCTIONS, n=1)
    suggestion = f" (did you mean {close[0]}?)" if close else ""
    return ExpressionError(f"unknown function {_quote(name)}{suggestion}; the functions are {known}", offset)


# ----------------------------------------------------------------- parser --

# Binding powers (left, right) of the infix operators: + - below * / below a
# sign below ^.  ^ is right-associative: its right power is below its left.
_INFIX = {"+": (10, 11), "-": (10, 11), "*": (20, 21), "/": (20, 21), "^": (41, 40)}
# A sign's operand takes nothing but powers: -x^2 is -(x^2), -x*y is (-x)*y.
_SIGN = 30

_NO_COMPARISONS = "'==' is not allowed: there are no comparisons (an assignment is NAME = expression, with one '=')"


class _Parser:
    """Pratt parsing, a token at a time.  Every rule checks a token before
    consuming it, so the first error raised is the first in the text (but
    for a call's number of arguments, counted at its ')', and a left of '='
    that is not one name, seen at the '=')."""

    def __init__(self, text: str):
        self.text = text
        self.prev: _Token | None = None  # the token last consumed
        # the open brackets, innermost last: True for a call's, False for grouping
        self.brackets: list[bool] = []
        self.tok = _token_at(text, 0)  # the token looked at

    def _advance(self) -> None:
        # (the text is read a token at a time, as the parser gets there: the
        # first error raised is the first in the text, however it is found)
        self.prev = self.tok
        self.tok = _token_at(self.text, self.tok.end)

    def _assigns(self) -> bool:
        """Is the token looked at a name followed by '='?"""
        if self.tok.kind != "name":
            return False
        try:
            return _token_at(self.text, self.tok.end).kind == "="
        except ExpressionError:  # (raised again when the parser gets there)
            return False

    def program(self) -> list[Assignment]:
        statements = []
        while self.tok.kind != "end":
            if self.tok.kind == "sep":
                self._advance()
            else:
                statements.append(self._statement())
        if not statements:
            raise ExpressionError("the expression is empty: write one, such as f = (x + y) * z", 0)
        return statements

    def _statement(self) -> Assignment:
        first = self.tok
        if self._assigns():
            self._advance()
            self._advance()
            value, _, end = self._expression(0, 0)
            if self.tok.kind == "=":
                raise ExpressionError("a second '=' in one statement: write one assignment per line", self.tok.start)
            statement = Assignment(first.text, value, first.start, end, first.start)
        else:
            value, start, end = self._expression(0, 0)
            if self.tok.kind == "=":
                raise ExpressionError(f"the left of '=' must be one name, not {_quote(self.text[start:end])}", start)
            statement = Assignment(None, value, start, end, start)
        if self.tok.kind not in ("sep", "end"):
            raise self._unexpected_after(None)
        return statement

    def _expression(self, min_power: int, depth: int) -> tuple[Node, int, int]:
        """The expression at the token looked at whose infix operators bind at
        least ``min_power``, ``depth`` levels deep: (node, start, end), where
        start and end include any parentheses around the node."""
        tok = self.tok
        kind = tok.kind
        left: Node
        if kind == "num":
            self._advance()
            left, start, end = Number(float(tok.text), tok.start, tok.end), tok.start, tok.end
        elif kind == "name":
            self._advance()
            if self.tok.kind == "(":
                left, start, end = self._call(tok, depth)
            else:
                left, start, end = Name(tok.text, tok.start, tok.end), tok.start, tok.end
        elif kind == "(":
            self._nest(tok, depth)
            self._advance()
            self.brackets.append(False)
            left, _, _ = self._expression(0, depth + 1)
            if self.tok.kind != ")":
                raise self._unexpected_after(tok)
            start, end = tok.start, self.tok.end
            self.brackets.pop()
            self._advance()
        elif kind == "-" or kind == "+":
            self._nest(tok, depth)
            self._advance()
            operand, _, end = self._expression(_SIGN, depth + 1)
            start = tok.start
            left = Unary("-", operand, start, end) if kind == "-" else operand
        else:
            raise self._expected_value()
        # the infix operators, in a loop: a long sum does not nest
        while True:
            op = self.tok
            powers = _INFIX.get(op.kind)
            if powers is None or powers[0] < min_power:
                return left, start, end
            deeper = depth
            if op.kind == "^":  # (the only right-associative operator: its chain nests)
                self._nest(op, depth)
                deeper += 1
            self._advance()
            right, _, end = self._expression(powers[1], deeper)
            left = Binary(op.kind, left, right, start, end)

    def _call(self, name: _Token, depth: int) -> tuple[Node, int, int]:
        """``name(`` arguments ``)``, with the "(" looked at."""
        arity = FUNCTIONS.get(name.text)
        if arity is None:
            raise _unknown_function(name.text, name.start)
        self._nest(name, depth)
        opening = self.tok
        self._advance()
        self.brackets.append(True)
        args = []
        if self.tok.kind != ")":
            while True:
                args.append(self._expression(0, depth + 1)[0])
                if self.tok.kind == ")":
                    break
                if self.tok.kind != ",":
                    raise self._unexpected_after(opening)
                self._advance()
        if len(args) != arity:
            plural = "" if arity == 1 else "s"
            raise ExpressionError(f"{name.text} takes {arity} argument{plural}, given {len(args)}", name.start)
        end = self.tok.end
        self.brackets.pop()
        self._advance()
        return Call(name.text, tuple(args), name.start, end), name.start, end

    def _nest(self, tok: _Token, depth: int) -> None:
        """Refuse ``tok`` if what it opens is nested too deep."""
        if depth >= MAX_NESTING:
            raise ExpressionError(
                f"the expression is nested more than {MAX_NESTING} levels deep (parentheses, signs, powers and calls)",
                tok.start,
            )

    def _expected_value(self) -> ExpressionError:
        """The error when a value should start at the token looked at."""
        tok, prev = self.tok, self.prev
        if tok.kind == "==":
            return ExpressionError(_NO_COMPARISONS, tok.start)
        if tok.kind == "," and not (self.brackets and self.brackets[-1]):
            return _unexpected_character(self.text, tok.start)
        at_start = prev is None or prev.kind == "sep"
        if tok.kind == "=" and at_start:
            return ExpressionError("'=' needs a name on its left: write NAME = expression", tok.start)
        if prev is not None and tok.kind in ("sep", "end"):  # (never at a statement's start)
            return ExpressionError(f"the expression ends after {_describe(prev)}", prev.end)
        after = "" if prev is None or at_start else f" after {_describe(prev)}"
        return ExpressionError(f"expected a number, a name or '('{after}, found {_describe(tok)}", tok.start)

    def _unexpected_after(self, opening: _Token | None) -> ExpressionError:
        """The error when a value has ended and the token looked at cannot
        follow it (in the brackets opened by ``opening``; at the top, None)."""
        tok, prev = self.tok, self.prev
        kind = tok.kind
        if kind in ("sep", "end") and opening is not None:
            return ExpressionError("'(' is never closed", opening.start)
        if kind == ")":
            return ExpressionError("unexpected ')': no '(' is open", tok.start)
        if kind == ",":
            return _unexpected_character(self.text, tok.start)
        if kind == "==":
            return ExpressionError(_NO_COMPARISONS, tok.start)
        if kind == "=":
            return ExpressionError("unexpected '=' inside parentheses", tok.start)
        assert prev is not None  # (a value was consumed)
        if prev.kind == "num" and kind == "name":
            message = f"a number followed by a name: write {_cut(prev.text)}*{_cut(tok.text)}"
            if tok.text[0] in "eE" and prev.end == tok.start:
                message += " (or, for a power of ten, digits after the e: 1e3)"
            return ExpressionError(message, tok.start)
        return ExpressionError(
            f"missing an operator between {_describe(prev)} and {_describe(tok)} (write * to multiply)", tok.start
        )
