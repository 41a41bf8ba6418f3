"""What the live graph draws of drift (`dashboard/insight/drift.py`), over the model's layout.

A declared route that is missing or changed is its own line and label, marked, with a
tooltip saying what differs and since when. A rule nobody declared has no place in the model's
layout, so it gets one beside it: a column right of the picture, one box per rule naming what
it delivers to, joined to its bus by a dashed line that never crosses the model's lines —

- from the backplane (the bar extended to the right), each line in its own lane, the box
  nearest the bar in the lane nearest the boxes, so that no two lines cross;
- from another bus, out of the bus's right side, down the gap beside its area, under every
  area, and up its own lane, the lower boxes' lines outside the higher ones'.

The model's layout (`graph.py`) is not changed: the overlay says how much wider and taller the
picture is with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.insight.drift import DriftView
from dashboard.live.graph import AREA_GAP, MARGIN, NODE_H, NODE_W, Graph, rounded_path
from workflow.drift import RouteDrift, UndeclaredRule

COLUMN_GAP = 30  # between the last lane and the boxes
LANE = 12
BOX_GAP = 16
CAPTION_H = 18
EXIT_SPREAD = 8
GAP_LANE = 5
UNDER_AREAS = 14


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
class DriftOverlay:
    width: float
    height: float
    bar_x2: float
    routes: dict[str, str] = field(default_factory=dict)
    """the tooltip of each drifted route's label, by edge id"""
    connectors: dict[str, str] = field(default_factory=dict)
    """the tooltip of each line that carries a drifted route, by connector id"""
    boxes: list[DriftBox] = field(default_factory=list)
    caption_x: float = 0
    caption_y: float = 0


def _since(view: DriftView, key: str) -> str:
    since: datetime | None = view.since(key)
    return f"seen since {since:%Y-%m-%d %H:%M:%S %Z}" if since else "since unknown"


def route_tooltip(view: DriftView, item: RouteDrift) -> str:
    return f"{item.rule} on the {item.bus.value} bus is {item.problem}: {item.summary} " \
           f"({_since(view, item.key)})"


def rule_tooltip(view: DriftView, item: UndeclaredRule) -> str:
    targets = ", ".join(target.arn for target in item.rule.targets) or "nothing"
    pattern = json.dumps(item.rule.pattern, sort_keys=True) if item.rule.pattern else "no pattern"
    return f"{item.rule.name} on the {item.bus.value} bus is not in the model: matches " \
           f"{pattern}; delivers to {targets} ({_since(view, item.key)})"


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
    if view.found.undeclared_rules:
        _place_boxes(overlay, graph, view)
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
