"""B1: accounts and regions with BENCH_BOUNDARIES_EVENTS (100,000) events in the read model.

The read model is filled through `observation_record`, as the poller fills it, with shipped
orders' events, each order's points published in a second account (as the home bus sees them
when Loyalty runs in its own). With the dashboard told Loyalty is in that account, the
figures are the p50 of BENCH_BOUNDARIES_REQUESTS renders through Django's test client of the
live page (its graph outlined per account), an order's trace page (each hop's account and
region, its crossings marked) and its JSON; the baseline is the orders list page (`/orders/`)
rendered the same way in the same run. The trace page is also set against itself in one
account (no boundary drawn, nothing marked): what knowing the places costs a trace.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import Result, p50_ms, result
from bench.dashboard_data import orders_for, read_model_ready, sightings

EVENTS = int(os.environ.get("BENCH_BOUNDARIES_EVENTS", "100000"))
REQUESTS = int(os.environ.get("BENCH_BOUNDARIES_REQUESTS", "30"))
BATCH = 500
HOME, LOYALTY = "123456789012", "222222222222"


def _filled() -> tuple[int, str]:
    """The read model with about EVENTS events; how many it holds, and one order's id."""
    from django.utils import timezone

    from dashboard.models import ObservedEvent
    from dashboard.readmodel.observations import observation_from_queue_body
    from dashboard.readmodel.services import observation_record

    orders = orders_for(EVENTS * 7 // 5)
    now = timezone.now()
    seen = sightings(orders)
    order_id = ""
    while batch := list(itertools.islice(seen, BATCH)):
        bodies = []
        for sighting in batch:
            body = sighting.queue_body
            body["event"]["account"] = LOYALTY if body["event"]["source"] == "loyalty" else HOME
            order_id = order_id or body["event"]["detail"]["subject"]
            bodies.append(observation_from_queue_body(json.dumps(body), observed_at=now,
                                                      origin="live"))
        observation_record(observations=bodies)
    return ObservedEvent.objects.count(), order_id




def run() -> list[Result]:
    read_model_ready()
    from django.test import Client, override_settings

    from dashboard import aws

    # no stack to read: the home account and region are given as settings
    aws.configure(region="us-east-1", stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                  outputs={"Account": HOME, "Region": "us-east-1"})
    print(f"B1: filling the read model with {EVENTS} events ...", flush=True)
    started = time.perf_counter()
    held, order_id = _filled()
    print(f"  {held} events in {time.perf_counter() - started:.0f} s", flush=True)
    client = Client()

    def page(path: str, needle: str = "") -> Callable[[], Any]:
        def get() -> None:
            response = client.get(path, HTTP_HOST="127.0.0.1")
            assert response.status_code == 200, (path, response.status_code)
            assert needle.encode() in response.content, (path, needle)
        return get

    trace = f"/orders/{order_id}"
    orders_list = p50_ms(page("/orders/"), REQUESTS, warm=True)
    single = p50_ms(page(trace), REQUESTS, warm=True)
    with override_settings(DASHBOARD_SUBDOMAIN_ACCOUNTS=f"loyalty={LOYALTY}"):
        pages = {
            "/ (live page, graph outlined per account)": page("/", f'data-boundary="{LOYALTY}"'),
            "/orders/<id> (trace, places and crossings)": page(trace, "data-crossed"),
            "/api/orders/<id> (trace JSON)": page(f"/api/orders/{order_id}", "crossedFrom"),
        }
        figures = {name: p50_ms(get, REQUESTS, warm=True) for name, get in pages.items()}
    note = f"{held} events, p50 of {REQUESTS}; baseline = the orders list page, same run"
    traced = figures["/orders/<id> (trace, places and crossings)"]
    return [
        *(result("B1", f"{path}, {held} events, p50", value, orders_list, "ms", note)
          for path, value in figures.items()),
        result("B1", "trace page across two accounts, p50", traced, single, "ms",
               f"{held} events; baseline = the same trace page in one account"),
    ]
