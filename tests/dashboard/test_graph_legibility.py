"""The graph stays legible in a real browser, at a laptop's width and at wide ones, on the live
page with orders in flight and route figures shown, and on a trace; for the choreography as
deployed by default, with Loyalty in another account and a replica in another region, with
the legacy consumer, and for a bigger choreography (three more subdomains on a copy of the
model).

Legible means: no text over another; no node under a label that isn't its own, under the
order legend or under the order panel; no outline of an account or region cutting through an
area or another outline; no line through a caption, a title or an outline's label; text no
smaller than can be read; no line through a box it does not join; and the whole graph within
its card, or scrollable there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.live import views
from tests.browser import SCREENSHOTS, watch
from tests.dashboard import factories
from tests.dashboard.deployments import ACCOUNTS, BIGGER, TOPOLOGIES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 1680, 2560)
ORDERS = 8  # as many as the legend shows
TOLERANCE = 1.0  # px: antialiased edges that touch are not an overlap
SMALLEST_TEXT = 8.0  # px on screen: smaller is not read without a magnifier


@pytest.fixture
def topology(request: pytest.FixtureRequest, settings: Any,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The deployment the dashboard draws, as its settings (and, for the bigger one, its
    model) say."""
    name = request.param
    if name == "accounts":
        settings.DASHBOARD_SUBDOMAIN_ACCOUNTS = ACCOUNTS.subdomain_accounts
        settings.DASHBOARD_HOME_ACCOUNT = ACCOUNTS.home_account
        settings.DASHBOARD_HOME_REGION = ACCOUNTS.home_region
        settings.DASHBOARD_REPLICA_REGION = ACCOUNTS.replica_region
    elif name == "legacy":
        settings.DASHBOARD_LEGACY_CONSUMER = True
    elif name == "bigger":
        monkeypatch.setattr(views, "deployed_model", lambda: BIGGER)
    yield name


# Every box the checks need, in viewport pixels. A label is a text of the graph (a chip
# counts as its pill, which holds its text); its owner is the node or chip it belongs to, or
# the line it captions.
MEASURE = """
() => {
  const svg = document.querySelector("svg[data-graph]");
  const data = JSON.parse(document.getElementById("graph-data").textContent);
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
  const ctm = svg.getScreenCTM();
  const at = ([x, y]) => { const p = new DOMPoint(x, y).matrixTransform(ctm); return [p.x, p.y]; };
  const labels = [];
  for (const text of svg.querySelectorAll("text")) {
    if (!shown(text) || text.closest(".icon")) continue;
    const chip = text.closest(".chip");
    const node = text.closest("[data-node]");
    if (chip && !text.classList.contains("route-figure")) continue; // the chip's pill stands for it
    const size = parseFloat(getComputedStyle(text).fontSize) * ctm.a;
    labels.push({ name: `${text.getAttribute("class") || "text"} "${text.textContent.trim()}"`,
                  owner: node ? node.dataset.node : chip ? chip.dataset.edge : null,
                  line: text.dataset.connector || (chip ? chip.dataset.connector : null),
                  size, ...box(text) });
  }
  for (const chip of svg.querySelectorAll(".chip")) {
    const pill = chip.querySelector("rect");
    if (!shown(pill)) continue;
    labels.push({ name: `chip "${chip.dataset.event}"`, owner: chip.dataset.edge,
                  line: chip.dataset.connector, chip: true, ...box(pill) });
  }
  const nodes = [...svg.querySelectorAll("[data-node]")].map((node) => ({
    name: `node ${node.dataset.node}`, owner: node.dataset.node, ...box(node.querySelector(".node-box")) }));
  const areas = [...svg.querySelectorAll(".area rect")].map((rect) => ({
    name: `area ${rect.closest(".area").getAttribute("class")}`, ...box(rect) }));
  const outlines = [...svg.querySelectorAll("[data-boundary]")].map((outline) => ({
    name: `outline ${outline.dataset.boundary} ${outline.dataset.region}`,
    ...box(outline.querySelector("rect")) }));
  const segments = data.connectors.flatMap((connector) => connector.points.slice(1).map((point, index) => {
    const [ax, ay] = at(connector.points[index]);
    const [bx, by] = at(point);
    return { line: connector.id, x: Math.min(ax, bx), y: Math.min(ay, by),
             w: Math.abs(ax - bx), h: Math.abs(ay - by) };
  }));
  const routeChips = [...svg.querySelectorAll(".chip.route-chip")].map((chip) => ({
    name: chip.dataset.event, edge: chip.dataset.edge,
    figure: !!chip.querySelector(".route-figure") && shown(chip.querySelector(".route-figure")) }));
  const card = svg.closest(".panel");
  const legend = document.querySelector("[data-legend]");
  const panel = document.querySelector("#place-title")?.closest(".panel");
  const scrolls = (element) => ["auto", "scroll"].includes(getComputedStyle(element).overflowX);
  const scroller = svg.parentElement;
  const badges = [...document.querySelectorAll("details.span .span-name")].flatMap((name) =>
    [...name.querySelectorAll(".badge")].map((badge) => ({
      name: badge.textContent.trim(), badge: box(badge), column: box(name) })));
  return { labels, nodes, areas, outlines, segments, routeChips, badges,
           graph: box(svg), card: box(card), scroller: box(scroller),
           scrollable: scrolls(scroller) && scroller.scrollWidth >= svg.getBoundingClientRect().width - 1,
           legend: legend ? box(legend) : { x: 0, y: 0, w: 0, h: 0 },
           legendEntries: legend ? legend.children.length : 0,
           panel: panel ? box(panel) : { x: 0, y: 0, w: 0, h: 0 } };
}
"""


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> float:
    """How far two boxes overlap, in px along the shorter of the two directions; 0 if not."""
    across = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    down = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(0.0, min(across, down))


def _crossed(segment: dict[str, Any], label: dict[str, Any]) -> bool:
    """Whether a straight stretch of line runs through a box (its edges spared a pixel)."""
    return (segment["x"] < label["x"] + label["w"] - TOLERANCE
            and label["x"] + TOLERANCE < segment["x"] + segment["w"]
            and segment["y"] < label["y"] + label["h"] - TOLERANCE
            and label["y"] + TOLERANCE < segment["y"] + segment["h"])


def _clipped(a: dict[str, Any], frame: dict[str, Any]) -> dict[str, Any] | None:
    """The part of a box within a frame, if any."""
    x1, y1 = max(a["x"], frame["x"]), max(a["y"], frame["y"])
    x2, y2 = min(a["x"] + a["w"], frame["x"] + frame["w"]), min(a["y"] + a["h"], frame["y"] + frame["h"])
    return {"x": x1, "y": y1, "w": x2 - x1, "h": y2 - y1} if x2 > x1 and y2 > y1 else None


def _pair(line: str | None) -> set[str | None]:
    """A line and the one running back beside it between the same two boxes: a label of
    either sits over both."""
    if not line:
        return {line}
    source, _, target = line.removeprefix("c:").partition(">")
    return {line, f"c:{target}>{source}"}


def _inside(inner: dict[str, Any], outer: dict[str, Any]) -> bool:
    return (inner["x"] >= outer["x"] - TOLERANCE and inner["y"] >= outer["y"] - TOLERANCE
            and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + TOLERANCE
            and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + TOLERANCE)


def problems(measured: dict[str, Any]) -> list[str]:
    found = []
    labels, nodes = measured["labels"], measured["nodes"]
    for index, a in enumerate(labels):
        for b in labels[index + 1:]:
            if _overlap(a, b) > TOLERANCE:
                found.append(f"{a['name']} overlaps {b['name']} by {_overlap(a, b):.1f}px")
    for label in labels:
        if label.get("size") and label["size"] < SMALLEST_TEXT:
            found.append(f"{label['name']} is {label['size']:.1f}px high on screen")
        for segment in measured["segments"]:
            if segment["line"] not in _pair(label["line"]) and _crossed(segment, label):
                found.append(f"the line {segment['line']} runs through {label['name']}")
    for node in nodes:
        for segment in measured["segments"]:
            ends = segment["line"].removeprefix("c:").split(">")
            if node["owner"] not in ends and _crossed(segment, node):
                found.append(f"the line {segment['line']} runs through {node['name']}")
        for label in labels:
            if label["owner"] != node["owner"] and _overlap(node, label) > TOLERANCE:
                found.append(f"{label['name']} covers {node['name']} by {_overlap(node, label):.1f}px")
        on_screen = _clipped(node, measured["scroller"])  # a node scrolled away is under nothing
        for name in ("legend", "panel"):
            covered = _overlap(on_screen, measured[name]) if on_screen and measured[name]["w"] else 0
            if covered > TOLERANCE:
                found.append(f"the {name} covers {node['name']} by {covered:.1f}px")
    outlines = measured["outlines"]
    for outline in outlines:
        for other in [*measured["areas"], *nodes, *outlines]:
            if other is outline:
                continue
            nested = _inside(other, outline) or _inside(outline, other)
            if _overlap(other, outline) > TOLERANCE and not nested:
                found.append(f"the {outline['name']} cuts through {other['name']}")
    graph, card, scroller = measured["graph"], measured["card"], measured["scroller"]
    if not _inside(graph, card) and not (measured["scrollable"] and _inside(scroller, card)):
        found.append(f"the graph ({graph['x']:.0f}..{graph['x'] + graph['w']:.0f}px) overflows its card "
                     f"({card['x']:.0f}..{card['x'] + card['w']:.0f}px), which does not scroll")
    if _overlap(scroller, measured["panel"]) > TOLERANCE:
        found.append("the order panel covers the graph")
    for badge in measured["badges"]:
        if not _inside(badge["badge"], badge["column"]):
            found.append(f"the badge {badge['name']!r} is cut off by its column")
    return found


def _traffic(moto_stack: Any) -> None:
    """Orders placed and on their way: each one gets a swatch in the legend."""
    for number in range(ORDERS):
        for event in factories.happy_path(order_id=f"ord-legible-{number}")[:2]:
            moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url,
                                        MessageBody=factories.queue_body(event))


def _settle(page: Any) -> None:
    time.sleep(0.3)  # the layout settles after a resize
    page.evaluate("window.scrollTo(0, 0)")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("topology", TOPOLOGIES, indirect=True)
def test_the_graph_stays_legible(topology, width, dashboard_url, browser, moto_stack):
    page = browser.new_page(viewport={"width": width, "height": 1000})
    errors, elsewhere = watch(page, dashboard_url)

    page.goto(dashboard_url + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    _traffic(moto_stack)
    page.wait_for_selector(f"[data-legend] > :nth-child({ORDERS})", timeout=10000)
    page.wait_for_selector(".graph .route-figure", timeout=10000)
    _settle(page)
    live = page.evaluate(MEASURE)
    page.screenshot(path=f"{SCREENSHOTS}/graph-{topology}-{width}.png")

    assert live["legendEntries"] >= ORDERS
    assert len(live["nodes"]) >= 14 and len(live["labels"]) >= 25
    unfigured = [chip["name"] for chip in live["routeChips"] if not chip["figure"]]
    assert live["routeChips"] and not unfigured, f"route figures not shown beside {unfigured}"
    found = [f"live: {problem}" for problem in problems(live)]

    page.goto(dashboard_url + "/orders/ord-happy-1")
    page.wait_for_selector(".graph.tracing", timeout=10000)
    _settle(page)
    trace = page.evaluate(MEASURE)
    page.screenshot(path=f"{SCREENSHOTS}/graph-{topology}-{width}-trace.png")
    assert trace["badges"], "the timeline shows each event's buses"
    found += [f"trace: {problem}" for problem in problems(trace)]

    assert not found, "\n".join(found)
    assert errors == []
    assert elsewhere == []


@pytest.mark.parametrize("topology", TOPOLOGIES, indirect=True)
def test_everything_the_deployment_runs_is_drawn(topology, client, stack):
    html = client.get("/").content.decode()
    assert 'data-node="function:OrderApi"' in html
    assert 'data-connector="c:function:OrderApi&gt;queue:OrderOutbox"' in html
    if topology == "legacy":
        assert 'data-node="function:SalesLedger"' in html
        assert 'data-node="function:OrderPlacedV1Translator"' in html
        assert 'data-connector="c:function:OrderPlacedV1Translator&gt;queue:SalesLedger"' in html
    if topology == "accounts":
        assert 'data-node="replica:bus"' in html and 'data-region="eu-west-1"' in html
    if topology == "bigger":
        for name in ("Audit", "Invoicing", "Shipping"):
            assert f'data-node="function:{name}"' in html
