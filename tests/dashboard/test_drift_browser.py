"""Drift in a real browser: with a deployment changed by hand and traffic the model does not
declare, the Drift page lists each difference, the top bar counts them, and the live graph
draws them, legibly — no console error, no request elsewhere, nothing the CSP refuses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from dashboard import aws
from tests.browser import SCREENSHOTS, VIOLATIONS, dashboard_served, watch
from tests.dashboard.test_drift import deployed, template, undeclared_observed  # noqa: F401  (fixtures)
from tests.dashboard.test_graph_legibility import MEASURE, problems
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
