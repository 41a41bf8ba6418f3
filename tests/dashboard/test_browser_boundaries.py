"""Loyalty in an account of its own, in a real browser: the live graph outlines each account,
events of both accounts fly over it, a trace marks the hops that crossed, and the points the
home bus's policy refused are on the Failures page as refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.readmodel import services
from tests.browser import SCREENSHOTS, dashboard_served, watch
from tests.dashboard import factories
from tests.dashboard.test_boundaries import HOME, LOYALTY, refused_in_loyalty_account  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dashboard_url(refused_in_loyalty_account, moto_stack) -> Iterator[str]:  # noqa: F811
    """The dashboard of the two-account topology, its read model holding a few orders of the
    last minute, the points of each published in the Loyalty account."""
    start = datetime.now(UTC) - timedelta(seconds=60)
    paths = [factories.happy_path(order_id=f"ord-{index:04d}across", at=start + timedelta(seconds=index * 7))
             for index in range(6)]
    paths.append(factories.declined_path(order_id="ord-0006declined", at=start + timedelta(seconds=45)))
    services.observation_record(observations=[
        o for path in paths for o in factories.published_in(path, {"loyalty.points-awarded": LOYALTY})])
    with dashboard_served() as url:
        yield url


def test_two_accounts_outlined_live_a_crossing_marked_and_a_refusal_shown(dashboard_url, browser,
                                                                          moto_stack):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    errors, elsewhere = watch(page, dashboard_url)

    page.goto(dashboard_url + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    loyalty = page.locator(f".graph [data-boundary='{LOYALTY}']")
    assert loyalty.count() == 1 and loyalty.is_visible()
    assert loyalty.locator("text").text_content() == f"{LOYALTY} · us-east-1"
    assert page.locator(f".graph [data-boundary='{HOME}']").count() == 3
    # the outline is drawn around the Loyalty function on screen
    out = loyalty.locator("rect").bounding_box()
    box = page.locator(".graph [data-node='function:Loyalty']").bounding_box()
    assert out["x"] < box["x"] and box["x"] + box["width"] < out["x"] + out["width"]
    assert out["y"] < box["y"] and box["y"] + box["height"] < out["y"] + out["height"]

    events = factories.happy_path(order_id="ord-0007live", at=datetime.now(UTC))
    for event in events:
        account = LOYALTY if event.type == "loyalty.points-awarded" else HOME
        body = json.dumps({"bus": "global", "event": {**factories.envelope(event), "account": account}})
        moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url, MessageBody=body)
        time.sleep(0.3)
    page.wait_for_selector("tr[data-event-id] >> text=ord-0007live", timeout=10000)
    page.wait_for_selector(".graph .token", timeout=5000)
    page.locator(".graph").screenshot(path=f"{SCREENSHOTS}/accounts-graph.png")
    page.screenshot(path=f"{SCREENSHOTS}/accounts.png")

    page.goto(dashboard_url + "/orders/ord-0007live")
    page.wait_for_selector("[data-crossed]", timeout=10000)
    crossed = page.locator("[data-crossed]")
    assert [crossed.nth(index).get_attribute("title").split(",")[0] for index in range(crossed.count())] == [
        f"crossed from {HOME} · us-east-1", f"crossed from {LOYALTY} · us-east-1"]
    assert all(text.startswith("⇄ ") and text.endswith(" ms") for text in crossed.all_inner_texts())
    for index in range(crossed.count()):  # shown whole, not cut off by its column
        badge = crossed.nth(index).bounding_box()
        column = page.locator("details.span:has([data-crossed]) .span-name").nth(index).bounding_box()
        assert badge["x"] + badge["width"] <= column["x"] + column["width"]
    assert page.locator("[data-where]").count() == 5
    page.screenshot(path=f"{SCREENSHOTS}/accounts-trace.png", full_page=True)

    page.goto(dashboard_url + "/failures/")
    section = page.locator("#queue-RuleTarget-loyalty")
    section.locator("summary").first.click()
    text = section.inner_text()
    assert "refused" in text and "refused by the bus policy" in text and "loyalty.points-awarded" in text
    assert f"in account {LOYALTY}" in text
    page.screenshot(path=f"{SCREENSHOTS}/accounts-failures.png", full_page=True)

    assert errors == []
    assert elsewhere == []
