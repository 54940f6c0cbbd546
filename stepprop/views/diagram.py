"""Drawing a :class:`~stepprop.diagram.Diagram`: an SVG in the post's style,
and a compact text version for the terminal.

Every edge carries a label (``w5 = 0.4``) placed on the edge itself.  Labels
are placed one by one at the first position along their edge that overlaps no
node, caption or label placed before; if some label finds no room, the
columns move apart and placement starts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ..diagram import DEdge, Diagram, DNode
from ..expr import fmt

DIAGRAM_DIGITS = 6
FONT = 12  # px, monospace, so that text widths are predictable
CHAR = 0.61 * FONT  # width of one monospace character
LABEL_H = FONT + 5
RADIUS = 20
ROW = 84
MARGIN = 24
CAPTION = "The network, every edge labelled with its weight."  # under the picture in the HTML export
CANDIDATES = (0.5, 0.38, 0.62, 0.3, 0.7, 0.44, 0.56, 0.24, 0.76, 0.33, 0.67, 0.2, 0.8, 0.27, 0.73, 0.17, 0.83)


@dataclass
class Box:
    x: float  # left
    y: float  # top
    w: float
    h: float

    def overlaps(self, other: Box, pad: float = 2.0) -> bool:
        return not (
            self.x + self.w + pad <= other.x
            or other.x + other.w + pad <= self.x
            or self.y + self.h + pad <= other.y
            or other.y + other.h + pad <= self.y
        )


@dataclass
class Placed:
    edge: DEdge
    text: str
    box: Box
    x1: float
    y1: float
    x2: float
    y2: float


def distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """From point p to the segment a-b."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def _crosses(box: Box, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Does the segment a-b pass through the box? (sampled finely enough for labels)"""
    steps = 64
    for k in range(steps + 1):
        x = a[0] + (b[0] - a[0]) * k / steps
        y = a[1] + (b[1] - a[1]) * k / steps
        if box.x <= x <= box.x + box.w and box.y <= y <= box.y + box.h:
            return True
    return False


def edge_text(edge: DEdge, digits: int) -> str | None:
    if edge.label is None or edge.value is None:
        return None
    return f"{edge.label} = {fmt(edge.value, digits)}"


def caption_text(node: DNode, digits: int) -> str:
    if node.value is None:
        return ""
    return f"{node.caption} {fmt(node.value, digits)}".strip()


# a picture with more labelled connections than this between two columns cannot
# show them legibly (they cross): it is drawn without them, the line of each
# weight showing its sign and size, and the numbers in a table per layer
MAX_LABELLED = 16
# a layer's table of numbers beside the picture, up to this many rows and columns
# (beyond, the text version lists them)
MAX_TABLE_ROWS, MAX_TABLE_COLUMNS = 32, 16


def labelled(d: Diagram) -> bool:
    """Can every connection carry its label? (at most MAX_LABELLED into each column)"""
    into: dict[int, int] = {}
    columns = {n.id: n.column for col in d.columns for n in col}
    for e in d.edges:
        if e.label is not None and e.value is not None:
            c = columns[e.target]
            into[c] = into.get(c, 0) + 1
    return all(k <= MAX_LABELLED for k in into.values())


@dataclass
class Matrix:
    """The numbers on the connections into one column, as a table: a row per
    neuron, a column per source (and per bias that has one per neuron)."""

    title: str
    sources: list[str]
    rows: list[tuple[str, list[str]]]

    def cell_width(self) -> float:
        longest = max([len(t) for t in self.sources] + [len(v) for _, vs in self.rows for v in vs] + [4])
        return longest * CHAR + 14

    def width(self) -> float:
        return self.cell_width() * (len(self.sources) + 1)

    def height(self) -> float:
        return LABEL_H * (len(self.rows) + 2) + 10


def matrices(d: Diagram, digits: int) -> list[Matrix] | None:
    """The tables of the connections' numbers, layer by layer (None where one
    would be too large to read beside a picture)."""
    names = {"before": "weights", "after": "weights after one step", "gradients": "gradients dE/dw"}
    last = len(d.columns) - 1
    out = []
    for c in range(1, len(d.columns)):
        targets = [n.id for n in d.columns[c]]
        edges = [e for e in d.edges if e.value is not None and e.target in targets]
        sources = list(dict.fromkeys(e.source for e in edges))
        if len(targets) > MAX_TABLE_ROWS or len(sources) > MAX_TABLE_COLUMNS:
            return None
        at = {(e.target, e.source): e for e in edges}
        rows = [(t, [fmt(at[(t, src)].value, digits) if (t, src) in at else "" for src in sources]) for t in targets]  # type: ignore[arg-type]
        what = "output layer" if c == last else (f"hidden layer {c + d.numbering}" if last > 2 else "hidden layer")
        heads = ["bias" if src.startswith("bias") else src for src in sources]
        out.append(Matrix(f"{what}: {names[d.mode]} (row: to, column: from)", heads, rows))
    return out


class Layout:
    def __init__(self, d: Diagram, digits: int):
        self.d = d
        self.digits = digits
        longest = max([len(edge_text(e, digits) or "") for e in d.edges] + [8])
        self.label_w = longest * CHAR + 8
        self.caption_w = max(
            [len(caption_text(n, digits)) * CHAR for col in d.columns for n in col]
            + [len(caption_text(b, digits)) * CHAR for b in d.biases]
            + [0]
        )
        gap = max(160.0, self.label_w * 1.7)
        self.row = float(ROW)
        # every label placed, or (too many for any picture to show legibly) none
        self.labelled = labelled(d)
        self._column = {n.id: n.column for col in d.columns for n in col}
        self._biggest: dict[int, float] = {}  # into each column: the largest number (see strength)
        for e in d.edges:
            if e.value is not None:
                c = self._column[e.target]
                self._biggest[c] = max(self._biggest.get(c, 0.0), abs(e.value))
        for _ in range(60 if self.labelled else 0):
            if self._place(gap):
                return
            gap += 30
            self.row += 10
        self.labelled = False
        self.row = float(ROW)
        self._place(max(160.0, self.caption_w + 60.0), labels=False)

    def _place(self, gap: float, labels: bool = True) -> bool:
        d = self.d
        rows = max(len(c) for c in d.columns)
        self.left = MARGIN + self.caption_w + 12
        self.gap = gap
        self.pos: dict[str, tuple[float, float]] = {}
        top = MARGIN + 30
        for c, column in enumerate(d.columns):
            offset = (rows - len(column)) * self.row / 2
            for k, node in enumerate(column):
                self.pos[node.id] = (self.left + c * gap, top + offset + k * self.row + RADIUS)
        bottom = top + rows * self.row + RADIUS * 0.5
        for b in d.biases:
            # a bias node sits below the column before the layer it feeds
            self.pos[b.id] = (self.left + b.column * gap + gap * 0.28, bottom)
        self.height = bottom + RADIUS + MARGIN + 10
        width = self.left + (len(d.columns) - 1) * gap + RADIUS + 14 + self.caption_w + MARGIN
        self.width = width
        obstacles = [self._node_box(n) for n in self._all_nodes()]
        obstacles += [b for b in (self._caption_box(n) for n in self._all_nodes()) if b is not None]
        self.placed: list[Placed] = []
        if not labels:
            return True
        for edge in sorted(d.edges, key=lambda e: (self._col(e.target), self._col(e.source), e.target, e.source)):
            text = edge_text(edge, self.digits)
            if text is None:
                continue
            x1, y1 = self.pos[edge.source]
            x2, y2 = self.pos[edge.target]
            w = len(text) * CHAR + 8
            others = [(self.pos[e.source], self.pos[e.target]) for e in d.edges if e is not edge]
            best = None
            for t in CANDIDATES:
                cx, cy = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
                box = Box(cx - w / 2, cy - LABEL_H / 2, w, LABEL_H)
                if any(box.overlaps(o) for o in obstacles):
                    continue
                # the label must sit clearly on its own edge, not where edges cross
                if any(distance((cx, cy), a, b) < 0.8 * LABEL_H for a, b in others):
                    continue
                crossings = sum(_crosses(box, a, b) for a, b in others)
                if best is None or crossings < best[0]:
                    best = (crossings, box)
                    if crossings == 0:
                        break
            if best is None:
                return False
            obstacles.append(best[1])
            self.placed.append(Placed(edge, text, best[1], x1, y1, x2, y2))
        return True

    def kind(self, node: DNode) -> str:
        """input, hidden, output or bias: what colours the node."""
        if node.bias:
            return "bias"
        return "input" if node.column == 0 else ("output" if node.column == len(self.d.columns) - 1 else "hidden")

    def strength(self, edge: DEdge) -> tuple[int, float] | None:
        """For a picture without labels: the sign of the edge's number and its
        size against the largest into the same column (0 to 1); None where the
        edges are labelled, or the edge has no number of its own."""
        if self.labelled or edge.value is None:
            return None
        biggest = self._biggest.get(self._column[edge.target], 0.0)
        sign = (edge.value > 0) - (edge.value < 0)
        return sign, abs(edge.value) / biggest if biggest > 0 else 0.0

    def _all_nodes(self) -> list[DNode]:
        return [n for col in self.d.columns for n in col] + list(self.d.biases)

    def _col(self, node_id: str) -> int:
        for c, col in enumerate(self.d.columns):
            if any(n.id == node_id for n in col):
                return c
        return -1

    def _node_box(self, node: DNode) -> Box:
        x, y = self.pos[node.id]
        return Box(x - RADIUS - 2, y - RADIUS - 2, 2 * RADIUS + 4, 2 * RADIUS + 4)

    def _caption_box(self, node: DNode) -> Box | None:
        text = caption_text(node, self.digits)
        if not text:
            return None
        x, y = self.pos[node.id]
        w = len(text) * CHAR
        if node.column == 0 and not node.bias:  # inputs: to the left
            return Box(x - RADIUS - 8 - w, y - LABEL_H / 2, w, LABEL_H)
        if node.bias:  # below
            return Box(x - w / 2, y + RADIUS + 2, w, LABEL_H)
        return Box(x + RADIUS + 8, y - LABEL_H / 2, w, LABEL_H)  # outputs: to the right


_SVG_SIGN = {1: "#1a73e8", -1: "#d93025", 0: "#9aa0a6"}  # a weight's colour, where there are no labels


def svg(d: Diagram, digits: int = DIAGRAM_DIGITS) -> str:
    """The diagram as a standalone SVG document."""
    lay = Layout(d, digits)
    w, h = round(lay.width), round(lay.height + 20)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT}">',
        f"<title>{escape(d.title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 4}" font-size="{FONT + 1}" fill="#444">{escape(d.title)}</text>',
    ]
    colors = {"input": "#e8f0fe", "hidden": "#e6f4ea", "output": "#fce8e6", "bias": "#fef7e0"}
    out.append('<g class="edges" stroke="#9aa0a6" stroke-width="1.3">')
    for e in d.edges:
        x1, y1 = lay.pos[e.source]
        x2, y2 = lay.pos[e.target]
        dash = ' stroke-dasharray="4 3"' if e.source.startswith("bias") else ""
        style = ""
        strength = lay.strength(e)
        if strength is not None:  # unlabelled: sign by colour, size by width
            sign, size = strength
            style = f' stroke="{_SVG_SIGN[sign]}" stroke-width="{0.6 + 2.6 * size:.2f}" stroke-opacity="0.75"'
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"{dash}{style}/>')
    out.append("</g>")
    out.append('<g class="nodes">')
    for node in lay._all_nodes():
        x, y = lay.pos[node.id]
        kind = lay.kind(node)
        out.append(
            f'<g class="node {kind}" data-id="{escape(node.id)}">'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}" fill="{colors[kind]}" stroke="#5f6368"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-weight="bold">{escape(node.title)}</text>'
        )
        box = lay._caption_box(node)
        if box is not None:
            out.append(
                f'<text class="caption" x="{box.x:.1f}" y="{box.y + LABEL_H - 5:.1f}" fill="#333">'
                f"{escape(caption_text(node, digits))}</text>"
            )
        out.append("</g>")
    out.append("</g>")
    out.append('<g class="labels">')
    for p in lay.placed:
        b = p.box
        out.append(
            f'<g class="label" data-param="{escape(p.edge.name or "")}" data-source="{escape(p.edge.source)}" '
            f'data-target="{escape(p.edge.target)}">'
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="3" fill="white" '
            f'fill-opacity="0.92" stroke="#dadce0"/>'
            f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + b.h - 5:.1f}" text-anchor="middle" fill="#1a1a8c">'
            f"{escape(p.text)}</text></g>"
        )
    out.append("</g>")
    acts = ", ".join(dict.fromkeys(d.activations))
    tables = None if lay.labelled else matrices(d, digits)
    notes = [f"activation: {acts}; dashed: bias connections"]
    if not lay.labelled:
        notes.append(
            "too many connections to label: each line's width is its number's size, blue positive, red negative"
        )
        notes.append("the tables below give the numbers" if tables else "'stepprop diagram --format text' lists them")
    y = lay.height + 6
    for line in notes:
        out.append(
            f'<text class="note" x="{MARGIN}" y="{y:.1f}" fill="#777" font-size="{FONT - 1}">{escape(line)}</text>'
        )
        y += LABEL_H
    width = max(lay.width, max(len(line) for line in notes) * CHAR + 2 * MARGIN)
    for m in tables or []:
        cell = m.cell_width()
        y += 24
        out.append(f'<g class="matrix"><text x="{MARGIN}" y="{y:.1f}" fill="#333">{escape(m.title)}</text>')
        y += LABEL_H
        heads = [""] + m.sources
        for k, head in enumerate(heads):
            x = MARGIN + (k + 1) * cell - 6
            out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" font-weight="bold">{escape(head)}</text>')
        for target, values in m.rows:
            y += LABEL_H
            out.append(f'<text x="{MARGIN:.1f}" y="{y:.1f}" font-weight="bold">{escape(target)}</text>')
            for k, value in enumerate(values):
                x = MARGIN + (k + 2) * cell - 6
                out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" fill="#1a1a8c">{escape(value)}</text>')
        out.append("</g>")
        width = max(width, m.width() + 2 * MARGIN)
    h = round(y + MARGIN)
    w = round(width)
    out[0] = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT}">'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


_TIKZ_FILL = {"input": "blue!8", "hidden": "green!8", "output": "red!8", "bias": "yellow!15"}
_TIKZ_SIGN = {1: "blue!70!black", -1: "red!70!black", 0: "gray!60"}
TIKZ_SCALE = 0.02  # cm per pixel of the SVG's layout


def tikz_at(x: float, y: float) -> str:
    """A point of the SVG's layout (y down) as TikZ's (cm, y up)."""
    return f"({x * TIKZ_SCALE:.2f},{-y * TIKZ_SCALE:.2f})"


def tikz(d: Diagram, digits: int = DIAGRAM_DIGITS) -> str:
    """The same picture as :func:`svg`, from the same layout, as a TikZ
    picture for the LaTeX export (``\\usepackage{tikz}``)."""
    from .latex import escape

    lay = Layout(d, digits)
    at = tikz_at
    out = [r"\begin{tikzpicture}[font=\scriptsize\ttfamily]"]
    for e in d.edges:
        style = ["gray!60", "line width=0.5pt"]
        if e.source.startswith("bias"):
            style.append("dashed")
        strength = lay.strength(e)
        if strength is not None:  # unlabelled: sign by colour, size by width
            sign, size = strength
            style = [_TIKZ_SIGN[sign], f"line width={0.3 + 1.5 * size:.2f}pt"]
        out.append(rf"\draw[{', '.join(style)}] {at(*lay.pos[e.source])} -- {at(*lay.pos[e.target])};")
    for node in lay._all_nodes():
        x, y = lay.pos[node.id]
        fill = _TIKZ_FILL[lay.kind(node)]
        out.append(rf"\draw[fill={fill}, draw=gray!80!black] {at(x, y)} circle ({RADIUS * TIKZ_SCALE:.2f});")
        out.append(rf"\node at {at(x, y)} {{\textbf{{{escape(node.title)}}}}};")
        box = lay._caption_box(node)
        if box is not None:
            where = at(box.x, box.y + box.h / 2)
            out.append(rf"\node[anchor=west, inner sep=0] at {where} {{{escape(caption_text(node, digits))}}};")
    for p in lay.placed:
        b = p.box
        out.append(
            rf"\node[fill=white, draw=gray!30, inner sep=1pt, rounded corners=1pt, text=blue!50!black] "
            rf"at {at(b.x + b.w / 2, b.y + b.h / 2)} {{{escape(p.text)}}};"
        )
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def text(d: Diagram, digits: int = DIAGRAM_DIGITS) -> str:
    """A compact text version, for the terminal."""
    lines = [d.title]
    inputs = d.columns[0]
    shown = {n.id: n.title for column in d.columns for n in column}  # (a node by its name, as drawn)
    lines.append("inputs: " + ", ".join(f"{n.title} = {fmt(n.value, digits)}" for n in inputs if n.value is not None))
    by_target: dict[str, list[DEdge]] = {}
    for e in d.edges:
        by_target.setdefault(e.target, []).append(e)
    biases = {b.id: b for b in d.biases}
    last = len(d.columns) - 1
    for c, column in enumerate(d.columns[1:], start=1):
        what = "output layer" if c == last else (f"hidden layer {c + d.numbering}" if last > 2 else "hidden layer")
        lines.append(f"{what} ({d.activations[c - 1]}):")
        for node in column:
            parts = []
            for e in by_target.get(node.id, []):
                if e.source in biases:
                    b = biases[e.source]
                    parts.append(f"bias {edge_text(e, digits)}" if e.label else f"bias {caption_text(b, digits)}")
                else:
                    parts.append(f"{shown[e.source]} ({edge_text(e, digits)})")
            tail = f"   {caption_text(node, digits)}" if node.value is not None else ""
            lines.append(f"  {node.title} <- " + ", ".join(parts) + tail)
    return "\n".join(lines) + "\n"
