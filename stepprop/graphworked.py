"""The worked example of an expression's graph (see :mod:`stepprop.graph`):
the forward pass as a table in evaluation order, then the backward pass node
by node from the output back, each gradient the upstream gradient times the
local gradient, summed over the children of a node used more than once.

Every number is the recorded trace's; every equation is data a test
evaluates (see :mod:`stepprop.document`)."""

from __future__ import annotations

from typing import Any

from .document import Document, Eq, Item, Section, Table, Text
from .engine import Node
from .expr import Const, D, Expr, Num, Sym, add, mul
from .graph import GraphTrace
from .words import count

TITLE = "Backpropagation through an expression"


def sym(node: Node) -> Sym:
    return Sym(node.name)


class _Builder:
    def __init__(self, trace: GraphTrace):
        self.t = trace
        self.out = sym(trace.output)

    def spell(self, node: Node, numbers: bool) -> Expr:
        """A node in a formula: its name, or its number; a constant is always its number."""
        if not self.t.named(node):
            return Const(node.data)  # (as the expression writes it, also by hand)
        return Num(node.data) if numbers else sym(node)

    def formula(self, node: Node, numbers: bool) -> Expr:
        assert node.op is not None
        return node.op.formula([self.spell(p, numbers) for p in node.parents], node.attrs)

    def local_formula(self, child: Node, j: int, numbers: bool) -> Expr:
        """d child / d (its parent j), as the op prints it."""
        assert child.op is not None
        args = [self.spell(p, numbers) for p in child.parents]
        out = Num(child.data) if numbers else sym(child)
        return child.op.derivative(args, out, child.attrs, j)

    def forward(self) -> Section:
        rows: list[list[str | Expr]] = []
        for node in self.t.operations:
            rows.append(
                [node.name, self.t.written(node), self.formula(node, False), self.formula(node, True), Num(node.data)]
            )
        inputs = ", ".join(f"{n.name} = {_shown(n.data)}" for n in self.t.inputs)
        return Section(
            "The forward pass",
            [
                Text(f"The inputs: {inputs}. Each operation in the order it is worked out:"),
                Table(["node", "as written", "expression", "with numbers", "value"], rows),
            ],
        )

    def backward(self) -> Section:
        t = self.t
        f = t.output
        items: list[Item] = [
            Eq(D(self.out, self.out), [Const(1)], name=t.gradient_name(f), note="the output with respect to itself")
        ]
        for node in t.backward_order:
            if node is f:
                continue
            edges = [(c, j) for c, j in t.uses.get(node, []) if (c, j) in t.contributions]
            terms_named: list[Expr] = []
            terms_numbers: list[Expr] = []
            locals_: list[Item] = []
            children = dict.fromkeys(c for c, _ in edges)
            for child in children:
                # an operand used more than once by one operation (x * x) has one local
                # gradient, a term for each use (the product rule): dn1/dx = x + x
                js = [j for c, j in edges if c is child]
                local = add(*(self.local_formula(child, j, False) for j in js))
                numbers = add(*(self.local_formula(child, j, True) for j in js))
                value = t.locals[t.local_name(child, node)] if len(js) > 1 else child.partials[js[0]]
                local_number: Expr = Num(value)
                if child is f and not isinstance(local, Const):
                    # (the output's own local gradient is its gradient: written out in place)
                    local_number = numbers
                elif not isinstance(local, Const):
                    shown = D(sym(child), sym(node))
                    note = "the local gradient"
                    if len(js) > 1:
                        note += f": {child.name} uses {node.name} {count(len(js), 'time')}, a term for each"
                    locals_.append(Eq(shown, [local, numbers, Num(value)], name=t.local_name(child, node), note=note))
                    local = shown
                if len(js) > 1 and t.rounding is not None:
                    # by hand, each use's share is worked out and rounded, then they are added
                    # (as the engine does): a term for each use, not the rounded product of the sum
                    terms_named += [mul(D(self.out, sym(child)), self.local_formula(child, j, False)) for j in js]
                    terms_numbers += [mul(Num(child.grad), Num(child.partials[j])) for j in js]
                    continue
                terms_named.append(mul(D(self.out, sym(child)), local))
                terms_numbers.append(mul(Num(child.grad), local_number))
            if len(children) > 1:
                note = f"{node.name} is used {count(len(edges), 'time')}: the sum over its paths"
            else:
                note = "the upstream gradient times the local gradient"
            items.append(
                Section(
                    f"{node.name}",
                    [
                        *locals_,
                        Eq(
                            D(self.out, sym(node)),
                            [add(*terms_named), add(*terms_numbers), Num(node.grad)],
                            name=t.gradient_name(node),
                            note=note,
                            result=True,
                        ),
                    ],
                )
            )
        return Section("The backward pass", items)

    def summary(self) -> Section:
        t = self.t
        rows: list[list[str | Expr]] = [[n.name, Num(n.data), Num(n.grad)] for n in t.inputs]
        order = ", ".join(n.name for n in t.backward_order)
        return Section(
            "The gradients",
            [
                Table(["input", "value", f"d{t.output.name}/d(input)"], rows),
                Text(f"The forward pass visits {', '.join(t.order)}; the backward pass visits {order}."),
            ],
        )

    def document(self) -> Document:
        t = self.t
        e = t.expression
        lines = [e.written(s) for s in e.statements]
        intro = [
            f"the expression from {e.source}: " + "; ".join(lines),
            f"the output is {t.output.name}; the inputs are {', '.join(e.values) or 'none'}",
        ]
        if any(t.info[n].assigned is not None and n.name != t.info[n].assigned for n in t.operations):
            intro.append("n1, n2, ... name the steps inside an assignment (the table shows each as written)")
        if t.rounding is not None:
            from .rounding import describe

            intro.append(f"hand-calculation mode: every result is rounded to {describe(t.rounding)}")
        intro.append(
            "each gradient is the upstream gradient (of the node that uses it) times the local gradient; "
            "a node used more than once adds the gradients of its paths"
        )
        doc = Document(TITLE, intro, [self.forward(), self.backward(), self.summary()])
        from .worked import finish

        finish(doc, t.rounding)  # (as a network's worked example)
        return doc


def explain(trace: GraphTrace) -> Document:
    return _Builder(trace).document()


def to_dict(trace: GraphTrace) -> dict[str, Any]:
    """The JSON form of an expression's graph (``explain --format json``)."""
    t = trace
    nodes = []
    for node in t.nodes:
        info = t.info[node]
        nodes.append(
            {
                "name": node.name,
                "kind": info.kind,
                "op": node.op.name if node.op is not None else None,
                "parents": [p.name for p in node.parents],
                "as_written": t.written(node),
                "value": node.data,
                "gradient": node.grad if t.named(node) else None,
                "local_gradients": list(node.partials),
            }
        )
    return {
        "stepprop": 1,
        "command": "explain",
        "expression": t.expression.text,
        "output": t.output.name,
        "inputs": dict(t.expression.values),
        "values": t.values,
        "gradients": t.gradients,
        "local_gradients": t.locals,
        "order": t.order,
        "backward_order": [n.name for n in t.backward_order],
        "nodes": nodes,
    }


def _shown(x: float) -> str:
    from .expr import fmt

    return fmt(x)
