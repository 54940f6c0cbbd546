"""The names a step is shown and read in: the post's, or Nielsen's.

stepprop records and works out every quantity under the post's names (w5,
net_h1, out_h1, delta_h1, E_o1, E_total, i1, target_o1, and the matrices
W^[2], z^[2] of the matrix view). A config's ``notation: nielsen`` shows and
reads them as Michael Nielsen writes them (Neural Networks and Deep Learning,
chapter 2): layers numbered from 1 for the inputs, so that the first hidden
layer is 2;

* w^l_jk, the weight into neuron j of layer l from neuron k of layer l-1
  (w^3_1,12 where an index has two digits); b^l_j, or b^l for a bias shared
  by the layer;
* z^l_j (the net input), a^l_j (the output), delta^l_j;
* x1, x2 ... the inputs (a^1), y1, y2 ... the targets, C the cost (E_total),
  C_j output j's part of it, and C^l_j the part through neuron j of a hidden
  layer l (the post's E_h1, in the name of a path's share, dE_h1/dout_...);
* the matrices w^l, b^l, z^l, a^l (a^1 the inputs), delta^l and y.

A notation only renames: it maps each of the post's symbols to its own, and
the names built of them (dE_total/dw5 is dC/dw^3_11, w5+ is w^3_11+,
change_w5 is change_w^3_11, out_o1[2] is a^3_1[2]); a document's equations,
notes and tables, a JSON's names and an answer's name all pass through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # (this module is every command's: the post's names need nothing more)
    from .diagram import Diagram
    from .document import Document
    from .expr import Expr, Sym
    from .network import Net


class Notation(Protocol):
    """How a step's names are shown and read (the post's, or Nielsen's)."""

    nielsen: bool  # whether these are Nielsen's names

    def sym(self, s: Sym) -> Sym:
        """A symbol of the post's, as this notation writes it."""
        ...

    def name(self, name: str) -> str:
        """A name of the post's (and the names built of them), as this notation writes it."""
        ...

    def canonical(self, written: str) -> str | None:
        """The post's name of what an answer or option writes (None: not one of this notation's)."""
        ...

    def text(self, text: str) -> str:
        """A text with the names in it written this notation's way."""
        ...

    def expr(self, e: Expr) -> Expr: ...

    def document(self, doc: Document) -> Document: ...

    def data(self, value: Any) -> Any:  # noqa: ANN401 (JSON-shaped data)
        ...

    def diagram(self, drawn: Diagram) -> Diagram: ...

    def values(self, values: Mapping[str, float]) -> dict[str, float]:
        """Numbers by name, by this notation's names."""
        ...

    def canonicals(self, written: list[str] | None) -> list[str] | None:
        """Names as an option gives them (--only w^3_11), by the post's names."""
        ...


class _PostsNames:
    """The post's names: every name as stepprop records it."""

    nielsen = False

    def sym(self, s: Sym) -> Sym:
        return s

    def name(self, name: str) -> str:
        return name

    def canonical(self, written: str) -> str | None:
        return None

    def text(self, text: str) -> str:
        return text

    def expr(self, e: Expr) -> Expr:
        return e

    def document(self, doc: Document) -> Document:
        return doc

    def data(self, value: Any) -> Any:  # noqa: ANN401 (JSON-shaped data)
        return value

    def diagram(self, drawn: Diagram) -> Diagram:
        return drawn

    def values(self, values: Mapping[str, float]) -> dict[str, float]:
        return dict(values)

    def canonicals(self, written: list[str] | None) -> list[str] | None:
        return written


MAZUR: Notation = _PostsNames()


def notation_of(net: Net, batch: bool | None = None) -> Notation:
    """The notation a network's config asks for (``batch``: whether its step is
    on several samples; by default, whether its first batch is)."""
    if net.config.notation != "nielsen":
        return MAZUR
    from .nielsen import Nielsen  # (here: the post's names need none of it)

    return Nielsen(net, len(net.config.batches()[0]) > 1 if batch is None else batch)
