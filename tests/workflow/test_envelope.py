from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.support import TEST_VAULT as VAULT
from tests.support import eventbridge_event
from workflow.catalogue import version_of
from workflow.domain.order import order_place
from workflow.envelope import (
    InvalidEvent,
    new_event,
    parse_cloudevent,
    parse_eventbridge,
    put_events_entry,
)

REQUEST = {"customerId": "c-1", "items": [{"sku": "MUG-STONEWARE", "quantity": 2}],
           "card": {"number": "4242 4242 4242 4242"}}


def placed():
    return order_place(vault=VAULT, request=REQUEST, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_order_placed_is_a_valid_cloudevent_with_our_attributes():
    body = json.loads(placed().to_json())
    # the SDK reads it back as a CloudEvent 1.0
    event = JSONFormat().read(CloudEvent, json.dumps(body).encode())
    assert event.get_type() == "order.placed"
    assert body["source"] == "order"
    assert body["datacontenttype"] == "application/json"
    assert body["dataschema"] == "urn:choreo:schema:order.placed:1"
    assert body["subject"] == body["data"]["order"]["orderId"]
    assert body["correlationid"]
    assert "causationid" not in body


def test_a_caused_event_carries_correlation_and_causation():
    first = placed()
    reserved = new_event(type="warehouse.stock-reserved", cause=first, data={
        "order": first.order,
        "reservation": {"reservationId": "r", "reservedAt": "2026-01-02T03:04:06+00:00"}})
    assert reserved.correlation_id == first.correlation_id
    assert reserved.causation_id == first.id
    assert reserved.subject == first.subject
    assert reserved.source == "warehouse"


def test_round_trip_through_the_eventbridge_double_envelope():
    event = placed()
    entry = put_events_entry(event, bus_name="choreo-global")
    assert entry["Source"] == "order" and entry["DetailType"] == "order.placed"
    assert parse_eventbridge(eventbridge_event(event)) == event


@pytest.mark.parametrize("mutate, reason", [
    (lambda ce: ce.pop("id"), "lacks id"),
    (lambda ce: ce.pop("time"), "lacks time"),
    (lambda ce: ce.update(dataschema=""), "lacks dataschema"),
    (lambda ce: ce.update(type="order.exploded"), "unknown event type"),
    (lambda ce: ce.update(source="payment"), "comes from order"),
    (lambda ce: ce["data"]["order"].update(total={"amount": 1.5, "currency": "GBP"}), "data invalid"),
    (lambda ce: ce.update(specversion="0.3"), "specversion"),
])
def test_invalid_cloudevents_are_refused_with_a_reason(mutate, reason):
    body = placed().to_dict()
    mutate(body)
    with pytest.raises(InvalidEvent, match=reason):
        parse_cloudevent(json.dumps(body))


MALFORMED_DATASCHEMAS = [
    "urn:choreo:schema:order.placed:1\u00b2",  # a superscript two: str.isdigit(), but no int()
    "urn:choreo:schema:order.placed:\u0661",  # an Arabic-Indic one, which int() reads as 1
    "urn:choreo:schema:order.placed:01", "urn:choreo:schema:order.placed: 1",
    "urn:choreo:schema:order.placed:1\n", "urn:choreo:schema:order.placed:3",
    1, 1.5, True, ["urn:choreo:schema:order.placed:1"], {"version": 1},
]


@pytest.mark.parametrize("dataschema", MALFORMED_DATASCHEMAS)
def test_a_dataschema_that_is_not_exactly_a_published_one_is_refused(dataschema):
    body = placed().to_dict()
    body["dataschema"] = dataschema

    assert version_of(dataschema, "order.placed") is None
    with pytest.raises(InvalidEvent, match="dataschema"):
        parse_cloudevent(json.dumps(body))


@pytest.mark.parametrize("attribute", ["id", "source", "type", "time", "subject", "dataschema",
                                       "correlationid", "causationid", "partitionkey",
                                       "datacontenttype", "specversion"])
@pytest.mark.parametrize("value", [7, 1.5, True, ["x"], {"x": "y"}])
def test_an_attribute_that_is_not_a_string_is_refused(attribute, value):
    body = placed().to_dict()
    body[attribute] = value

    with pytest.raises(InvalidEvent):
        parse_cloudevent(json.dumps(body))


def test_an_envelope_that_disagrees_with_its_cloudevent_is_refused():
    envelope = eventbridge_event(placed())
    envelope["detail-type"] = "payment.taken"
    with pytest.raises(InvalidEvent, match="disagree"):
        parse_eventbridge(envelope)


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"detail": "text"})])
def test_garbage_is_an_invalid_event(body):
    with pytest.raises(InvalidEvent):
        parse_eventbridge(body)


def test_json_nested_deeper_than_a_parser_recurses_is_an_invalid_event():
    """Python's JSON parser recurses once a level and gives up (RecursionError) near a thousand."""
    cloudevent = placed().to_json()
    deep = cloudevent[:-1] + ', "nested": ' + "[" * 5000 + "]" * 5000 + "}"
    envelope = json.dumps(eventbridge_event(placed()))
    deep_envelope = envelope[:-1] + ', "nested": ' + "[" * 5000 + "]" * 5000 + "}"

    with pytest.raises(InvalidEvent, match="nested deeper"):
        parse_cloudevent(deep)
    with pytest.raises(InvalidEvent, match="nested deeper"):
        parse_eventbridge(deep_envelope)


def test_new_event_validates_before_it_exists():
    with pytest.raises(ValueError, match="data invalid"):
        new_event(type="warehouse.stock-reserved", cause=placed(), data={"order": placed().order})
