"""Whatever query a viewer shapes, search's cost is bounded (terms, the length of a value,
time), and a query past a bound is answered naming it (400, or 503 for time), never 500: on
SQLite here, and on PostgreSQL in tests/dashboard/test_on_postgresql.py."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

import pytest
from django.db.models import QuerySet
from django.utils.html import escape

from dashboard.insight import search
from dashboard.models import ObservedEvent
from dashboard.readmodel import services
from tests.dashboard import factories

pytestmark = pytest.mark.django_db

TOO_MANY = f"at most {search.MAX_TERMS} terms"


def answer(client, url: str) -> tuple[int, str, float]:
    """The status, the page and how long it took."""
    started = time.monotonic()
    response = client.get(url)
    return response.status_code, response.content.decode(), time.monotonic() - started


@pytest.mark.parametrize("query", [
    urlencode([(f"data.order.field{index}", "x") for index in range(300)]),
    urlencode([("sku", f"SKU-{index}") for index in range(999)]),
    urlencode([("type", "order.placed")] * 15 + [("customer", "c-1")] * 6),
    "q=" + quote(" ".join(f"sku=SKU-{index}" for index in range(999))),
], ids=["300 data terms", "999 skus", "21 terms of two kinds", "999 skus as text"])
def test_a_query_of_more_terms_than_the_limit_is_refused_at_once(client, stack, query):
    status, html, took = answer(client, f"/search/?{query}")

    assert status == 400 and TOO_MANY in html
    assert took < 1.0, f"{took:.2f}s to refuse"


def test_a_query_of_as_many_terms_as_the_limit_is_searched(client, stack):
    events = factories.happy_path(order_id="ord-limit")
    services.observation_record(observations=factories.sightings_of(events))
    terms = [("subject", "ord-limit"), ("sku", "MUG-STONEWARE")] + [
        ("data.order.orderId", "ord-limit")] * (search.MAX_TERMS - 2)

    status, html, _ = answer(client, f"/search/?{urlencode(terms)}")

    assert status == 200 and f'data-event-id="{events[0].id}"' in html


@pytest.mark.parametrize("key", ["type", "subject", "sku", "data.order.customerId"])
def test_a_value_longer_than_any_kept_is_refused_naming_the_limit(client, stack, key):
    status, html, _ = answer(client, f"/search/?{key}={'x' * (search.TERM_LENGTH + 1)}")

    assert status == 400
    assert escape(f"{key}: a value is at most {search.TERM_LENGTH} characters") in html


@pytest.mark.parametrize(("query", "name"), [
    ("since=0001-01-01T00:00:00%2B01:00", "since"),
    ("until=9999-12-31T23:59:59-01:00", "until"),
    ("since=0001-01-01T00:00:00%2B14:00&until=2026-01-01", "since"),
])
def test_a_time_beyond_the_dates_kept_is_a_bad_request(client, stack, query, name):
    """In UTC, which the read model keeps, these are a year 0 and a year 10000."""
    status, html, _ = answer(client, f"/search/?{query}")

    assert status == 400
    assert f"{name}: " in html and "beyond the dates" in html


@pytest.fixture
def slow_search(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    """Every search takes seconds (it counts to ten million first), and may take a tenth."""
    settings.DASHBOARD_SEARCH_SECONDS = 0.1
    matching = search._matching

    def counting_first(query: search.SearchQuery) -> QuerySet[ObservedEvent]:
        return matching(query).extra(where=[
            "(WITH RECURSIVE counted(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counted "
            "WHERE n < 10000000) SELECT count(*) FROM counted) > 0"])

    monkeypatch.setattr(search, "_matching", counting_first)


@pytest.mark.usefixtures("slow_search")
def test_a_search_that_outlasts_its_time_is_stopped_and_says_so(client, stack):
    services.observation_record(observations=[factories.observe(factories.placed(order_id="ord-slow"))])

    status, html, took = answer(client, "/search/?type=order.placed")

    assert status == 503
    assert "took longer than 0.1 s" in html
    assert took < 1.0, f"{took:.2f}s to stop"
    assert ObservedEvent.objects.filter(order_id="ord-slow").exists()
