"""The graph is drawn from the model: every route is an edge, a new route is a new edge, and
the layout keeps labels and boxes apart."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from dashboard.live.graph import CHIP_H, NOTE_CHAR_W, NOTE_H, Graph, flight_key, graph_build
from dashboard.shared.placements import placements_of
from tests.dashboard.deployments import ACCOUNTS, BIGGER
from workflow.legacy import with_legacy_consumer
from workflow.model import (
    CHOREOGRAPHY,
    NOTIFICATIONS,
    Bus,
    Function,
    Queue,
    Route,
    Subdomain,
    ToNotification,
    ToQueue,
)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return graph_build()


def test_every_route_is_an_edge_with_its_event_and_bus(graph):
    edges = {edge.id: edge for edge in graph.edges}
    for route in CHOREOGRAPHY.routes:
        edge = edges[route.rule_id]
        assert (edge.event, edge.bus, edge.source) == (route.event, route.bus.value,
                                                        f"bus:{route.bus.value}")


def test_every_event_edge_is_drawn_with_a_label(graph):
    labels = {chip.edge: chip.text for connector in graph.connectors for chip in connector.chips}
    connectors = {connector.id for connector in graph.connectors}
    for edge in graph.edges:
        assert edge.connector in connectors, edge.id
        if edge.event:
            assert labels[edge.id] == edge.event


def test_every_subdomain_function_and_queue_is_a_node_in_its_area(graph):
    areas = {area.id: area for area in graph.areas}
    for function in CHOREOGRAPHY.functions:
        node = graph.node(f"function:{function.id}")
        area = areas[function.subdomain.value]
        assert area.x <= node.x and node.x + node.w <= area.x + area.w
        assert area.y <= node.y and node.y + node.h <= area.y + area.h
    for queue in CHOREOGRAPHY.queues:
        assert graph.node(f"queue:{queue.id}").area == queue.subdomain.value
    assert graph.node("bus:loyalty").area == "loyalty"


def test_adding_a_route_adds_an_edge():
    route = Route("payment.declined", Bus.GLOBAL, ToNotification(NOTIFICATIONS))
    model = dataclasses.replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes, route))

    graph = graph_build(model)

    edge = next(edge for edge in graph.edges if edge.id == route.rule_id)
    assert edge.target == f"notification:{NOTIFICATIONS}"
    assert any(chip.edge == route.rule_id for c in graph.connectors for chip in c.chips)
    assert any(route.rule_id in f.edges for f in graph.flights[flight_key("payment.declined", "global")])


def test_adding_a_consumer_adds_its_queue_and_function():
    audit = Function("Audit", Subdomain.PAYMENT, "functions.audit.handler", "Audits payments.",
                     publishes_to=None)
    model = dataclasses.replace(
        CHOREOGRAPHY, functions=(*CHOREOGRAPHY.functions, audit),
        queues=(*CHOREOGRAPHY.queues, Queue("Audit", Subdomain.PAYMENT, consumer="Audit")),
        routes=(*CHOREOGRAPHY.routes, Route("payment.taken", Bus.GLOBAL, ToQueue("Audit"))))

    graph = graph_build(model)

    assert graph.node("queue:Audit").area == "payment"
    assert graph.node("function:Audit").area == "payment"
    assert {e.id for e in graph.edges} >= {"PaymentTakenToAudit", "delivery:Audit"}
    _assert_nothing_overlaps(graph)


def _boxes(graph: Graph) -> list[tuple[str, float, float, float, float]]:
    boxes = [(node.id, node.x, node.y, node.x + node.w, node.y + node.h) for node in graph.nodes]
    boxes += [(f"chip {chip.edge}", chip.left, chip.y, chip.left + chip.w, chip.y + CHIP_H)
              for connector in graph.connectors for chip in connector.chips]
    for connector in (c for c in graph.connectors if c.note):  # captions, as wide as estimated
        width = len(connector.note) * NOTE_CHAR_W
        left = connector.note_x - (0 if connector.note_anchor == "start" else width / 2)
        boxes.append((f"caption {connector.note!r}", left, connector.note_y - NOTE_H + 2,
                      left + width, connector.note_y + 2))
    return boxes


def _assert_nothing_overlaps(graph: Graph) -> None:
    boxes = _boxes(graph)
    for (a, ax1, ay1, ax2, ay2), (b, bx1, by1, bx2, by2) in itertools.combinations(boxes, 2):
        overlap = ax1 < bx2 - 0.5 and bx1 < ax2 - 0.5 and ay1 < by2 - 0.5 and by1 < ay2 - 0.5
        assert not overlap, f"{a} overlaps {b}"
    for name, x1, y1, x2, y2 in boxes:
        assert x1 >= 0 and x2 <= graph.width and y1 >= 0 and y2 <= graph.height, name


def test_no_two_boxes_or_labels_overlap_and_all_fit(graph):
    _assert_nothing_overlaps(graph)


def test_lines_never_run_through_a_box_they_do_not_join(graph):
    edges_by_connector: dict[str, set[str]] = {}
    for edge in graph.edges:
        edges_by_connector.setdefault(edge.connector, set()).update({edge.source, edge.target})
    for connector in graph.connectors:
        ends = edges_by_connector[connector.id]
        for (x1, y1), (x2, y2) in itertools.pairwise(connector.points):
            for node in graph.nodes:
                if node.id in ends:
                    continue
                inside_x = min(x1, x2) < node.x + node.w and max(x1, x2) > node.x
                inside_y = min(y1, y2) < node.y + node.h and max(y1, y2) > node.y
                assert not (inside_x and inside_y), f"{connector.id} crosses {node.id}"


def test_each_observed_event_has_a_flight_that_ends_where_it_is_consumed(graph):
    shipped = graph.flights[flight_key("warehouse.order-shipped", "global")]
    assert {f.edges[-1] for f in shipped} == {"delivery:Order", "WarehouseOrderShippedToOrderNotifications"}
    placed = graph.flights[flight_key("order.placed", "global")][0]
    assert placed.edges[0] == "request:customer:OrderHttpApi"
    assert placed.edges[-1] == "delivery:Warehouse"
    # payment.taken is published on the global bus and forwarded: on the loyalty bus its
    # token starts at that bus and ends at the loyalty function
    on_loyalty = graph.flights[flight_key("payment.taken", "loyalty")][0]
    assert on_loyalty.edges == ["PaymentTakenToLoyalty"]
    for event in CHOREOGRAPHY.events:
        assert flight_key(event.name, "global") in graph.flights


def test_deployed_names_come_from_the_stack_outputs():
    graph = graph_build(outputs={"GlobalEventBusName": "choreo-GlobalBus-XYZ",
                                 "WarehouseFunctionName": "choreo-Warehouse-ABC",
                                 "WarehouseQueueUrl": "http://aws/123/choreo-Warehouse.fifo"})
    assert graph.bar.deployed == "choreo-GlobalBus-XYZ"
    assert graph.node("function:Warehouse").deployed == "choreo-Warehouse-ABC"
    assert graph.node("queue:Warehouse").deployed == "choreo-Warehouse.fifo"


def test_the_graph_is_data(graph):
    data = graph.to_dict()
    assert {"nodes", "edges", "connectors", "flights", "areas", "bar"} <= set(data)
    assert all(connector["path"].startswith("M") for connector in data["connectors"])


@pytest.mark.parametrize("deployment", ["legacy", "accounts", "bigger"])
def test_every_deployment_lays_out_without_overlaps_or_lines_through_boxes(deployment):
    model = {"legacy": with_legacy_consumer(CHOREOGRAPHY), "bigger": BIGGER}.get(deployment, CHOREOGRAPHY)
    placements = placements_of(ACCOUNTS) if deployment == "accounts" else None

    graph = graph_build(model, placements=placements)

    _assert_nothing_overlaps(graph)
    test_lines_never_run_through_a_box_they_do_not_join(graph)
    drawn = {node.id for node in graph.nodes}
    assert {f"function:{function.id}" for function in model.functions} <= drawn
    assert {f"queue:{queue.id}" for queue in model.queues} <= drawn
