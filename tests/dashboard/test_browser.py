"""The dashboard in a real browser: it renders without a console error, fetches nothing from
anywhere but itself, animates events as they arrive, and places orders from its form."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from dashboard import services
from dashboard.serve import serve
from tests.dashboard import factories
from tests.dashboard.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("DASHBOARD_SCREENSHOTS", "/tmp")


@pytest.fixture
def dashboard_url(moto_stack) -> Iterator[str]:
    later = factories.T0 + timedelta(seconds=2)
    paths = [factories.happy_path(order_id="ord-happy-1", customer_id="<script>alert(1)</script>"),
             factories.declined_path(order_id="ord-declined", at=later),
             factories.rejected_path(order_id="ord-short", at=later + timedelta(seconds=1)),
             factories.happy_path(order_id="ord-inflight", at=later + timedelta(seconds=2))[:3]]
    services.observation_record(observations=[o for p in paths for o in factories.sightings_of(p)])
    port = free_port()
    stop = threading.Event()
    ready: list[str] = []
    thread = threading.Thread(target=serve, kwargs={"host": "127.0.0.1", "port": port, "stop": stop,
                                                    "ready": ready.append}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not ready and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready
    yield ready[0]
    stop.set()
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


def watch(page, base: str) -> tuple[list[str], list[str]]:
    """Console errors and page errors; and every request that left the dashboard's origin."""
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    origin = urlsplit(base).netloc

    def check(request) -> None:
        url = urlsplit(request.url)
        if url.scheme in {"data", "about", "blob"}:
            return
        if url.netloc != origin:
            elsewhere.append(request.url)

    page.on("request", check)
    return errors, elsewhere


def test_the_live_view_animates_orders_and_places_them(dashboard_url, browser, moto_stack):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    errors, elsewhere = watch(page, dashboard_url)

    page.goto(dashboard_url + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-live.png")

    events = factories.happy_path(order_id="ord-animated")
    for index, event in enumerate(events):
        moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url, MessageBody=factories.queue_body(event))
        if index == 2:
            moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url,
                                        MessageBody=factories.queue_body(event, "loyalty"))
        time.sleep(0.25)
    page.wait_for_selector("tr[data-event-id] >> text=ord-animated", timeout=10000)
    page.wait_for_selector(".graph .token", timeout=5000)
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-live-animating.png")
    assert page.locator("[data-legend] >> text=ord-animated").count() == 1

    page.fill("input[name='customer_id']", "browser-customer")
    page.click("label.card-option:has-text('Declining test card')")
    page.click("[data-submit]")
    page.wait_for_selector("[data-placed]:not(.hidden)", timeout=10000)
    assert "placed" in page.inner_text("[data-placed]")

    page.fill("input[name='customer_id']", "")
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-for='customer_id']:has-text('is required')", timeout=10000)
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-live-form.png")

    assert errors == []
    assert elsewhere == []


def test_a_trace_shows_the_path_the_timeline_and_every_event(dashboard_url, browser):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    errors, elsewhere = watch(page, dashboard_url)

    page.goto(dashboard_url + "/orders/ord-happy-1")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    text = page.inner_text("body")
    for event_type in ("order.placed", "warehouse.stock-reserved", "payment.taken",
                       "loyalty.points-awarded", "warehouse.order-shipped"):
        assert event_type in text
    assert "<script>alert(1)</script>" in text  # shown as text, not run
    assert page.locator(".graph .connector.taken").count() >= 8
    page.click("details.span >> nth=2")
    page.click("[data-replay]")
    page.wait_for_selector(".graph .token", timeout=5000)
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-trace.png", full_page=True)

    page.goto(dashboard_url + "/orders/")
    page.wait_for_selector("text=ord-declined")
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-orders.png")

    assert errors == []
    assert elsewhere == []
