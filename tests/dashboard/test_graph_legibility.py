"""The live graph stays legible in a real browser, at a laptop's width and at wide ones, with
orders in flight: no label over another, no node under a label that isn't its own, under the
order legend or under the order panel, and the whole graph within its card."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser import SCREENSHOTS, watch
from tests.dashboard import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 1680, 2560)
ORDERS = 8  # as many as the legend shows
TOLERANCE = 1.0  # px: antialiased edges that touch are not an overlap

# Every box the checks need, in viewport pixels. A label is a text of the graph (a chip
# counts as its pill, which holds its text); its owner is the node or chip it belongs to.
MEASURE = """
() => {
  const svg = document.querySelector("svg[data-graph]");
  const box = (element) => {
    const r = element.getBoundingClientRect();
    return { x: r.left, y: r.top, w: r.width, h: r.height };
  };
  const shown = (element) => {
    if (element.closest(".hidden, [visibility='hidden']")) return false;
    const style = getComputedStyle(element);
    const r = element.getBoundingClientRect();
    return style.display !== "none" && style.visibility !== "hidden" && r.width > 0 && r.height > 0;
  };
  const labels = [];
  for (const text of svg.querySelectorAll("text")) {
    if (!shown(text) || text.closest(".icon")) continue;
    const chip = text.closest(".chip");
    const node = text.closest("[data-node]");
    if (chip && !text.classList.contains("route-figure")) continue; // the chip's pill stands for it
    labels.push({ name: `${text.getAttribute("class") || "text"} "${text.textContent.trim()}"`,
                  owner: node ? node.dataset.node : chip ? chip.dataset.edge : null, ...box(text) });
  }
  for (const chip of svg.querySelectorAll(".chip")) {
    const pill = chip.querySelector("rect");
    if (!shown(pill)) continue;
    labels.push({ name: `chip "${chip.dataset.event}"`, owner: chip.dataset.edge, ...box(pill) });
  }
  const nodes = [...svg.querySelectorAll("[data-node]")].map((node) => ({
    name: `node ${node.dataset.node}`, owner: node.dataset.node, ...box(node.querySelector(".node-box")) }));
  const card = svg.closest(".panel");
  const legend = document.querySelector("[data-legend]");
  const panel = document.querySelector("#place-title").closest(".panel");
  const scrolls = (element) => ["auto", "scroll"].includes(getComputedStyle(element).overflowX);
  return { labels, nodes, graph: box(svg), card: box(card), legend: box(legend),
           legendEntries: legend.children.length, panel: box(panel),
           scrolls: scrolls(svg.parentElement) || scrolls(card) };
}
"""


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> float:
    """How far two boxes overlap, in px along the shorter of the two directions; 0 if not."""
    across = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    down = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(0.0, min(across, down))


def problems(measured: dict[str, Any]) -> list[str]:
    found = []
    labels, nodes = measured["labels"], measured["nodes"]
    for index, a in enumerate(labels):
        for b in labels[index + 1:]:
            if _overlap(a, b) > TOLERANCE:
                found.append(f"{a['name']} overlaps {b['name']} by {_overlap(a, b):.1f}px")
    for node in nodes:
        for label in labels:
            if label["owner"] != node["owner"] and _overlap(node, label) > TOLERANCE:
                found.append(f"{label['name']} covers {node['name']} by {_overlap(node, label):.1f}px")
        for name in ("legend", "panel"):
            if measured[name]["w"] and _overlap(node, measured[name]) > TOLERANCE:
                found.append(f"the {name} covers {node['name']} by {_overlap(node, measured[name]):.1f}px")
    graph, card = measured["graph"], measured["card"]
    inside = (graph["x"] >= card["x"] - TOLERANCE and graph["y"] >= card["y"] - TOLERANCE
              and graph["x"] + graph["w"] <= card["x"] + card["w"] + TOLERANCE
              and graph["y"] + graph["h"] <= card["y"] + card["h"] + TOLERANCE)
    if not inside and not measured["scrolls"]:
        found.append(f"the graph ({graph['x']:.0f}..{graph['x'] + graph['w']:.0f}px) overflows its card "
                     f"({card['x']:.0f}..{card['x'] + card['w']:.0f}px), which does not scroll")
    if _overlap(graph, measured["panel"]) > TOLERANCE:
        found.append(f"the order panel covers the graph by {_overlap(graph, measured['panel']):.1f}px")
    return found


def test_the_live_graph_stays_legible_with_orders_in_flight(dashboard_url, browser, moto_stack):
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    errors, elsewhere = watch(page, dashboard_url)
    page.goto(dashboard_url + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)

    # Orders placed and on their way: each one gets a swatch in the legend.
    for number in range(ORDERS):
        events = factories.happy_path(order_id=f"ord-legible-{number}")[:2]
        for event in events:
            moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url,
                                        MessageBody=factories.queue_body(event))
    page.wait_for_selector(f"[data-legend] > :nth-child({ORDERS})", timeout=10000)

    found: dict[int, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        time.sleep(0.3)  # the layout settles
        page.evaluate("window.scrollTo(0, 0)")
        measured = page.evaluate(MEASURE)
        assert measured["legendEntries"] >= ORDERS
        assert len(measured["nodes"]) >= 10 and len(measured["labels"]) >= 20
        found[width] = problems(measured)
        page.screenshot(path=f"{SCREENSHOTS}/dashboard-live-{width}.png")

    listed = [f"at {width}px: {problem}" for width, problems_at in found.items() for problem in problems_at]
    assert not listed, "\n".join(listed)
    assert errors == []
    assert elsewhere == []
