"""R1-R4: route health with BENCH_ROUTE_EVENTS (100,000) events in the read model, spread over
the last hour (so the one-hour window reads sixty minutes of every route).

- R1 recording: `observation_record` of the events, in the poller's batches, with the routes'
  minutes kept up to date, against the same without them (the read model as it was); two
  turns each, alternating, the faster kept.
- R2 `/api/routes?window=1h`, what the live graph polls, against rendering the orders list
  page (`/orders/`), p50 over BENCH_ROUTE_SAMPLES requests each.
- R3 `/routes/<rule>?window=1h`, a route's page, against the same baseline.
- R4 the figures without the minutes: every route's hop latencies read from the events of the
  last hour and their percentiles computed, against `/api/routes?window=1h` (what the minutes
  save).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bench.common import Result, p50_ms, result
from bench.dashboard_data import (
    GLOBAL_BUS,
    LOYALTY_BUS,
    ON_BOTH_BUSES,
    envelope,
    read_model_ready,
    shipped_order,
)

EVENTS = int(os.environ.get("BENCH_ROUTE_EVENTS", "100000"))
SAMPLES = int(os.environ.get("BENCH_ROUTE_SAMPLES", "50"))
BATCH = 500  # what the poller records at once, at most
ROUTE = "OrderPlacedToWarehouse"


def _bodies(now: datetime) -> list[str]:
    """EVENTS sightings of shipped orders, placed evenly over the last hour, each hop 40 to
    400 ms after its cause."""
    per_order = 5
    orders = max(1, EVENTS // per_order)
    bodies: list[str] = []
    for number in range(orders):
        start = now - timedelta(seconds=3600 * (orders - number) / orders)
        events = shipped_order(f"bench-{number % 500}")
        moment = start
        for index, event in enumerate(events):
            if index:
                moment += timedelta(milliseconds=40 + (number * 7 + index * 53) % 360)
            moved = replace(event, time=moment)
            bodies.append(json.dumps({"bus": GLOBAL_BUS, "event": envelope(moved)}))
            if event.type in ON_BOTH_BUSES:
                bodies.append(json.dumps({"bus": LOYALTY_BUS, "event": envelope(moved)}))
    return bodies


def _record(bodies: list[str], now: datetime) -> float:
    from dashboard.readmodel import services
    from dashboard.readmodel.observations import observation_from_queue_body

    services.read_model_clear()
    started = time.perf_counter()
    for start in range(0, len(bodies), BATCH):
        services.observation_record(observations=[
            observation_from_queue_body(body, observed_at=now, origin="live")
            for body in bodies[start:start + BATCH]])
    return time.perf_counter() - started




def _figures_by_scanning(now: datetime) -> dict[str, tuple[float, float, float] | None]:
    """What the minutes save: each route's hops of the last hour read from the events."""
    from dashboard.models import ObservedEvent
    from workflow.route_keys import route_keys

    keys = route_keys()
    found: dict[str, tuple[float, float, float] | None] = {}
    for route in keys.routes:
        pairs = keys.hop_pairs(route.rule_id)
        latencies: list[float] = []
        for cause, effect in pairs:
            latencies += ObservedEvent.objects.filter(
                cause_type=cause, type=effect, time__gte=now - timedelta(hours=1),
                hop_latency_ms__isnull=False).values_list("hop_latency_ms", flat=True)
        latencies.sort()
        found[route.rule_id] = tuple(  # type: ignore[assignment]
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] for p in (0.5, 0.95, 0.99)
        ) if latencies else None
    return found


def run() -> list[Result]:
    read_model_ready()
    from django.test import Client

    from dashboard import aws
    from dashboard.readmodel import services

    aws.configure(region="us-east-1", stack_name="bench", endpoint_url="http://127.0.0.1:9",
                  outputs={}, credentials={"aws_access_key_id": "bench",
                                           "aws_secret_access_key": "bench"})
    now = datetime.now(UTC)
    bodies = _bodies(now)
    keep = services.route_minutes_add
    without, with_minutes = [], []
    for _turn in range(2):  # in turns, so that neither gains from going second
        print(f"R1: recording {len(bodies)} sightings without the routes' minutes ...", flush=True)
        services.route_minutes_add = lambda **kwargs: 0
        try:
            without.append(_record(bodies, now))
        finally:
            services.route_minutes_add = keep
        print(f"  {without[-1]:.1f}s; and with them ...", flush=True)
        with_minutes.append(_record(bodies, now))
        print(f"  {with_minutes[-1]:.1f}s", flush=True)

    from dashboard.models import ObservedEvent, RouteMinute

    events = ObservedEvent.objects.count()
    rows = RouteMinute.objects.count()
    browser = Client(HTTP_HOST="localhost")
    figures = browser.get("/api/routes?window=1h").json()
    placed = next(r for r in figures["routes"] if r["rule"] == ROUTE)
    assert placed["events"] > 0 and placed["latency"]["count"] > 0, placed
    print(f"  {events} events, {rows} route minutes; {ROUTE}: {placed['events']} events in the "
          f"hour, p95 {placed['latency']['p95Ms']} ms", flush=True)

    print(f"R2-R4: p50 of {SAMPLES} requests each ...", flush=True)
    orders_page = p50_ms(lambda: browser.get("/orders/"), SAMPLES)
    routes_json = p50_ms(lambda: browser.get("/api/routes?window=1h"), SAMPLES)
    route_page = p50_ms(lambda: browser.get(f"/routes/{ROUTE}?window=1h"), SAMPLES)
    scanning = p50_ms(lambda: _figures_by_scanning(now), SAMPLES)
    note = f"{events} events, {rows} route minutes over the last hour"
    return [
        result("R1", "recording, with the routes' minutes", len(bodies) / min(with_minutes),
               len(bodies) / min(without), "sightings/s",
               f"{len(bodies)} sightings in batches of {BATCH}, the faster of two turns each; "
               "baseline = without the minutes"),
        result("R2", "GET /api/routes?window=1h, p50", routes_json, orders_page, "ms",
               f"{note}; baseline = GET /orders/"),
        result("R3", f"GET /routes/{ROUTE}?window=1h, p50", route_page, orders_page, "ms",
               f"{note}; baseline = GET /orders/"),
        result("R4", "every route's percentiles read from the events, p50", scanning, routes_json,
               "ms", f"{note}; baseline = GET /api/routes?window=1h"),
    ]
