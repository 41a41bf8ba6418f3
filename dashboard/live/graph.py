"""The choreography graph, laid out — never drawn by hand.

What is drawn, in which area, row and column, and what joins what, is the model's topology
(`workflow/topology.py`); this module gives it geometry, and the deployed names from the
stack's outputs when the stack is up. The picture is the one the original design drew:
subdomains as areas, the global bus as a hub, queues and functions inside their subdomain,
events as labelled edges, one per route. The global bus is drawn as a backplane across the
middle: every area sits above or below it and talks to it by a straight vertical line, so
lines never cross and each event's label sits on its own line.

Three kinds of data come out, all positions included: edges (one per route, per published
event type, per queue delivery...), connectors (the lines actually drawn: edges between the
same two nodes share one, with a label per event), and flights — for each event type seen
on each bus, the paths a token follows across the picture.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from dashboard.live.boundaries import (
    BOUNDARY_PAD,
    LABEL_INSET,
    Boundary,
    area_placement,
    boundaries_layout,
    label_width,
    placement_label,
)
from dashboard.templatetags.dashboard_extras import TITLE_CHAR_WIDTH
from workflow import outputs as stack_outputs
from workflow.model import CHOREOGRAPHY, Bus, Choreography
from workflow.placement import Placements
from workflow.topology import OUTSIDE, Element, FlightPlan, Link, Topology, topology

NODE_W, NODE_H = 138, 52
NODE_W_MAX = 200
TEXT_X = 41  # where a node's text starts, right of its icon
COL_GAP = 22
LINK_GAP = 36  # between side-by-side nodes joined by a line, before its caption
ACTOR_GAP = 38
NOTE_CHAR_W = 5.9
NOTE_H = 11  # a caption's height, its baseline 2 px above its bottom
AREA_GAP = 30
AREA_PAD = 16
AREA_HEADER = 30
ROW_GAP = 78  # between a column's two nodes, room for two labels
PLAIN_ROW_GAP = 46  # ... when no label runs between them
BAND_MARGIN = 16
CHIP_H, CHIP_GAP = 19, 5
CHIP_CHAR_W = 6.63  # an 11px monospace font is 0.6 em wide per character
CHIP_PAD = 16
PORT_SPREAD = 26
AREA_TITLE_X = 14
AREA_TITLE_BASELINE = 19  # from the top of its header
PAIR_OFFSET = 12  # half the distance between two opposite lines
MARGIN = 18
BAR_THICKNESS = 10
BAR_LABEL_W = 104
BAR_LABEL_ABOVE, BAR_LABEL_BELOW = 24, 26  # the bus's name above the bar, "EventBridge" below


def chip_width(text: str) -> float:
    return round(len(text) * CHIP_CHAR_W + CHIP_PAD, 1)


def _link_gap(note: str) -> float:
    return max(LINK_GAP, len(note) * NOTE_CHAR_W + 20)


@dataclass
class Node:
    id: str
    kind: str
    title: str
    subtitle: str
    area: str
    detail: str = ""
    deployed: str = ""
    x: float = 0
    y: float = 0
    w: float = NODE_W
    h: float = NODE_H

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def title_room(self) -> float:
        return self.w - TEXT_X - 8

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


Column = tuple[Node, Node | None]
"""A column of a row: the node near the bar, and the one behind it, if any."""
Row = list[tuple[str, list[Column]]]


@dataclass
class Edge:
    """A link of the topology (see `workflow.topology.Link`), and the connector that draws it."""

    id: str
    kind: str  # route | publish | delivery | request | observe
    source: str
    target: str
    connector: str = ""
    event: str = ""
    bus: str = ""
    rule: str = ""

    @classmethod
    def of(cls, link: Link) -> Edge:
        return cls(id=link.id, kind=link.kind, source=link.source, target=link.target,
                   event=link.event, bus=link.bus, rule=link.rule)


@dataclass
class Chip:
    edge: str
    text: str
    x: float
    y: float
    w: float
    area: str  # the producer's subdomain, for its colour
    muted: bool = False

    @property
    def left(self) -> float:
        return self.x - self.w / 2


@dataclass
class Connector:
    id: str
    kind: str  # event | delivery | request | observe
    points: list[tuple[float, float]]
    chips: list[Chip] = field(default_factory=list)
    note: str = ""  # a small caption for lines that carry no event
    note_x: float = 0
    note_y: float = 0
    note_anchor: str = "middle"

    @property
    def path(self) -> str:
        return rounded_path(self.points)


@dataclass
class Area:
    id: str
    title: str
    x: float
    y: float
    w: float
    h: float
    framed: bool = True
    title_y: float = 0
    """the baseline of its title: at its top above the bar, at its bottom below it, on the
    side where no line comes in"""


@dataclass
class Bar:
    bus: str
    title: str
    deployed: str
    x1: float
    x2: float
    y: float
    label_x: float = 0


@dataclass
class Flight:
    """A token's journey for one event type seen on one bus."""

    path: str
    connectors: list[str]
    edges: list[str]


@dataclass
class Graph:
    width: float
    height: float
    areas: list[Area]
    nodes: list[Node]
    edges: list[Edge]
    connectors: list[Connector]
    bar: Bar
    flights: dict[str, list[Flight]]
    observe: dict[str, list[str]]
    """Per bus, the connectors every observed event lights up."""
    boundaries: list[Boundary] = field(default_factory=list)
    """Accounts and regions, when the choreography runs in more than one
    (`dashboard/live/boundaries.py`)."""

    @property
    def junctions(self) -> list[tuple[float, float]]:
        """Where lines meet the bar."""
        return sorted({point for connector in self.connectors for point in connector.points
                       if point[1] == self.bar.y})

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width, "height": self.height,
            "areas": [asdict(area) for area in self.areas],
            "nodes": [asdict(node) for node in self.nodes],
            "edges": [asdict(edge) for edge in self.edges],
            "connectors": [{**asdict(connector), "path": connector.path}
                           for connector in self.connectors],
            "bar": asdict(self.bar),
            "flights": {key: [asdict(flight) for flight in flights]
                        for key, flights in self.flights.items()},
            "observe": self.observe,
            "boundaries": [asdict(boundary) for boundary in self.boundaries],
        }


def flight_key(event_type: str, bus: str) -> str:
    return f"{event_type}@{bus}"


def rounded_path(points: list[tuple[float, float]], radius: float = 10) -> str:
    """An SVG path through the points, corners rounded."""
    if not points:
        return ""
    parts = [f"M{points[0][0]:g},{points[0][1]:g}"]
    for index in range(1, len(points) - 1):
        (x0, y0), (x1, y1), (x2, y2) = points[index - 1], points[index], points[index + 1]
        before = math.hypot(x1 - x0, y1 - y0)
        after = math.hypot(x2 - x1, y2 - y1)
        r = min(radius, before / 2, after / 2)
        if r <= 0:
            parts.append(f"L{x1:g},{y1:g}")
            continue
        ax, ay = x1 - (x1 - x0) / before * r, y1 - (y1 - y0) / before * r
        bx, by = x1 + (x2 - x1) / after * r, y1 + (y2 - y1) / after * r
        parts.append(f"L{ax:g},{ay:g}Q{x1:g},{y1:g} {bx:g},{by:g}")
    parts.append(f"L{points[-1][0]:g},{points[-1][1]:g}")
    return "".join(parts)


def _short_name(value: str) -> str:
    """The last segment of an ARN, URL or path."""
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


@dataclass(frozen=True)
class _Levels:
    """Where everything goes vertically: the two rows of areas, the backplane between them,
    and in each row the level of the nodes next to the backplane and of those behind them."""

    top_far_y: float
    top_near_y: float
    top_area_bottom: float
    bar_y: float
    bottom_area_top: float
    bottom_near_y: float
    bottom_far_y: float
    height: float

    def of_row(self, row_index: int) -> tuple[float, float]:
        """(near, far) node levels of a row."""
        return ((self.top_near_y, self.top_far_y) if row_index == 0
                else (self.bottom_near_y, self.bottom_far_y))


class _Layout:
    def __init__(self, layout: Topology, outputs: dict[str, str],
                 placements: Placements | None = None) -> None:
        self.topology = layout
        self.outputs = outputs
        self.placements = placements or Placements()
        self.links = {link.id: link for link in layout.links}
        self.edges = [Edge.of(link) for link in layout.links]
        self.bar_node = f"bus:{layout.backplane}"
        self.rows: list[Row] = [
            [(area, [(self._node(near), self._node(far) if far else None)
                     for near, far in columns]) for area, columns in row]
            for row in layout.rows]
        self.customer = self._node(layout.customer) if layout.customer else None
        self.nodes: dict[str, Node] = {}
        self.connectors: dict[str, Connector] = {}
        self.areas: list[Area] = []
        self.bundles: dict[tuple[str, str], list[Edge]] = {}
        for edge in self.edges:
            self.bundles.setdefault((edge.source, edge.target), []).append(edge)
        self.to_bar = self._bar_groups()
        self.captions = {frozenset(pair): self._note(edges) for pair, edges in self.bundles.items()}

    def _node(self, element: Element) -> Node:
        value = self.outputs.get(element.output, "") if element.output else ""
        # as wide as its title, up to a limit (past it the title is squeezed to fit)
        width = min(NODE_W_MAX, max(NODE_W, round(TEXT_X + len(element.title) * TITLE_CHAR_WIDTH + 10)))
        return Node(id=element.id, kind=element.kind, title=element.title,
                    subtitle=element.subtitle, area=element.area, detail=element.detail,
                    deployed=_short_name(value) if value and element.short else value, w=width)

    # --- what the topology says of edges ----------------------------------------------------

    def _note(self, edges: list[Edge]) -> str:
        return self.topology.note([self.links[edge.id] for edge in edges])

    def _chip_text(self, edge: Edge) -> str:
        return self.topology.chip_text(self.links[edge.id])

    def _producer_area(self, edge: Edge) -> str:
        return self.topology.producer_area(self.links[edge.id])

    def _kind(self, edges: list[Edge]) -> str:
        return Topology.line_kind([self.links[edge.id] for edge in edges])

    def _bar_groups(self) -> dict[str, list[tuple[str, list[Edge]]]]:
        """Per node, its bundles to and from the bar: incoming first, then outgoing."""
        groups: dict[str, list[tuple[str, list[Edge]]]] = {}
        for (source, target), edges in self.bundles.items():
            if self.bar_node in (source, target):
                other = target if source == self.bar_node else source
                incoming = source == self.bar_node
                groups.setdefault(other, []).append(("in" if incoming else "out", edges))
        for found in groups.values():
            found.sort(key=lambda group: (group[0] == "out", self.edges.index(group[1][0])))
        return groups

    # --- sizes ---------------------------------------------------------------------------

    def _column_width(self, near: Node, far: Node | None) -> float:
        """Wide enough for a node and for the widest label on its lines."""
        widths: list[float] = [near.w, far.w if far else 0.0]
        for _, edges in self.to_bar.get(near.id, []):
            widths += [chip_width(self._chip_text(e)) for e in edges]
        if far is not None:
            widths += [chip_width(e.event) for pair in ((near.id, far.id), (far.id, near.id))
                       for e in self.bundles.get(pair, []) if e.event]
        return max(widths)

    def _stack(self, node_id: str) -> float:
        """The height of the labels on a node's lines to the bar, all its lines' together."""
        groups = self.to_bar.get(node_id, [])
        return (sum(_stack_height(len(edges)) for _, edges in groups)
                + 2 * CHIP_GAP * max(0, len(groups) - 1))

    def _talking(self, row: Row) -> list[Node]:
        """A row's nodes with lines to the bar, left to right."""
        return [near for _, columns in row for near, _far in columns if near.id in self.to_bar]

    def _band(self, row: Row) -> float:
        """Room between a row and the bar for its labels. Neighbours' labels are staggered
        (one's near the area, the next's near the bar), so a label has its height to itself
        across the neighbouring column, where its route's figures go: the band holds the
        tallest two neighbours' stacks together."""
        heights = [self._stack(node.id) for node in self._talking(row)]
        together = [a + b + 2 * CHIP_GAP for a, b in itertools.pairwise(heights)]
        return max([0.0, *heights, *together]) + 2 * BAND_MARGIN + BAR_THICKNESS / 2

    def _far_gap(self, row: Row) -> float:
        """Between a column's two nodes: room for labels if any line between them has one."""
        labelled = any(e.event for _, columns in row for near, far in columns if far
                       for pair in ((near.id, far.id), (far.id, near.id))
                       for e in self.bundles.get(pair, []))
        return ROW_GAP if labelled else PLAIN_ROW_GAP

    @staticmethod
    def _has_far(row: Row) -> bool:
        return any(far is not None for _, columns in row for _, far in columns)

    def _levels(self) -> _Levels:
        top, bottom = self.rows
        # The customer stands above the API it calls, outside the subdomain.
        top_far_y = MARGIN + (NODE_H + ACTOR_GAP if self.customer else 0) + AREA_HEADER
        top_near_y = top_far_y + (NODE_H + self._far_gap(top) if self._has_far(top) else 0)
        top_area_bottom = top_near_y + NODE_H + AREA_PAD
        bar_y = top_area_bottom + self._band(top)
        bottom_area_top = bar_y + self._band(bottom)
        # Below the bar lines come in through an area's top: its title is at its bottom.
        bottom_near_y = bottom_area_top + AREA_PAD
        bottom_far_y = bottom_near_y + NODE_H + self._far_gap(bottom)
        bottom_area_bottom = (bottom_far_y if self._has_far(bottom) else bottom_near_y) \
            + NODE_H + AREA_HEADER
        return _Levels(top_far_y=top_far_y, top_near_y=top_near_y,
                       top_area_bottom=top_area_bottom, bar_y=bar_y,
                       bottom_area_top=bottom_area_top, bottom_near_y=bottom_near_y,
                       bottom_far_y=bottom_far_y, height=bottom_area_bottom + MARGIN)

    # --- placing nodes -------------------------------------------------------------------------

    @staticmethod
    def _lead(*, first: bool, framed: bool) -> float:
        """Room before a column: an area's padding before its first one."""
        return AREA_PAD if framed and first else 0.0

    def _caption_room(self, previous: Column, near: Node, far: Node | None, x: float,
                      lead: float, width: float) -> float:
        """How much further right a column must go for the caption of a line joining it to
        the column before."""
        right_edge = max(n.x + n.w for n in previous if n is not None)
        gap = x + lead + (width - max(n.w for n in (near, far) if n)) / 2 - right_edge
        needed = max([_link_gap(self.captions[frozenset((a.id, b.id))])
                      for a in previous if a for b in (near, far)
                      if b and frozenset((a.id, b.id)) in self.captions] + [0.0])
        return max(0.0, needed - gap)

    def _outline_label_room(self, area_id: str) -> float:
        """How wide an area must be for the label of an outline around it alone (accounts and
        regions are outlined only when there is more than one)."""
        if not self.placements.subdomains and not self.placements.replica_region:
            return 0.0
        where = area_placement(area_id, self.placements, self.topology.model)
        label = placement_label(where, home=where == self.placements.home)
        # the label ends LABEL_INSET inside the outline, and starts 8 px past its other corner
        return label_width(label) + LABEL_INSET + 8 - 2 * BOUNDARY_PAD

    def _area(self, area_id: str, columns: list[Column], x: float, right: float,
              row_index: int, levels: _Levels) -> Area:
        """The frame of a row's area, from its first column to `right`: up to the bar's band
        in the top row, down from it in the bottom one."""
        near_y, far_y = levels.of_row(row_index)
        own_far = any(far is not None for _, far in columns)
        if row_index == 0:
            top, bottom = (far_y if own_far else near_y) - AREA_HEADER, levels.top_area_bottom
            title_y = top + AREA_TITLE_BASELINE
        else:
            top = levels.bottom_area_top
            bottom = (far_y if own_far else near_y) + NODE_H + AREA_HEADER
            title_y = bottom - AREA_HEADER + AREA_TITLE_BASELINE
        return Area(id=area_id, title=Topology.area_title(area_id), x=x, y=top, w=right - x,
                    h=bottom - top, title_y=title_y)

    def _place_row(self, row_index: int, levels: _Levels) -> tuple[float, list[Node], list[Area]]:
        """Columns left to right, each as wide as its labels; returns the row's width, its
        nodes and its areas."""
        near_y, far_y = levels.of_row(row_index)
        x: float = MARGIN
        placed: list[Node] = []
        areas: list[Area] = []
        previous: Column | None = None
        for area_id, columns in self.rows[row_index]:
            framed = area_id != OUTSIDE
            area_x = x
            for index, (near, far) in enumerate(columns):
                width = self._column_width(near, far)
                lead = self._lead(first=index == 0, framed=framed)
                if previous is not None:
                    x += self._caption_room(previous, near, far, x, lead, width)
                if index == 0:
                    area_x = x
                x += lead
                for node, y in ((near, near_y), (far, far_y)):
                    if node is not None:
                        node.x, node.y = x + (width - node.w) / 2, y
                        placed.append(node)
                x += width + COL_GAP
                previous = (near, far)
            x -= COL_GAP
            if framed:
                x = max(x + AREA_PAD, area_x + self._outline_label_room(area_id))
                areas.append(self._area(area_id, columns, area_x, x, row_index, levels))
            x += AREA_GAP
        return x - AREA_GAP + MARGIN, placed, areas

    def _place_rows(self, levels: _Levels) -> float:
        """Both rows, the narrower one centred under the wider; returns the width."""
        placed_rows = [self._place_row(row_index, levels) for row_index in range(len(self.rows))]
        width = max(row_width for row_width, _, _ in placed_rows)
        for row_width, placed, areas in placed_rows:
            shift = (width - row_width) / 2
            for node in placed:
                node.x += shift
                self.nodes[node.id] = node
            for area in areas:
                area.x += shift
                self.areas.append(area)
        if self.customer is not None:
            api = self.nodes[self.topology.customer_api]
            self.customer.x, self.customer.y = api.x, MARGIN
            self.nodes[self.customer.id] = self.customer
        return width

    # --- the whole picture -------------------------------------------------------------------

    def build(self) -> Graph:
        levels = self._levels()
        width = self._place_rows(levels)
        self._connect_to_bar(levels.bar_y, levels.top_area_bottom, levels.bottom_area_top)
        self._connect_neighbours()
        for node in self.nodes.values():
            node.x, node.y = round(node.x, 1), round(node.y, 1)
        return Graph(width=round(width, 1), height=round(levels.height, 1), areas=self.areas,
                     nodes=list(self.nodes.values()), edges=self.edges,
                     connectors=list(self.connectors.values()),
                     bar=self._bar(levels.bar_y, width),
                     flights=self._flights(levels.bar_y), observe=self._observe(),
                     boundaries=boundaries_layout(self.areas, levels.bar_y, self.placements,
                                                  self.topology.model, avoid=self._note_boxes()))

    def _note_boxes(self) -> list[tuple[float, float, float, float]]:
        """Where the captions of lines are written (x1, y1, x2, y2)."""
        boxes = []
        for connector in self.connectors.values():
            if connector.note:
                width = len(connector.note) * NOTE_CHAR_W
                left = connector.note_x if connector.note_anchor == "start" else connector.note_x - width / 2
                boxes.append((left, connector.note_y - NOTE_H + 2, left + width, connector.note_y + 2))
        return boxes

    def _bar(self, bar_y: float, width: float) -> Bar:
        """The backplane, long enough for every line that meets it, its name where none
        does: the first stretch wide enough, from the left."""
        backplane = self.topology.backplane
        ports = sorted(x for c in self.connectors.values() for x, y in c.points if y == bar_y)
        bar_start: float = MARGIN
        bar_end = max([*ports, width - 2 * MARGIN]) + MARGIN
        gaps = list(itertools.pairwise([bar_start, *ports, bar_end]))
        chips = [(chip.left, chip.y, chip.left + chip.w, chip.y + CHIP_H)
                 for connector in self.connectors.values() for chip in connector.chips]

        def clear(gap: tuple[float, float]) -> bool:
            """Wide enough for the bus's name, and no label in the way above or below."""
            middle = (gap[0] + gap[1]) / 2
            x1, x2 = middle - BAR_LABEL_W / 2, middle + BAR_LABEL_W / 2
            y1, y2 = bar_y - BAR_LABEL_ABOVE, bar_y + BAR_LABEL_BELOW
            return gap[1] - gap[0] >= BAR_LABEL_W and not any(
                cx1 < x2 and x1 < cx2 and cy1 < y2 and y1 < cy2 for cx1, cy1, cx2, cy2 in chips)

        wide = [g for g in gaps if clear(g)] or [g for g in gaps if g[1] - g[0] >= BAR_LABEL_W]
        gap_start, gap_end = wide[0] if wide else max(gaps, key=lambda g: g[1] - g[0])
        return Bar(bus=backplane, title=f"{backplane} bus",
                   deployed=self.outputs.get(stack_outputs.bus_name(Bus(backplane)), ""),
                   x1=bar_start, x2=bar_end, y=bar_y, label_x=round((gap_start + gap_end) / 2, 1))

    # --- lines -------------------------------------------------------------------------

    def _connect_to_bar(self, bar_y: float, top_area_bottom: float,
                        bottom_area_top: float) -> None:
        """Straight vertical lines between each node and the bar, several side by side when a
        node both hears and speaks; labels stacked on each, in bands that never overlap."""
        taken_ports: list[float] = []
        near_the_bar = {node.id for row in self.rows
                        for index, node in enumerate(self._talking(row)) if index % 2}
        # Nodes above the bar first: ports below it step aside so no two lines meet the bar at
        # one point.
        for node_id, groups in sorted(self.to_bar.items(), key=lambda item: self.nodes[item[0]].y):
            node = self.nodes[node_id]
            above = node.y < bar_y
            node_edge = node.y + node.h if above else node.y
            if above:
                band_start, band_end = top_area_bottom + BAND_MARGIN, bar_y - BAR_THICKNESS / 2 - BAND_MARGIN
            else:
                band_start, band_end = bar_y + BAR_THICKNESS / 2 + BAND_MARGIN, bottom_area_top - BAND_MARGIN
            count = len(groups)
            stack = self._stack(node_id)
            # the stack's top: against the area, or against the bar (every other node)
            y = band_start if above != (node_id in near_the_bar) else band_end - stack
            tops: dict[int, float] = {}
            for index in range(count) if above else reversed(range(count)):
                tops[index] = y
                y += _stack_height(len(groups[index][1])) + 2 * CHIP_GAP
            for index, (direction, edges) in enumerate(groups):
                x = node.cx + (index - (count - 1) / 2) * 2 * PORT_SPREAD
                x = _free_port(x, taken_ports, node)
                taken_ports.append(x)
                points = [(x, bar_y), (x, node_edge)] if direction == "in" else [(x, node_edge), (x, bar_y)]
                connector = Connector(id=f"c:{edges[0].source}>{edges[0].target}",
                                      kind=self._kind(edges), points=points)
                y = tops[index]
                for edge in edges:
                    text = self._chip_text(edge)
                    connector.chips.append(Chip(edge=edge.id, text=text, x=x, y=round(y, 1),
                                                w=chip_width(text), area=self._producer_area(edge),
                                                muted=edge.kind == "observe"))
                    y += CHIP_H + CHIP_GAP
                self._register(connector, edges)

    def _connect_neighbours(self) -> None:
        """Lines between neighbours in a row, or between a column's two rows."""
        for (source, target), edges in self.bundles.items():
            if self.bar_node in (source, target):
                continue
            a, b = self.nodes[source], self.nodes[target]
            # Two opposite lines between the same nodes run side by side.
            offset = PAIR_OFFSET if (target, source) in self.bundles else 0
            points = _neighbour_line(a, b, offset)
            connector = Connector(id=f"c:{source}>{target}", kind=self._kind(edges), points=points)
            labelled = [edge for edge in edges if edge.event]
            if labelled and abs(points[0][0] - points[-1][0]) < 1:
                self._label_vertical(connector, labelled, a, offset)
            else:
                self._caption(connector, self._note(edges))
            self._register(connector, edges)

    def _label_vertical(self, connector: Connector, labelled: list[Edge], source: Node,
                        offset: float) -> None:
        """Event labels stacked on a vertical line: centred on a lone line; of a pair, the
        downward line's high and the upward line's low, so the two stacks never meet."""
        points = connector.points
        top, bottom = sorted((points[0][1], points[-1][1]))
        height = _stack_height(len(labelled))
        if not offset:
            y = top + (bottom - top - height) / 2
        elif points[0][1] < points[-1][1]:
            y = top + 6
        else:
            y = bottom - 6 - height
        centre = source.cx if abs(source.cx - points[0][0]) <= 2 * offset + 1 else points[0][0]
        for edge in labelled:
            connector.chips.append(Chip(edge=edge.id, text=edge.event, x=centre, y=round(y, 1),
                                        w=chip_width(edge.event), area=self._producer_area(edge)))
            y += CHIP_H + CHIP_GAP

    @staticmethod
    def _caption(connector: Connector, note: str) -> None:
        """A line that carries no event type gets a small caption on its longest stretch:
        beside it if vertical, above it if not. (On the first stretch, a line that turns
        would have its caption over the node it leaves.)"""
        (x0, y0), (x1, y1) = max(itertools.pairwise(connector.points),
                                 key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1]))
        connector.note = note
        if abs(x0 - x1) < 1:
            connector.note_x, connector.note_y = x0 + 8, (y0 + y1) / 2 + 4
            connector.note_anchor = "start"
        else:
            connector.note_x, connector.note_y = (x0 + x1) / 2, min(y0, y1) - 7

    def _register(self, connector: Connector, edges: Iterable[Edge]) -> None:
        self.connectors[connector.id] = connector
        for edge in edges:
            edge.connector = connector.id

    # --- flights -----------------------------------------------------------------------

    def _observe(self) -> dict[str, list[str]]:
        connectors = {edge.id: edge.connector for edge in self.edges}
        return {bus: [connectors[link] for link in links]
                for bus, links in self.topology.observe.items()}

    def _flights(self, bar_y: float) -> dict[str, list[Flight]]:
        by_id = {edge.id: edge for edge in self.edges}
        return {flight_key(event, bus): [
            self._flight(self._start(plan), [by_id[e] for e in (*plan.lead, *branch)], bar_y)
            for branch in plan.branches]
            for (event, bus), plan in self.topology.flights.items()}

    def _start(self, plan: FlightPlan) -> tuple[float, float] | None:
        """Where a token that is not published here appears: at the end of the line it
        arrives by, or on the bus it is forwarded to."""
        if plan.arrives_by is not None:
            arrival = next(edge for edge in self.edges if edge.id == plan.arrives_by)
            return self.connectors[arrival.connector].points[-1]
        if plan.starts_at is not None:
            node = self.nodes[plan.starts_at]
            return node.cx, node.cy
        return None

    def _flight(self, start: tuple[float, float] | None, edges: list[Edge], bar_y: float) -> Flight:
        points: list[tuple[float, float]] = [start] if start else []
        for edge in edges:
            segment = self.connectors[edge.connector].points
            if points and segment[0] != points[-1] and not (points[-1][1] == bar_y == segment[0][1]):
                # Through the node that hands the event on; along the bar, straight.
                node = self.nodes[edge.source]
                points.append((node.cx, node.cy))
            points.extend(segment)
        deduped = [p for index, p in enumerate(points) if index == 0 or p != points[index - 1]]
        return Flight(path=rounded_path(deduped, radius=8),
                      connectors=list(dict.fromkeys(self.connectors[e.connector].id for e in edges)),
                      edges=[edge.id for edge in edges])

def _neighbour_line(a: Node, b: Node, offset: float) -> list[tuple[float, float]]:
    """The points of a line from `a` to `b`: straight down (or up) within a column, straight
    across within a row, else leaving towards `b`'s row and turning into its facing side."""
    if abs(a.cx - b.cx) < 1:
        down = a.y < b.y
        x = a.cx + (2 * offset if down else -2 * offset)
        return [(x, a.y + a.h if down else a.y), (x, b.y if down else b.y + b.h)]
    if abs(a.cy - b.cy) < 1:
        right = a.x < b.x
        y = a.cy + (offset if right else -offset)
        return [(a.x + a.w if right else a.x, y), (b.x if right else b.x + b.w, y)]
    down = a.cy < b.cy
    return [(a.cx, a.y + a.h if down else a.y), (a.cx, b.cy),
            (b.x + b.w if a.cx > b.cx else b.x, b.cy)]


def _free_port(x: float, taken: list[float], node: Node, gap: float = 16) -> float:
    """The nearest x to `x`, within the node, at least `gap` from every port taken."""
    candidates = sorted((abs(dx), x + dx) for dx in range(-60, 61, 2)
                        if node.x + 14 <= x + dx <= node.x + node.w - 14)
    for _, candidate in candidates:
        if all(abs(candidate - other) >= gap for other in taken):
            return candidate
    return x


def _stack_height(count: int) -> float:
    return count * CHIP_H + max(0, count - 1) * CHIP_GAP


def graph_build(model: Choreography = CHOREOGRAPHY, outputs: dict[str, str] | None = None,
                placements: Placements | None = None) -> Graph:
    """The laid-out graph of a choreography (the one deployed, by default); with
    `placements` that span accounts, each account's subdomains outlined."""
    placements = placements or Placements()
    return _Layout(topology(model, placements.replica_region), outputs or {}, placements).build()
