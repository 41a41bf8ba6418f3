"""Drift in a real browser: with a deployment changed by hand and traffic the model does not
declare, the Drift page lists each difference, the top bar counts them, and the live graph
draws them, legibly — no console error, no request elsewhere, nothing the CSP refuses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dashboard import aws
from dashboard.readmodel import services
from tests.browser import SCREENSHOTS, VIOLATIONS, dashboard_served, watch
from tests.dashboard import factories
from tests.dashboard.test_drift import (  # noqa: F401  (fixtures)
    deployed,
    synthesized,
    template,
    undeclared_observed,
)
from tests.dashboard.test_graph_legibility import MEASURE, problems
from workflow.envelope import new_event
from workflow.model import Bus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def drifted(deployed: aws.AwsContext) -> Iterator[str]:  # noqa: F811
    """The model's stack with a rule added by hand on each bus, a declared route's target
    removed, and an undeclared event type observed; the dashboard serving it."""
    events = deployed.client("events")
    stack = deployed.outputs()
    global_bus, loyalty_bus = stack.bus_name(Bus.GLOBAL), stack.bus_name(Bus.LOYALTY)
    for name, bus, target in (("audit-orders", global_bus, "arn:aws:sqs:us-east-1:123456789012:audit"),
                              ("loyalty-tap", loyalty_bus, "arn:aws:sqs:us-east-1:123456789012:tap")):
        events.put_rule(Name=name, EventBusName=bus,
                        EventPattern=json.dumps({"source": ["order"], "detail-type": ["order.placed"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "t", "Arn": target}])
    [payment_rule] = [rule["Name"] for rule in events.list_rules(EventBusName=global_bus)["Rules"]
                      if "-WarehouseStockReservedToPayment-" in rule["Name"]]
    events.remove_targets(Rule=payment_rule, EventBusName=global_bus, Ids=["Target0"])
    undeclared_observed("order.refunded", times=2)

    with dashboard_served() as url:
        yield url


def test_the_drift_page_the_top_bar_and_the_graph_show_the_drift(drifted, browser) -> None:
    page = browser.new_page(viewport={"width": 1680, "height": 1000})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, drifted)

    page.goto(drifted + "/drift/")
    expect(page.locator("[data-undeclared-rule]")).to_have_count(2)
    differences = page.locator("[data-drifted-route='WarehouseStockReservedToPayment'] [data-difference]")
    expect(differences).to_have_count(1)
    expect(differences).to_contain_text("no target delivers to queue:Payment")
    expect(page.locator("[data-undeclared-type='order.refunded']")).to_have_count(1)
    expect(page.locator("[data-drift-badge]")).to_have_text("4")
    expect(page.locator("[data-drift-badge]")).to_be_visible()
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-drift.png", full_page=True)

    page.click("[data-search-link]")
    expect(page).to_have_url(drifted + "/search/?type=order.refunded&source=order")

    page.goto(drifted + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    graph = page.locator("svg[data-graph]")
    expect(graph.locator(".undeclared-rule")).to_have_count(2)
    audit = graph.locator(".undeclared-rule[data-undeclared-rule='audit-orders'] > title")
    assert "audit-orders on the global bus is not in the model" in audit.text_content()
    assert "seen since" in audit.text_content()
    # the label's one tooltip says what differs, before the route's figures
    chip = graph.locator(".chip.drifted[data-edge='WarehouseStockReservedToPayment']")
    expect(chip.locator(".route-figure")).to_have_count(1)
    expect(chip.locator("title")).to_have_count(1)
    assert chip.locator("title").text_content().startswith(
        "WarehouseStockReservedToPayment on the global bus is changed: no target delivers to queue:Payment")
    assert graph.locator("path.connector.drifted").count() == 1
    expect(page.locator("[data-drift-badge]")).to_have_text("4")

    time.sleep(0.3)  # the layout settles
    measured = page.evaluate(MEASURE)
    assert problems(measured) == []
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-live-drift.png")

    assert page.evaluate("window.__violations") == []
    assert errors == [] and elsewhere == []


@pytest.fixture
def traffic_drifted(deployed: aws.AwsContext) -> Iterator[str]:  # noqa: F811
    """The model's stack as deployed, with traffic that bypasses the model in the read model:
    an event on a bus where no route takes it, and one caused by an event the model has no
    reaction to it for; the dashboard serving it."""
    placed, reserved, taken, *_ = factories.happy_path(order_id="ord-drift")
    skipping = new_event(type="payment.taken", cause=placed, data=taken.data,
                         time=placed.time + timedelta(seconds=1))
    services.observation_record(observations=[
        factories.observe(placed), factories.observe(skipping),
        factories.observe(reserved, "loyalty")])
    with dashboard_served() as url:
        yield url


def test_the_traffics_drift_is_listed_and_drawn(traffic_drifted, browser) -> None:
    page = browser.new_page(viewport={"width": 1680, "height": 1000})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, traffic_drifted)

    page.goto(traffic_drifted + "/drift/")
    void = page.locator("[data-unrouted='warehouse.stock-reserved'][data-bus='loyalty']")
    expect(void).to_have_count(1)
    link = page.locator("tr[data-undeclared-link='order.placed>payment.taken']")
    expect(link).to_contain_text("warehouse.stock-reserved")  # what the model has instead
    expect(page.locator("[data-drift-badge]")).to_have_text("2")
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-drift-traffic.png", full_page=True)
    link.locator("[data-latest-link]").click()
    expect(page).to_have_url(traffic_drifted + "/orders/ord-drift")

    page.goto(traffic_drifted + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    drawn = page.locator(
        "svg[data-graph] .undeclared-link[data-undeclared-link='order.placed>payment.taken']")
    expect(drawn).to_have_count(1)
    assert drawn.locator("title").text_content().startswith(
        "order.placed → payment.taken is not in the model: payment.taken was caused by order.placed")
    assert "since" in drawn.locator("title").text_content()
    box = drawn.locator("path.drift-link").bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 50
    stroke = drawn.locator("path.drift-link").evaluate("path => getComputedStyle(path).strokeDasharray")
    assert stroke not in ("", "none")

    time.sleep(0.3)  # the layout settles
    assert problems(page.evaluate(MEASURE)) == []
    page.screenshot(path=f"{SCREENSHOTS}/dashboard-live-drift-traffic.png")
    assert page.evaluate("window.__violations") == []
    assert errors == [] and elsewhere == []
