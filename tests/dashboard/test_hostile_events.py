"""Anyone who may put events on a bus can put anything there. No one event breaks a page, and
no one event keeps the rest of its batch from the read model."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.db import connections
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings

from dashboard.asgi import application
from dashboard.live.broadcast import events_observed
from dashboard.models import ObservedEvent, Order
from dashboard.readmodel import observations, services
from dashboard.readmodel.observability import ObservabilityPoller
from dashboard.readmodel.observations import (
    Observation,
    observation_from_log_message,
    observation_from_queue_body,
)
from dashboard.readmodel.search_terms import data_terms
from tests.dashboard import factories
from tests.hostile import hostile_cloudevents
from workflow.envelope import parse_eventbridge

pytestmark = pytest.mark.django_db

SLASHED = "shop/ord-7?x=<b>1</b>#top"
"""An order id (a CloudEvent subject) that is not one path segment, nor safe as HTML."""


def invalid(event: dict[str, Any], *, observed_at: datetime | None = None) -> Observation:
    return observation_from_queue_body(factories.queue_body(event),
                                       observed_at=observed_at or datetime.now(UTC), origin="live")


def trace_url(order_id: str) -> str:
    """Where a page links an order's trace: the id as one percent-encoded path segment."""
    return "/orders/" + quote(order_id, safe="")


def test_an_order_id_with_a_slash_is_shown_escaped_on_every_page_and_its_trace_is_linked(client, stack):
    events = factories.happy_path(order_id=SLASHED)
    refused = factories.schema_failing(factories.placed(order_id=SLASHED))
    services.observation_record(observations=[*factories.sightings_of(events), invalid(refused)])

    for url in ("/", "/orders/", "/failures/"):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 200, url
        assert escape(SLASHED) in html and "<b>1</b>" not in html, url
        assert f'href="{trace_url(SLASHED)}"' in html, url

    trace = client.get(trace_url(SLASHED))
    html = trace.content.decode()
    assert trace.status_code == 200
    assert escape(SLASHED) in html and ">warehouse.order-shipped<" in html
    json_url = "/api/orders/" + quote(SLASHED, safe="")
    assert f'href="{json_url}"' in html
    assert client.get(json_url).json()["orderId"] == SLASHED


def test_an_order_url_with_a_nul_is_not_found(client, stack):
    """No order id holds a NUL, and PostgreSQL refuses one even in a query."""
    assert client.get("/orders/%00").status_code == 404
    assert client.get("/api/orders/ord%00").status_code == 404


@pytest.mark.parametrize("url", [
    "/search/?type=%00", "/search/?customer=a%00b", "/search/?data.order.orderId=%00",
    "/search/?q=type%3D%00", "/orders/compare?a=%00", "/orders/compare?a=ord-1&b=%00",
    "/orders/?status=%00", "/catalogue/events/order.placed?dataschema=%00", "/api/routes?window=%00",
])
def test_a_nul_in_a_query_string_is_a_bad_request_on_every_page(client, stack, url):
    """PostgreSQL refuses a NUL in any text, a query's included: no value a page takes holds one."""
    response = client.get(url)

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_an_order_id_with_a_slash_has_its_own_stream():
    communicator = WebsocketCommunicator(application, "/ws/orders/" + quote(SLASHED, safe=""),
                                         headers=[(b"origin", b"http://127.0.0.1:8000")])
    accepted, _ = await communicator.connect()
    assert accepted
    try:
        await events_observed([{"eventId": "e1", "orderId": SLASHED}, {"eventId": "e2", "orderId": "x"}])
        frame = await communicator.receive_json_from(timeout=2)
        assert [item["eventId"] for item in frame["events"]] == ["e1"]
    finally:
        await communicator.disconnect()


def test_the_newest_order_is_the_one_seen_last_whatever_time_its_events_claim(client, stack):
    far_ahead = factories.placed(order_id="ord-from-2999", at=datetime(2999, 1, 1, tzinfo=UTC))
    services.observation_record(observations=[factories.observe(far_ahead, observed_at=factories.T0)])
    later = factories.happy_path(order_id="ord-seen-later", at=factories.T0 + timedelta(minutes=1))
    services.observation_record(observations=factories.sightings_of(later))

    recent = re.findall(r'data-order="([^"]+)"', client.get("/").content.decode())
    listed = client.get("/orders/").content.decode()

    assert recent == ["ord-seen-later", "ord-from-2999"]
    assert listed.index("ord-seen-later") < listed.index("ord-from-2999")
    assert "2999-01-01 00:00:00" in listed  # the time it claims is still shown, as claimed


def test_the_trace_of_an_order_seen_only_through_invalid_events_shows_them(client, stack):
    services.observation_record(observations=[
        invalid(factories.schema_failing(factories.placed(order_id="ord-only-invalid")))])

    page = client.get("/orders/ord-only-invalid")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Invalid events" in html and "order.placed data invalid" in html
    assert "0 + 1 invalid" in html


def _placed(order_id: str, change: Callable[[dict[str, Any]], object]) -> str:
    """An order.placed as EventBridge delivers it, changed, as JSON text."""
    outer = factories.envelope(factories.placed(order_id=order_id))
    change(outer)
    return json.dumps(outer)


def _nested(order_id: str, depth: int) -> str:
    """JSON text nested too deep for Python to build or encode: written out by hand."""
    text = _placed(order_id, lambda outer: None)
    return text[:-1] + ', "nested": ' + "[" * depth + "]" * depth + "}"


UNKEEPABLE: dict[str, Callable[[], str]] = {
    observations.NUL: lambda: _placed("ord-nul", lambda outer: outer["detail"]["data"]["order"]
                                      .update(customerId="alice\u0000")),
    observations.TOO_DEEP: lambda: _nested("ord-deep", 2000),
    observations.LONE_SURROGATE: lambda: _placed("ord-surrogate", lambda outer: outer["detail"]
                                                 ["data"]["order"].update(customerId="\ud800")),
    observations.NOT_FINITE: lambda: _placed("ord-infinite", lambda outer: outer["detail"]
                                             .update(weight=float("inf"))),
    observations.TIME_OUT_OF_RANGE: lambda: _placed("ord-9999", lambda outer: outer["detail"]
                                                    .update(time="9999-12-31T23:59:59-01:00")),
}
"""EventBridge events that no database of the read model keeps as they came, as JSON text, by
the reason each is kept invalid for. Each is a valid order.placed but for what it is named by."""


UNFORESEEN = "unreadable: RecursionError: maximum recursion depth exceeded"
"""Why an event whose reading fails as nobody foresaw is kept invalid (`reading_fails_unforeseen`)."""

HOSTILE: dict[str, Callable[[], str]] = {
    **UNKEEPABLE,
    "unsupported dataschema 'urn:choreo:schema:order.placed:1\u00b2'": lambda: _placed(
        "ord-superscript", lambda outer: outer["detail"].update(
            dataschema="urn:choreo:schema:order.placed:1\u00b2")),
    "CloudEvent dataschema must be a string": lambda: _placed(
        "ord-schema-number", lambda outer: outer["detail"].update(dataschema=1)),
    UNFORESEEN: lambda: _placed("ord-unforeseen", lambda outer: None),
}
"""UNKEEPABLE, and events that validation refuses or that fail it, by the reason each is kept
invalid for."""


@pytest.fixture
def reading_fails_unforeseen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading ord-unforeseen's events fails in a way no validation foresaw: what keeps its
    batch going is the guard around reading each event, not a check of what it holds."""
    def parse_or_crash(outer: Any) -> Any:
        detail = outer.get("detail") if isinstance(outer, dict) else None
        if isinstance(detail, dict) and detail.get("subject") == "ord-unforeseen":
            raise RecursionError("maximum recursion depth exceeded")
        return parse_eventbridge(outer)

    monkeypatch.setattr(observations, "parse_eventbridge", parse_or_crash)


def queue_message(eventbridge_event: str) -> str:
    return '{"bus": "global", "event": ' + eventbridge_event + "}"


@pytest.mark.usefixtures("reading_fails_unforeseen")
@pytest.mark.parametrize("reason", list(HOSTILE))
def test_an_event_that_cannot_be_kept_as_it_came_is_kept_invalid_and_its_batch_is_kept(
        client, stack, reason):
    innocent = factories.happy_path(order_id="ord-innocent")
    bodies = [factories.queue_body(event) for event in innocent]
    bodies.insert(2, queue_message(HOSTILE[reason]()))

    services.observation_record(observations=[
        observation_from_queue_body(body, observed_at=datetime.now(UTC), origin="live")
        for body in bodies])

    assert Order.objects.get(order_id="ord-innocent").status == "shipped"
    assert ObservedEvent.objects.filter(valid=True).count() == 5
    [kept] = ObservedEvent.objects.filter(valid=False)
    assert kept.invalid_reason == reason
    assert not Order.objects.exclude(order_id="ord-innocent").exists()
    failures = client.get("/failures/")
    assert failures.status_code == 200 and escape(reason) in failures.content.decode()
    assert client.get("/").status_code == 200


def test_an_event_the_read_model_fails_to_record_is_kept_invalid_and_its_batch_is_kept(
        client, stack, monkeypatch, caplog):
    """Whatever fails while recording one event (here, reading its data's search terms) fails
    that event alone: it is kept, invalid, with the reason, and the rest of its batch is
    recorded and broadcast."""
    def terms_or_crash(data: Any) -> list[tuple[str, str]]:
        if "ord-unrecordable" in json.dumps(data):
            raise ValueError("no term fits")
        return data_terms(data)

    monkeypatch.setattr(services, "data_terms", terms_or_crash)
    innocent = factories.sightings_of(factories.happy_path(order_id="ord-innocent"))
    unrecordable = factories.observe(factories.placed(order_id="ord-unrecordable"))

    items = services.observation_record(observations=[*innocent[:2], unrecordable, *innocent[2:]])

    assert Order.objects.get(order_id="ord-innocent").status == "shipped"
    assert ObservedEvent.objects.filter(valid=True).count() == 5
    [kept] = ObservedEvent.objects.filter(valid=False)
    assert (kept.event_id, kept.invalid_reason) == (unrecordable.event_id,
                                                    "not recordable: ValueError: no term fits")
    assert sorted(item["eventId"] for item in items) == sorted(
        o.event_id for o in [*innocent, unrecordable])
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ValueError]
    assert client.get("/failures/").status_code == 200


FUZZED = factories.placed(order_id="ord-fuzzed")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cloudevent=hostile_cloudevents(factories.envelope(FUZZED)["detail"]))
def test_no_cloudevent_whatever_its_attributes_hold_fails_the_events_recorded_with_it(cloudevent):
    """Any JSON value in any attribute, on the poller's way in and on the history replay's."""
    outer = {**factories.envelope(FUZZED), "detail": cloudevent}
    innocent = factories.placed()
    now = datetime.now(UTC)

    services.observation_record(observations=[
        factories.observe(innocent),
        observation_from_queue_body(queue_message(json.dumps(outer)), observed_at=now, origin="live"),
        observation_from_log_message(json.dumps(outer), bus="global", observed_at=now,
                                     origin="history")])

    assert ObservedEvent.objects.filter(event_id=innocent.id, valid=True).exists()
    assert Order.objects.filter(order_id=innocent.subject).exists()


def test_a_total_beyond_the_read_models_integers_is_not_kept_but_its_event_counts(client, stack):
    huge = factories.placed(order_id="ord-huge")
    huge.data["order"]["total"]["amount"] = 10**30

    services.observation_record(observations=[factories.observe(huge),
                                              factories.observe(factories.placed(order_id="ord-ok"))])

    assert Order.objects.get(order_id="ord-huge").total_amount is None
    assert Order.objects.get(order_id="ord-ok").total_amount == 2400
    assert client.get("/orders/ord-huge").status_code == 200


@pytest.fixture
async def database_thread_closed():
    """The poller and the async ORM work in Django's one database thread, whose connection
    would otherwise outlive the test (and keep PostgreSQL from dropping the test database)."""
    yield
    await sync_to_async(connections.close_all, thread_sensitive=True)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread_closed", "reading_fails_unforeseen")
@pytest.mark.parametrize("reason", [observations.NUL, observations.TOO_DEEP,
                                    "CloudEvent dataschema must be a string", UNFORESEEN])
async def test_the_poller_keeps_the_innocent_events_of_a_batch_and_dead_letters_nothing(
        moto_stack, reason):
    sqs = moto_stack.sqs
    dead_letters = sqs.create_queue(QueueName=moto_stack.queue_url.rsplit("/", 1)[1] + "-dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=moto_stack.queue_url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": "1"})})
    innocent = [*factories.happy_path(order_id="ord-shipped"),
                *factories.rejected_path(order_id="ord-rejected"), factories.placed(order_id="ord-placed")]
    bodies = [factories.queue_body(event) for event in innocent]
    bodies.insert(4, queue_message(HOSTILE[reason]()))  # nine innocent events and one
    sqs.send_message_batch(QueueUrl=moto_stack.queue_url, Entries=[
        {"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)])
    poller = ObservabilityPoller(sqs=moto_stack.context.client("sqs"), queue_url=moto_stack.queue_url,
                                 broadcaster=None)

    received = 0
    while received < len(bodies):
        received += await poller.poll_once(wait_seconds=1)

    # each message received once, recorded, deleted: none is tried again
    assert (poller.stats.messages, poller.stats.deleted, poller.stats.invalid) == (10, 10, 1)
    statuses = {order.order_id: order.status async for order in Order.objects.all()}
    assert statuses == {"ord-shipped": "shipped", "ord-rejected": "rejected", "ord-placed": "placed"}
    assert [row.invalid_reason async for row in ObservedEvent.objects.filter(valid=False)] == [reason]
    for queue_url in (moto_stack.queue_url, dead_letters):
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        assert sum(int(count) for count in attributes.values()) == 0, queue_url
    sqs.delete_queue(QueueUrl=dead_letters)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reading_fails_unforeseen")
@pytest.mark.parametrize("reason", [observations.NUL, observations.TOO_DEEP,
                                    "unsupported dataschema 'urn:choreo:schema:order.placed:1\u00b2'",
                                    UNFORESEEN])
def test_a_history_rebuild_keeps_the_innocent_events_and_completes(moto_stack, reason):
    logs = moto_stack.logs
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=moto_stack.log_group_name, logStreamName="events")
    messages = [json.dumps(factories.envelope(e)) for e in factories.happy_path(order_id="ord-logged")]
    messages.insert(2, HOSTILE[reason]())
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=moto_stack.log_group_name, logStreamName="events", logEvents=[
        {"timestamp": now + index, "message": message} for index, message in enumerate(messages)])
    output = StringIO()

    call_command("rebuild_history", stdout=output)

    assert "done: 6 events read (6 new, 1 invalid), 1 orders" in output.getvalue()
    assert Order.objects.get(order_id="ord-logged").status == "shipped"
    [kept] = ObservedEvent.objects.filter(valid=False)
    assert kept.invalid_reason == reason
