"""C2: the catalogue's pages with BENCH_CATALOGUE_EVENTS (100,000) events in the read model.

The read model is filled through `observation_record`, as the poller fills it, with shipped
orders' events observed evenly over the last two hours: half of them fall within the last
hour that the catalogue counts, so its per-type counts have the most to count. Each figure is
the p50 of BENCH_CATALOGUE_REQUESTS renders through Django's test client; the baseline is the
orders list page (`/orders/`) rendered the same way in the same run. The traffic query is also
set against what it replaces: one GROUP BY over every event.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench.common import Result, p50_ms, result
from bench.dashboard_data import orders_for, read_model_ready, sightings

EVENTS = int(os.environ.get("BENCH_CATALOGUE_EVENTS", "100000"))
REQUESTS = int(os.environ.get("BENCH_CATALOGUE_REQUESTS", "30"))
BATCH = 500
SPREAD = timedelta(hours=2)


def _filled() -> int:
    """The read model with about EVENTS events; returns how many it holds."""
    from django.utils import timezone

    from dashboard.models import ObservedEvent
    from dashboard.readmodel.observations import observation_from_queue_body
    from dashboard.readmodel.services import observation_record

    # seven sightings per order carry five events: orders enough for EVENTS events
    orders = orders_for(EVENTS * 7 // 5)
    total = orders * 7
    start = timezone.now() - SPREAD
    step = SPREAD / total
    seen = enumerate(sightings(orders))
    while batch := list(itertools.islice(seen, BATCH)):
        observation_record(observations=[
            observation_from_queue_body(json.dumps(sighting.queue_body), observed_at=start + step * number,
                                        origin="live")
            for number, sighting in batch])
    return ObservedEvent.objects.count()




def run() -> list[Result]:
    read_model_ready()
    from django.db.models import Count, Max, Q
    from django.test import Client

    from dashboard.catalogue.selectors import event_type_traffic
    from dashboard.models import ObservedEvent
    from workflow.model import CHOREOGRAPHY

    print(f"C2: filling the read model with {EVENTS} events ...", flush=True)
    started = time.perf_counter()
    held = _filled()
    print(f"  {held} events in {time.perf_counter() - started:.0f} s", flush=True)
    client = Client()

    def page(path: str) -> Callable[[], Any]:
        def get() -> None:
            response = client.get(path, HTTP_HOST="127.0.0.1")
            assert response.status_code == 200, (path, response.status_code)
        return get

    orders_list = p50_ms(page("/orders/"), REQUESTS, warm=True)
    figures = {path: p50_ms(page(path), REQUESTS, warm=True) for path in (
        "/catalogue/", "/catalogue/events/order.placed", "/api/catalogue/traffic", "/api/catalogue")}
    names = [event.name for event in CHOREOGRAPHY.events]
    traffic = p50_ms(lambda: event_type_traffic(types=names), REQUESTS, warm=True)

    def scan() -> None:
        since = ObservedEvent.objects.order_by("-observed_at").values_list("observed_at", flat=True)[0] \
            - timedelta(hours=1)
        list(ObservedEvent.objects.values("type").annotate(
            recent=Count("id", filter=Q(observed_at__gte=since)), last=Max("observed_at")).order_by())

    scanned = p50_ms(scan, REQUESTS, warm=True)
    note = f"{held} events, p50 of {REQUESTS}; baseline = the orders list page, same run"
    return [
        *(result("CT1", f"{path}, {held} events, p50", value, orders_list, "ms", note)
          for path, value in figures.items()),
        result("CT1", "per-type traffic query, p50", traffic, scanned, "ms",
               f"{held} events; baseline = one GROUP BY over every event"),
    ]
