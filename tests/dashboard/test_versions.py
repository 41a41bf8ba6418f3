"""Event versions on the dashboard: each route's events by version, minute by minute, kept as
events are recorded, read against counts worked out by hand; and each event's version on the
trace, in the live feed and on the versions page."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.insight import versions
from dashboard.models import RouteVersionMinute
from dashboard.readmodel import services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories
from workflow.envelope import Event
from workflow.model import CHOREOGRAPHY, NOTIFICATIONS, Bus, Route, ToNotification
from workflow.versions import written_as

pytestmark = pytest.mark.django_db

MINUTE = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PLACED_ROUTE = "OrderPlacedToWarehouse"
RESERVED_ROUTE = "WarehouseStockReservedToPayment"
NOW = MINUTE + timedelta(minutes=2, seconds=30)


def placed_in(version: int, minute: int, second: int) -> Event:
    at = MINUTE + timedelta(minutes=minute, seconds=second)
    event = factories.placed(order_id=f"ord-m{minute}s{second:02}", at=at)
    return written_as(event, version)


def the_switch() -> list[Event]:
    """Minute 0: six orders in version 1; minute 1: three in version 1 and three in version 2
    (the producer switched); minute 2: five in version 2."""
    return ([placed_in(1, 0, s) for s in range(6)]
            + [placed_in(1, 1, s) for s in range(3)] + [placed_in(2, 1, 10 + s) for s in range(3)]
            + [placed_in(2, 2, s) for s in range(5)])


def record(events: list[Event], **kwargs: object) -> None:
    services.observation_record(observations=factories.sightings_of(events), **kwargs)


def counts(route: versions.RouteVersions) -> list[dict[int, int]]:
    return [counts for _, counts in route.minutes if counts]


def shares(**kwargs: object) -> dict[str, versions.RouteVersions]:
    return {route.key: route for route in versions.version_shares(now=NOW, **kwargs).routes}


def test_each_route_counts_its_events_by_version_minute_by_minute():
    record(the_switch())

    placed = shares()[PLACED_ROUTE]

    assert placed.versions == (1, 2)
    assert counts(placed) == [{1: 6}, {1: 3, 2: 3}, {2: 5}]
    assert placed.totals == {1: 9, 2: 8}
    assert placed.share(1) == pytest.approx(9 / 17) and placed.share(2) == pytest.approx(8 / 17)
    assert placed.last_seen == {1: MINUTE + timedelta(minutes=1), 2: MINUTE + timedelta(minutes=2)}
    assert placed.latest_minute == (MINUTE + timedelta(minutes=2), {2: 5})
    # a route whose type has one version, and saw nothing
    reserved = shares()[RESERVED_ROUTE]
    assert (reserved.versions, reserved.events, reserved.share(1)) == ((1,), 0, None)


def test_an_event_recorded_twice_counts_once_and_a_rebuild_gives_the_same_rows():
    events = the_switch()
    record(events)
    record(events)
    before = sorted(RouteVersionMinute.objects.values_list("route", "version", "minute", "events"))

    services.read_model_clear()
    assert not RouteVersionMinute.objects.exists()
    record(list(reversed(events)))

    after = sorted(RouteVersionMinute.objects.values_list("route", "version", "minute", "events"))
    assert after == before
    assert (PLACED_ROUTE, 2, MINUTE + timedelta(minutes=2), 5) in after


def test_an_invalid_event_counts_for_no_version():
    broken = factories.schema_failing(placed_in(2, 0, 1))
    services.observation_record(observations=[observation_from_queue_body(
        factories.queue_body(broken), observed_at=MINUTE, origin="live")])
    record([placed_in(2, 0, 2)])

    assert services.ObservedEvent.objects.filter(valid=False).count() == 1

    assert counts(shares()[PLACED_ROUTE]) == [{2: 1}]


def test_a_route_the_model_gains_shows_its_versions():
    extra = Route("order.placed", Bus.GLOBAL, ToNotification(NOTIFICATIONS))
    model = dataclasses.replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes, extra))
    record(the_switch(), model=model)

    found = shares(model=model)[extra.rule_id]

    assert found.route == extra
    assert counts(found) == [{1: 6}, {1: 3, 2: 3}, {2: 5}]


def test_the_page_shows_each_route_s_share_of_each_version(client, monkeypatch):
    record(the_switch())
    monkeypatch.setattr(versions.timezone, "now", lambda: NOW)

    page = client.get("/versions/").content.decode()

    row = page[page.index(f'data-route="{PLACED_ROUTE}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-version="1" data-count="9"' in row and "52.9%" in row
    assert 'data-version="2" data-count="8"' in row and "47.1%" in row
    assert "last 09:31" in row and "last 09:32" in row
    # one column per version per minute that saw it: 1 + 2 + 1
    assert row.count('<rect class="version-1"') == 2 and row.count('<rect class="version-2"') == 2
    partial = client.get("/versions/?partial=1").content.decode()
    assert "<html" not in partial and f'data-route="{PLACED_ROUTE}"' in partial


def test_the_json_gives_the_same_figures(client, monkeypatch):
    record(the_switch())
    monkeypatch.setattr(versions.timezone, "now", lambda: NOW)

    body = json.loads(client.get("/api/versions").content)

    [placed] = [route for route in body["routes"] if route["rule"] == PLACED_ROUTE]
    assert placed["events"] == 17
    assert placed["versions"]["1"] == {"events": 9, "share": round(9 / 17, 4),
                                       "lastSeen": "2026-11-27T09:31:00+00:00"}
    assert placed["versions"]["2"]["events"] == 8
    assert [m["versions"] for m in placed["minutes"]] == [{"1": 6}, {"1": 3, "2": 3}, {"2": 5}]


def test_the_trace_and_the_feed_show_each_event_s_version(client):
    version_2 = placed_in(2, 0, 1)
    items = services.observation_record(observations=factories.sightings_of([version_2]))

    assert items[0]["version"] == 2
    assert items[0]["dataschema"] == "urn:choreo:schema:order.placed:2"
    trace = client.get(f"/orders/{version_2.subject}").content.decode()
    assert 'data-version="2"' in trace and ">v2</span>" in trace
    live = client.get("/").content.decode()
    assert 'data-version="2"' in live


def test_the_catalogue_shows_both_versions_side_by_side_with_what_changed(client):
    page = client.get("/catalogue/events/order.placed").content.decode()

    section = page[page.index("data-versions>"):page.index('aria-labelledby="schema-title"')]
    first = section[section.index('data-schema-version="1"'):section.index('data-schema-version="2"')]
    second = section[section.index('data-schema-version="2"'):]
    assert "urn:choreo:schema:order.placed:1" in first and "the first version" in first
    assert "urn:choreo:schema:order.placed:2" in second
    assert 'data-compatibility="breaking"' in second
    assert "<code>data.order.total.amount: integer, required</code>" in second  # removed
    assert "<code>data.order.total.value: string, required</code>" in second  # added
    assert "&quot;value&quot;: &quot;24.00&quot;" in second  # its example
    # a type with one version has no such section
    reserved = client.get("/catalogue/events/warehouse.stock-reserved").content.decode()
    assert "data-versions>" not in reserved


def test_an_event_claiming_another_published_version_is_told_which(client):
    url = "/catalogue/events/order.placed?dataschema=urn:choreo:schema:order.placed:2"

    page = client.get(url).content.decode()

    assert 'data-claimed="other-version"' in page and "version 2 of order.placed" in page


def test_an_order_placed_in_version_2_has_its_total_in_the_orders_list():
    version_1 = factories.placed(order_id="ord-total", at=MINUTE)
    record([written_as(version_1, 2)])

    order = services.Order.objects.get(order_id="ord-total")
    assert (order.total_amount, order.currency) == (version_1.order["total"]["amount"],
                                                     version_1.order["total"]["currency"])
