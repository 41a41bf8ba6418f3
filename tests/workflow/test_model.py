from __future__ import annotations

import re

import pytest

from workflow.catalogue import SCHEMAS, schema_document
from workflow.model import (
    CHOREOGRAPHY,
    ORDER_OUTBOX_QUEUE,
    Bus,
    Queue,
    Subdomain,
    ToBus,
    ToFunction,
    ToQueue,
)


def test_every_route_names_a_catalogued_event_and_a_declared_target():
    names = {event.name for event in CHOREOGRAPHY.events}
    for route in CHOREOGRAPHY.routes:
        assert route.event in names
        if isinstance(route.target, ToQueue):
            CHOREOGRAPHY.queue(route.target.queue)
        if isinstance(route.target, ToFunction):
            CHOREOGRAPHY.function(route.target.function)


def test_the_happy_path_is_connected_hop_by_hop():
    path = CHOREOGRAPHY.happy_path
    assert path[0] == "order.placed" and path[-1] == "warehouse.order-shipped"
    for event in path[:-1]:
        assert CHOREOGRAPHY.consumers_of(event), f"nobody consumes {event}"


def test_payment_crosses_into_the_loyalty_bus_and_points_come_back():
    forwards = {(r.event, r.bus, r.target.bus) for r in CHOREOGRAPHY.routes
                if isinstance(r.target, ToBus)}
    assert ("payment.taken", Bus.GLOBAL, Bus.LOYALTY) in forwards
    assert ("loyalty.points-awarded", Bus.LOYALTY, Bus.GLOBAL) in forwards
    assert CHOREOGRAPHY.consumers_of("payment.taken") == ("Loyalty",)


def test_rule_ids_are_unique():
    ids = [route.rule_id for route in CHOREOGRAPHY.routes]
    assert len(ids) == len(set(ids))


def test_every_event_has_a_versioned_schema_document():
    for event in CHOREOGRAPHY.events:
        document = schema_document(event.name)
        assert document["$id"] == event.dataschema
        assert document["$id"].endswith(f":{event.version}")
        assert SCHEMAS[event.name]["required"][0] == "order"


def test_every_event_has_one_publisher_in_its_producing_subdomain():
    """One function decides each event; an outbox relay only publishes what it decided."""
    for event in CHOREOGRAPHY.events:
        [publisher] = [f for f in CHOREOGRAPHY.publishers_of(event.name) if f.relay_for is None]
        assert publisher.subdomain == event.producer, event.name


def test_terminal_events_name_the_order_status_they_end_with():
    assert {e.name: e.concludes_as for e in CHOREOGRAPHY.events if e.terminal} == {
        "warehouse.order-shipped": "shipped", "order.rejected": "rejected",
        "order.cancelled": "cancelled"}


def test_an_outbox_relay_publishes_only_what_the_function_it_relays_decides():
    for relay in (f for f in CHOREOGRAPHY.functions if f.relay_for is not None):
        relayed = CHOREOGRAPHY.function(relay.relay_for)
        assert relay.publishes and set(relay.publishes) <= set(relayed.publishes), relay.id
        assert relay.publishes_to == relayed.publishes_to and relay.subdomain == relayed.subdomain
        assert CHOREOGRAPHY.outbox_queues(relayed.id), f"{relayed.id} cannot ask {relay.id}"
    assert CHOREOGRAPHY.function("OrderRelay").relay_for == "OrderApi"


def test_an_outbox_check_arrives_only_once_the_function_that_asked_cannot_be_running():
    """The relay reads "no order" as "never placed": true only once the invocation that asked
    has finished or been stopped at its timeout, with room to spare."""
    for function in CHOREOGRAPHY.functions:
        for queue in CHOREOGRAPHY.outbox_queues(function.id):
            assert queue.delay_seconds >= 2 * function.timeout_seconds, queue.id
            assert queue.delay_seconds <= 900, queue.id  # SQS holds a message back 15 min at most


def test_what_an_outbox_relay_publishes_again_finds_its_idempotency_records_still_kept():
    """A relay publishes again the event of whatever is still under way at its check: the
    consumers that had it must still remember its id, and absorb the copy at the first step."""
    for function in CHOREOGRAPHY.functions:
        for queue in CHOREOGRAPHY.outbox_queues(function.id):
            assert CHOREOGRAPHY.idempotency_window_seconds >= 10 * queue.delay_seconds, queue.id


@pytest.mark.parametrize("changes, refused", [
    ({"batch_size": 11}, "at least 1 s for a batch of more than 10"),
    ({"batch_size": 10_001, "batching_window_seconds": 1}, "from 1 to 10000"),
    ({"fifo": True, "batch_size": 11, "batching_window_seconds": 1}, "from 1 to 10"),
    ({"fifo": True, "batching_window_seconds": 1}, "no batching window (FIFO)"),
    ({"batching_window_seconds": 301}, "0 to 300 s"),
])
def test_a_queue_lambda_would_refuse_to_map_is_refused_by_the_model(changes, refused):
    """As Lambda's CreateEventSourceMapping refuses them (services-sqs-parameters)."""
    with pytest.raises(ValueError, match=re.escape(refused)):
        Queue("Q", Subdomain.ORDER, consumer="OrderEvents", **changes)


def test_the_outbox_checks_are_gathered_a_hundred_at_a_time():
    outbox = CHOREOGRAPHY.queue(ORDER_OUTBOX_QUEUE)
    assert (outbox.batch_size, outbox.batching_window_seconds) == (100, 5)
