"""C1: conformance and stuck orders with BENCH_CONFORMANCE_EVENTS (100,000) events in the
read model.

The read model is filled through `observation_record`, as the poller and a rebuild fill it:
shipped orders, with every BENCH_CONFORMANCE_STOPPED-th order stopped after its reservation
and every BENCH_CONFORMANCE_DEVIATING-th shipped without its payment and points (a deviation).
Each page is then rendered BENCH_CONFORMANCE_SAMPLES times through Django's test client; the
figures are p50s, against the baseline of rendering the orders list page in the same run.
The Stuck page and its count are looked at an hour on, when every stopped order is past its
deadline; they read the `order_stopped_at` index, not the history.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from bench.common import Result, p50_ms, result
from bench.dashboard_data import (
    GLOBAL_BUS,
    LOYALTY_BUS,
    ON_BOTH_BUSES,
    envelope,
    read_model_ready,
    shipped_order,
)

EVENTS = int(os.environ.get("BENCH_CONFORMANCE_EVENTS", "100000"))
SAMPLES = int(os.environ.get("BENCH_CONFORMANCE_SAMPLES", "30"))
STOPPED = int(os.environ.get("BENCH_CONFORMANCE_STOPPED", "20"))
DEVIATING = int(os.environ.get("BENCH_CONFORMANCE_DEVIATING", "50"))
BATCH = 700


def _fill() -> tuple[int, int, str, float]:
    """Record about EVENTS sightings; return (sightings, orders, a stopped order's id, seconds)."""
    from dashboard.readmodel.observations import observation_from_queue_body
    from dashboard.readmodel.services import observation_record
    from workflow.envelope import new_event

    recorded = orders = 0
    stopped_id = ""
    batch: list[Any] = []
    seconds = 0.0

    def flush() -> None:
        nonlocal batch, seconds
        started = time.perf_counter()
        observation_record(observations=batch)
        seconds += time.perf_counter() - started
        batch = []

    while recorded < EVENTS:
        events = shipped_order(f"bench-{orders % 500}")
        if orders % STOPPED == 0:
            events = events[:2]
            stopped_id = stopped_id or str(events[0].subject)
        elif orders % DEVIATING == 1:
            shipped = events[-1]
            events = [*events[:2], new_event(type=shipped.type, cause=events[1], data=shipped.data,
                                             time=shipped.time)]
        orders += 1
        now = datetime.now(UTC)
        for event in events:
            buses = [GLOBAL_BUS, LOYALTY_BUS] if event.type in ON_BOTH_BUSES else [GLOBAL_BUS]
            for bus in buses:
                body = json.dumps({"bus": bus, "event": envelope(event)})
                batch.append(observation_from_queue_body(body, observed_at=now, origin="live"))
                recorded += 1
        if len(batch) >= BATCH:
            flush()
    flush()
    return recorded, orders, stopped_id, seconds




def run() -> list[Result]:
    read_model_ready()
    from django.test import Client
    from django.utils import timezone

    from dashboard import aws
    from dashboard.insight import stuck
    from dashboard.models import Order

    # A stack that names only the order API: no page asks AWS anything.
    aws.configure(region="us-east-1", stack_name="bench", endpoint_url="http://127.0.0.1:9",
                  outputs={"GlobalEventBusName": "bench-global"},
                  credentials={"aws_access_key_id": "bench", "aws_secret_access_key": "bench"})
    print(f"C1: recording {EVENTS} events into the read model ...", flush=True)
    recorded, orders, stopped_id, record_seconds = _fill()
    deviating = Order.objects.exclude(deviation="").count()
    print(f"  {recorded} sightings of {orders} orders in {record_seconds:.0f}s; "
          f"{deviating} deviate", flush=True)

    client = Client(SERVER_NAME="127.0.0.1")

    def get(path: str) -> Callable[[], Any]:
        def call() -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        return call

    baseline = p50_ms(get("/orders/"), SAMPLES)
    later = timezone.now() + timedelta(hours=1)
    with mock.patch.object(timezone, "now", lambda: later):
        stuck_count = sum(stuck.stuck_counts().values())
        stuck_page = p50_ms(get("/stuck/"), SAMPLES)
        stuck_json = p50_ms(get("/api/stuck"), SAMPLES)
    deviating_page = p50_ms(get("/orders/?deviating=1"), SAMPLES)
    trace_page = p50_ms(get(f"/orders/{stopped_id}"), SAMPLES)
    note = f"{recorded} sightings, {orders} orders, {stuck_count} stuck, {deviating} deviating"
    return [
        result("CF1", "stuck page p50", stuck_page, baseline, "ms", note),
        result("CF1", "/api/stuck p50", stuck_json, baseline, "ms", "the top bar's count"),
        result("CF1", "orders list, deviating only p50", deviating_page, baseline, "ms"),
        result("CF1", "trace page with ghosts p50", trace_page, baseline, "ms"),
        result("CF1", "orders list p50 (baseline)", baseline, None, "ms"),
        result("CF1", "recording rate, deviation judged", recorded / record_seconds, None,
               "sightings/s"),
    ]
