"""What recording costs, and that nothing is lost for it: an order's shared search pairs are
kept once for all its events and still find every one of them, exactly; a set goes when its
last event does; and every read that an index dropped as redundant used still reads an index,
on SQLite and on PostgreSQL (test_on_postgresql.py runs this module there too)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet

from dashboard.insight import search
from dashboard.insight.routes import route_health
from dashboard.models import ObservedEvent, Order, RouteMinute, SearchTerm, SharedTerm, TermSet
from dashboard.readmodel import search_terms, services
from tests.dashboard import factories
from workflow.model import CHOREOGRAPHY, Bus, Route, ToBus

pytestmark = pytest.mark.django_db


def record(events, *, model=CHOREOGRAPHY) -> None:
    services.observation_record(observations=factories.sightings_of(events), model=model)


def searched(**terms: str) -> list[str]:
    query = search.search_query_parse(list(terms.items()))
    return sorted(event.event_id for event in search.event_search(query=query).events)


def test_the_order_part_is_shared_from_the_catalogue():
    shared = search_terms.SHARED_KEYS
    assert shared == {"order"}
    assert search_terms.is_shared("order.lines.sku") and not search_terms.is_shared("payment.paymentId")


def test_an_orders_events_share_one_set_of_its_pairs_and_are_all_found_by_them():
    shipped = factories.happy_path(order_id="ord-a", customer_id="c-42")
    other = factories.declined_path(order_id="ord-b")
    record(shipped + other)

    # Two orders, two sets; each event of an order points at its order's.
    assert TermSet.objects.count() == 2
    sets = {row.order_id: set() for row in ObservedEvent.objects.all()}
    for row in ObservedEvent.objects.all():
        sets[row.order_id].add(row.shared_terms_id)
    assert all(len(ids) == 1 for ids in sets.values()) and sets["ord-a"] != sets["ord-b"]
    # The order's 12 pairs once, not once for each of its five events; its own pairs per event.
    assert SharedTerm.objects.filter(term_set__events__order_id="ord-a").distinct().count() == 12
    assert not SearchTerm.objects.filter(path__startswith="order.").exists()
    assert SearchTerm.objects.filter(event__event_id=shipped[2].id,
                                     path="payment.paymentId", value="pay-1").exists()

    assert searched(customer="c-42") == sorted(e.id for e in shipped)
    assert searched(customer="customer-1") == sorted(e.id for e in other)
    assert searched(sku="MUG-STONEWARE", type="payment.taken") == [shipped[2].id]
    assert searched(**{"data.payment.paymentId": "pay-1"}) == sorted(e.id for e in shipped[2:])
    assert searched(**{"data.reservation.reservationId": "res-2", "customer": "customer-1"}) == \
        sorted(e.id for e in other[1:4])


def test_an_event_whose_order_part_differs_gets_a_set_of_its_own():
    placed, reserved, *_ = factories.happy_path(order_id="ord-a", customer_id="c-42")
    reserved.data["order"] = {**reserved.data["order"], "customerId": "c-changed"}
    record([placed, reserved])

    assert TermSet.objects.count() == 2
    assert searched(customer="c-42") == [placed.id]
    assert searched(customer="c-changed") == [reserved.id]


def test_a_set_recorded_twice_over_is_kept_once():
    shipped = factories.happy_path(order_id="ord-a")
    record(shipped[:2])
    record(shipped[2:])
    services.read_model_clear()
    record(shipped)

    assert TermSet.objects.count() == 1
    assert SharedTerm.objects.count() == 12
    assert len(searched(customer="customer-1")) == 5


def test_a_set_goes_with_the_last_event_that_shares_it():
    old = factories.happy_path(order_id="ord-old")
    new = factories.happy_path(order_id="ord-new", customer_id="c-new",
                               at=factories.T0 + timedelta(days=2))
    for event in old + new:
        services.observation_record(observations=[factories.observe(event, observed_at=event.time)])
    kept = ObservedEvent.objects.get(event_id=new[0].id).shared_terms_id

    services.read_model_prune(before=factories.T0 + timedelta(days=1), batch_size=2)

    assert list(TermSet.objects.values_list("id", flat=True)) == [kept]
    assert searched(customer="customer-1") == []
    assert searched(customer="c-new") == sorted(e.id for e in new)


def test_a_route_added_to_the_model_is_counted_as_its_events_are_recorded():
    extra = Route("order.placed", Bus.GLOBAL, ToBus(Bus.LOYALTY))
    model = dataclasses.replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes, extra))
    record(factories.happy_path(order_id="ord-a"), model=model)

    assert RouteMinute.objects.filter(route=extra.rule_id).get().events == 1
    figures = route_health(window="1h", now=factories.T0 + timedelta(seconds=30), model=model)
    assert figures.get(extra.rule_id).events == 1
    assert searched(customer="customer-1") and TermSet.objects.count() == 1


# --- every read of a dropped index still reads an index ---------------------------------------


@contextmanager
def indexes_preferred() -> Iterator[None]:
    """A handful of rows is cheaper to scan than to look up: PostgreSQL is told to look up if
    it can, so that the plan says whether an index serves the query at all."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        yield


def plan(queryset: QuerySet) -> str:
    with indexes_preferred():
        return queryset.explain()


@pytest.fixture
def history():
    for number in range(3):
        record(factories.happy_path(order_id=f"ord-{number}", at=factories.T0
                                    + timedelta(minutes=number)))
    record(factories.declined_path(order_id="ord-declined"))


READS = {
    # what a dropped index served: the index that serves it now
    "a route's latest events (event_type_recent)":
        (lambda: ObservedEvent.objects.filter(type="order.placed").order_by("-observed_at")[:20],
         "event_type_seen"),
    "a route's latest hops (event_edge)":
        (lambda: ObservedEvent.objects.filter(cause_type="order.placed",
                                              type="warehouse.stock-reserved")
         .order_by("-observed_at")[:20], "event_edge_recent"),
    "a trace's events (order_id)":
        (lambda: ObservedEvent.objects.filter(order_id="ord-1").order_by("time"),
         "event_order_time"),
    "an order's events exist (order_id)":
        (lambda: ObservedEvent.objects.filter(order_id="ord-1")[:1], "event_order_"),
    "search by correlation id (correlation_id)":
        (lambda: ObservedEvent.objects.filter(correlation_id="c").order_by("-time", "-id")[:51],
         "event_search_corr"),
    "orders of a status (Order.status)":
        (lambda: Order.objects.filter(status="shipped").order_by("-observed_at", "-placed_at")[:50],
         "order_status_seen_recent"),
    "the orders of an ending with a duration (Order.status)":
        (lambda: Order.objects.filter(status="shipped", duration_ms__isnull=False)
         .order_by("duration_ms")[:1], "order_status_duration"),
    "search by a shared pair (new)":
        (lambda: SharedTerm.objects.filter(path="order.customerId", value="customer-1"),
         # SQLite names a unique constraint's index itself
         "shared_term" if connection.vendor == "postgresql" else "autoindex_dashboard_sharedterm"),
    "the events of a set (new)":
        (lambda: ObservedEvent.objects.filter(shared_terms_id=1), "shared_terms"),
}


@pytest.mark.parametrize("read", list(READS))
def test_each_read_an_index_served_is_served_by_another(history, read):
    queryset, index = READS[read]
    text = plan(queryset())
    assert index in text, text
