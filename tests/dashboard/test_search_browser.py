"""Search, compare and the live feed's filter in a real browser: no console error, nothing
fetched from elsewhere, nothing the Content-Security-Policy refuses; the feed filters events
as they stream, and a pause loses none of them."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.readmodel import services
from tests.browser import SCREENSHOTS, VIOLATIONS, watch
from tests.dashboard import factories
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page(browser, dashboard_url):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    page.add_init_script(VIOLATIONS)
    errors, elsewhere = watch(page, dashboard_url)
    return page, errors, elsewhere


def _shipped(order_id, minute, gaps_ms, customer_id="customer-1"):
    events = factories.happy_path(order_id=order_id, customer_id=customer_id,
                                  at=factories.T0 + timedelta(minutes=minute))
    at = events[0].time
    timed = [events[0]]
    for event, gap in zip(events[1:], gaps_ms, strict=True):
        at += timedelta(milliseconds=gap)
        timed.append(replace(event, time=at))
    return timed


def test_search_finds_events_links_their_traces_and_explains_a_bad_query(dashboard_url, browser,
                                                                          moto_stack):
    page, errors, elsewhere = _page(browser, dashboard_url)

    page.goto(dashboard_url + "/")
    page.click(".nav a:has-text('Search')")
    page.fill("input[name='q']", "type=payment.declined")
    page.press("input[name='q']", "Enter")
    page.wait_for_selector("[data-search-results]")
    assert page.url.endswith("/search/?type=payment.declined")
    rows = page.locator("[data-search-results] tbody tr")
    assert rows.count() == 1 and "ord-declined" in rows.inner_text()

    # the first page follows events as they are observed
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)
    _stream(moto_stack, factories.declined_path(order_id="ord-declined-live",
                                                at=datetime.now(UTC)))
    page.wait_for_selector("[data-search-results] tbody tr:first-child >> text=ord-declined-live",
                           timeout=10000)
    assert page.locator("[data-search-results] tbody tr").count() == 2

    page.fill("input[name='q']", "sku=MUG-STONEWARE type=order.placed")
    page.press("input[name='q']", "Enter")
    page.wait_for_selector("[data-search-results] tbody tr >> nth=4")
    assert page.locator("[data-search-results] tbody tr").count() == 5  # ord-declined-live's too
    assert page.evaluate("window.__violations") == []
    page.goto(dashboard_url + "/search/?sku=MUG-STONEWARE&until=2026-11-28")
    assert page.locator("[data-search-results] tbody tr").count() == 5 + 5 + 3 + 3
    page.screenshot(path=f"{SCREENSHOTS}/search.png", full_page=True)

    page.click("[data-search-results] a.order-link:has-text('ord-short')")
    page.wait_for_selector("[data-trace='ord-short']")

    page.goto(dashboard_url + "/search/?since=last+tuesday&colour=red")
    text = page.inner_text("[data-search-errors]")
    assert "since: 'last tuesday' is not a date and time" in text
    assert "unknown attribute 'colour'" in text
    errors.remove(next(e for e in errors if "400" in e))  # the page's own status, logged
    assert errors == []
    assert elsewhere == []


@pytest.fixture
def more_shipped(dashboard_url):
    """Three more shipped orders, recorded before the browser starts (the ORM refuses to run
    beside Playwright's event loop)."""
    paths = [_shipped("ord-steady", 10, [45, 60, 40, 80]), _shipped("ord-quick", 11, [25, 30, 20, 40]),
             _shipped("ord-sluggish", 12, [70, 900, 45, 150])]
    services.observation_record(observations=[o for p in paths for o in factories.sightings_of(p)])


def test_compare_with_a_typical_order_from_the_trace_page(more_shipped, dashboard_url, browser):
    page, errors, elsewhere = _page(browser, dashboard_url)

    page.goto(dashboard_url + "/orders/ord-sluggish")
    page.click("[data-compare-typical]")
    page.wait_for_selector("[data-compare]")
    # the others of its ending: ord-quick 115 ms, ord-happy-1 160 ms, ord-steady 225 ms
    assert page.url.endswith("/orders/compare?a=ord-sluggish&b=ord-happy-1")
    taken = page.locator("tr[data-step='payment.taken']")
    assert taken.locator("[data-a-hop]").inner_text() == "900 ms"
    assert taken.locator("[data-b-hop]").inner_text() == "40 ms"
    assert taken.locator("[data-hop-diff]").inner_text() == "\N{MINUS SIGN}860 ms"
    assert page.inner_text("[data-duration-diff]") == "\N{MINUS SIGN}1.0 s"
    assert page.locator("rect.compare-a").count() == 5 and page.locator("rect.compare-b").count() == 5
    assert page.evaluate("window.__violations") == []
    page.screenshot(path=f"{SCREENSHOTS}/compare.png", full_page=True)

    with page.expect_download() as download:
        page.goto(dashboard_url + "/orders/ord-sluggish")
        page.click("[data-otlp]")
    assert download.value.suggested_filename == "ord-sluggish.otlp.json"
    assert errors == []
    assert elsewhere == []


def _stream(moto_stack, events, bus_twice=("payment.taken", "loyalty.points-awarded")):
    for event in events:
        moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url, MessageBody=factories.queue_body(event))
        if event.type in bus_twice:
            moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url,
                                        MessageBody=factories.queue_body(event, "loyalty"))


def _shown(page) -> list[str]:
    return page.eval_on_selector_all("[data-feed] tr:not(.hidden)",
                                     "rows => rows.map(r => r.dataset.eventId)")


def test_the_live_feed_filters_as_it_streams_and_a_pause_loses_nothing(dashboard_url, browser, moto_stack):
    page, errors, elsewhere = _page(browser, dashboard_url)
    page.goto(dashboard_url + "/")
    page.wait_for_selector("[data-connection][data-state='open']", timeout=10000)

    # GIVEN a filter by type and by a data field: rows the page came with are filtered too
    page.fill("[data-filter-input]", "type=payment.taken customer=streamer")
    assert _shown(page) == []
    assert page.is_visible("[data-feed-unmatched]")
    page.fill("[data-filter-input]", "type=payment.taken")
    assert len(_shown(page)) == 2  # ord-happy-1's and ord-inflight's
    page.fill("[data-filter-input]", "type=payment.taken customer=streamer")
    assert page.evaluate("location.search") == "?q=type%3Dpayment.taken+customer%3Dstreamer"

    # WHEN events stream: only those matching are added
    now = datetime.now(UTC)
    first = factories.happy_path(order_id="ord-stream-0", customer_id="streamer", at=now)
    _stream(moto_stack, first + factories.happy_path(order_id="ord-other-0", customer_id="someone", at=now))
    page.wait_for_selector(f"[data-feed] tr[data-event-id='{first[2].id}']", timeout=10000)
    # waited on from here: a predicate Playwright evaluates in the page is eval, which the
    # page's policy refuses whenever the first check does not already hold
    wait_for(lambda: page.inner_text("[data-rate]") != "0.0 events/s", timeout=30,
             message="the feed's rate to count the streamed events")
    assert _shown(page) == [first[2].id]

    # AND paused, matching events are held and counted, not shown
    page.click("[data-pause]")
    orders = [factories.happy_path(order_id=f"ord-stream-{n}", customer_id="streamer", at=now)
              for n in range(1, 7)]
    for number, order in enumerate(orders):
        _stream(moto_stack, order + factories.happy_path(order_id=f"ord-other-{number + 1}",
                                                         customer_id="someone", at=now))
        time.sleep(0.1)
    page.wait_for_selector("[data-held]:has-text('6 events held')", timeout=15000)
    assert page.inner_text("[data-pause]") == "Resume (6)"
    assert _shown(page) == [first[2].id]
    page.screenshot(path=f"{SCREENSHOTS}/live-filter.png")

    # THEN on resume every one of them is there, newest first, and nothing else
    page.click("[data-pause]")
    shown = _shown(page)
    assert sorted(shown) == sorted([order[2].id for order in orders] + [first[2].id])
    assert shown[-1] == first[2].id
    assert page.is_hidden("[data-held]") and page.inner_text("[data-pause]") == "Pause"

    # and the filter's search link asks history the same
    assert page.get_attribute("[data-filter-search]", "href") == (
        "/search/?type=payment.taken&customer=streamer")
    page.fill("[data-filter-input]", "since=soon")
    assert "since: 'soon' is not a date and time" in page.inner_text("[data-filter-error]")
    assert page.evaluate("window.__violations") == []
    assert errors == []
    assert elsewhere == []


QUERIES = [
    "type=payment.declined customer=c-42",
    'data.decline.reason="card declined" source=payment',
    "since=2026-11-27 until=2026-11-28T09:30:00Z subject=ord-1",
    "sku=MUG-STONEWARE data.order.total.amount=2400 id=e-1 correlationid=c causationid=d",
    "colour=red",
    "since=yesterday",
    "data.=x",
    "type",
    # the bounds, the same in the browser: terms in a query, and the length of a value
    " ".join(f"sku=SKU-{index}" for index in range(20)),
    "colour=red " + " ".join(f"sku=SKU-{index}" for index in range(20)),
    "type=" + "x" * 129 + " subject=" + "\U0001F600" * 128,
]


def test_the_feed_filter_reads_a_query_as_search_does(dashboard_url, browser):
    """The browser's parser (query.js) and the server's (search.py) agree on every term and
    on what they refuse."""
    from dashboard.insight import search

    page, errors, elsewhere = _page(browser, dashboard_url)
    page.goto(dashboard_url + "/")
    in_browser = page.evaluate("""async (queries) => {
        const { parseQuery } = await import("/static/dashboard/js/query.js");
        const syntax = JSON.parse(document.getElementById("search-syntax").textContent);
        return queries.map((text) => {
            const query = parseQuery(text, syntax);
            return { terms: query.terms.map((t) => [t.key, t.value]), errors: query.errors };
        });
    }""", QUERIES)

    for text, parsed in zip(QUERIES, in_browser, strict=True):
        try:
            expected = {"terms": [list(t) for t in search.search_query_parse(
                search.search_query_text_parse(text)).terms], "errors": []}
        except search.SearchQueryError as error:
            expected = {"terms": [], "errors": error.messages}
        assert (parsed["terms"] if not parsed["errors"] else [], parsed["errors"]) == (
            expected["terms"], expected["errors"]), text
    assert errors == []
    assert elsewhere == []
