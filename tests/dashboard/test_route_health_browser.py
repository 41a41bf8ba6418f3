"""Route health in a real browser: the live graph's route labels carry their figures, the
window chooser changes them, and a click (or Enter) on a label opens the route's page. The
screenshots in docs/img are taken here, from a read model of orders as the local system
makes them: consumers that take tens to hundreds of milliseconds, some payments declined,
some stock short, a few invalid events."""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.readmodel import services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.browser import VIOLATIONS, dashboard_served, watch
from tests.dashboard import factories
from workflow.envelope import Event
from workflow.model import CHOREOGRAPHY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ROUTE_SCREENSHOTS", Path(__file__).parents[2] / "docs" / "img"))
ORDERS = 120

# How long each consumer takes in the local runtime, roughly: the median of a log-normal
# spread, in ms, by the type of the event it answers.
CONSUMER_MS = {"order.placed": 180, "warehouse.stock-reserved": 120, "payment.taken": 60,
               "loyalty.points-awarded": 210, "payment.declined": 150,
               "warehouse.order-shipped": 90, "warehouse.stock-unavailable": 95,
               "warehouse.stock-released": 100}


def retimed(path: list[Event], start: datetime, rng: random.Random) -> list[Event]:
    """An order's events, each coming a realistic while after its cause."""
    times: dict[str, datetime] = {}
    out = []
    for event in path:
        if event.causation_id is None:
            moment = start
        else:
            cause = next(e for e in path if e.id == event.causation_id)
            moment = times[cause.id] + timedelta(
                milliseconds=rng.lognormvariate(0, 0.5) * CONSUMER_MS.get(cause.type, 50))
        times[event.id] = moment
        out.append(dataclasses.replace(event, time=moment))
    return out


def realistic_history(now: datetime) -> tuple[list[Event], int]:
    """ORDERS orders placed between 13 and 3 minutes ago; returns the events and how many
    were placed."""
    rng = random.Random(7)
    events: list[Event] = []
    for number in range(ORDERS):
        start = now - timedelta(minutes=13) + timedelta(seconds=number * 600 / ORDERS)
        kind = rng.random()
        order_id = f"ord-{number:04}"
        path = (factories.declined_path(order_id=order_id, at=start) if kind < 0.15
                else factories.rejected_path(order_id=order_id, at=start) if kind < 0.25
                else factories.happy_path(order_id=order_id, customer_id=f"customer-{number % 17}",
                                          at=start))
        events += retimed(path, start, rng)
    return events, ORDERS


@pytest.fixture
def live_history(moto_stack) -> Iterator[tuple[str, int]]:
    now = datetime.now(UTC)
    events, placed = realistic_history(now)
    services.observation_record(observations=factories.sightings_of(events))
    bad = [factories.schema_failing(factories.placed(order_id=f"ord-bad-{n}", at=now - timedelta(minutes=5)))
           for n in range(2)]
    services.observation_record(observations=[
        observation_from_queue_body(factories.queue_body(body), observed_at=now, origin="live")
        for body in bad])
    with dashboard_served() as url:
        yield url, placed + len(bad)


EVENTS_CELL = "tr[data-rule='OrderPlacedToWarehouse'] td[data-col='events']"


def send(moto_stack, event: Event) -> None:
    moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url, MessageBody=factories.queue_body(event))


def test_the_live_graph_shows_route_health_and_opens_a_route(live_history, browser, moto_stack):
    url, placed = live_history
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, url)

    page.goto(url + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    figure = ".chip[data-edge='OrderPlacedToWarehouse'] .route-figure"
    page.wait_for_selector(figure, timeout=10000)
    # every route of the model has its row, and its label on the graph its figures
    assert page.locator("tr[data-rule]").count() == len(CHOREOGRAPHY.routes)
    assert page.locator(".chip.route-chip .route-figure").count() == len(CHOREOGRAPHY.routes)
    assert page.inner_text(EVENTS_CELL) == str(placed)
    assert "/s p95" in page.text_content(figure) and "✕2" in page.text_content(figure)
    assert page.locator(".chip.route-busiest").count() == 1
    assert page.locator(".chip.route-slowest").count() == 1
    assert page.locator(".chip.route-failing[data-edge='OrderPlacedToWarehouse']").count() == 1
    assert "busiest" in page.inner_text("[data-route-summary]")
    invalid = "tr[data-rule='{}'] td[data-col='invalid']"
    assert page.inner_text(invalid.format("OrderPlacedToWarehouse")) == "2"
    assert "bad" in page.get_attribute(invalid.format("OrderPlacedToWarehouse"), "class")
    assert "bad" not in page.get_attribute(invalid.format("WarehouseStockReservedToPayment"), "class")
    page.screenshot(path=str(SCREENSHOTS / "route-health.png"))

    # nothing was placed in the last minute; the last hour holds what the quarter does
    page.click("[data-route-window='1m']")
    expect(page.locator(EVENTS_CELL)).to_have_text("0", timeout=10000)
    assert page.get_attribute("[data-route-window='1m']", "aria-pressed") == "true"
    assert "0/s" in page.text_content(figure)
    page.click("[data-route-window='1h']")
    expect(page.locator(EVENTS_CELL)).to_have_text(str(placed), timeout=10000)
    # an order placed now is counted at the next poll
    send(moto_stack, factories.placed(order_id="ord-now", at=datetime.now(UTC)))
    placed += 1
    expect(page.locator(EVENTS_CELL)).to_have_text(str(placed), timeout=15000)

    # a click on a label opens its route
    page.click(".chip[data-edge='OrderPlacedToWarehouse']")
    page.wait_for_url("**/routes/OrderPlacedToWarehouse", timeout=10000)
    assert page.inner_text("[data-figure='events']") == str(placed)
    assert page.locator("svg[data-histogram] rect.bar").count() >= 5
    assert page.locator("[data-route-events] a.order-link").count() == 20
    page.screenshot(path=str(SCREENSHOTS / "route.png"), full_page=True)
    assert page.evaluate("window.__violations") == []
    # the route's page follows its events as they arrive
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    send(moto_stack, factories.placed(order_id="ord-later", at=datetime.now(UTC)))
    expect(page.locator("[data-figure='events']")).to_have_text(str(placed + 1), timeout=15000)
    expect(page.locator("[data-route-events] a.order-link").first).to_have_text("ord-later")

    # and so does Enter on a focused one
    page.go_back()
    link = "a.route-link:has(.chip[data-edge='PaymentTakenToLoyalty'])"
    page.wait_for_selector(link, timeout=10000)
    page.focus(link)
    page.keyboard.press("Enter")
    page.wait_for_url("**/routes/PaymentTakenToLoyalty", timeout=10000)
    assert "Loyalty" in page.inner_text("[data-figure='dead-letters']") or \
        page.inner_text("[data-figure='dead-letters']").startswith("—")

    assert errors == []
    assert elsewhere == []
