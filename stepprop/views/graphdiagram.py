"""Drawing an expression's graph (:class:`~stepprop.graphdiagram.GraphDiagram`)
as CS231n draws one: an SVG in the network diagram's style, the same picture
in TikZ for the LaTeX export, and a compact text version for the terminal.

The columns and the order within each come with the diagram; here each
place gets its height (a node at the mean height of its neighbours, as far as
the places above and below it allow), each edge its route (a straight line
across the columns it passes) and its two labels, the value above its line
and the gradient below it.  Labels are placed one by one at the first
position along their edge that overlaps no box or label placed before and
no other edge; where some label finds no room, the columns and rows move
apart and placement starts again.  Every number drawn is the diagram's.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ..errors import StepPropError
from ..expr import fmt
from ..graphdiagram import GEdge, GNode, GraphDiagram, Slot
from .diagram import CHAR, DIAGRAM_DIGITS, FONT, LABEL_H, MARGIN, Box, distance, tikz_at

BOX_H = 28.0  # an input's or an operation's box
CONSTANT_H = 20.0
CAPTION_H = 14.0  # an operation's name, under its box
PASS_H = 4.0  # the height an edge passing a column takes in it
PORT = 9.0  # between the ends of the edges into an operation
PAD = 3.0  # between an edge and its labels
CLEAR = LABEL_H  # a label this far from every other edge is clear of them
BEND = 2 * LABEL_H + 2 * PAD + 10  # between the routes of edges joining the same two nodes (x * x)
TWIN = 0.2  # where along the gap they have moved apart
TOP = MARGIN + 26  # below the title
CANDIDATES = (0.5, 0.44, 0.56, 0.38, 0.62, 0.32, 0.68, 0.26, 0.74, 0.2, 0.8, 0.14, 0.86, 0.08, 0.92)
ATTEMPTS = 40  # at most this many layouts, each wider and taller than the one before
VGAP = 30.0  # between the places in a column, at first
GAP, ROOM = 80.0, 1.5  # between the columns at first: at least GAP, and ROOM times the widest label into the next
GROW_X, GROW_Y = 0.1, 0.2  # how much wider and taller each layout is than the first, after the first
CLEAN = 3  # labels that cross an edge: the fewest of this many layouts more, once one has room for all
PASSES = 3  # rounds of placing the columns from the right, then from the left
VALUE, GRADIENT = "#137333", "#c5221f"  # the colours of the numbers, CS231n's green and red
LEGEND = "value above, gradient below"
CAPTION = "The expression's graph: on each edge the value flowing forward above it, the gradient flowing back below it."

Point = tuple[float, float]
Place = tuple[Point, Point, float]  # a label's place: at t of the way along the segment a-b


@dataclass
class Label:
    edge: int
    kind: str  # value or gradient
    text: str
    box: Box


def _hits(box: Box, a: Point, b: Point) -> bool:
    """Does the segment a-b pass through the box? (Liang-Barsky clipping)"""
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - box.x), (dx, box.x + box.w - a[0]), (-dy, a[1] - box.y), (dy, box.y + box.h - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return False
    return True


def _spread(desired: list[float], gaps: list[float]) -> list[float]:
    """Heights as near ``desired`` as they can be (least squares) with at least
    ``gaps[k]`` between the k-th and the next: pool adjacent violators."""
    offsets = [0.0]
    for g in gaps:
        offsets.append(offsets[-1] + g)
    blocks: list[list[float]] = []  # [mean, count]
    for d, s in zip(desired, offsets):
        blocks.append([d - s, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, n2 = blocks.pop()
            m1, n1 = blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    out: list[float] = []
    for mean, n in blocks:
        out += [mean] * int(n)
    return [z + s for z, s in zip(out, offsets)]


def _beside(a: Point, b: Point, t: float, kind: str, text: str) -> Box | None:
    """A value's label above the segment a-b, a gradient's below it, at ``t``
    of the way along; None where it would overhang the segment's ends."""
    w = len(text) * CHAR + 6
    mx, my = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
    if mx - w / 2 < a[0] + 2 or mx + w / 2 > b[0] - 2:
        return None
    rise = abs((b[1] - a[1]) / (b[0] - a[0])) * w / 2 + PAD
    return Box(mx - w / 2, my - rise - LABEL_H if kind == "value" else my + rise, w, LABEL_H)


class _Grid:
    """Things by the squares of a grid their boxes reach: what may touch a box."""

    CELL = 80.0

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list] = {}

    def _keys(self, box: Box) -> list[tuple[int, int]]:
        c = self.CELL
        xs = range(int(box.x // c), int((box.x + box.w) // c) + 1)
        ys = range(int(box.y // c), int((box.y + box.h) // c) + 1)
        return [(i, j) for i in xs for j in ys]

    def add(self, item: object, box: Box) -> None:
        for key in self._keys(box):
            self.cells.setdefault(key, []).append(item)

    def near(self, box: Box) -> list:
        found: dict[int, object] = {}
        for key in self._keys(box):
            for item in self.cells.get(key, ()):
                found[id(item)] = item
        return list(found.values())


def value_text(edge: GEdge, digits: int) -> str:
    return fmt(edge.value, digits)


def gradient_text(edge: GEdge, digits: int) -> str | None:
    return None if edge.gradient is None else fmt(edge.gradient, digits)


def node_text(node: GNode, digits: int) -> str:
    """What a node's box shows: its label, or a constant's number."""
    return node.label if node.label is not None else fmt(node.value, digits)


class Layout:
    """Where everything goes: node boxes, captions, edge routes, labels."""

    def __init__(self, d: GraphDiagram, digits: int):
        if not d.drawable:
            raise StepPropError(
                f"the graph of {d.output} is too large to draw legibly; "
                "'stepprop diagram --format text' lists its edges"
            )
        self.d = d
        self.digits = digits
        self.width_of = {
            n.id: max(len(node_text(n, digits)) * CHAR + 16, len(n.caption) * CHAR, 36.0)
            if n.kind != "constant"
            else max(len(node_text(n, digits)) * CHAR + 10, 24.0)
            for n in d.nodes
        }
        self.arity = {n.id: 0 for n in d.nodes}
        for e in d.edges:
            if e.target is not None:
                self.arity[e.target] += 1
        # the edges joining the same two nodes next to each other (x * x): each bends its own way
        self.twins: dict[int, tuple[int, int]] = {}
        groups: dict[tuple[int, int], list[int]] = {}
        for k, e in enumerate(d.edges):
            if e.target is not None and len(d.path(k)) == 2:
                groups.setdefault((e.source, e.target), []).append(k)
        for ks in groups.values():
            for i, k in enumerate(ks):
                if len(ks) > 1:
                    self.twins[k] = (i, len(ks))
        self.texts = [(value_text(e, digits), gradient_text(e, digits)) for e in d.edges]
        widest = [max(len(v), len(g or "")) * CHAR + 8 for v, g in self.texts]
        columns = len(d.columns)
        self.base_gap = [0.0] + [GAP] * (columns - 1)
        for k, e in enumerate(d.edges):
            if e.target is not None:
                c = d.nodes[e.target].column
                need = ROOM * widest[k] + 24 if k not in self.twins else ROOM * widest[k] / (1 - 2 * TWIN) + 24
                self.base_gap[c] = max(self.base_gap[c], need)
        self.stub = max(widest[-1] + 24, 48.0)
        placed: list[tuple[int, int]] = []  # (crossings, attempt) of each layout with room for every label
        for attempt in range(ATTEMPTS):
            self._place(attempt)
            crossings = self._label(force=attempt == ATTEMPTS - 1)
            if crossings is not None:
                placed.append((crossings, attempt))
            if crossings == 0 or (placed and attempt - placed[0][1] >= CLEAN):
                break
        if placed and min(placed)[1] != attempt:
            self._place(min(placed)[1])
            self._label()
        self._frame()

    # -- the places
    def _extent(self, slot: Slot) -> tuple[float, float]:
        """How far a place reaches above and below its line (a node's: its box's middle)."""
        if slot.node is None:
            return PASS_H / 2, PASS_H / 2
        node = self.d.nodes[slot.node]
        if node.kind == "constant":
            return CONSTANT_H / 2, CONSTANT_H / 2
        return BOX_H / 2, BOX_H / 2 + (CAPTION_H if node.caption else 0.0)

    def _port(self, k: int) -> float:
        """Where edge k enters its target, from the middle of the target's box."""
        e = self.d.edges[k]
        if e.target is None:
            return 0.0
        n = self.arity[e.target]
        return (e.position - (n - 1) / 2) * PORT

    def _place(self, attempt: int) -> None:
        """Place the nodes and route the edges, the columns and rows further
        apart the later the attempt."""
        d = self.d
        widen, vgap = 1.0 + GROW_X * attempt, VGAP * (1.0 + GROW_Y * attempt)
        columns = d.columns
        # across: each column as wide as its widest box, the gaps as the labels need
        self.left: list[float] = []
        self.right: list[float] = []
        x = 0.0
        for c, column in enumerate(columns):
            x += self.base_gap[c] * widen if c else 0.0
            w = max([self.width_of[s.node] for s in column if s.node is not None] + [12.0])
            self.left.append(x)
            self.right.append(x + w)
            x += w
        # down: the neighbours of each place, with where they meet it
        before: dict[Slot, list[tuple[Slot, float]]] = {}
        after: dict[Slot, list[tuple[Slot, float]]] = {}
        for k in range(len(d.edges)):
            path = d.path(k)
            for u, v in zip(path, path[1:]):
                port = self._port(k) if v.node is not None else 0.0
                after.setdefault(u, []).append((v, port))
                before.setdefault(v, []).append((u, -port))
        y: dict[Slot, float] = {}

        def spread(column: list[Slot], desired: list[float]) -> None:
            extents = [self._extent(s) for s in column]
            gaps = [a[1] + b[0] + vgap for a, b in zip(extents, extents[1:])]
            y.update(zip(column, _spread(desired, gaps)))

        for column in columns:
            spread(column, [0.0] * len(column))

        def toward(slot: Slot, near: list[tuple[Slot, float]]) -> float:
            return sum(y[s] + offset for s, offset in near) / len(near) if near else y[slot]

        for _ in range(PASSES):
            for c in range(len(columns) - 2, -1, -1):
                spread(columns[c], [toward(s, after.get(s, [])) for s in columns[c]])
            for c in range(1, len(columns)):
                near = [before.get(s) or after.get(s, []) for s in columns[c]]
                spread(columns[c], [toward(s, n) for s, n in zip(columns[c], near)])
        self.y = y
        # the boxes
        self.boxes: dict[int, Box] = {}
        self.captions: dict[int, Box] = {}
        for column in columns:
            for s in column:
                if s.node is None:
                    continue
                node = d.nodes[s.node]
                w = self.width_of[node.id]
                h = CONSTANT_H if node.kind == "constant" else BOX_H
                cx = (self.left[s.column] + self.right[s.column]) / 2
                self.boxes[node.id] = Box(cx - w / 2, y[s] - h / 2, w, h)
                if node.caption:
                    cw = len(node.caption) * CHAR
                    self.captions[node.id] = Box(cx - cw / 2, y[s] + h / 2 + 1, cw, CAPTION_H - 2)
        # the routes
        self.routes: list[list[Point]] = [self._route(k) for k in range(len(d.edges))]

    def _route(self, k: int) -> list[Point]:
        d = self.d
        e = d.edges[k]
        path = d.path(k)
        source = self.boxes[e.source]
        ys = self.y[path[0]]
        points = [(source.x + source.w, ys)]
        c = path[0].column
        if self.right[c] > points[-1][0]:
            points.append((self.right[c], ys))
        if e.target is None:
            return points + [(self.right[c] + self.stub, ys)]
        for s in path[1:-1]:
            points += [(self.left[s.column], self.y[s]), (self.right[s.column], self.y[s])]
        target = self.boxes[e.target]
        yt = self.y[path[-1]] + self._port(k)
        if k in self.twins:  # out, along beside the straight line, and in
            i, n = self.twins[k]
            (x0, y0), x1 = points[-1], self.left[path[-1].column]
            off = (i - (n - 1) / 2) * BEND
            points += [(x0 + f * (x1 - x0), y0 + f * (yt - y0) + off) for f in (TWIN, 1 - TWIN)]
        if self.left[path[-1].column] < target.x:
            points.append((self.left[path[-1].column], yt))
        points.append((target.x, yt))
        return points

    # -- the labels
    def _label(self, force: bool = False) -> int | None:
        """Place every edge's labels: how many other edges they cross, or None
        if some label found no room (``force``: a last resort, then it goes
        where it overlaps least)."""
        boxes = _Grid()
        for box in list(self.boxes.values()) + list(self.captions.values()):
            boxes.add(box, box)
        lines = _Grid()
        for k, route in enumerate(self.routes):
            for a, b in zip(route, route[1:]):
                lines.add((k, a, b), Box(min(a[0], b[0]), min(a[1], b[1]), abs(b[0] - a[0]), abs(b[1] - a[1])))
        self.labels: list[Label] = []
        total = 0
        for k in sorted(range(len(self.d.edges)), key=lambda k: self.routes[k][-1]):
            route = self.routes[k]
            # along the segment into the target, then the others back to the source
            spans = [(a, b) for a, b in reversed(list(zip(route, route[1:]))) if b[0] - a[0] > 1]
            places = [(a, b, t) for a, b in spans for t in CANDIDATES]
            for kind, text in zip(("value", "gradient"), self.texts[k]):
                if text is None:
                    continue
                found = self._spot(k, kind, text, places, boxes, lines, force)
                if found is None:
                    return None
                crossings, box, place = found
                total += crossings
                places.remove(place)
                places.insert(0, place)  # (the gradient where the value went, if it can)
                boxes.add(box, box)
                self.labels.append(Label(k, kind, text, box))
        return total

    def _spot(
        self, k: int, kind: str, text: str, places: list[Place], boxes: _Grid, lines: _Grid, force: bool
    ) -> tuple[int, Box, Place] | None:
        """The first of ``places`` for a label of edge k that overlaps nothing,
        crosses no other edge and keeps clear of them; else the one that
        crosses fewest, the clearest; None if every one overlaps something."""
        best: tuple[tuple[float, ...], Box, Place] | None = None
        for rank, (a, b, t) in enumerate(places):
            box = _beside(a, b, t, kind, text)
            if box is None:
                continue
            overlaps = sum(box.overlaps(o) for o in boxes.near(box))
            if overlaps and not force:
                continue
            crossings, clear = 0, float(CLEAR)
            centre = (box.x + box.w / 2, box.y + box.h / 2)
            for j, p, q in lines.near(Box(box.x, box.y - CLEAR, box.w, box.h + 2 * CLEAR)):
                if (j, p, q) != (k, a, b):
                    crossings += _hits(box, p, q)
                    clear = min(clear, max(0.0, distance(centre, p, q) - box.h / 2))
            score = (overlaps, crossings, -clear, rank)
            if best is None or score < best[0]:
                best = (score, box, (a, b, t))
            if not overlaps and not crossings and clear >= CLEAR:
                break
        return None if best is None else (int(best[0][1]), best[1], best[2])

    # -- the frame
    def _frame(self) -> None:
        """Move everything to start at the margins below the title; the picture's size."""
        boxes = list(self.boxes.values()) + list(self.captions.values()) + [lab.box for lab in self.labels]
        xs = [b.x for b in boxes] + [p[0] for r in self.routes for p in r]
        ys = [b.y for b in boxes] + [p[1] for r in self.routes for p in r]
        dx, dy = MARGIN - min(xs), TOP - min(ys)
        for b in boxes:
            b.x += dx
            b.y += dy
        self.routes = [[(x + dx, y + dy) for x, y in r] for r in self.routes]
        right = max([b.x + b.w for b in boxes] + [p[0] for r in self.routes for p in r])
        bottom = max([b.y + b.h for b in boxes] + [p[1] for r in self.routes for p in r])
        self.legend_y = bottom + LABEL_H + 4
        self.width = max(right + MARGIN, (max(len(self.d.title), len(LEGEND)) + 1) * CHAR + 2 * MARGIN)
        self.height = self.legend_y + MARGIN

    def kind(self, node: GNode) -> str:
        """input, constant, operation or output: what colours the node."""
        return "output" if node.output else node.kind


_FILLS = {"input": "#e8f0fe", "constant": "#fef7e0", "operation": "#e6f4ea", "output": "#fce8e6"}


def svg(d: GraphDiagram, digits: int = DIAGRAM_DIGITS) -> str:
    """The graph as a standalone SVG document."""
    lay = Layout(d, digits)
    w, h = round(lay.width), round(lay.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT}">',
        f"<title>{escape(d.title)}</title>",
        '<defs><marker id="stepprop-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#80868b"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 4}" font-size="{FONT + 1}" fill="#444">{escape(d.title)}</text>',
        '<g class="edges" fill="none" stroke="#80868b" stroke-width="1.3">',
    ]
    for e, route in zip(d.edges, lay.routes):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in route)
        target = "" if e.target is None else d.nodes[e.target].name
        out.append(
            f'<polyline class="edge" data-source="{escape(d.nodes[e.source].name)}" data-target="{escape(target)}" '
            f'data-position="{e.position}" points="{points}" marker-end="url(#stepprop-arrow)"/>'
        )
    out.append("</g>")
    out.append('<g class="nodes">')
    for node in d.nodes:
        b = lay.boxes[node.id]
        kind = lay.kind(node)
        dash = ' stroke-dasharray="3 2"' if node.kind == "constant" else ""
        out.append(
            f'<g class="node {node.kind}" data-name="{escape(node.name)}">'
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="5" fill="{_FILLS[kind]}" '
            f'stroke="#5f6368"{dash}/>'
            f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + b.h / 2 + 4:.1f}" text-anchor="middle">'
            f"{escape(node_text(node, digits))}</text>"
        )
        c = lay.captions.get(node.id)
        if c is not None:
            out.append(
                f'<text class="caption" x="{c.x + c.w / 2:.1f}" y="{c.y + c.h - 2:.1f}" text-anchor="middle" '
                f'fill="#555" font-style="italic">{escape(node.caption)}</text>'
            )
        out.append("</g>")
    out.append("</g>")
    out.append('<g class="labels">')
    for lab in lay.labels:
        e = d.edges[lab.edge]
        b = lab.box
        target = "" if e.target is None else d.nodes[e.target].name
        color = VALUE if lab.kind == "value" else GRADIENT
        out.append(
            f'<g class="label {lab.kind}" data-source="{escape(d.nodes[e.source].name)}" '
            f'data-target="{escape(target)}" data-position="{e.position}">'
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" fill="white" fill-opacity="0.9"/>'
            f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + b.h - 5:.1f}" text-anchor="middle" fill="{color}">'
            f"{escape(lab.text)}</text></g>"
        )
    out.append("</g>")
    out.append(
        f'<text class="legend" x="{MARGIN}" y="{lay.legend_y:.1f}" font-size="{FONT - 1}" fill="#777">'
        f'<tspan fill="{VALUE}">value</tspan> above, <tspan fill="{GRADIENT}">gradient</tspan> below</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


_TIKZ_FILLS = {"input": "blue!8", "constant": "yellow!15", "operation": "green!8", "output": "red!8"}
_TIKZ_COLORS = {"value": "green!45!black", "gradient": "red!75!black"}


def tikz(d: GraphDiagram, digits: int = DIAGRAM_DIGITS) -> str:
    """The same picture as :func:`svg`, from the same layout, as a TikZ
    picture for the LaTeX export (TikZ and graphicx), shrunk to the line's
    width where it is wider."""
    from .latex import escape as tex

    lay = Layout(d, digits)
    at = tikz_at
    out = [
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        r"\begin{tikzpicture}[font=\scriptsize\ttfamily]",
    ]
    for route in lay.routes:
        out.append(r"\draw[gray!70!black, ->, >=stealth] " + " -- ".join(at(x, y) for x, y in route) + ";")
    for node in d.nodes:
        b = lay.boxes[node.id]
        style = f"fill={_TIKZ_FILLS[lay.kind(node)]}, draw=gray!80!black, rounded corners=2pt"
        if node.kind == "constant":
            style += ", dashed"
        out.append(rf"\draw[{style}] {at(b.x, b.y)} rectangle {at(b.x + b.w, b.y + b.h)};")
        out.append(rf"\node at {at(b.x + b.w / 2, b.y + b.h / 2)} {{{tex(node_text(node, digits))}}};")
        c = lay.captions.get(node.id)
        if c is not None:
            out.append(rf"\node[text=gray!70!black] at {at(c.x + c.w / 2, c.y + c.h / 2)} {{{tex(node.caption)}}};")
    for lab in lay.labels:
        b = lab.box
        where = at(b.x + b.w / 2, b.y + b.h / 2)
        out.append(rf"\node[fill=white, inner sep=1pt, text={_TIKZ_COLORS[lab.kind]}] at {where} {{{tex(lab.text)}}};")
    value, gradient = (rf"\textcolor{{{_TIKZ_COLORS[kind]}}}{{{kind}}}" for kind in ("value", "gradient"))
    out.append(
        rf"\node[anchor=west, inner sep=0, text=gray] at {at(MARGIN, lay.legend_y - LABEL_H / 3)} "
        rf"{{{value} above, {gradient} below}};"
    )
    out.append(r"\end{tikzpicture}}")
    return "\n".join(out)


def text(d: GraphDiagram, digits: int = DIAGRAM_DIGITS) -> str:
    """A compact text version, for the terminal: one line per edge,
    ``source --(value / gradient)--> target``."""

    def shown(node: GNode) -> str:
        return node_text(node, digits) if node.kind == "constant" else node.name

    lines = [d.title, "on each edge: value / gradient (the value flows forward, the gradient back)"]
    for e in d.edges:
        value, gradient = value_text(e, digits), gradient_text(e, digits)
        numbers = value if gradient is None else f"{value} / {gradient}"
        source = shown(d.nodes[e.source])
        if e.target is None:
            lines.append(f"{source} --({numbers})-->   (the output)")
        else:
            target = d.nodes[e.target]
            lines.append(f"{source} --({numbers})--> {target.name} ({target.label})")
    return "\n".join(lines) + "\n"
