"""The picture's topology, from the model alone: everything the model has is drawn once,
every link joins two drawn things, and every event type seen on a bus has a way to fly."""

from __future__ import annotations

from workflow.model import CHOREOGRAPHY
from workflow.topology import CUSTOMER, OBSERVABILITY, OUTSIDE, topology


def drawn() -> dict[str, str]:
    found: dict[str, str] = {}
    for row in topology().rows:
        for area, columns in row:
            for column in columns:
                for element in column:
                    if element is not None:
                        assert element.id not in found, f"{element.id} drawn twice"
                        found[element.id] = area
    return found


def test_every_function_queue_and_private_bus_is_drawn_once_in_its_subdomain():
    elements = drawn()
    for function in CHOREOGRAPHY.functions:
        assert elements[f"function:{function.id}"] == function.subdomain.value
    for queue in CHOREOGRAPHY.queues:
        assert elements[f"queue:{queue.id}"] == queue.subdomain.value
    backplane = topology().backplane
    assert f"bus:{backplane}" not in elements  # drawn as the backplane itself
    assert {area for area in elements.values()} == {
        *(s.value for s in CHOREOGRAPHY.subdomains()), OUTSIDE, OBSERVABILITY}


def test_every_link_joins_two_drawn_things_and_every_route_is_one():
    layout = topology()
    ends = {*drawn(), CUSTOMER, f"bus:{layout.backplane}"}
    for link in layout.links:
        assert {link.source, link.target} <= ends, link
    assert {route.rule_id for route in CHOREOGRAPHY.routes} <= {link.id for link in layout.links}


def test_each_event_type_on_a_bus_flies_from_its_publisher_or_arrival_to_each_route():
    layout = topology()
    links = {link.id for link in layout.links}
    for (event, bus), plan in layout.flights.items():
        routes = [route for route in CHOREOGRAPHY.routes_of(event) if route.bus.value == bus]
        assert len(plan.branches) == max(1, len(routes))
        assert plan.lead or plan.starts_at or plan.arrives_by, (event, bus)
        assert {*plan.lead, *(link for branch in plan.branches for link in branch)} <= links
    placed = layout.flights["order.placed", layout.backplane]
    assert placed.lead[0] == f"request:customer:{CHOREOGRAPHY.http_apis[0].id}"
