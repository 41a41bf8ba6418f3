"""Conformance and stuck orders in a real browser: the trace's ghosts, the Stuck page and the
top bar's count, without a console error or a request anywhere but the dashboard itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.readmodel import services
from tests.browser import SCREENSHOTS, VIOLATIONS, watch
from tests.dashboard import factories
from tests.dashboard.test_insight import shipped_unpaid
from workflow.envelope import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def record(*paths: list[Event]) -> None:
    services.observation_record(
        observations=[o for path in paths for o in factories.sightings_of(path)])


@pytest.fixture
def recent_orders(failures, dashboard_url) -> None:
    """Orders of the last half hour: some done, one just placed, some stopped (recorded
    before the browser starts: Playwright's loop is no place for the database)."""
    now = datetime.now(UTC)
    record(*(factories.happy_path(order_id=f"ord-{n:04x}", customer_id=f"customer-{n}",
                                  at=now - timedelta(minutes=30 - n)) for n in range(3)),
           factories.declined_path(order_id="ord-cafe", at=now - timedelta(minutes=24)),
           factories.happy_path(order_id="ord-dead", at=now - timedelta(minutes=20))[:1],
           factories.happy_path(order_id="ord-paid", at=now - timedelta(minutes=8))[:3],
           factories.happy_path(order_id="ord-quiet", at=now - timedelta(minutes=6))[:2],
           factories.happy_path(order_id="ord-fresh", at=now - timedelta(seconds=20))[:2],
           shipped_unpaid("ord-skipped"))


def test_the_trace_draws_the_steps_to_come_and_the_stuck_page_says_why(
        recent_orders, dashboard_url, browser):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, dashboard_url)

    page.goto(dashboard_url + "/orders/ord-fresh")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    assert page.locator("[data-ghost]").count() == 3
    assert page.locator(".graph .connector.ghost").count() >= 3
    assert page.locator(".graph .chip.ghost").count() >= 3
    assert "Heading for warehouse.order-shipped" in page.inner_text("[data-ending]")
    page.screenshot(path=f"{SCREENSHOTS}/trace-ghosts.png", full_page=True)

    page.goto(dashboard_url + "/orders/ord-skipped")
    assert page.locator("[data-verdict='unexplained']").count() == 1

    page.goto(dashboard_url + "/orders/")
    assert page.locator("[data-deviates]").count() == 1
    page.screenshot(path=f"{SCREENSHOTS}/orders-deviating.png")
    page.click("[data-filter-deviating]")
    page.wait_for_url("**/orders/?deviating=1")
    assert page.locator("tbody tr").count() == 1

    page.goto(dashboard_url + "/stuck/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    page.wait_for_selector("[data-stuck-badge]:not(.hidden)", timeout=10000)
    stuck = page.locator("[data-stuck-order]")
    # ord-dead, ord-paid, ord-quiet, and the fixture's order in flight since two days ago
    assert stuck.count() == 4
    assert page.inner_text("[data-stuck-badge]") == "4"
    dead = page.locator("[data-stuck-order='ord-dead'] [data-cause='dead-letter'] a")
    assert dead.get_attribute("href") == "/failures/#queue-Warehouse"
    assert "Loyalty is failing" in page.inner_text("[data-stuck-order='ord-paid']")
    assert "ord-fresh" not in page.inner_text("main")
    page.screenshot(path=f"{SCREENSHOTS}/stuck.png", full_page=True)
    dead.click()
    page.wait_for_selector("#queue-Warehouse")

    assert page.evaluate("window.__violations") == []
    assert errors == []
    assert elsewhere == []
