"""What the embedded AWS refused shows where a user looks for failures: the Failures page
lists the latest refusals, calls and deliveries, with the reason (the statement that
refused, or that none allowed), and an order's trace shows those of its order."""

from __future__ import annotations

import pytest

from dashboard.readmodel import services
from tests.dashboard import factories

pytestmark = pytest.mark.django_db

CALL = {"kind": "call", "at": 1796522765.0, "action": "events:PutEvents",
        "principal": "arn:aws:sts::123456789012:assumed-role/WarehouseRole/choreo-Warehouse",
        "resource": "arn:aws:events:us-east-1:123456789012:event-bus/choreo-global",
        "statement": None, "reason": "User: … is not authorized to perform: events:PutEvents "
                                     "because no identity-based policy allows the "
                                     "events:PutEvents action <script>alert(1)</script>"}
DELIVERY = {"kind": "delivery", "at": 1796522766.0, "code": "NO_PERMISSIONS",
            "rule": "arn:aws:events:us-east-1:123456789012:rule/choreo-global/ruleForRefusalTest",
            "target": "arn:aws:sqs:us-east-1:123456789012:choreo-Payment", "deadLettered": True,
            "reason": "the queue policy of choreo-Payment does not allow EventBridge sqs:SendMessage"}


def test_the_failures_page_lists_what_the_embedded_aws_refused(client, stack, order_api):
    order_api.with_chaos().stats["refusedDeliveries"] = {
        "count": 2, "dropped": 0,
        "latest": [{**CALL, "correlationid": "c-1"}, {**DELIVERY, "correlationid": "c-2"}]}

    html = client.get("/failures/").content.decode()

    assert "Refused as AWS would" in html
    assert "because no identity-based policy allows the events:PutEvents action" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "NO_PERMISSIONS" in html and "choreo-Payment" in html and "dead-lettered" in html
    assert "/search/?correlationid=c-2" in html
    # newest first
    assert html.index("ruleForRefusalTest") < html.index("WarehouseRole")


def test_the_failures_page_says_when_nothing_was_refused_and_hides_where_nothing_can_be(
        client, stack, order_api):
    assert "Refused as AWS would" not in client.get("/failures/").content.decode()
    order_api.with_chaos().stats["refusedDeliveries"] = {"count": 0, "dropped": 0, "latest": []}
    assert "Nothing refused" in client.get("/failures/").content.decode()


def test_a_trace_shows_the_refusals_of_its_order_only(client, stack, order_api):
    events = factories.happy_path(order_id="ord-refused")[:2]
    services.observation_record(observations=factories.sightings_of(events))
    mine = events[0].correlation_id
    order_api.with_chaos().stats["refusedDeliveries"] = {
        "count": 2, "dropped": 0,
        "latest": [{**CALL, "correlationid": mine}, {**DELIVERY, "correlationid": "another"}]}

    html = client.get("/orders/ord-refused").content.decode()

    assert "Refused as AWS would" in html and "WarehouseRole" in html
    assert "ruleForRefusalTest" not in html
    # an order with none has no such panel
    other = factories.happy_path(order_id="ord-fine")[:1]
    services.observation_record(observations=factories.sightings_of(other))
    assert "Refused as AWS would" not in client.get("/orders/ord-fine").content.decode()
