"""Route health: each route's figures, kept per minute as events are recorded, read over a
window, against values worked out by hand."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from dashboard.insight import routes
from dashboard.live.graph import graph_build
from dashboard.models import RouteMinute
from dashboard.readmodel import route_minutes, services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories
from workflow.envelope import Event, new_event
from workflow.model import CHOREOGRAPHY, NOTIFICATIONS, Bus, Route, ToNotification
from workflow.route_keys import route_keys

pytestmark = pytest.mark.django_db

MINUTE = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PLACED_ROUTE = "OrderPlacedToWarehouse"
RESERVED_ROUTE = "WarehouseStockReservedToPayment"


def reserved_after(placed: Event, latency_ms: float) -> Event:
    reservation = {"reservationId": "res-1", "reservedAt": placed.time.isoformat()}
    return new_event(type="warehouse.stock-reserved", cause=placed,
                     data={"order": placed.data["order"], "reservation": reservation},
                     time=placed.time + timedelta(milliseconds=latency_ms))


def hundred_hops() -> list[Event]:
    """100 orders placed in one minute, each reserved 1, 2, ... 100 ms later."""
    events = []
    for number in range(1, 101):
        placed = factories.placed(order_id=f"ord-{number:03}",
                                  at=MINUTE + timedelta(milliseconds=500 * number))
        events += [placed, reserved_after(placed, number)]
    return events


def record(events: list[Event], **kwargs: object) -> None:
    services.observation_record(observations=factories.sightings_of(events), **kwargs)


def health(window: str, now: datetime, **kwargs: object) -> routes.RouteHealth:
    return routes.route_health(window=window, now=now, **kwargs)


def close(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= expected * route_minutes.PRECISION


def test_a_hundred_hops_of_1_to_100_ms_give_their_percentiles_within_the_stated_precision():
    record(hundred_hops())

    figures = health("1m", MINUTE + timedelta(seconds=59)).get(PLACED_ROUTE)

    assert figures.events == 100
    assert figures.latency_count == 100
    assert figures.mean_ms == pytest.approx(50.5)
    assert close(figures.p50, 50) and close(figures.p95, 95) and close(figures.p99, 99)
    assert figures.p50 < figures.p95 < figures.p99
    assert route_minutes.PRECISION < 0.045
    # the reservations went on to the payment queue: counted there, with no hop measured yet
    reserved = health("1m", MINUTE + timedelta(seconds=59)).get(RESERVED_ROUTE)
    assert (reserved.events, reserved.latency_count, reserved.p50) == (100, 0, None)


def test_the_rate_is_the_events_over_the_seconds_since_the_window_began():
    record(hundred_hops())

    one_minute = health("1m", MINUTE + timedelta(seconds=40)).get(PLACED_ROUTE)
    quarter = health("15m", MINUTE + timedelta(minutes=5, seconds=30)).get(PLACED_ROUTE)

    # the current minute's row holds what it has seen so far (here, looking back, all of
    # 09:30's hundred), over the 40 seconds of it gone by
    assert one_minute.events == 100
    assert one_minute.rate == pytest.approx(100 / 40)
    # 15 minutes ending at 09:35:30 began at 09:21:00: 14 minutes and 30 seconds
    assert quarter.events == 100
    assert quarter.rate == pytest.approx(100 / 870)


def test_windows_include_the_minutes_they_cover_and_no_others():
    record(hundred_hops())
    later = factories.placed(order_id="ord-later", at=MINUTE + timedelta(minutes=20))
    record([later, reserved_after(later, 300)])

    def placed_at(window: str, now: datetime) -> tuple[int, int]:
        figures = health(window, now).get(PLACED_ROUTE)
        return figures.events, figures.latency_count

    at_20 = MINUTE + timedelta(minutes=20, seconds=10)
    assert placed_at("1m", at_20) == (1, 1)
    assert placed_at("15m", at_20) == (1, 1)  # 09:36 to 09:50: the first minute is out
    assert placed_at("1h", at_20) == (101, 101)
    assert placed_at("15m", MINUTE + timedelta(minutes=14, seconds=59)) == (100, 100)
    assert placed_at("15m", MINUTE + timedelta(minutes=15)) == (0, 0)
    assert health("1m", at_20).get(PLACED_ROUTE).p99 == pytest.approx(route_minutes.bin_value(
        route_minutes.latency_bin(300)))


def test_a_window_reads_at_most_sixty_rows_per_route(django_assert_num_queries):
    for minute in range(90):
        placed = factories.placed(order_id=f"ord-m{minute}", at=MINUTE + timedelta(minutes=minute))
        record([placed, reserved_after(placed, 10)])

    assert RouteMinute.objects.filter(route=PLACED_ROUTE).count() == 90
    with django_assert_num_queries(1):
        figures = health("1h", MINUTE + timedelta(minutes=89, seconds=30)).get(PLACED_ROUTE)
    assert figures.events == 60


def test_a_duplicate_delivery_is_counted_once():
    events = hundred_hops()[:20]
    record(events)
    before = health("1h", MINUTE + timedelta(minutes=1)).to_dict()

    record(events)  # the same sightings again, in one batch ...
    for event in events[:4]:  # ... and one by one
        services.observation_record(observations=[factories.observe(event)])

    assert health("1h", MINUTE + timedelta(minutes=1)).to_dict() == before
    assert health("1h", MINUTE + timedelta(minutes=1)).get(PLACED_ROUTE).events == 10


def test_a_hop_is_measured_once_whichever_end_arrives_first():
    placed = factories.placed(order_id="ord-late-cause", at=MINUTE)
    reserved = reserved_after(placed, 70)

    services.observation_record(observations=[factories.observe(reserved)])
    assert health("1m", MINUTE).get(PLACED_ROUTE).latency_count == 0
    services.observation_record(observations=[factories.observe(placed)])
    services.observation_record(observations=[factories.observe(placed), factories.observe(reserved)])

    figures = health("1m", MINUTE).get(PLACED_ROUTE)
    assert (figures.events, figures.latency_count, figures.mean_ms) == (1, 1, 70)


def test_every_route_of_the_happy_path_is_counted_and_each_consumer_hop_measured():
    record(factories.happy_path(order_id="ord-happy"))

    figures = {f.key: f for f in health("1m", factories.T0 + timedelta(seconds=1)).routes}

    passed = {key: f.events for key, f in figures.items() if f.events}
    assert passed == {"OrderPlacedToWarehouse": 1, "WarehouseStockReservedToPayment": 1,
                      "PaymentTakenToLoyaltyBus": 1, "PaymentTakenToLoyalty": 1,
                      "LoyaltyPointsAwardedToGlobalBus": 1, "LoyaltyPointsAwardedToWarehouse": 1,
                      "WarehouseOrderShippedToOrder": 1,
                      "WarehouseOrderShippedToOrderNotifications": 1}
    # each consumer took the factories' 40 ms; forwards and notifications have no hop
    measured = {key: f.mean_ms for key, f in figures.items() if f.latency_count}
    assert measured == {"OrderPlacedToWarehouse": 40.0, "WarehouseStockReservedToPayment": 40.0,
                        "PaymentTakenToLoyalty": 40.0, "LoyaltyPointsAwardedToWarehouse": 40.0}


def test_a_replay_of_the_log_group_after_a_restart_gives_the_same_figures():
    paths = [factories.happy_path(order_id="ord-a"),
             factories.declined_path(order_id="ord-b", at=factories.T0 + timedelta(seconds=3)),
             factories.rejected_path(order_id="ord-c", at=factories.T0 + timedelta(seconds=70))]
    for path in paths:
        record(path)
    now = factories.T0 + timedelta(minutes=2)
    live = health("15m", now).to_dict()

    services.read_model_clear()
    assert RouteMinute.objects.count() == 0
    # the log group holds each event once, as the global bus delivered it, read in any order
    logged = [observation_from_queue_body(factories.queue_body(event), origin="history",
                                          observed_at=now + timedelta(hours=1))
              for path in paths for event in path]
    services.observation_record(observations=logged[::-1])

    assert health("15m", now).to_dict() == live


def test_invalid_events_count_as_failures_of_the_routes_of_their_type():
    placed = factories.placed(order_id="ord-bad", at=MINUTE)
    services.observation_record(observations=[observation_from_queue_body(
        factories.queue_body(factories.schema_failing(placed)), observed_at=MINUTE, origin="live")])

    figures = health("1m", MINUTE + timedelta(seconds=5)).get(PLACED_ROUTE)
    assert (figures.events, figures.invalid, figures.failures) == (1, 1, 1)
    assert figures.dead_letter_queue == "Warehouse"
    with_dead = health("1m", MINUTE + timedelta(seconds=5), dead_letters={"Warehouse": 3, "Payment": 2})
    assert with_dead.get(PLACED_ROUTE).failures == 4
    assert with_dead.get(RESERVED_ROUTE).failures == 2
    assert with_dead.get("PaymentTakenToLoyalty").dead_letter_queue == "LoyaltyFailure"
    assert with_dead.get("PaymentTakenToLoyaltyBus").dead_letter_queue is None


def test_busiest_and_slowest_are_named():
    record(hundred_hops()[:10])
    slow = factories.placed(order_id="ord-slow", at=MINUTE)
    payment = factories.happy_path(order_id="ord-slow-pay", at=MINUTE)
    record([slow])
    record(payment)

    result = health("1m", MINUTE + timedelta(seconds=30))
    assert result.busiest == PLACED_ROUTE  # 5 + 1 + 1 placed, against 1 of anything else
    assert result.slowest == PLACED_ROUTE  # the only hops above 40 ms are its own
    assert health("1m", MINUTE + timedelta(hours=2)).busiest is None


def test_buckets_are_pruned_with_the_read_model():
    record(hundred_hops()[:4])
    record(factories.happy_path(order_id="ord-new", at=MINUTE + timedelta(days=40)))

    services.read_model_prune(before=MINUTE + timedelta(days=10))

    assert not RouteMinute.objects.filter(minute__lt=MINUTE + timedelta(days=10)).exists()
    assert RouteMinute.objects.filter(route=PLACED_ROUTE).count() == 1


def test_a_route_added_to_the_model_gets_its_figures_and_its_edge():
    extra = Route("payment.declined", Bus.GLOBAL, ToNotification(NOTIFICATIONS))
    model = dataclasses.replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes, extra))
    record(factories.declined_path(order_id="ord-declined", at=MINUTE), model=model)

    figures = health("1m", MINUTE + timedelta(seconds=1), model=model).get(extra.rule_id)

    assert extra.rule_id == "PaymentDeclinedToOrderNotifications"
    assert (figures.events, figures.latency_count, figures.dead_letter_queue) == (1, 0, None)
    assert health("1m", MINUTE + timedelta(seconds=1)).get(extra.rule_id) is None
    assert extra.rule_id in {edge.id for edge in graph_build(model=model).edges}
    assert route_keys(model).passes("payment.declined", {"global"}) == (
        "PaymentDeclinedToWarehouse", extra.rule_id)


def test_which_hops_measure_which_route_follows_the_model():
    keys = route_keys()
    assert keys.hops[("order.placed", "warehouse.stock-reserved")] == ("OrderPlacedToWarehouse",)
    assert keys.hops[("payment.taken", "loyalty.points-awarded")] == ("PaymentTakenToLoyalty",)
    assert ("payment.taken", "loyalty.points-awarded") in keys.hop_pairs("PaymentTakenToLoyalty")
    assert keys.hop_pairs("PaymentTakenToLoyaltyBus") == ()
    assert keys.crossed["payment.taken"] == {"global", "loyalty"}
    assert keys.crossed["order.placed"] == {"global"}


def test_the_histogram_bins_are_log_scale_with_stated_bounds():
    assert route_minutes.latency_bin(0.2) == 0 and route_minutes.latency_bin(-5) == 0
    for latency in (1, 1.5, 50, 99, 1000, 123456):
        low, high = route_minutes.bin_bounds(route_minutes.latency_bin(latency))
        assert low <= latency < high
        assert high / low == pytest.approx(2 ** (1 / 8))
    assert routes.percentile({}, 50) is None
    assert routes.percentile({3: 1, 10: 1}, 50) == route_minutes.bin_value(3)
    assert routes.percentile({3: 1, 10: 1}, 51) == route_minutes.bin_value(10)


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def frozen(monkeypatch):
    now = MINUTE + timedelta(seconds=59)
    monkeypatch.setattr(routes, "timezone", SimpleNamespace(now=lambda: now))
    return now


def test_the_routes_json_gives_each_routes_figures_over_the_window(client, stack, frozen):
    record(hundred_hops())

    body = client.get("/api/routes?window=1m").json()

    assert body["window"] == "1m" and body["seconds"] == 59
    by_rule = {route["rule"]: route for route in body["routes"]}
    assert set(by_rule) == {route.rule_id for route in CHOREOGRAPHY.routes}
    placed = by_rule[PLACED_ROUTE]
    assert placed["events"] == 100 and placed["perSecond"] == round(100 / 59, 4)
    assert placed["latency"]["count"] == 100 and placed["latency"]["meanMs"] == 50.5
    assert close(placed["latency"]["p95Ms"], 95)
    assert placed["target"] == {"kind": "queue", "ref": "Warehouse"}
    assert body["busiest"] in {PLACED_ROUTE, RESERVED_ROUTE} and body["slowest"] == PLACED_ROUTE
    assert client.get("/api/routes?window=7y").json()["window"] == "15m"


def test_the_route_page_shows_its_rule_figures_histogram_and_recent_events(client, stack, frozen):
    record(hundred_hops())

    html = client.get(f"/routes/{PLACED_ROUTE}?window=1m").content.decode()

    assert json.dumps({"source": ["order"], "detail-type": ["order.placed"]}, indent=2) \
        .replace('"', "&quot;") in html
    assert 'data-figure="events">100<' in html
    p50 = route_minutes.bin_value(route_minutes.latency_bin(50))  # 50 ms is in bin 46: 2^(45.5/8) = 51.5 ms
    assert p50 == pytest.approx(51.54, abs=0.01)
    assert 'data-figure="p50">52 ms<' in html
    assert html.count('class="bar"') + html.count('class="bar empty-bar"') >= 50
    assert 'data-count="1"' in html
    assert 'data-marker="p50"' in html and "p99 103 ms" in html  # 99 ms is in bin 54: 2^(53.5/8)
    assert 'href="/orders/ord-100"' in html  # the newest event links to its trace
    assert "OrderPlacedToWarehousePartition0" in html  # a FIFO queue's rule per partition
    assert 'style="' not in html
    assert client.get("/routes/NoSuchRoute").status_code == 404
    partial = client.get(f"/routes/{PLACED_ROUTE}?window=1m&partial=1").content.decode()
    assert 'data-figure="events">100<' in partial and "<html" not in partial


def test_a_route_without_a_consumer_says_it_has_no_hop(client, stack, frozen):
    html = client.get("/routes/PaymentTakenToLoyaltyBus").content.decode()
    assert "it has no hop of its own" in html and "no queue of its own" in html


def test_the_live_page_offers_the_window_chooser(client, stack):
    html = client.get("/").content.decode()
    assert 'data-route-window="1m"' in html and 'data-route-window="1h"' in html
    assert "dashboard/js/routes.js" in html
