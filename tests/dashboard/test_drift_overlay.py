"""Drift on the live graph, laid out: each drifted route's label and line say what differs
and since when; each rule nobody declared gets a box beside the model's picture, joined to its
bus by a line that crosses no other line, no node and no box."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime

from dashboard.insight.drift import DeployedRead, DriftView
from dashboard.live.drift_overlay import DriftBox, drift_overlay_build
from dashboard.live.graph import graph_build
from tests.workflow.test_drift import arn_of, changed, clean
from workflow.drift import DeployedRule, DeployedTarget, drift
from workflow.model import Bus

NOTICED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
Segment = tuple[tuple[float, float], tuple[float, float]]


def view_with(*added: tuple[Bus, DeployedRule], removed_target_of: str | None = None) -> DriftView:
    deployed = clean()
    for bus, rule in added:
        deployed = dataclasses.replace(deployed, rules={
            **deployed.rules, bus: (*deployed.rules[bus], rule)})
    if removed_target_of:
        deployed = changed(deployed, Bus.GLOBAL, removed_target_of, targets=())
    found = drift(deployed)
    return DriftView(found=found, read=DeployedRead(deployed, NOTICED), event_types=(),
                     noticed=dict.fromkeys(found.keys(), NOTICED), checked_at=NOTICED)


def by_hand(name: str, target: str) -> DeployedRule:
    return DeployedRule(name=name, pattern={"source": ["order"]},
                        targets=(DeployedTarget("t", target),))


def segments(box: DriftBox) -> list[Segment]:
    return list(itertools.pairwise(box.points))


def crosses(a: Segment, b: Segment) -> bool:
    """Whether two horizontal or vertical segments meet."""
    (ax1, ay1), (ax2, ay2) = a
    (bx1, by1), (bx2, by2) = b
    return (max(min(ax1, ax2), min(bx1, bx2)) <= min(max(ax1, ax2), max(bx1, bx2))
            and max(min(ay1, ay2), min(by1, by2)) <= min(max(ay1, ay2), max(by1, by2)))


def through(segment: Segment, x: float, y: float, w: float, h: float) -> bool:
    """Whether a segment passes inside a box (touching its edge is arriving, not crossing)."""
    (x1, y1), (x2, y2) = segment
    return (min(x1, x2) < x + w - 1 and max(x1, x2) > x + 1
            and min(y1, y2) < y + h - 1 and max(y1, y2) > y + 1)


def test_a_changed_route_is_marked_with_what_differs_and_since_when() -> None:
    graph = graph_build()
    overlay = drift_overlay_build(graph, view_with(removed_target_of="WarehouseStockReservedToPayment"))
    assert set(overlay.routes) == {"WarehouseStockReservedToPayment"}
    tooltip = overlay.routes["WarehouseStockReservedToPayment"]
    assert "is changed: no target delivers to queue:Payment" in tooltip
    assert "seen since 2026-12-01 09:30:00 UTC" in tooltip
    edge = next(edge for edge in graph.edges if edge.id == "WarehouseStockReservedToPayment")
    assert overlay.connectors == {edge.connector: tooltip}
    assert not overlay.boxes and (overlay.width, overlay.height) == (graph.width, graph.height)


def test_rules_nobody_declared_are_drawn_beside_the_model_and_cross_nothing() -> None:
    graph = graph_build()
    view = view_with(
        (Bus.GLOBAL, by_hand("audit-orders", "arn:aws:sqs:us-east-1:123456789012:audit")),
        (Bus.GLOBAL, by_hand("to-payment", arn_of("queue:Payment"))),
        (Bus.GLOBAL, by_hand("archive-everything", "arn:aws:events:us-east-1:123456789012:archive/x")),
        (Bus.LOYALTY, by_hand("loyalty-tap", "arn:aws:lambda:us-east-1:123456789012:function:tap")),
        (Bus.LOYALTY, by_hand("loyalty-tap-2", "arn:aws:sqs:us-east-1:123456789012:tap-2")))
    overlay = drift_overlay_build(graph, view)

    boxes = {box.rule: box for box in overlay.boxes}
    assert set(boxes) == {"audit-orders", "to-payment", "archive-everything", "loyalty-tap",
                          "loyalty-tap-2"}
    assert (boxes["audit-orders"].title, boxes["to-payment"].title) == ("audit", "Payment")
    assert "audit-orders on the global bus is not in the model" in boxes["audit-orders"].tooltip
    assert "seen since 2026-12-01 09:30:00 UTC" in boxes["audit-orders"].tooltip

    # Beside the model's picture, which is not moved, and within the overlay's.
    assert all(box.x > graph.width for box in overlay.boxes)
    assert all(box.x + box.w <= overlay.width and box.y + box.h <= overlay.height
               for box in overlay.boxes)
    assert overlay.bar_x2 > graph.bar.x2
    # Each line from its bus: the bar for the global bus, the loyalty bus's node for its own.
    loyalty = graph.node("bus:loyalty")
    for box in overlay.boxes:
        start, end = box.points[0], box.points[-1]
        assert start == ((loyalty.x + loyalty.w, start[1]) if box.bus == "loyalty"
                         else (start[0], graph.bar.y))
        assert end == (box.x, box.cy)
    # No two lines meet, and no line passes through a node, a box or a caption.
    for a, b in itertools.combinations(overlay.boxes, 2):
        assert not any(crosses(s, t) for s in segments(a) for t in segments(b)), (a.rule, b.rule)
        assert not (a.y < b.y + b.h and b.y < a.y + a.h), (a.rule, b.rule)
    rects = [(node.x, node.y, node.w, node.h) for node in graph.nodes] + \
        [(box.x, box.y, box.w, box.h) for box in overlay.boxes]
    for box in overlay.boxes:
        for segment in segments(box):
            assert not any(through(segment, *rect) for rect in rects), (box.rule, segment)
        assert box.points[-1][0] == box.x  # the arrow ends on its box's side


def test_a_clean_deployment_draws_nothing() -> None:
    graph = graph_build()
    overlay = drift_overlay_build(graph, view_with())
    assert (overlay.routes, overlay.connectors, overlay.boxes) == ({}, {}, [])
