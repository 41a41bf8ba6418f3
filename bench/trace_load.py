"""P4: one order's trace with BENCH_TRACE_EVENTS (100,000) events in history.

The log group holds the events as the global bus's catch-all rule writes them, and the read
model holds them as a cold rebuild from that log group leaves it. The figure is the read
model's trace query (`trace_get`, p50 over BENCH_TRACE_SAMPLES orders); the baseline is what
a dashboard without a read model would do: a `FilterLogEvents` term-pattern scan of the log
group for the order's id, p50 over a few of the same orders. The cold rebuild's rate is
reported with it.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from typing import Any

from bench.common import Result, median, result
from bench.dashboard_data import GLOBAL_BUS, embedded_aws, orders_for, read_model_ready, sightings
from local.embedded_aws import client

EVENTS = int(os.environ.get("BENCH_TRACE_EVENTS", "100000"))
SAMPLES = int(os.environ.get("BENCH_TRACE_SAMPLES", "200"))
SCANS = int(os.environ.get("BENCH_TRACE_SCANS", "5"))
BATCH_BYTES = 800_000  # PutLogEvents takes up to 1 MiB a call


def _logged(logs: Any, group: str) -> list[str]:
    """Write EVENTS events of the global bus to a log group; return their orders' ids."""
    logs.create_log_group(logGroupName=group)
    stream = "bench"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    on_global = (s for s in sightings(orders_for(EVENTS) * 2) if s.bus == GLOBAL_BUS)
    now_ms = int(time.time() * 1000) - EVENTS
    batch: list[dict[str, object]] = []
    size = 0
    order_ids: set[str] = set()

    def flush() -> None:
        nonlocal batch, size
        if batch:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        batch, size = [], 0

    for number, sighting in enumerate(itertools.islice(on_global, EVENTS)):
        message = json.dumps(sighting.envelope)
        order_ids.add(sighting.envelope["detail"]["subject"])
        if size + len(message) > BATCH_BYTES or len(batch) == 10_000:
            flush()
        batch.append({"timestamp": now_ms + number, "message": message})
        size += len(message) + 26
    flush()
    return sorted(order_ids)


def run() -> list[Result]:
    read_model_ready()
    from dashboard.readmodel.history import history_rebuild
    from dashboard.readmodel.selectors import trace_get

    with embedded_aws() as config:
        logs = client(config, "logs")
        group = f"/bench/trace-{uuid.uuid4().hex[:6]}"
        print(f"P4: writing {EVENTS} events to a log group ...", flush=True)
        order_ids = _logged(logs, group)
        print("  cold rebuild of the read model from the log group ...", flush=True)
        started = time.perf_counter()
        state = history_rebuild(logs=logs, log_group_name=group, clear=True)
        rebuild_seconds = time.perf_counter() - started
        print(f"  {state.line()}", flush=True)
        chosen = random.Random(4).sample(order_ids, min(SAMPLES, len(order_ids)))
        read_model = []
        for order_id in chosen:
            started = time.perf_counter()
            trace = trace_get(order_id=order_id)
            read_model.append((time.perf_counter() - started) * 1000)
            assert trace.events, f"no trace for {order_id}"
        scans = []
        for order_id in chosen[:SCANS]:
            started = time.perf_counter()
            found = sum(len(page.get("events", [])) for page in logs.get_paginator(
                "filter_log_events").paginate(logGroupName=group, filterPattern=f'"{order_id}"'))
            scans.append((time.perf_counter() - started) * 1000)
            assert found, f"the scan found nothing for {order_id}"
    return [
        result("P4", f"trace of one order, {EVENTS} events in history, p50", median(read_model),
               median(scans), "ms", f"read model (SQLite), {len(chosen)} orders; baseline = "
               f"FilterLogEvents term-pattern scan, {len(scans)} orders"),
        result("P4", "cold rebuild from the log group", state.events_read / rebuild_seconds,
               None, "events/s", f"{state.events_read} events, {len(state.order_ids)} orders "
               f"in {rebuild_seconds:.0f} s"),
    ]
