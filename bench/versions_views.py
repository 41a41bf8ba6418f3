"""V1-V4: event versions with BENCH_VERSION_EVENTS (100,000) events in the read model, spread
over the last hour, the order API having moved `order.placed` from version 1 to version 2
half-way through.

- V1 recording: `observation_record` of the events, in the poller's batches, with the routes'
  version minutes kept up to date, against the same without them.
- V2 `/versions/`, the versions page, against rendering the orders list page (`/orders/`), p50
  over BENCH_VERSION_SAMPLES requests each.
- V3 `/api/versions`, against the same baseline.
- V4 the shares without the minutes: every event of the last hour read with its
  `dataschema` and counted per route, version and minute, against `/api/versions` (what the
  minutes save).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
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

EVENTS = int(os.environ.get("BENCH_VERSION_EVENTS", "100000"))
SAMPLES = int(os.environ.get("BENCH_VERSION_SAMPLES", "50"))
TURNS = int(os.environ.get("BENCH_VERSION_TURNS", "2"))
BATCH = 500  # what the poller records at once, at most
ROUTE = "OrderPlacedToWarehouse"


def _bodies(now: datetime) -> list[str]:
    """EVENTS sightings of shipped orders placed evenly over the last hour, each hop 40 to
    400 ms after its cause; the orders of the second half placed in version 2."""
    from workflow.versions import written_as

    per_order = 5
    orders = max(1, EVENTS // per_order)
    bodies: list[str] = []
    for number in range(orders):
        start = now - timedelta(seconds=3600 * (orders - number) / orders)
        events = shipped_order(f"bench-{number % 500}")
        if number >= orders // 2:
            events = [written_as(events[0], 2), *events[1:]]
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




def _shares_by_scanning(now: datetime) -> Counter[tuple[str, int, datetime]]:
    """What the minutes save: the last hour's events read with their version and counted."""
    from dashboard.models import ObservedEvent
    from dashboard.readmodel.minute_rows import minute_of
    from dashboard.readmodel.version_minutes import event_version
    from workflow.route_keys import route_keys

    keys = route_keys()
    found: Counter[tuple[str, int, datetime]] = Counter()
    for event_type, envelope_, buses, moment in ObservedEvent.objects.filter(
            valid=True, time__gte=now - timedelta(hours=1)).values_list(
            "type", "envelope", "buses", "time").iterator(chunk_size=5000):
        version = event_version(event_type, envelope_)
        if version is not None:
            for key in keys.passes(event_type, set(buses)):
                found[(key, version, minute_of(moment))] += 1
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
    keep = services.route_version_minutes_add
    runs: dict[bool, list[float]] = {False: [], True: []}
    # in turns, each in the other order, so that neither gains from going second; the last
    # records with the minutes, since the pages then read what it left
    for turn in range(TURNS):
        for minutes in ((False, True) if (TURNS - 1 - turn) % 2 == 0 else (True, False)):
            print(f"V1: recording {len(bodies)} sightings "
                  f"{'with' if minutes else 'without'} the version minutes ...", flush=True)
            if not minutes:
                services.route_version_minutes_add = lambda **kwargs: 0
            try:
                runs[minutes].append(_record(bodies, now))
            finally:
                services.route_version_minutes_add = keep
            print(f"  {runs[minutes][-1]:.1f}s", flush=True)
    without, with_minutes = min(runs[False]), min(runs[True])

    from dashboard.models import ObservedEvent, RouteVersionMinute

    events = ObservedEvent.objects.count()
    rows = RouteVersionMinute.objects.count()
    browser = Client(HTTP_HOST="localhost")
    shares = browser.get("/api/versions").json()
    placed = next(r for r in shares["routes"] if r["rule"] == ROUTE)
    assert placed["versions"]["1"]["events"] > 0 and placed["versions"]["2"]["events"] > 0, placed
    print(f"  {events} events, {rows} version minutes; {ROUTE}: "
          f"{placed['versions']['1']['events']} in v1, {placed['versions']['2']['events']} in v2",
          flush=True)

    print(f"V2-V4: p50 of {SAMPLES} requests each ...", flush=True)
    orders_page = p50_ms(lambda: browser.get("/orders/"), SAMPLES)
    page = p50_ms(lambda: browser.get("/versions/"), SAMPLES)
    as_json = p50_ms(lambda: browser.get("/api/versions"), SAMPLES)
    scanning = p50_ms(lambda: _shares_by_scanning(now), SAMPLES)
    note = f"{events} events, {rows} version minutes over the last hour"
    return [
        result("V1", "recording, with the version minutes", len(bodies) / with_minutes,
               len(bodies) / without, "sightings/s",
               f"{len(bodies)} sightings in batches of {BATCH}, the faster of {TURNS} turn(s) "
               "each, alternating; baseline = without them"),
        result("V2", "GET /versions/, p50", page, orders_page, "ms",
               f"{note}; baseline = GET /orders/"),
        result("V3", "GET /api/versions, p50", as_json, orders_page, "ms",
               f"{note}; baseline = GET /orders/"),
        result("V4", "every route's shares read from the events, p50", scanning, as_json,
               "ms", f"{note}; baseline = GET /api/versions"),
    ]
