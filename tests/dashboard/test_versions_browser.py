"""Event versions in a real browser: the versions page shows the share of each version per
route and follows new events; the live feed and the trace badge each event's version; the
catalogue sets both versions of order.placed side by side. The screenshots in docs/img are
taken here, from a read model of orders as the local system makes them while the order API
moves from version 1 to version 2 of order.placed."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.readmodel import services
from tests.browser import VIOLATIONS, dashboard_served, watch
from tests.dashboard import factories
from tests.dashboard.test_route_health_browser import retimed
from workflow.envelope import Event
from workflow.model import CHOREOGRAPHY
from workflow.versions import written_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("VERSION_SCREENSHOTS", Path(__file__).parents[2] / "docs" / "img"))
ORDERS = 180
PLACED_ROW = "tr[data-route='OrderPlacedToWarehouse']"


def placed_version(number: int, rng: random.Random) -> int:
    """The first 40% of the orders in version 1, the next 20% either (the order API's
    environments taking the new setting one by one), the rest in version 2."""
    if number < ORDERS * 0.4:
        return 1
    if number < ORDERS * 0.6:
        return rng.choice((1, 2))
    return 2


def switching_history(now: datetime) -> tuple[list[Event], dict[int, int], str]:
    """ORDERS orders over the last 30 minutes; returns the events, how many order.placed of
    each version, and an order placed in version 2."""
    rng = random.Random(12)
    events: list[Event] = []
    placed = {1: 0, 2: 0}
    a_version_2 = ""
    for number in range(ORDERS):
        start = now - timedelta(minutes=31) + timedelta(seconds=number * 1800 / ORDERS)
        kind = rng.random()
        order_id = f"ord-{number:04}"
        path = (factories.declined_path(order_id=order_id, at=start) if kind < 0.12
                else factories.happy_path(order_id=order_id, customer_id=f"customer-{number % 17}",
                                          at=start))
        version = placed_version(number, rng)
        placed[version] += 1
        if version == 2:
            a_version_2 = order_id
            path = [written_as(path[0], 2), *path[1:]]
        events += retimed(path, start, rng)
    return events, placed, a_version_2


@pytest.fixture
def history(moto_stack) -> Iterator[tuple[str, dict[int, int], str]]:
    events, placed, a_version_2 = switching_history(datetime.now(UTC))
    services.observation_record(observations=factories.sightings_of(events))
    with dashboard_served() as url:
        yield url, placed, a_version_2


def send(moto_stack, event: Event) -> None:
    moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url, MessageBody=factories.queue_body(event))


def test_the_versions_page_shows_each_route_s_share_and_follows_new_events(
        history, browser, moto_stack):
    url, placed, _ = history
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, url)

    page.goto(url + "/versions/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)

    assert page.locator("tr[data-route]").count() == len(CHOREOGRAPHY.routes)
    row = page.locator(PLACED_ROW)
    assert row.locator("li[data-version='1']").get_attribute("data-count") == str(placed[1])
    assert row.locator("li[data-version='2']").get_attribute("data-count") == str(placed[2])
    share = f"{placed[2] / (placed[1] + placed[2]) * 100:.1f}%"
    assert row.locator("li[data-version='2'] [data-share]").inner_text() == share
    assert row.locator("svg rect.version-1").count() > 0
    assert row.locator("svg rect.version-2").count() > 0
    page.screenshot(path=str(SCREENSHOTS / "versions.png"), full_page=True)

    # a version 2 order placed now is counted as it arrives
    send(moto_stack, written_as(factories.placed(order_id="ord-now", at=datetime.now(UTC)), 2))
    expect(row.locator("li[data-version='2']")).to_have_attribute(
        "data-count", str(placed[2] + 1), timeout=15000)

    assert page.evaluate("window.__violations") == []
    assert errors == [] and elsewhere == []


def test_the_feed_the_trace_and_the_catalogue_show_versions(history, browser, moto_stack):
    url, _, a_version_2 = history
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, url)

    page.goto(url + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    live = written_as(factories.placed(order_id="ord-live-v2", at=datetime.now(UTC)), 2)
    send(moto_stack, live)
    badge = f"tr[data-event-id='{live.id}'] .version-badge"
    expect(page.locator(badge)).to_have_text("v2", timeout=15000)

    page.goto(url + f"/orders/{a_version_2}")
    versions = page.locator(".span-name .version-badge")
    expect(versions.first).to_have_text("v2")
    assert versions.count() >= 5  # every event of the order has its version

    page.goto(url + "/catalogue/events/order.placed")
    section = page.locator("[data-versions]")
    expect(section.locator("[data-schema-version]")).to_have_count(2)
    assert section.locator("[data-compatibility='breaking']").count() == 1
    section.screenshot(path=str(SCREENSHOTS / "catalogue-versions.png"))

    assert page.evaluate("window.__violations") == []
    assert errors == [] and elsewhere == []
