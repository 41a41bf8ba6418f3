"""Drift on the live graph, laid out: each drifted route's label and line say what differs
and since when; each rule nobody declared gets a box beside the model's picture, joined to its
bus by a line that crosses no other line, no node and no box."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime

from dashboard.insight.drift import DeployedRead, DriftView
from dashboard.insight.drift_traffic import Link
from dashboard.live.drift_overlay import DriftBox, drift_overlay_build
from dashboard.live.graph import Node, graph_build
from tests.workflow.test_drift import arn_of, changed, clean
from workflow.drift import DeployedRule, DeployedTarget, drift
from workflow.model import CHOREOGRAPHY, Bus

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


def link_of(cause_type: str, effect_type: str, source: str, count: int = 3) -> Link:
    return Link(cause_type, effect_type, source, count, NOTICED, NOTICED.replace(hour=10),
                "evt-1", "ord-1", expected=CHOREOGRAPHY.followers_of(cause_type)
                if cause_type in {e.name for e in CHOREOGRAPHY.events} else ())


def on_border(point: tuple[float, float], node: Node) -> bool:
    x, y = point
    inside = node.x - 0.2 <= x <= node.x + node.w + 0.2 and node.y - 0.2 <= y <= node.y + node.h + 0.2
    return inside and min(abs(x - node.x), abs(x - node.x - node.w),
                          abs(y - node.y), abs(y - node.y - node.h)) <= 0.2


def test_an_undeclared_causation_link_is_a_curve_between_the_functions_that_published_its_ends() -> None:
    graph = graph_build()
    view = dataclasses.replace(view_with(), links=(
        link_of("order.placed", "payment.taken", "payment"),
        link_of("order.refunded", "order.cancelled", "order"),  # a cause the model cannot place
    ))
    overlay = drift_overlay_build(graph, view)

    [link] = overlay.links
    assert (link.cause_node, link.effect_node) == ("function:OrderApi", "function:Payment")
    assert on_border(link.start, graph.node("function:OrderApi"))
    assert on_border(link.end, graph.node("function:Payment"))
    assert link.path.startswith(f"M{link.start[0]:g},{link.start[1]:g} C")
    # bowed aside, so it never lies on a straight line of the model's
    (x1, y1), (x2, y2) = link.start, link.end
    for cx, cy in link.control:
        assert abs((x2 - x1) * (cy - y1) - (y2 - y1) * (cx - x1)) > 1000
        assert 0 <= cx <= overlay.width and 0 <= cy <= overlay.height
    assert link.tooltip == (
        "order.placed → payment.taken is not in the model: payment.taken was caused by "
        "order.placed, which the model follows with warehouse.stock-reserved or "
        "warehouse.stock-unavailable (seen 3 times since 2026-12-01 09:30:00 UTC, "
        "last 2026-12-01 10:30:00 UTC)")
    # the model's own layout is left as it is
    assert (overlay.width, overlay.height) == (graph.width, graph.height)


def test_a_link_from_a_function_to_itself_loops_out_of_it() -> None:
    graph = graph_build()
    view = dataclasses.replace(view_with(), links=(
        link_of("warehouse.order-shipped", "warehouse.stock-released", "warehouse"),))
    [link] = drift_overlay_build(graph, view).links
    node = graph.node("function:Warehouse")
    assert link.cause_node == link.effect_node == node.id
    assert on_border(link.start, node) and on_border(link.end, node)
