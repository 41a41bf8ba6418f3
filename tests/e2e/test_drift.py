"""Drift against the running system: events put through EventBridge's API on a bus where no
route of the model takes them, and an event caused by one the model has no reaction to it for,
are named on `/api/drift` within the drift period, as they flow; the event source mappings the
system deployed are the model's."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from dashboard.insight.drift import DEPLOYED_SECONDS
from tests.dashboard import factories
from tests.e2e.conftest import RunningSystem, place, wait_status
from tests.e2e.test_dashboard import Dashboard, dashboard  # noqa: F401  (the fixture)
from tests.support import eventually
from workflow.envelope import Event, new_event, parse_cloudevent, put_events_entry
from workflow.model import CHOREOGRAPHY, Bus
from workflow.outputs import bus_name, queue_url

pytestmark = pytest.mark.e2e


def drift(url: str) -> dict[str, Any]:
    response = requests.get(f"{url}/api/drift", timeout=30)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def placed_event(url: str, order_id: str) -> Event:
    """The order.placed the system published for an order, as the dashboard observed it."""
    def placed(response: requests.Response) -> list[dict[str, Any]]:
        return [item["event"] for item in response.json()["events"]
                if item["event"]["type"] == "order.placed"] if response.ok else []

    # Events reach the dashboard in any order, so the order's row can come before its placing;
    # and a long poll left open by a dashboard an earlier test stopped can take an event and
    # hand it to a closed connection, as SQS can: it comes back after the observability
    # queue's visibility timeout (30 s).
    trace = eventually(lambda: requests.get(f"{url}/api/orders/{order_id}", timeout=10),
                       until=lambda response: len(placed(response)) == 1, timeout=75,
                       message=f"the dashboard to observe order {order_id} placed")
    return parse_cloudevent(placed(trace)[0])


def test_events_into_the_void_and_an_undeclared_link_are_named_on_the_drift_api(
        running_system: RunningSystem, dashboard: Dashboard) -> None:  # noqa: F811
    response = place(running_system, [{"sku": "MUG-STONEWARE", "quantity": 1}],
                     customer="e2e-drift")
    assert response.status_code == 202, response.text
    order_id = response.json()["orderId"]
    assert wait_status(running_system, order_id, {"shipped"}) == "shipped"
    placed = placed_event(dashboard.url, order_id)
    _, reserved, *_ = factories.happy_path(order_id=order_id)
    cancelled = factories.declined_path(order_id=order_id)[-1]
    # warehouse.stock-reserved on the loyalty bus: no route of the model takes it there
    into_the_void = new_event(type="warehouse.stock-reserved", cause=placed,
                              data={**reserved.data, "order": placed.data["order"]})
    # order.cancelled straight after order.placed: no reaction of the model does that (and
    # on the loyalty bus nothing delivers it: an ending needs no route, so it is no void)
    skipping = new_event(type="order.cancelled", cause=placed,
                         data={**cancelled.data, "order": placed.data["order"]})
    loyalty_bus = running_system.outputs[bus_name(Bus.LOYALTY)]
    answer = running_system.client("events").put_events(Entries=[
        put_events_entry(event, bus_name=loyalty_bus) for event in (into_the_void, skipping)])
    assert answer["FailedEntryCount"] == 0, answer

    def named(found: dict[str, Any]) -> bool:
        return any(item["type"] == "warehouse.stock-reserved" and item["bus"] == "loyalty"
                   for item in found["unroutedEvents"]) and \
            any(item["latestEventId"] == skipping.id for item in found["undeclaredLinks"])

    found = eventually(lambda: drift(dashboard.url), until=named, timeout=DEPLOYED_SECONDS,
                       interval=0.5, message="drift to name the void and the link")
    [void] = [item for item in found["unroutedEvents"] if item["type"] == "warehouse.stock-reserved"]
    assert (void["bus"], void["source"], void["latestEventId"], void["latestOrderId"]) == (
        "loyalty", "warehouse", into_the_void.id, order_id)
    [link] = [item for item in found["undeclaredLinks"] if item["latestEventId"] == skipping.id]
    assert (link["causeType"], link["type"], link["source"]) == (
        "order.placed", "order.cancelled", "order")
    assert not found["clean"]
    # the event source mappings the local system deployed are the model's: one a queue, each
    # queue named by the outputs, so that each was checked
    deployed = running_system.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert len(deployed) == len(CHOREOGRAPHY.queues)
    assert all(queue_url(queue.id) in running_system.outputs for queue in CHOREOGRAPHY.queues)
    assert found["eventSourceMappings"] == [], found["eventSourceMappings"]
    assert not any("mappings" in problem for problem in found["problems"]), found["problems"]
    count = requests.get(f"{dashboard.url}/api/drift/count", timeout=30).json()
    assert count["unroutedEvents"] >= 1 and count["undeclaredLinks"] >= 1
    # the model's own traffic of that order is none of it
    assert all(item["latestOrderId"] != order_id or item["type"] == "warehouse.stock-reserved"
               for item in found["unroutedEvents"])
