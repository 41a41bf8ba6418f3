"""The dashboard in a real browser: it renders without a console error, fetches nothing from
anywhere but itself, animates events as they arrive, places orders from its form, and shows
and redrives dead letters."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser import SCREENSHOTS, VIOLATIONS, watch
from tests.dashboard import factories
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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


def test_the_failures_page_shows_and_redrives_dead_letters(failures, dashboard_url, browser, moto_stack):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    errors, elsewhere = watch(page, dashboard_url)

    page.goto(dashboard_url + "/")
    page.wait_for_selector("[data-dead-letter-badge]:not(.hidden):has-text('5')", timeout=10000)

    page.click(".nav a:has-text('Failures')")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    text = page.inner_text("body")
    for shown in ("refused", "exhausted", "undeliverable", "async-failure", "chaos: injected failure",
                  "HTTP_500: the notification endpoint answered 500", "not a CloudEvent",
                  "seen on a bus but refused by the catalogue", "injected failures"):
        assert shown in text, shown
    page.click("#queue-Payment details.letter:has-text('not JSON') summary .letter-reason")
    assert page.locator("#queue-Payment details[open] pre.json").inner_text() == "<script>alert(1)</script>"
    page.click("#queue-Warehouse details.letter summary .letter-reason")
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-failures.png", full_page=True)

    page.click("#queue-Payment details.letter:has-text('not JSON') button:has-text('Redrive')")
    page.wait_for_selector(".flash.success", timeout=10000)
    assert "Payment: redrove message" in page.inner_text(".flash.success")
    assert page.locator("#queue-Payment").get_attribute("data-count") == "1"
    page.click("#queue-Warehouse [data-redrive-all]")
    page.wait_for_selector(".flash.success:has-text('Warehouse: redrive started')", timeout=10000)
    # the redrive runs in the background; the page follows its progress until it ends
    page.wait_for_selector("[data-redrive-job='Warehouse'][data-state='finished']"
                           ":has-text('Redrive finished: 1 moved.')", timeout=15000)
    page.reload()
    assert page.locator("#queue-Warehouse").get_attribute("data-count") == "0"
    assert page.inner_text("[data-dead-letter-badge]") == "3"
    back = moto_stack.sqs.receive_message(QueueUrl=failures["Warehouse"], VisibilityTimeout=0)["Messages"]
    assert json.loads(back[0]["Body"])["detail"]["subject"] == "ord-dead"

    page.fill("input[name='poison_rate']", "2")
    page.click(".chaos-form button:has-text('Set knobs')")
    page.wait_for_selector("[data-error-for='poison_rate']:has-text('poison_rate must be between 0 and 1')",
                           timeout=10000)
    page.fill("input[name='poison_rate']", "0")
    page.fill("input[name='jitter_seconds']", "2.5")
    page.click(".chaos-form button:has-text('Set knobs')")
    page.wait_for_selector(".flash.success:has-text('jitter_seconds 2.5')", timeout=10000)
    assert page.input_value("input[name='jitter_seconds']") == "2.5"
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-failures-redriven.png")

    assert errors == []
    assert elsewhere == []



def test_every_page_keeps_to_its_content_security_policy(dashboard_url, browser):
    """Scripts and styles only from the dashboard itself: no page needs an inline script or
    style attribute, so an injected one would do nothing."""
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, dashboard_url)
    for path in ("/", "/orders/", "/orders/ord-happy-1", "/orders/ord-declined", "/failures/"):
        response = page.goto(dashboard_url + path)
        assert response is not None and response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__violations") == [], path
    # the timeline's bars are placed without a style attribute
    page.goto(dashboard_url + "/orders/ord-happy-1")
    assert page.locator("svg.span-track rect.span-bar").count() >= 5
    assert float(page.locator("rect.span-bar >> nth=1").get_attribute("width").rstrip("%")) > 0
    # and the policy holds: markup with a style attribute is refused, and reported
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    wait_for(lambda: page.evaluate("window.__violations.length") > 0, timeout=5,
             message="the refused style attribute to be reported")
    errors.clear()  # the refusal above is logged as a console error, on purpose
    assert elsewhere == []
