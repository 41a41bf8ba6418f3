"""The read model: idempotent by event id, one row per event whatever the buses, order status
derived from the events that end it, hop latency however the events arrive."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.models import ObservedEvent, Order, OrderStatus, Sighting
from dashboard.readmodel import selectors, services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories
from workflow.domain.order import TERMINAL_STATUSES
from workflow.model import CHOREOGRAPHY

pytestmark = pytest.mark.django_db


def test_a_happy_path_makes_one_shipped_order_with_every_hop_timed():
    events = factories.happy_path(order_id="ord-happy", customer_id="alice")

    items = services.observation_record(observations=factories.sightings_of(events))

    order = Order.objects.get(order_id="ord-happy")
    assert order.status == OrderStatus.SHIPPED
    assert order.customer_id == "alice"
    assert order.correlation_id == events[0].correlation_id
    assert order.event_count == 5
    assert order.placed_at == events[0].time
    assert order.concluded_at == events[-1].time
    assert order.duration_ms == 160.0
    assert (order.total_amount, order.currency) == (2400, "GBP")
    rows = {row.type: row for row in ObservedEvent.objects.all()}
    assert rows["order.placed"].hop_latency_ms is None
    assert rows["warehouse.order-shipped"].cause_type == "loyalty.points-awarded"
    assert {row.hop_latency_ms for t, row in rows.items() if t != "order.placed"} == {40.0}
    assert rows["order.placed"].observed_lag_ms == 5.0
    # seven sightings (two events cross between buses), each new, each a websocket item
    assert len(items) == 7
    assert items[-1]["orderStatus"] == "shipped"
    assert items[0]["event"]["type"] == "order.placed"


def test_recording_the_same_observations_again_changes_nothing():
    observations = factories.sightings_of(factories.happy_path(order_id="ord-twice"))
    services.observation_record(observations=observations)

    again = services.observation_record(observations=observations)

    assert again == []
    assert ObservedEvent.objects.count() == 5
    assert Sighting.objects.count() == 7
    assert Order.objects.get(order_id="ord-twice").event_count == 5


def test_an_event_seen_on_two_buses_is_one_event_with_both_buses():
    taken = factories.happy_path(order_id="ord-buses")[2]

    first = services.observation_record(observations=[factories.observe(taken, "global")])
    second = services.observation_record(observations=[factories.observe(taken, "loyalty")])

    row = ObservedEvent.objects.get(event_id=taken.id)
    assert row.buses == ["global", "loyalty"]
    assert [item["bus"] for item in first + second] == ["global", "loyalty"]
    assert second[0]["buses"] == ["global", "loyalty"]
    assert Order.objects.get(order_id="ord-buses").event_count == 1


def test_duplicates_within_one_batch_are_recorded_once():
    placed = factories.placed(order_id="ord-dup")

    items = services.observation_record(observations=[factories.observe(placed),
                                                      factories.observe(placed)])

    assert len(items) == 1
    assert Order.objects.get(order_id="ord-dup").event_count == 1


def test_out_of_order_arrival_reaches_the_same_state():
    events = factories.happy_path(order_id="ord-late")

    for event in reversed(events):
        services.observation_record(observations=[factories.observe(event)])

    order = Order.objects.get(order_id="ord-late")
    assert order.status == OrderStatus.SHIPPED
    assert order.placed_at == events[0].time
    assert order.duration_ms == 160.0
    assert order.last_event_type == "warehouse.order-shipped"
    latencies = ObservedEvent.objects.exclude(type="order.placed").values_list("hop_latency_ms", flat=True)
    assert set(latencies) == {40.0}


@pytest.mark.parametrize(("path", "status"), [(factories.declined_path, OrderStatus.CANCELLED),
                                              (factories.rejected_path, OrderStatus.REJECTED)])
def test_compensated_orders_end_cancelled_or_rejected(path, status):
    events = path(order_id="ord-unhappy")

    services.observation_record(observations=[factories.observe(e) for e in events])

    order = Order.objects.get(order_id="ord-unhappy")
    assert order.status == status
    assert order.concluded_at == events[-1].time


def test_an_order_in_flight_stays_placed():
    services.observation_record(observations=[factories.observe(e) for e in
                                              factories.happy_path(order_id="ord-flight")[:3]])

    order = Order.objects.get(order_id="ord-flight")
    assert order.status == OrderStatus.PLACED
    assert order.concluded_at is None and order.duration_ms is None


def test_an_invalid_event_is_kept_with_its_reason_and_changes_no_order():
    placed = factories.placed(order_id="ord-bad")
    now = datetime.now(UTC)
    broken = observation_from_queue_body(factories.queue_body(factories.schema_failing(placed)),
                                         observed_at=now, origin="live")
    garbage = observation_from_queue_body("this is not json", observed_at=now, origin="live")

    items = services.observation_record(observations=[broken, garbage])

    rows = {row.event_id: row for row in ObservedEvent.objects.all()}
    assert not rows[placed.id].valid and "order.placed data invalid" in rows[placed.id].invalid_reason
    assert rows[placed.id].order_id == "ord-bad"
    assert not rows[garbage.event_id].valid and "not JSON" in rows[garbage.event_id].invalid_reason
    assert not Order.objects.exists()
    assert [item["valid"] for item in items] == [False, False]
    # the same garbage again is the same row, not a new one
    services.observation_record(observations=[observation_from_queue_body(
        "this is not json", observed_at=now, origin="live")])
    assert ObservedEvent.objects.count() == 2


def test_the_terminal_statuses_follow_the_model_and_the_order_subdomain():
    terminal = {event.name for event in CHOREOGRAPHY.events if event.terminal}
    assert set(services.STATUS_BY_TERMINAL_EVENT) == terminal
    assert set(services.STATUS_BY_TERMINAL_EVENT.values()) == set(TERMINAL_STATUSES)


def test_a_trace_puts_each_event_on_a_timeline_from_its_placement():
    events = factories.happy_path(order_id="ord-trace")
    services.observation_record(observations=factories.sightings_of(events))

    trace = selectors.trace_get(order_id="ord-trace")

    assert trace.types == [e.type for e in events]
    assert [item.offset_ms for item in trace.events] == [0.0, 40.0, 80.0, 120.0, 160.0]
    assert [item.start_ms for item in trace.events] == [0.0, 0.0, 40.0, 80.0, 120.0]
    assert trace.span_ms == 160.0
    assert ("payment.taken", "loyalty") in trace.sightings


def test_clearing_forgets_everything():
    services.observation_record(observations=factories.sightings_of(factories.happy_path()))

    assert services.read_model_clear() == (5, 1)
    assert not ObservedEvent.objects.exists() and not Sighting.objects.exists()
