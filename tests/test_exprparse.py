"""The expression parser: the grammar, its tree and offsets, and every refusal.

* The grammar: precedence and associativity (checked on the tree's shape),
  numbers, statements, comments, and the offsets of every node.
* Every refusal: its message and the exact place (offset, line and column).
* Nesting: 100 levels parse, the 101st is refused where it opens, 10,000 are
  refused at once (never a RecursionError); a 100,000-term sum is a loop.
* Properties: any text whatsoever gives a tree or an ExpressionError inside
  the text; a random tree, printed with every parenthesis, reads back as
  itself.  The long fuzz runs are marked slow.
"""

from __future__ import annotations

import keyword
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepprop.errors import StepPropError
from stepprop.exprparse import (
    FUNCTIONS,
    MAX_NESTING,
    Assignment,
    Binary,
    Call,
    ExpressionError,
    Name,
    Node,
    Number,
    Unary,
    line_column,
    parse_program,
)

# ---------------------------------------------------------------- helpers --


def shape(node: Node) -> object:
    """The tree without its offsets: a number, a name, ("neg", x), (op, left, right), (function, *args)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Unary):
        return ("neg", shape(node.operand))
    if isinstance(node, Binary):
        return (node.op, shape(node.left), shape(node.right))
    return (node.function, *map(shape, node.args))


def expr(text: str) -> object:
    """The shape of the one bare expression ``text``."""
    [statement] = parse_program(text)
    assert statement.target is None
    return shape(statement.value)


def nodes(node: Node) -> list[Node]:
    """Every node of a tree, the root first."""
    if isinstance(node, Unary):
        children: tuple[Node, ...] = (node.operand,)
    elif isinstance(node, Binary):
        children = (node.left, node.right)
    elif isinstance(node, Call):
        children = node.args
    else:
        children = ()
    return [node] + [n for child in children for n in nodes(child)]


def nesting(tree: object) -> int:
    """How deep the parser nests the text :func:`printed` writes for ``tree``."""
    if not isinstance(tree, tuple):
        return 0
    head, *parts = tree
    if head == "neg":  # (-x): the parentheses and the sign
        return 2 + nesting(parts[0])
    if head == "^":  # (a ^ b): the parentheses, and the exponent once more
        return 1 + max(nesting(parts[0]), 1 + nesting(parts[1]))
    return 1 + max(map(nesting, parts))  # the parentheses, or the call


def refused(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_program(text)
    return info.value


def spans_hold(text: str, statements: list[Assignment]) -> None:
    """Every statement's and node's offsets are inside ``text``, and the
    source of each reads back as the same tree."""
    for statement in statements:
        assert 0 <= statement.start <= statement.target_start < statement.end <= len(text)
        if statement.target is not None:
            assert text[statement.target_start :].startswith(statement.target)
        source = text[statement.start : statement.end]
        [again] = parse_program(source)
        assert again.target == statement.target and shape(again.value) == shape(statement.value)
        for node in nodes(statement.value):
            assert statement.start <= node.start < node.end <= statement.end
            assert expr(text[node.start : node.end]) == shape(node)


# ---------------------------------------------------------------- grammar --


@pytest.mark.parametrize(
    "text, tree",
    [
        ("x + y", ("+", "x", "y")),
        ("a - b - c", ("-", ("-", "a", "b"), "c")),
        ("a - (b - c)", ("-", "a", ("-", "b", "c"))),
        ("a / b / c", ("/", ("/", "a", "b"), "c")),
        ("a * b / c", ("/", ("*", "a", "b"), "c")),
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("(a + b) * c", ("*", ("+", "a", "b"), "c")),
        ("a * b + c * d", ("+", ("*", "a", "b"), ("*", "c", "d"))),
        ("2^3^2", ("^", 2.0, ("^", 3.0, 2.0))),
        ("2**3**2", ("^", 2.0, ("^", 3.0, 2.0))),
        ("(2^3)^2", ("^", ("^", 2.0, 3.0), 2.0)),
        ("a^b*c", ("*", ("^", "a", "b"), "c")),
        ("a*b^c", ("*", "a", ("^", "b", "c"))),
        ("-x^2", ("neg", ("^", "x", 2.0))),
        ("-x*y", ("*", ("neg", "x"), "y")),
        ("-x + y", ("+", ("neg", "x"), "y")),
        ("x * -y", ("*", "x", ("neg", "y"))),
        ("x - -y", ("-", "x", ("neg", "y"))),
        ("--x", ("neg", ("neg", "x"))),
        ("2^-1", ("^", 2.0, ("neg", 1.0))),
        ("2^-x^2", ("^", 2.0, ("neg", ("^", "x", 2.0)))),
        ("2^-x*y", ("*", ("^", 2.0, ("neg", "x")), "y")),
        ("2 ** -x", ("^", 2.0, ("neg", "x"))),
        ("-2", ("neg", 2.0)),
        ("+x", "x"),
        ("+x * +y", ("*", "x", "y")),
        ("x ^ +2", ("^", "x", 2.0)),
        ("((x))", "x"),
        ("exp(-x)", ("exp", ("neg", "x"))),
        ("max(a, b + c)", ("max", "a", ("+", "b", "c"))),
        ("min( a ,b )", ("min", "a", "b")),
        ("ln(x)", ("ln", "x")),
        ("exp(x)^2", ("^", ("exp", "x"), 2.0)),
        (
            "1/(1 + exp(-(w0*x0 + w1*x1 + w2)))",
            ("/", 1.0, ("+", 1.0, ("exp", ("neg", ("+", ("+", ("*", "w0", "x0"), ("*", "w1", "x1")), "w2"))))),
        ),
    ],
)
def test_precedence_and_associativity(text, tree):
    assert expr(text) == tree
    spans_hold(text, parse_program(text))


@pytest.mark.parametrize(
    "text, value",
    [
        ("2", 2.0),
        ("0.5", 0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e-3", 0.001),
        ("2.5E+2", 250.0),
        ("1E3", 1000.0),
        ("007", 7.0),
        ("1e-999", 0.0),  # (too small for a float: it is 0, as Python reads it)
        ("1.7976931348623157e308", 1.7976931348623157e308),
    ],
)
def test_numbers(text, value):
    [statement] = parse_program(text)
    assert statement.value == Number(value, 0, len(text))


@pytest.mark.parametrize("name", ["x", "x0", "_", "_x", "w_1", "Out_h1", "match", "case", "type", "print", "exp"])
def test_names(name):
    # soft keywords are names; so is a function's name that is not called
    assert parse_program(name)[0].value == Name(name, 0, len(name))


def test_every_function_with_its_arguments():
    for function, arity in FUNCTIONS.items():
        text = f"{function}({', '.join('abc'[:arity])})"
        assert expr(text) == (function, *"abc"[:arity])
    assert FUNCTIONS == {
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
    assert MAX_NESTING == 100


def test_statements():
    text = "  # a graph\n\nq = x + y   # the sum\r\n\tf = q * z ;; g = -f; 2*g  \n# the end"
    statements = parse_program(text)
    assert [(s.target, shape(s.value)) for s in statements] == [
        ("q", ("+", "x", "y")),
        ("f", ("*", "q", "z")),
        ("g", ("neg", "f")),
        (None, ("*", 2.0, "g")),
    ]
    sources = [text[s.start : s.end] for s in statements]
    assert sources == ["q = x + y", "f = q * z", "g = -f", "2*g"]
    assert [text[s.target_start : s.target_start + 1] for s in statements] == ["q", "f", "g", "2"]
    spans_hold(text, statements)


def test_a_comment_hides_a_semicolon():
    assert [s.target for s in parse_program("x = 1 # y = 2; z = 3\nw = 4")] == ["x", "w"]


def test_names_are_not_checked():
    # undefined names, a name assigned twice, a function's name assigned: the next layer's business
    assert [s.target for s in parse_program("x = y\nx = 2\nexp = 3")] == ["x", "x", "exp"]


def test_offsets():
    text = "f = (a + b)*c - exp( -(x) ) + +y"
    [statement] = parse_program(text)
    assert statement == Assignment("f", statement.value, 0, len(text), 0)
    value = statement.value
    assert isinstance(value, Binary)
    assert text[value.start : value.end] == "(a + b)*c - exp( -(x) ) + +y"
    assert text[value.right.start : value.right.end] == "y"  # (a "+" sign is dropped)
    difference = value.left
    assert isinstance(difference, Binary) and text[difference.start : difference.end] == "(a + b)*c - exp( -(x) )"
    product, call = difference.left, difference.right
    assert isinstance(product, Binary) and text[product.start : product.end] == "(a + b)*c"
    assert text[product.left.start : product.left.end] == "a + b"  # (without its parentheses)
    assert isinstance(call, Call) and text[call.start : call.end] == "exp( -(x) )"
    [negation] = call.args
    assert isinstance(negation, Unary) and text[negation.start : negation.end] == "-(x)"
    assert text[negation.operand.start : negation.operand.end] == "x"
    spans_hold(text, [statement])


def test_a_bare_expression_in_parentheses():
    text = " (x + y) "
    [statement] = parse_program(text)
    assert (statement.start, statement.end, statement.target_start) == (1, 8, 1)
    assert (statement.value.start, statement.value.end) == (2, 7)


def test_line_column():
    text = "ab\ncé\tx\n"
    assert [line_column(text, i) for i in range(len(text) + 1)] == [
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 1),
        (2, 2),
        (2, 3),
        (2, 4),
        (2, 5),
        (3, 1),
    ]
    assert line_column("", 0) == (1, 1)
    assert line_column(text, -5) == (1, 1) and line_column(text, 99) == (3, 1)  # (outside: the nearest end)


# --------------------------------------------------------------- refusals --

KNOWN = "the functions are exp, log, ln, sigmoid, tanh, relu, abs, sqrt, max, min"

# text, what the message says, line and column of the problem
REFUSALS = [
    ("__import__('os')", "unknown function '__import__'; " + KNOWN, 1, 1),
    ("x + __import__('os')", "unknown function '__import__'", 1, 5),
    ("'os'", 'unexpected character "\'": there are no strings', 1, 1),
    ('"x"', "unexpected character '\"'", 1, 1),
    ("os.system", "unexpected character '.': there is no attribute access", 1, 3),
    ("a[0]", "unexpected character '[': there are no subscripts", 1, 2),
    ("lambda x: x", "'lambda' is not allowed in an expression", 1, 1),
    ("import os", "'import' is not allowed in an expression", 1, 1),
    ("x = None", "'None' is not allowed in an expression", 1, 5),
    ("x + not y", "'not' is not allowed in an expression", 1, 5),
    ("y if x else z", "'if' is not allowed in an expression", 1, 3),
    ("foo(x)", "unknown function 'foo'; " + KNOWN, 1, 1),
    ("sigmod(x)", "unknown function 'sigmod' (did you mean sigmoid?); " + KNOWN, 1, 1),
    ("y = 2 * Exp(x)", "unknown function 'Exp' (did you mean exp?)", 1, 9),
    ("f(x) = x", "unknown function 'f'", 1, 1),
    ("print(x)", "unknown function 'print'", 1, 1),
    ("max(x)", "max takes 2 arguments, given 1", 1, 1),
    ("exp(x, y)", "exp takes 1 argument, given 2", 1, 1),
    ("1 + exp()", "exp takes 1 argument, given 0", 1, 5),
    ("max(x,)", "expected a number, a name or '(' after ',', found ')'", 1, 7),
    ("max(x,,y)", "expected a number, a name or '(' after ',', found ','", 1, 7),
    ("max(x y)", "missing an operator between 'x' and 'y'", 1, 7),
    ("2x", "a number followed by a name: write 2*x", 1, 2),
    ("y = 3 w", "a number followed by a name: write 3*w", 1, 7),
    ("1e", "a number followed by a name: write 1*e (or, for a power of ten, digits after the e: 1e3)", 1, 2),
    ("x y", "missing an operator between 'x' and 'y' (write * to multiply)", 1, 3),
    ("2 (x)", "missing an operator between '2' and '('", 1, 3),
    ("(a)(b)", "missing an operator between ')' and '('", 1, 4),
    ("1.2.3", "missing an operator between '1.2' and '.3'", 1, 4),
    ("(x + y", "'(' is never closed", 1, 1),
    ("f = exp(x + (y\ng = 1", "'(' is never closed", 1, 13),
    ("max(x, y", "'(' is never closed", 1, 4),
    ("x + y)", "unexpected ')': no '(' is open", 1, 6),
    ("()", "expected a number, a name or '(' after '(', found ')'", 1, 2),
    ("x +", "the expression ends after '+'", 1, 4),
    ("x +   # more to come\ny = 1", "the expression ends after '+'", 1, 4),
    ("x = ", "the expression ends after '='", 1, 4),
    ("-", "the expression ends after '-'", 1, 2),
    ("f = 2 ^", "the expression ends after '^'", 1, 8),
    ("exp(\nx)", "the expression ends after '('", 1, 5),  # (a newline always ends a statement)
    ("* x", "expected a number, a name or '(', found '*'", 1, 1),
    ("x * * y", "expected a number, a name or '(' after '*', found '*'", 1, 5),
    ("x ** ** 2", "expected a number, a name or '(' after '**', found '**'", 1, 6),
    ("1e999", "the number '1e999' is too large (not a finite float)", 1, 1),
    ("x = 2 * 1" + "0" * 400, "the number '1" + "0" * 26 + "...' is too large (not a finite float)", 1, 9),
    ("x + y = 3", "the left of '=' must be one name, not 'x + y'", 1, 1),
    ("(x) = 3", "the left of '=' must be one name, not '(x)'", 1, 1),
    ("exp(x) = 3", "the left of '=' must be one name, not 'exp(x)'", 1, 1),
    ("x = y = 3", "a second '=' in one statement: write one assignment per line", 1, 7),
    ("x == 3", "'==' is not allowed: there are no comparisons", 1, 3),
    ("x = == 3", "'==' is not allowed: there are no comparisons", 1, 5),
    ("= 3", "'=' needs a name on its left: write NAME = expression", 1, 1),
    ("x = (y = 3)", "unexpected '=' inside parentheses", 1, 8),
    ("x , y", "unexpected character ',': a comma only separates a function's arguments", 1, 3),
    (", y", "unexpected character ','", 1, 1),
    ("max((x, y))", "unexpected character ','", 1, 7),
    ("x: y", "unexpected character ':'", 1, 2),
    ("café = 1", "unexpected character 'é' (U+00E9): a name is ASCII letters, digits and '_'", 1, 4),
    ("x \u2212 1", "unexpected character '\u2212' (U+2212): write '-'", 1, 3),
    ("x\u00b2", "unexpected character '\u00b2' (U+00B2): write ^2", 1, 2),
    ("a\x00", "unexpected character '\\x00'", 1, 2),
    ("5..", "unexpected character '.'", 1, 3),
    ("q = x + y\nf = q * $", "unexpected character '$'", 2, 9),
    ("q = x + y\r\n  f = q % z", "unexpected character '%'", 2, 9),
    ("", "the expression is empty", 1, 1),
    ("  \n\t# only a comment\n ; ;\n", "the expression is empty", 1, 1),
]
REFUSALS += [(f"x {c} y", f"unexpected character {c!r}", 1, 3) for c in "é$'\"`@!&|~%{}[]:?\\.,\x0b\x0c"]
REFUSALS += [(f"y {c} 2", f"unexpected character {c!r}", 1, 3) for c in "<>"]


@pytest.mark.parametrize("text, message, line, column", REFUSALS)
def test_refusals(text, message, line, column):
    error = refused(text)
    assert error.message.startswith(message), error.message
    assert str(error) == error.message
    assert line_column(text, error.offset) == (line, column), (error.message, error.offset)


@pytest.mark.parametrize("word", keyword.kwlist)
def test_a_keyword_is_not_a_name(word):
    for text, offset in [(word, 0), (f"x + {word}", 4), (f"{word} = 1", 0), (f"y = {word}(x)", 4)]:
        error = refused(text)
        assert (error.message, error.offset) == (
            f"'{word}' is not allowed in an expression (it is a Python keyword, not a name)",
            offset,
        )


def test_the_first_problem_is_reported():
    assert refused("x + ) $").offset == 4
    assert refused("x $ )").offset == 2
    assert refused("2x + foo(y)").offset == 1
    assert refused("foo(x) + 2y").offset == 0
    assert refused("x = 1\ny = (2\nz = $").offset == 10


def test_expression_error():
    error = ExpressionError("unexpected character '$'", 3)
    assert isinstance(error, StepPropError)
    assert (error.message, error.offset, str(error)) == ("unexpected character '$'", 3, "unexpected character '$'")
    again = pickle.loads(pickle.dumps(error))
    assert (again.message, again.offset) == (error.message, error.offset)


# ---------------------------------------------------------------- nesting --

DEPTH = "the expression is nested more than 100 levels deep"

# (text nested n levels deep, offset of the thing that opens level n)
NESTED = {
    "parentheses": (lambda n: "(" * n + "x" + ")" * n, lambda n: n - 1),
    "signs": (lambda n: "-" * n + "x", lambda n: n - 1),
    "plus signs": (lambda n: "+" * n + "x", lambda n: n - 1),
    "powers": (lambda n: "^".join(["x"] * (n + 1)), lambda n: 2 * n - 1),
    "calls": (lambda n: "exp(" * n + "x" + ")" * n, lambda n: 4 * (n - 1)),
    # two levels a "a + b*-(": a sign, then parentheses
    "mixed": (lambda n: "a + b*-(" * (n // 2) + "x" + ")" * (n // 2), lambda n: 8 * ((n - 1) // 2) + 7 - n % 2),
}


@pytest.mark.parametrize("kind", NESTED)
def test_nesting(kind):
    text, offset = NESTED[kind]
    parse_program(text(MAX_NESTING))  # 100 levels: fine
    error = refused(text(MAX_NESTING + 2))
    assert error.message.startswith(DEPTH) and error.offset == offset(MAX_NESTING + 1), (error.message, error.offset)
    start = time.perf_counter()
    error = refused(text(10_000))
    assert error.message.startswith(DEPTH) and error.offset == offset(MAX_NESTING + 1)
    assert time.perf_counter() - start < 1.0


def test_nesting_uses_few_frames():
    # the deepest text allowed, at its worst (a sum, a product and a call a
    # level), parses with 500 frames to spare: never a RecursionError
    text = "a + b*exp(" * MAX_NESTING + "x" + ")" * MAX_NESTING

    def depth() -> int:
        frame, n = sys._getframe(), 0
        while frame is not None:
            frame, n = frame.f_back, n + 1
        return n

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth() + 500)
    try:
        parse_program(text)
    finally:
        sys.setrecursionlimit(limit)


def test_a_long_sum_is_not_nesting():
    terms = 100_000
    text = " + ".join(["x"] * terms)
    start = time.perf_counter()
    [statement] = parse_program(text)
    elapsed = time.perf_counter() - start
    # (walked, not compared: the tree is 100,000 deep on its left)
    node, count = statement.value, 0
    while isinstance(node, Binary):
        assert node.op == "+" and node.start == 0 and node.right == Name("x", node.end - 1, node.end)
        node, count = node.left, count + 1
    assert node == Name("x", 0, 1) and count == terms - 1
    assert elapsed < 2.0, elapsed  # (about 0.3 s)


# ------------------------------------------------------------------ other --


def test_the_import_is_light():
    code = (
        "import sys, stepprop.exprparse; "
        "print(sorted(m for m in ('click', 'rich', 'yaml', 'ast', 'dataclasses', 'difflib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_python_evaluation():
    source = (Path(__file__).resolve().parent.parent / "stepprop" / "exprparse.py").read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])(eval|exec|compile|__import__)\s*\(|import ast|from ast", source)


# ------------------------------------------------------------- properties --


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_fails_cleanly(text: str) -> None:
    try:
        statements = parse_program(text)
    except ExpressionError as error:
        assert 0 <= error.offset <= len(text), (error.message, error.offset)
        assert error.message and "\n" not in error.message
        return
    spans_hold(text, statements)


GRAMMARISH = "xyz0123456789.+-*/^()=;,#\n eE_abcmaxp"


@fuzz(300)
@given(st.text(max_size=60))
def test_any_text(text):
    parses_or_fails_cleanly(text)


@fuzz(300)
@given(st.text(GRAMMARISH, max_size=60))
def test_grammarish_text(text):
    parses_or_fails_cleanly(text)


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
NUMBERS = st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(abs)


def trees(max_leaves: int = 12) -> st.SearchStrategy[object]:
    """Random shapes (see :func:`shape`), each of a depth the parser allows once printed."""

    def extend(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
        return st.one_of(
            st.tuples(st.just("neg"), children),
            st.tuples(st.sampled_from("+-*/^"), children, children),
            st.sampled_from(sorted(FUNCTIONS)).flatmap(lambda f: st.tuples(st.just(f), *[children] * FUNCTIONS[f])),
        )

    return st.recursive(st.one_of(NUMBERS, NAMES), extend, max_leaves=max_leaves).filter(
        lambda tree: nesting(tree) <= MAX_NESTING
    )


def printed(tree: object, draw: st.DrawFn) -> str:
    """``tree`` as text, every operation in parentheses, with spaces and ** here and there."""
    if isinstance(tree, float):
        return repr(tree)
    if isinstance(tree, str):
        return tree
    assert isinstance(tree, tuple)
    head, *parts = tree
    texts = [printed(part, draw) for part in parts]
    space = draw(st.sampled_from(["", " ", "\t"]))
    if head == "neg":
        return f"(-{space}{texts[0]})"
    if head in ("+", "-", "*", "/", "^"):
        op = "**" if head == "^" and draw(st.booleans()) else head
        return f"({texts[0]}{space}{op}{space}{texts[1]})"
    return f"{head}({f',{space}'.join(texts)})"


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, list[tuple[str | None, object]]]:
    statements = draw(st.lists(st.tuples(st.one_of(st.none(), NAMES), trees()), min_size=1, max_size=3))
    lines = [(f"{target} = " if target else "") + printed(tree, draw) for target, tree in statements]
    separator = draw(st.sampled_from(["\n", ";", " ; ", "  # a comment\n", "\r\n\n"]))
    return separator.join(lines), statements


def reads_back(program: tuple[str, list[tuple[str | None, object]]]) -> None:
    text, statements = program
    parsed = parse_program(text)
    assert [(s.target, shape(s.value)) for s in parsed] == statements
    spans_hold(text, parsed)


@fuzz(100)
@given(programs())
def test_printed_trees_read_back(program):
    reads_back(program)


@pytest.mark.slow
@fuzz(20_000)
@given(st.one_of(st.text(max_size=200), st.text(GRAMMARISH, max_size=200)))
def test_any_text_long(text):
    parses_or_fails_cleanly(text)


@pytest.mark.slow
@fuzz(2_000)
@given(programs())
def test_printed_trees_read_back_long(program):
    reads_back(program)
