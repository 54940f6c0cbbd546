"""check on an expression (stepprop.grading.graph): the slips worked out by
the linear shortcut are the slips re-worked by a whole backward pass, every
slip named from numbers worked by hand, and the cost stays linear."""

from __future__ import annotations

import pytest
from conftest import run

import stepprop
from stepprop.grading import graph as G

MIXED = """\
expression: |
  a = x * y
  b = x + a
  c = b - max(a, y) + exp(x / y) - sigmoid(a) * relu(b) + (x - y)^2
values: {x: 0.5, y: -2}
"""


@pytest.mark.parametrize(
    "text", [MIXED, "expression: 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))\nvalues: {w0: 2, x0: -1, w1: -3, x1: -2, w2: -3}\n"]
)
def test_every_slip_by_the_shortcut_is_the_slip_reworked(text):
    e = stepprop.Expression.from_text(text)
    checker = G.Checker(e.config)
    t = checker.exact
    tried = 0
    for node in t.backward_order:
        for slip, value in checker.slipped(node):
            direct = G.backward(t, slip).get(node, 0.0)
            assert value == pytest.approx(direct, rel=1e-12, abs=1e-12), (slip, node.name)
            tried += 1
    assert tried > 20
    kinds = {s.id for node in t.backward_order for s, _ in checker.slipped(node)}
    if "max" in text:
        assert kinds == set(G.SLIPS)  # every kind of slip has a place in this expression


def _grade(text: str, answers: dict[str, str]) -> dict[str, dict]:
    e = stepprop.Expression.from_text(text)
    return {a["name"]: a for a in stepprop.check(e, answers).to_dict()["answers"]}


def test_each_slip_named_from_numbers_worked_by_hand():
    # x = 0.5, y = -2: a = -1, b = -0.5, max(a, y) = a = -1
    x, y = 0.5, -2.0
    a, b = x * y, x + x * y
    text = "expression: |\n  a = x * y\n  b = x + a\n  f = b * b - max(a, y)\nvalues: {x: 0.5, y: -2}\n"
    df_db = 2 * b  # -1
    df_da = df_db * 1 - 1.0  # via b, and via max (a is the larger): -2
    df_dx = df_db * 1 + df_da * y  # 3
    df_dy = df_da * x  # max sends nothing to y: -1
    graded = _grade(text, {"df/dx": repr(df_dx), "df/dy": repr(df_dy), "df/da": repr(df_da)})
    assert {g["status"] for g in graded.values()} == {"correct"}
    # one path only: a's gradient from b alone (here also what max's gradient sent to y gives a)
    assert _grade(text, {"df/da": repr(df_db)})["df/da"]["mistakes"] == ["wrong_branch", "one_path"]
    twice = "expression: |\n  a = x * y\n  f = a * x + exp(a)\nvalues: {x: 0.5, y: -2}\n"
    only_exp = __import__("math").exp(a)  # a's gradient through exp alone, not through a * x
    assert _grade(twice, {"df/da": repr(only_exp)})["df/da"]["mistake"] == "one_path"
    # max's gradient sent to y instead of a: a gets only b's path (-1), y gets -1 from max
    assert _grade(text, {"df/dy": repr(df_db * x - 1.0)})["df/dy"]["mistake"] == "wrong_branch"
    # the local gradient of a = x * y with respect to x (y = -2) left out
    assert _grade(text, {"df/dx": repr(df_db + df_da)})["df/dx"]["mistake"] == "local_left_out"
    # the upstream gradient df/da not multiplied in at da/dx: y alone
    # (here b * b's local gradient, b = -0.5, left out on one side gives the same number)
    assert "upstream_left_out" in _grade(text, {"df/dx": repr(df_db + y)})["df/dx"]["mistakes"]
    minus = "expression: |\n  d = x - y\n  f = d * d\nvalues: {x: 3, y: 1}\n"
    assert _grade(minus, {"df/dy": "4"})["df/dy"]["mistake"] == "sign_lost"  # 2 * 2 * (+1), not -1
    # follow-through: df/dx right from the student's own wrong df/da
    carried = _grade(text, {"df/da": "5", "df/dx": repr(df_db + 5 * y)})
    assert carried["df/da"]["status"] == "wrong"
    assert carried["df/dx"]["status"] == "carried" and carried["df/dx"]["follows_from"] == ["df/da"]


def test_names_errors_and_the_cli(workdir):
    (workdir / "a.yaml").write_text('"∂f/∂x": -4\nq: 3\n"df/dz": 2\n')
    result = run("check", "staged", "a.yaml", "--format", "json", code=1)
    import json

    data = json.loads(result.stdout)
    assert [a["status"] for a in data["answers"]] == ["correct", "correct", "wrong"]
    assert data["first_wrong"] == "df/dz"
    (workdir / "b.yaml").write_text("x: -2\n")
    given = run("check", "staged", "b.yaml", code=1)
    assert "b.yaml:1:1" in given.stderr and "x is an input" in given.stderr and "df/dx" in given.stderr
    (workdir / "c.yaml").write_text("df/dw: 1\n")
    unknown = run("check", "staged", "c.yaml", code=1)
    assert "c.yaml:1:1" in unknown.stderr and "unknown quantity 'df/dw'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    template = run("check", "--template", "staged", code=0).stdout
    (workdir / "t.yaml").write_text(template)
    names = [line.split(":")[0].strip('"') for line in template.splitlines() if line and not line.startswith("#")]
    assert names == ["q", "f", "df/df", "df/dq", "df/dz", "df/dy", "df/dx"]  # (dq/dx = 1: written inline)


def test_a_long_expressions_check_stays_linear():
    """Grading every gradient of a 2,000-term sum of products (each wrong) costs
    a forward pass per answer, not a backward pass per slip per answer."""
    terms = " + ".join(f"x{k % 7} * x{(k + 1) % 7}" for k in range(2000))
    values = ", ".join(f"x{k}: {0.1 * (k + 1)}" for k in range(7))
    e = stepprop.Expression.from_text(f"expression: f = {terms}\nvalues: {{{values}}}\n")
    answers = {f"df/dx{k}": "1.5" for k in range(7)}
    graded = stepprop.check(e, answers)
    assert graded.wrong == 7  # (each with every slip of 4,000 edges tried: quadratic would take minutes)


def test_a_wrong_local_gradient_names_the_operations_slip():
    text = "expression: |\n  q = x - y\n  f = q * q + max(x, y)\nvalues: {x: 3, y: 1}\n"
    graded = _grade(text, {"dq/dy": "1", "dn2/dy": "1", "dn2/dx": "0", "dq/dx": "2"})
    assert graded["dq/dy"]["mistake"] == "sign_lost"  # d(x - y)/dy is -1
    assert graded["dn2/dy"]["mistake"] == graded["dn2/dx"]["mistake"] == "wrong_branch"  # max(3, 1) passes to x
    assert graded["dq/dx"]["mistake"] is None and graded["dq/dx"]["status"] == "wrong"


@pytest.mark.parametrize(
    "text, where",
    [
        ("expression: f = e * 2\nvalues: {e: 1}\n", ":2:10:"),
        ("expression: |\n  e = x * 2\n  f = e + 1\nvalues: {x: 1}\n", ":2:3:"),
        ("expression: f = x * e\nvalues: {x: 1}\n", ":1:21:"),
    ],
)
def test_the_name_e_is_refused_where_it_is_written(text, where, workdir):
    (workdir / "e.yaml").write_text(text)
    result = run("explain", "e.yaml", code=1)
    assert f"e.yaml{where} 'e' is Euler's number" in result.stderr


def test_a_slip_the_students_own_right_answers_rule_out_is_named_last():
    """df/dx = -8 for f = (x*y + max(x, z)) * 2 at x = 3, y = -4, z = 2 is one path of
    x (through x*y) or max's wrong branch; a right dn2/dx = 1 rules the branch out."""
    text = "expression: f = (x*y + max(x, z)) * 2\nvalues: {x: 3, y: -4, z: 2}\n"
    alone = _grade(text, {"df/dx": "-8"})["df/dx"]["mistakes"]
    assert set(alone) == {"wrong_branch", "one_path"}
    with_local = _grade(text, {"df/dx": "-8", "dn2/dx": "1"})["df/dx"]
    assert with_local["mistake"] == "one_path"


def test_the_template_asks_only_for_local_gradients_the_worked_example_names():
    """A constant local gradient (of +, -, * 2) is written inline, never on a line of its own."""
    text = "expression: |\n  q = a - b\n  f = q * c\nvalues: {a: 1, b: 2, c: 3}\n"
    e = stepprop.Expression.from_text(text)
    lines = G.template(e.trace)
    assert '"dq/da"' not in lines and '"dq/db"' not in lines
    assert '"df/dq"' in lines and '"df/da"' in lines


@pytest.mark.parametrize("key, hint", [("expresion", "did you mean 'expression'?"), ("epsilonn", "'epsilon'")])
def test_a_misspelled_expression_key_is_named(key, hint, workdir):
    (workdir / "t.yaml").write_text(f"{key}: |\n  f = x * 2\nvalues: {{x: 1}}\n")
    result = run("explain", "t.yaml", code=1)
    assert "t.yaml:1:1: unknown key" in result.stderr and hint in result.stderr
