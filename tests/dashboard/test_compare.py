"""Two orders side by side: aligned by event type in the model's order, with the difference
in hop latency and in offset from placement at every step; and a typical order to compare
one with, the median-duration order of the same ending."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from dashboard.readmodel import services
from dashboard.readmodel.selectors import trace_get
from dashboard.traces.compare import steps_align
from tests.dashboard import factories
from workflow.model import CHOREOGRAPHY, Bus, Route, ToBus

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def timed(events, gaps_ms):
    """The events again, each `gap` after its cause: hop latencies known by hand."""
    at = events[0].time
    timed_events = [events[0]]
    for event, gap in zip(events[1:], gaps_ms, strict=True):
        at += timedelta(milliseconds=gap)
        timed_events.append(replace(event, time=at))
    return timed_events


def shipped(order_id, minute, gaps_ms):
    return timed(factories.happy_path(order_id=order_id, at=factories.T0 + minute * MINUTE), gaps_ms)


@pytest.fixture
def orders(stack):
    """Four shipped orders of 160, 420, 200 and 100 ms, one declined, one in flight."""
    paths = [shipped("ord-fast", 0, [40, 40, 40, 40]),
             shipped("ord-slow", 1, [30, 250, 40, 100]),
             shipped("ord-mid", 2, [50, 50, 50, 50]),
             shipped("ord-quick", 3, [25, 25, 25, 25]),
             factories.declined_path(order_id="ord-declined", at=factories.T0 + 4 * MINUTE),
             shipped("ord-inflight", 5, [60, 60, 60, 60])[:3]]
    services.observation_record(observations=[o for p in paths for o in factories.sightings_of(p)])


def cells(html: str, step: str) -> dict[str, str]:
    row = re.search(rf'<tr data-step="{re.escape(step)}">(.*?)</tr>', html, re.S)
    assert row, step
    return {name: re.sub(r"<[^>]+>", "", text).strip()
            for name, text in re.findall(r'data-([a-z-]+)(?:="[^"]*")?>(.*?)</td>', row[1], re.S)}


def test_two_orders_line_up_step_by_step_with_their_differences(client, orders):
    response = client.get("/orders/compare?a=ord-fast&b=ord-slow")

    assert response.status_code == 200
    html = response.content.decode()
    steps = re.findall(r'<tr data-step="([^"]+)">', html)
    assert steps == ["order.placed", "warehouse.stock-reserved", "payment.taken",
                     "loyalty.points-awarded", "warehouse.order-shipped"]
    assert cells(html, "warehouse.stock-reserved") == {
        "a-hop": "40 ms", "b-hop": "30 ms", "hop-diff": "\N{MINUS SIGN}10 ms",
        "a-offset": "+40 ms", "b-offset": "+30 ms", "offset-diff": "\N{MINUS SIGN}10 ms"}
    assert cells(html, "payment.taken") == {
        "a-hop": "40 ms", "b-hop": "250 ms", "hop-diff": "+210 ms",
        "a-offset": "+80 ms", "b-offset": "+280 ms", "offset-diff": "+200 ms"}
    assert cells(html, "loyalty.points-awarded")["hop-diff"] == "±0 ms"
    assert cells(html, "warehouse.order-shipped")["offset-diff"] == "+260 ms"
    assert cells(html, "order.placed")["a-hop"] == "—"
    assert re.search(r"data-duration-diff>\+260 ms<", html)


def test_steps_one_order_never_reached_are_shown_as_such(client, orders):
    html = client.get("/orders/compare?a=ord-fast&b=ord-declined").content.decode()

    assert re.findall(r'<tr data-step="([^"]+)">', html) == [
        "order.placed", "warehouse.stock-reserved", "payment.taken", "payment.declined",
        "loyalty.points-awarded", "warehouse.order-shipped", "warehouse.stock-released",
        "order.cancelled"]
    assert cells(html, "payment.declined")["a-hop"] == "not reached"
    assert cells(html, "payment.declined")["b-hop"] == "40 ms"
    assert cells(html, "payment.declined")["hop-diff"] == "—"
    assert cells(html, "payment.taken")["b-hop"] == "not reached"


@pytest.mark.parametrize(("order_id", "typical"), [
    ("ord-fast", "ord-mid"),        # the others: 100, 200, 420 ms
    ("ord-slow", "ord-fast"),       # the others: 100, 160, 200 ms
    ("ord-inflight", "ord-fast"),   # in flight: against shipped orders, 100, 160, 200, 420 ms
])
def test_a_typical_order_is_the_median_of_the_same_ending(client, orders, order_id, typical):
    response = client.get(f"/orders/compare?a={order_id}")

    assert response.status_code == 302
    assert response["Location"] == f"/orders/compare?a={order_id}&b={typical}"


def test_the_trace_page_links_to_a_typical_comparison_and_the_export(client, orders):
    html = client.get("/orders/ord-slow").content.decode()

    assert 'href="/orders/compare?a=ord-slow" data-compare-typical' in html
    assert 'href="/api/orders/ord-slow/otlp" download' in html


@pytest.mark.parametrize(("query", "status", "message"), [
    ("a=ord-declined", 404, "no concluded order of ord-declined&#x27;s ending to compare it with"),
    ("a=ord-nobody", 404, "no order ord-nobody has been observed"),
    ("b=ord-fast", 400, "name two orders"),
    ("a=ord-fast&b=ord-nobody", 404, "no valid events of ord-nobody have been observed"),
])
def test_what_cannot_be_compared_says_why(client, orders, query, status, message):
    response = client.get(f"/orders/compare?{query}")

    assert response.status_code == status
    assert message in response.content.decode()


def test_an_order_whose_id_is_compare_still_has_its_trace_json(client, stack):
    services.observation_record(observations=factories.sightings_of(
        factories.happy_path(order_id="compare")))

    assert client.get("/api/orders/compare").json()["orderId"] == "compare"
    assert client.get("/api/orders/compare/otlp").status_code == 200


def test_steps_follow_the_model_a_route_added_to_it_included(orders):
    """Steps are ordered by the model's event types: a copy of the model whose added route
    carries order.placed to the loyalty bus changes no step, and a copy that declares the
    types in another order orders the steps so."""
    a, b = trace_get(order_id="ord-fast").events, trace_get(order_id="ord-declined").events
    rerouted = replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes,
                                             Route("order.placed", Bus.GLOBAL, ToBus(Bus.LOYALTY))))
    reversed_model = replace(CHOREOGRAPHY, events=tuple(reversed(CHOREOGRAPHY.events)))

    by_model = [step.event_type for step in steps_align(a, b)]
    assert [step.event_type for step in steps_align(a, b, model=rerouted)] == by_model
    assert [step.event_type for step in steps_align(a, b, model=reversed_model)] == by_model[::-1]
