"""S1: search, compare and the OTLP export with BENCH_SEARCH_EVENTS (100,000) events in the
read model.

The read model is filled through `observation_record`, as the poller fills it (shipped orders
made by the domain rules, 500 customers). Every figure is a p50 over BENCH_SEARCH_SAMPLES
requests through Django's test client, the whole page rendered, as a ratio against the
orders list's first page rendered the same way in the same run. Two more ratios say why data
fields are searched through the `SearchTerm` table: the same customer's events found by a
JSON query on the events' data (which no index serves), and what recording costs with the
terms against without them.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import Result, p50_ms, result
from bench.dashboard_data import orders_for, read_model_ready, sightings

EVENTS = int(os.environ.get("BENCH_SEARCH_EVENTS", "100000"))
SAMPLES = int(os.environ.get("BENCH_SEARCH_SAMPLES", "30"))
RECORD_BATCH = 500
RECORD_COST_EVENTS = 5000
EVENTS_PER_ORDER = 5


def _record(order_count: int) -> float:
    """Record the events of `order_count` shipped orders; return the seconds it took."""
    from dashboard.models import Origin
    from dashboard.readmodel import services
    from dashboard.readmodel.observations import observation_from_queue_body

    started = time.perf_counter()
    batch: list[Any] = []
    for sighting in sightings(order_count):
        batch.append(observation_from_queue_body(json.dumps(sighting.queue_body),
                                                 observed_at=datetime.now(UTC), origin=Origin.LIVE))
        if len(batch) >= RECORD_BATCH:
            services.observation_record(observations=batch)
            batch = []
    services.observation_record(observations=batch)
    return time.perf_counter() - started




def _get(client: Any, url: str, status: int = 200) -> Callable[[], None]:
    def run() -> None:
        response = client.get(url, HTTP_HOST="localhost")
        assert response.status_code == status, (url, response.status_code)
    return run


def _record_cost() -> tuple[float, float]:
    """Seconds to record RECORD_COST_EVENTS events with search terms, and without."""
    from dashboard.readmodel import services

    orders = RECORD_COST_EVENTS // EVENTS_PER_ORDER
    with_terms = _record(orders)
    original = services.data_terms
    services.data_terms = lambda data: []
    try:
        without_terms = _record(orders)
    finally:
        services.data_terms = original
    return with_terms, without_terms


def run() -> list[Result]:
    read_model_ready()
    from django.test import Client

    from dashboard.insight import search
    from dashboard.models import ObservedEvent, Order, SearchTerm, SharedTerm
    from dashboard.readmodel.services import read_model_clear

    read_model_clear()
    with_terms, without_terms = _record_cost()
    read_model_clear()
    print(f"S1: recording {EVENTS} events ...", flush=True)
    seconds = _record(orders_for(EVENTS * 7 // 5))
    events, terms = ObservedEvent.objects.count(), SearchTerm.objects.count()
    shared = SharedTerm.objects.count()
    print(f"  {events} events, {terms} search terms of their own and {shared} shared by an "
          f"order's events in {seconds:.0f} s", flush=True)

    client = Client()
    chooser = random.Random(7)
    orders = list(Order.objects.order_by("order_id").values_list("order_id", flat=True))
    some_order = chooser.choice(orders)
    event = ObservedEvent.objects.filter(order_id=some_order, type="payment.taken").get()
    payment_id = event.data["payment"]["paymentId"]
    placed = list(ObservedEvent.objects.filter(type="order.placed").order_by("time")
                  .values_list("time", flat=True))
    # a window of ~40 orders a tenth of the way in (as much as a small history has)
    start = min(events // 10, len(placed) - 1)
    window = [placed[start], placed[min(start + 40, len(placed) - 1)]]

    baseline = p50_ms(_get(client, "/orders/"), SAMPLES)
    queries = {
        "type (an attribute, many matches)": "type=payment.taken",
        "subject": f"subject={some_order}",
        "correlationid": f"correlationid={event.correlation_id}",
        "time range (about 40 orders)": f"since={window[0].isoformat()}&until={window[1].isoformat()}"
                                        .replace("+", "%2B"),
        "customer (a data field, 1 in 500)": "customer=bench-42",
        "data.payment.paymentId (a data field, 1 match)": f"data.payment.paymentId={payment_id}",
        "sku + type (a data field on every event, and a type)": "sku=MUG-STONEWARE&type=order.placed",
        "type, page 100": "type=order.placed&page=100",
        "malformed (400)": "since=soon",
    }
    results = [result("S1", "orders list, page 1 (the baseline)", baseline, None, "ms",
                      f"{events} events, {len(orders)} orders in the read model")]
    for name, query in queries.items():
        status = 400 if "malformed" in name else 200
        results.append(result("S1", f"search: {name}, p50",
                              p50_ms(_get(client, f"/search/?{query}", status), SAMPLES), baseline, "ms"))

    # Why a table of terms: the same customer's events through a JSON query on the data.
    customer = search.search_query_parse([("customer", "bench-42")])
    by_terms = p50_ms(lambda: search.event_search(query=customer), SAMPLES)
    by_json = p50_ms(lambda: list(ObservedEvent.objects.filter(data__order__customerId="bench-42")
                                .order_by("-time", "-id")[:51]), SAMPLES)
    results.append(result("S1", "customer's events: JSON query / the terms' index, p50",
                          by_json, by_terms, "ms", "the ratio is how much slower the JSON query is"))
    results.append(result("S1", "recording with search terms / without",
                          with_terms * 1000 / RECORD_COST_EVENTS,
                          without_terms * 1000 / RECORD_COST_EVENTS, "ms/event",
                          f"{(terms + shared) / max(events, 1):.1f} term rows per event, "
                          f"{RECORD_COST_EVENTS} events"))

    other = chooser.choice(orders)
    results += [
        result("S1", "compare two orders, p50",
               p50_ms(_get(client, f"/orders/compare?a={some_order}&b={other}"), SAMPLES), baseline, "ms"),
        result("S1", "compare with a typical order (the redirect), p50",
               p50_ms(_get(client, f"/orders/compare?a={some_order}", 302), SAMPLES), baseline, "ms"),
        result("S1", "OTLP export of one order, p50",
               p50_ms(_get(client, f"/api/orders/{some_order}/otlp"), SAMPLES), baseline, "ms"),
    ]
    return results
