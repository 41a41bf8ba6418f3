"""The catalogue in a real browser: it renders without a console error or a policy violation,
fetches nothing from elsewhere, follows the traffic live, and is reached from the graph and
from a refused event."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboard.readmodel import services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.browser import SCREENSHOTS, VIOLATIONS, watch
from tests.dashboard import factories
from workflow.model import CHOREOGRAPHY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



@dataclass(frozen=True)
class Site:
    url: str
    refused_reason: str
    """why the refused event was refused, as the read model says (read before the browser runs:
    the database is not to be used from its event loop)"""


@pytest.fixture
def recent_orders(dashboard_url) -> Site:
    """Forty orders over the last fifty minutes, as a busy hour leaves them: most shipped, some
    declined, some short of stock; and one order.placed refused for its data."""
    now = datetime.now(UTC)
    pick = random.Random(7)
    observations = []
    for number in range(40):
        at = now - timedelta(minutes=50) + timedelta(seconds=75 * number)
        path = pick.choices([factories.happy_path, factories.declined_path, factories.rejected_path],
                            weights=[8, 1, 1])[0]
        observations.extend(factories.sightings_of(path(order_id=f"ord-{number:04d}", at=at)))
    refused = factories.schema_failing(factories.placed(order_id="ord-refused", at=now))
    observations.append(observation_from_queue_body(
        factories.queue_body(refused), observed_at=now - timedelta(minutes=3), origin="live"))
    services.observation_record(observations=observations)
    return Site(dashboard_url, services.ObservedEvent.objects.get(order_id="ord-refused").invalid_reason)


def test_the_catalogue_lists_the_model_and_follows_the_traffic_live(recent_orders, browser, moto_stack):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    page.add_init_script(VIOLATIONS)
    base = recent_orders.url
    errors, elsewhere = watch(page, base)

    response = page.goto(base + "/catalogue/")
    assert response is not None and response.status == 200
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    assert page.locator("tr[data-event-type]").count() == len(CHOREOGRAPHY.events)
    assert page.locator("article[data-function]").count() == len(CHOREOGRAPHY.functions)
    placed = page.locator("[data-traffic='order.placed'] [data-recent]")
    before = int(placed.inner_text())
    assert before == 41  # the forty orders and the refused one; the fixture's older orders are days old
    assert page.locator("[data-traffic='order.placed'] .refused").is_visible()
    page.screenshot(path=f"{SCREENSHOTS}/catalogue.png")
    page.click("#schema-payment\\.taken summary")
    assert page.locator("#schema-payment\\.taken .schema-fields").is_visible()

    moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url,
                                MessageBody=factories.queue_body(factories.placed(order_id="ord-live")))
    expect(placed).to_have_text("42", timeout=10000)
    assert page.locator("[data-last-seen='order.placed']").inner_text().endswith("ago")

    page.click("tr[data-event-type='payment.taken'] [data-consumers] a")
    assert page.url.endswith("/catalogue/#function-Loyalty")
    assert page.locator("#function-Loyalty").is_visible()

    assert page.evaluate("window.__violations") == []
    assert errors == []
    assert elsewhere == []


def test_an_event_type_is_reached_from_the_graph_and_from_a_refused_event(recent_orders, browser):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    page.add_init_script(VIOLATIONS)
    base = recent_orders.url
    errors, elsewhere = watch(page, base)

    page.goto(base + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    # a line's label opens its route, whose event links to its entry
    page.locator("a.route-link:has(.chip[data-edge='WarehouseStockReservedToPayment'])").click()
    page.wait_for_url("**/routes/WarehouseStockReservedToPayment")
    page.locator("a[aria-label='warehouse.stock-reserved in the catalogue']").click()
    page.wait_for_url("**/catalogue/events/warehouse.stock-reserved")
    assert "Every line of the order is reserved" in page.inner_text("body")

    page.goto(base + "/orders/ord-refused")
    page.click("details.notification summary")
    page.click("[data-claimed-schema]")
    page.wait_for_selector("[data-claimed='match']")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    assert recent_orders.refused_reason in page.inner_text("[data-refused]")
    page.click("[data-refused] details summary")
    page.screenshot(path=f"{SCREENSHOTS}/catalogue-event.png", full_page=True)

    assert page.evaluate("window.__violations") == []
    assert errors == []
    assert elsewhere == []
