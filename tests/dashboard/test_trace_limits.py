"""A trace's cost does not grow with its subject: anyone may publish under any subject, so a
trace loads at most DASHBOARD_TRACE_EVENTS events (the first half observed and the newest
half) and says how many there are in all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.models import ObservedEvent
from dashboard.readmodel import selectors, services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories

pytestmark = pytest.mark.django_db


def crowd(order_id: str, extra: int) -> tuple[list, list]:
    """An order's happy path, then `extra` more events published under its subject, a second
    apart (every fifth one invalid)."""
    path = factories.happy_path(order_id=order_id)
    services.observation_record(observations=factories.sightings_of(path))
    flood = [factories.placed(order_id=order_id, at=factories.T0 + timedelta(seconds=1 + index))
             for index in range(extra)]
    observations = [factories.observe(event) for event in flood]
    for index in range(0, extra, 5):
        event = flood[index]
        observations[index] = observation_from_queue_body(
            factories.queue_body(factories.schema_failing(event)),
            observed_at=event.time + timedelta(milliseconds=5), origin="live")
    services.observation_record(observations=observations)
    return path, flood


def test_a_crowded_trace_shows_how_it_began_and_where_it_is_now(client, stack, settings):
    settings.DASHBOARD_TRACE_EVENTS = 10
    path, flood = crowd("ord-crowded", 60)

    html = client.get("/orders/ord-crowded").content.decode()
    body = client.get("/api/orders/ord-crowded").json()

    assert html.count("<details class=\"span\"") + html.count("<details class=\"notification\">") <= 10
    assert "Trace truncated: this order has 65 events" in html
    assert "the first 5 and the newest 5 observed" in html
    assert "65 in all" in html
    for event_type in ("order.placed", "warehouse.stock-reserved", "warehouse.order-shipped"):
        assert f">{event_type}<" in html
    assert (body["eventCount"], body["truncated"]) == (65, True)
    assert len(body["events"]) + len(body["invalid"]) == 10
    shown = {e["event"]["id"] for e in body["events"]} | {e["eventId"] for e in body["invalid"]}
    assert {event.id for event in path} <= shown  # how it began
    assert {event.id for event in flood[-5:]} <= shown  # where it is now
    assert body["status"] == "shipped"


def test_an_ordinary_trace_is_whole_and_says_nothing_of_truncation(client, stack, settings):
    settings.DASHBOARD_TRACE_EVENTS = 10
    crowd("ord-calm", 0)

    html = client.get("/orders/ord-calm").content.decode()
    body = client.get("/api/orders/ord-calm").json()

    assert "truncated" not in html.lower()
    assert (body["eventCount"], body["truncated"], len(body["events"])) == (5, False, 5)


def test_a_traces_queries_read_the_same_few_rows_whatever_the_subjects_size(stack, settings):
    settings.DASHBOARD_TRACE_EVENTS = 10
    crowd("ord-small", 20)
    crowd("ord-large", 200)

    def queries(order_id: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            trace = selectors.trace_get(order_id=order_id)
        assert len(trace.events) + len(trace.invalid) == 10
        return [query["sql"] for query in captured.captured_queries]

    small, large = queries("ord-small"), queries("ord-large")

    assert len(small) == len(large)
    for sql in large:
        if '"dashboard_observedevent"' in sql:
            assert " LIMIT " in sql or "COUNT(" in sql, sql


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans")
def test_a_traces_queries_are_index_ranges():
    subject = ObservedEvent.objects.filter(order_id="ord-any")
    for query in (subject.order_by("observed_at", "id")[:11],
                  subject.order_by("-observed_at", "-id")[:5]):
        plan = query.explain()
        assert "event_order_seen" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
