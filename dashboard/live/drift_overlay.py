"""What the live graph draws of drift (`dashboard/insight/drift.py`), over the model's layout.

A declared route that is missing or changed is its own line and label, marked, with a
tooltip saying what differs and since when; so is the line from a queue to its consumer whose
event source mapping is missing, changed, or joined by one nobody declared. A rule nobody
declared has no place in the model's layout, so it gets one beside it: a column right of the
picture, one box per rule naming what it delivers to, joined to its bus by a dashed line that
never crosses the model's lines —

- from the backplane (the bar extended to the right), each line in its own lane, the box
  nearest the bar in the lane nearest the boxes, so that no two lines cross;
- from another bus, out of the bus's right side, down the gap beside its area, under every
  area, and up its own lane, the lower boxes' lines outside the higher ones'.

A causation link the model has no reaction for (`dashboard.insight.drift_traffic.Link`) is a
dashed curve from the function that publishes the cause's type to the one that published the
effect (`workflow.traffic_drift.link_ends`), bowed to one side so that it never lies on the
model's own straight lines, with a tooltip saying what differs and since when; a link whose ends
the model cannot place (a type or a source it does not declare) is listed on the Drift page only.

The model's layout (`graph.py`) is not changed: the overlay says how much wider and taller the
picture is with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.insight.drift import DriftView
from dashboard.insight.drift_traffic import Link
from dashboard.live.graph import AREA_GAP, MARGIN, NODE_H, NODE_W, Graph, Node, rounded_path
from workflow.drift import RouteDrift, UndeclaredRule
from workflow.mapping_drift import MappingDrift
from workflow.traffic_drift import link_ends

COLUMN_GAP = 30  # between the last lane and the boxes
LANE = 12
BOX_GAP = 16
CAPTION_H = 18
EXIT_SPREAD = 8
GAP_LANE = 5
UNDER_AREAS = 14
LINK_BOW = 0.22  # how far a link's curve bows aside, as a share of its length
LINK_LOOP = 46  # how far a link from a function to itself loops out


@dataclass
class DriftBox:
    """A rule nobody declared: the box of what it delivers to, and the line from its bus."""

    rule: str
    bus: str
    title: str
    subtitle: str
    tooltip: str
    x: float
    y: float
    points: list[tuple[float, float]] = field(default_factory=list)
    w: float = NODE_W
    h: float = NODE_H

    @property
    def path(self) -> str:
        return rounded_path(self.points, radius=6)

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def title_room(self) -> float:
        return self.w - 20


@dataclass
class DriftLink:
    """A causation link the model has no reaction for: a curve between two functions."""

    cause_type: str
    type: str
    source: str
    cause_node: str
    effect_node: str
    tooltip: str
    start: tuple[float, float]
    control: tuple[tuple[float, float], tuple[float, float]]
    end: tuple[float, float]

    @property
    def path(self) -> str:
        (c1x, c1y), (c2x, c2y) = self.control
        return f"M{self.start[0]:g},{self.start[1]:g} C{c1x:g},{c1y:g} {c2x:g},{c2y:g} " \
               f"{self.end[0]:g},{self.end[1]:g}"


@dataclass
class DriftOverlay:
    width: float
    height: float
    bar_x2: float
    routes: dict[str, str] = field(default_factory=dict)
    """the tooltip of each drifted route's label, by edge id"""
    connectors: dict[str, str] = field(default_factory=dict)
    """the tooltip of each line that carries a drifted route, by connector id"""
    boxes: list[DriftBox] = field(default_factory=list)
    links: list[DriftLink] = field(default_factory=list)
    caption_x: float = 0
    caption_y: float = 0


def _since(view: DriftView, key: str) -> str:
    since: datetime | None = view.since(key)
    return f"seen since {since:%Y-%m-%d %H:%M:%S %Z}" if since else "since unknown"


def route_tooltip(view: DriftView, item: RouteDrift) -> str:
    return f"{item.rule} on the {item.bus.value} bus is {item.problem}: {item.summary} " \
           f"({_since(view, item.key)})"


def mapping_tooltip(view: DriftView, item: MappingDrift) -> str:
    return f"the event source mapping of queue {item.queue} to {item.function} is " \
           f"{item.problem}: {item.summary} ({_since(view, item.key)})"


def rule_tooltip(view: DriftView, item: UndeclaredRule) -> str:
    targets = ", ".join(target.arn for target in item.rule.targets) or "nothing"
    pattern = json.dumps(item.rule.pattern, sort_keys=True) if item.rule.pattern else "no pattern"
    return f"{item.rule.name} on the {item.bus.value} bus is not in the model: matches " \
           f"{pattern}; delivers to {targets} ({_since(view, item.key)})"


def link_tooltip(item: Link) -> str:
    times = f"{item.count} time{'s' if item.count != 1 else ''}"
    return f"{item.cause_type} → {item.type} is not in the model: {item.summary} (seen {times} " \
           f"since {item.first_seen:%Y-%m-%d %H:%M:%S %Z}, last {item.last_seen:%Y-%m-%d %H:%M:%S %Z})"


def _border_towards(node: Node, x: float, y: float) -> tuple[float, float]:
    """Where the line from a node's centre towards (x, y) leaves the node."""
    dx, dy = x - node.cx, y - node.cy
    if dx == 0 and dy == 0:
        return node.cx, node.y
    scale = min(node.w / 2 / abs(dx) if dx else float("inf"),
                node.h / 2 / abs(dy) if dy else float("inf"))
    return round(node.cx + dx * scale, 1), round(node.cy + dy * scale, 1)


def _link(graph: Graph, view_width: float, item: Link) -> DriftLink | None:
    ends = link_ends(cause_type=item.cause_type, effect_type=item.type, effect_source=item.source)
    nodes = {node.id: node for node in graph.nodes}
    cause = nodes.get(f"function:{ends[0]}") if ends else None
    effect = nodes.get(f"function:{ends[1]}") if ends else None
    if cause is None or effect is None:
        return None
    found = DriftLink(item.cause_type, item.type, item.source, cause.id, effect.id,
                      link_tooltip(item), (0, 0), ((0, 0), (0, 0)), (0, 0))
    if cause is effect:  # a loop out of the node's right side and back into its top
        right = cause.x + cause.w
        found.start, found.end = (right, cause.cy), (right - 24, cause.y)
        found.control = ((right + LINK_LOOP, cause.cy), (right - 24, cause.y - LINK_LOOP))
        return found
    found.start = _border_towards(cause, effect.cx, effect.cy)
    found.end = _border_towards(effect, cause.cx, cause.cy)
    (x1, y1), (x2, y2) = found.start, found.end
    # Bowed to the left of its way (upwards, going right): never on a straight connector.
    nx, ny = (y2 - y1) * LINK_BOW, (x1 - x2) * LINK_BOW

    def aside(share: float) -> tuple[float, float]:
        x, y = x1 + (x2 - x1) * share + nx, y1 + (y2 - y1) * share + ny
        return round(min(max(x, 0), view_width), 1), round(max(y, 0), 1)

    found.control = (aside(1 / 3), aside(2 / 3))
    return found


def _short_name(arn: str) -> str:
    return arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _box(view: DriftView, graph: Graph, item: UndeclaredRule) -> DriftBox:
    """Named after what the rule delivers to: the model's node when it is one of the stack's
    (by the ARN the drift check knows it by), else the last part of the target's ARN."""
    nodes = {node.id: node for node in graph.nodes}
    by_arn = {arn: key for key, arn in view.read.deployed.addresses.items()}
    targets = item.rule.targets
    if not targets:
        title = "no target"
    else:
        known = nodes.get(by_arn.get(targets[0].arn, ""))
        title = known.title if known else _short_name(targets[0].arn)
        if len(targets) > 1:
            title += f" +{len(targets) - 1}"
    return DriftBox(rule=item.rule.name, bus=item.bus.value, title=title,
                    subtitle=f"rule {item.rule.name}", tooltip=rule_tooltip(view, item), x=0, y=0)


def drift_overlay_build(graph: Graph, view: DriftView) -> DriftOverlay:
    overlay = DriftOverlay(width=graph.width, height=graph.height, bar_x2=graph.bar.x2)
    for item in view.found.routes:
        tooltip = route_tooltip(view, item)
        for edge in graph.edges:
            if edge.kind == "route" and edge.rule == item.route:
                overlay.routes[edge.id] = tooltip
                said = overlay.connectors.get(edge.connector)
                overlay.connectors[edge.connector] = f"{said}\n{tooltip}" if said else tooltip
    for mapping in view.mappings:
        tooltip = mapping_tooltip(view, mapping)
        for edge in graph.edges:
            if edge.kind == "delivery" and edge.id == f"delivery:{mapping.queue}":
                said = overlay.connectors.get(edge.connector)
                overlay.connectors[edge.connector] = f"{said}\n{tooltip}" if said else tooltip
    if view.found.undeclared_rules:
        _place_boxes(overlay, graph, view)
    overlay.links = [link for link in (_link(graph, overlay.width, item) for item in view.links)
                     if link is not None]
    return overlay


def _place_boxes(overlay: DriftOverlay, graph: Graph, view: DriftView) -> None:
    backplane = graph.bar.bus
    on_bar = [_box(view, graph, item) for item in view.found.undeclared_rules if item.bus.value == backplane]
    elsewhere = [_box(view, graph, item) for item in view.found.undeclared_rules
                 if item.bus.value != backplane and any(n.id == f"bus:{item.bus.value}" for n in graph.nodes)]
    lanes_x = graph.width - MARGIN + LANE
    box_x = lanes_x + (len(on_bar) + len(elsewhere)) * LANE + COLUMN_GAP
    stacked = len(on_bar) * (NODE_H + BOX_GAP) - BOX_GAP
    y = max(MARGIN + CAPTION_H, graph.bar.y - stacked / 2 if on_bar else graph.bar.y + BOX_GAP)
    overlay.caption_x, overlay.caption_y = box_x, y - 7
    for box in (*on_bar, *elsewhere):
        box.x, box.y = box_x, round(y, 1)
        y += NODE_H + BOX_GAP
    column_bottom = y - BOX_GAP

    # Nearest the bar, nearest the boxes.
    nearest = sorted(on_bar, key=lambda box: abs(box.cy - graph.bar.y))
    for rank, box in enumerate(nearest):
        x = lanes_x + (len(on_bar) - 1 - rank) * LANE
        box.points = [(x, graph.bar.y), (x, box.cy), (box.x, box.cy)] \
            if abs(box.cy - graph.bar.y) >= 1 else [(x, graph.bar.y), (box.x, box.cy)]
    if on_bar:
        overlay.bar_x2 = lanes_x + (len(on_bar) - 1) * LANE + 4

    under = max([area.y + area.h for area in graph.areas] + [column_bottom]) + UNDER_AREAS
    areas = {area.id: area for area in graph.areas}
    nodes = {node.id: node for node in graph.nodes}
    for index, box in enumerate(elsewhere):
        bus = nodes[f"bus:{box.bus}"]
        area = areas.get(bus.area)
        right = area.x + area.w if area else bus.x + bus.w
        exit_y = bus.cy + (index - (len(elsewhere) - 1) / 2) * EXIT_SPREAD
        gap_x = right + AREA_GAP / 2 + ((len(elsewhere) - 1) / 2 - index) * GAP_LANE
        bottom = under + index * LANE
        lane = lanes_x + (len(on_bar) + index) * LANE
        box.points = [(bus.x + bus.w, exit_y), (gap_x, exit_y), (gap_x, bottom), (lane, bottom),
                      (lane, box.cy), (box.x, box.cy)]
        overlay.height = max(overlay.height, bottom + MARGIN)
    overlay.boxes = [*on_bar, *elsewhere]
    overlay.width = round(box_x + NODE_W + MARGIN, 1)
    overlay.height = round(max(overlay.height, column_bottom + MARGIN), 1)
