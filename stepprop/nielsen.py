"""Nielsen's notation (see :mod:`stepprop.notation`): his names for a
network's quantities, and the renaming of every document, JSON and answer
between them and the post's."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .expr import D, Expr, Sym, Via, substitute
from .optim import QUANTITIES, state_name

if TYPE_CHECKING:
    from .diagram import Diagram, DNode
    from .document import Document, Item, Section
    from .network import Net

# a name or a word of a text: net_h1, dE_total/dw5, W^[2]+, z^[2](1,1), out_o1[2]
_TOKEN = r"(?<![\w^\[/.\\])[A-Za-z][\w^\[\]]*(?:/d[\w^\[\]]+)?\+?(?:\[\d+\])?(?:\(\d+(?:,\d+)?\))?(?!\.\w)"
_MARK = r"((?<!\^)\[\d+\]|\(\d+(?:,\d+)?\)|\(t-1\))$"  # a sample's mark, a matrix entry's place, or (t-1)
# the post's words for quantities in general (no neuron's), in Nielsen's, longest first
_PHRASES = (
    ("dE_total/dnet_n", "dC/dz_n"),
    ("dnet_k/dout_j", "dz_k/da_j"),
    ("out * (1 - out)", "a * (1 - a)"),
    ("net * (1 - net)", "z * (1 - z)"),
    ("1 - out^2", "1 - a^2"),
    ("target - out", "y - a"),
    ("out - target", "a - y"),
    ("(t - out)", "(y - a)"),
    ("dout/dnet", "da/dz"),
    ("dnet/dw", "dz/dw"),
    ("dE/dnet", "dC/dz"),
    ("dE/dout", "dC/da"),
    ("dE/dw", "dC/dw"),
    ("dE_total/dp", "dC/dp"),
    ("net input", "weighted input"),
)
# a table's column headers: the quantity each column holds
_HEADERS = {"net": "z", "out": "a", "dout/dnet": "da/dz", "dE_total/dp": "dC/dp", "E_total": "C"}


def _index(*numbers: int) -> str:
    """Indices written together, w^3_12, or with commas where one has two digits."""
    return ("," if any(n > 9 for n in numbers) else "").join(str(n) for n in numbers)


class Nielsen:
    """Nielsen's names for the quantities of a network (see the module's text);
    ``batch``: a step on several samples, whose error E (their mean or sum) is C
    and each sample's E_total[k] is C[k]."""

    nielsen = True

    def __init__(self, net: Net, batch: bool = False):
        atoms: dict[str, Sym] = {}
        words: dict[str, str] = {}  # a neuron, in a text: h1 is a^2_1
        cfg = net.config
        last = len(cfg.layers) - 1
        for k, name in enumerate(net.input_names, 1):
            atoms[name] = Sym("x", str(k))
        for li, neurons in enumerate(net.neurons):
            layer = str(li + 2)
            for j, neuron in enumerate(neurons, 1):
                atoms[f"net_{neuron}"] = Sym("z", str(j), layer=layer)
                atoms[f"out_{neuron}"] = Sym("a", str(j), layer=layer)
                atoms[f"delta_{neuron}"] = Sym("delta", str(j), layer=layer)
                words[neuron] = f"a^{layer}_{j}"
                if li == last:
                    atoms[f"target_{neuron}"] = Sym("y", str(j))
                    atoms[f"E_{neuron}"] = Sym("C", str(j))
                else:  # the part of the error through a hidden neuron (its path share's name)
                    atoms[f"E_{neuron}"] = Sym("C", str(j), layer=layer)
        for name, p in net.params.items():
            layer = str(p.layer + 2)
            if p.kind == "weight":
                assert p.row is not None and p.col is not None
                atoms[name] = Sym("w", _index(p.row + 1, p.col + 1), layer=layer)
            else:
                atoms[name] = Sym("b", "" if p.row is None else str(p.row + 1), layer=layer)
        for name in net.params:  # an optimiser's quantities carry their parameter's indices: v_w5 is v^3_11
            param = atoms[name]
            for kind in QUANTITIES:
                atoms[state_name(kind, name)] = Sym(kind, param.sub, layer=param.layer)
        atoms["E_reg"] = Sym("C", "reg")  # the error with an L2 penalty
        atoms["E_total"] = Sym("C")  # a sample's error; in a batch C[k], and the batch's E is C
        if batch:
            atoms["E"] = Sym("C")
        for li in range(len(cfg.layers) + 1):  # the matrix view's names: z^[1] is z^2
            layer = str(li + 1)
            atoms[f"a^[{li}]"] = Sym("a", layer=layer)
            if li:
                for base, new in (("z", "z"), ("delta", "delta"), ("W", "w"), ("b", "b")):
                    atoms[f"{base}^[{li}]"] = Sym(new, layer=layer)
        atoms["t"] = Sym("y")
        self.atoms = atoms
        self.batch = batch
        self.spelled = {old: s.name for old, s in atoms.items()}
        # back from Nielsen's names; a bias shared by a layer is b^2 as a number and as
        # the view's 1 x 1 matrix: the number (a 1 x 1 matrix answer is its number)
        self.back = {new: old for old, new in self.spelled.items() if "^[" in old}
        self.back.update({new: old for old, new in self.spelled.items() if "^[" not in old})
        self.back["C"] = "E" if batch else "E_total"  # (a sample's, with its [k]: see canonical)
        for k, name in enumerate(net.input_names, 1):  # an input is also the first layer's a^1_k
            self.back[f"a^1_{k}"] = name
        self.lower = {new.lower(): old for new, old in self.back.items()}
        self.words = {**{old: new for old, new in self.spelled.items() if old != "t"}, **words}
        self._syms: dict[Sym, Sym] = {}

    def values(self, values: Mapping[str, float]) -> dict[str, float]:
        return {self.name(k): v for k, v in values.items()}

    def canonicals(self, written: list[str] | None) -> list[str] | None:
        return None if written is None else [self.canonical(w) or w for w in written]

    # -- symbols and expressions
    def sym(self, s: Sym) -> Sym:
        found = self._syms.get(s)
        if found is None:
            found = self._syms[s] = self._sym(s)
        return found

    def _sym(self, s: Sym) -> Sym:
        if s.base == "change":  # change_w5, change_W^[2]
            inner = self._sym(
                Sym(s.sub[0], s.sub[1:], s.sup, s.sample) if s.sub[1:] else Sym(s.sub, "", s.sup, s.sample)
            )
            if inner.layer:
                return Sym(f"change_{inner.base}", inner.sub, inner.sup, inner.sample, inner.layer)
            return s
        bracket, _, after = s.sup.partition("]")
        if s.sup.startswith("["):  # a matrix: W^[2]+
            key, sup = f"{s.base}^{bracket}]", after
        else:
            key, sup = Sym(s.base, s.sub).name, s.sup
        new = self.atoms.get(key)
        if new is None:
            return s
        return Sym(new.base, new.sub, sup, s.sample, new.layer)

    def expr(self, e: Expr) -> Expr:
        return substitute(e, self._leaf)

    def _leaf(self, e: Expr) -> Expr | None:
        if isinstance(e, Sym):
            return self.sym(e)
        if isinstance(e, D):
            return D(self.sym(e.num), self.sym(e.den))
        if isinstance(e, Via):
            return Via(D(self.sym(e.d.num), self.sym(e.d.den)), self.text(e.through), self.name(e.name))
        return None

    # -- names
    def name(self, name: str) -> str:
        return _renamed(name, self.spelled.get) or name

    def canonical(self, written: str) -> str | None:
        via = re.fullmatch(r"[d∂]C/[d∂](\S+)\s*\(via\s+(\S+)\)", written.strip())
        if via is not None:  # a path's share as the worked example prints it: dC/da^2_1 (via a^3_1)
            den, through = self.canonical(via[1]), self.back.get(via[2], "")
            return f"dE_{through[4:]}/d{den}" if den and through.startswith("out_") else None
        t = written.strip().replace("{", "").replace("}", "").replace(" ", "")
        t = t.replace("∂", "d").replace("δ", "delta").replace("Δ", "change_").replace("∆", "change_")
        # w_11^3 for w^3_11 (dw_11^3 too: after the d of a derivative)
        t = re.sub(r"(?<![A-Za-ce-z])(w|b|z|a|delta)_(\d[\d,]*)\^(\d+)", r"\1^\3_\2", t)
        t = re.sub(r"\b([xy])_(\d+)\b", r"\1\2", t)  # x_1 for x1
        entry = re.search(r"\(\d+(?:,\d+)?\)$", t)  # a matrix answer's entry: w^3'(1,1)
        place = entry.group(0) if entry else ""
        t = t[: len(t) - len(place)]
        for mark in ("_new", "(new)", "'", "′", "^+", "_+"):  # w^3_11' for w^3_11+
            if t.endswith(mark) and len(t) > len(mark):
                t = t[: -len(mark)] + "+"
                break
        t += place
        found = _renamed(t, self._back)
        if found is not None and self.batch and re.search(r"\[\d+\]$", found):  # a sample's error: E_total[k]
            found = re.sub(r"^E(?=\[)", "E_total", found.replace("dE/d", "dE_total/d", 1))
        return found

    def _back(self, atom: str) -> str | None:
        found = self.back.get(atom) or self.lower.get(atom.lower())
        if found is None and atom in ("C", "E"):  # E for C, as the post writes the error
            found = "E" if self.batch else "E_total"
        return found

    # -- words, documents and data
    def text(self, text: str) -> str:
        for post, nielsen in _PHRASES:
            if post in text:
                text = text.replace(post, nielsen)
        return re.sub(_TOKEN, lambda m: self._word(m.group(0)), text)

    def _word(self, word: str) -> str:
        found = _renamed(word, self.words.get)
        if found is not None:
            return found
        if word.startswith("d") and "/d" in word:  # dE_total/dnet_n: the parts that are names
            num, den = word[1:].split("/d", 1)
            return f"d{self.words.get(num, num)}/d{self.words.get(den, den)}"
        return word

    def document(self, doc: Document) -> Document:
        from .document import Document

        return Document(
            self.text(doc.title),
            [self.text(line) for line in doc.intro],
            [self._section(s) for s in doc.sections],
            doc.compact,
        )

    def _section(self, section: Section) -> Section:
        from .document import Section

        return Section(self.text(section.title), [self._item(item) for item in section.items])

    def _item(self, item: Item) -> Item:
        from .document import Eq, Table, Text

        if not isinstance(item, (Eq, Table, Text)):
            return self._section(item)
        if isinstance(item, Eq):
            return Eq(
                self.expr(item.lhs),
                [self.expr(step) for step in item.rhs],
                None if item.name is None else self.name(item.name),
                self.text(item.note),
                item.result,
                item.reused,
            )
        if isinstance(item, Text):
            return Text(self.text(item.text))
        return Table(
            [_HEADERS.get(h, self.text(h)) for h in item.headers],
            [[self._cell(cell) for cell in row] for row in item.rows],
            self.text(item.title),
        )

    def _cell(self, cell: str | Expr) -> str | Expr:
        from .document import Label

        if isinstance(cell, Expr):
            return self.expr(cell)
        spelled = self.text(cell)
        return Label(spelled, cell.kind) if isinstance(cell, Label) else spelled

    def data(self, value: Any) -> Any:  # noqa: ANN401 (JSON-shaped data)
        """JSON-shaped data with every name in it renamed: keys, and the names in
        its strings (the inputs' and neurons' lists, a grade's note)."""
        if isinstance(value, dict):
            return {self.name(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def diagram(self, drawn: Diagram) -> Diagram:
        from dataclasses import replace

        def node(n: DNode) -> DNode:
            return replace(n, title=self.text(n.title), caption=self.text(n.caption))

        return replace(
            drawn,
            columns=[[node(n) for n in column] for column in drawn.columns],
            biases=[node(n) for n in drawn.biases],
            edges=[
                replace(e, name=e.name and self.name(e.name), label=e.label and self.name(e.label)) for e in drawn.edges
            ],
            title=self.text(drawn.title),
            numbering=1,
        )


def _renamed(name: str, atom: Callable[[str], str | None]) -> str | None:
    """``name`` with its symbols renamed by ``atom`` (None: one is not a name):
    a symbol, X+, change_X, dX/dY, each with a sample's [k] or an entry's (i,j)."""
    mark = re.search(_MARK, name)
    tail = mark.group(0) if mark else ""
    body = name[: len(name) - len(tail)]
    if body.startswith("d") and "/d" in body:
        num, den = body[1:].split("/d", 1)
        a, b = atom(num), atom(den)
        return f"d{a}/d{b}{tail}" if a is not None and b is not None else None
    plus = "+" if body.endswith("+") else ""
    body = body[: len(body) - len(plus)]
    change = "change_" if body.startswith("change_") else ""
    found = atom(body[len(change) :])
    return None if found is None else f"{change}{found}{plus}{tail}"
