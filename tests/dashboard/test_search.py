"""Search finds events over history by every CloudEvent attribute, a time range and any data
field, pages through them, links each to its trace, and answers a malformed query with what
is wrong with it (a 400, never a 500)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum

import pytest

from dashboard.insight import search
from dashboard.models import ObservedEvent, SearchTerm, SharedTerm
from dashboard.readmodel import search_terms, services
from tests.dashboard import factories
from workflow.catalogue import SCHEMAS
from workflow.envelope import new_event
from workflow.model import CHOREOGRAPHY, Bus, EventType, Route, ToBus

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture
def history(stack):
    """Three orders a minute apart: c-42's ships, customer-1's is declined, then one is
    rejected for want of stock."""
    orders = {"shipped": factories.happy_path(order_id="ord-a", customer_id="c-42"),
              "declined": factories.declined_path(order_id="ord-b", at=factories.T0 + MINUTE),
              "rejected": factories.rejected_path(order_id="ord-c", at=factories.T0 + 2 * MINUTE)}
    services.observation_record(observations=[
        o for events in orders.values() for o in factories.sightings_of(events)])
    return orders


def found(client, query: str) -> list[str]:
    """The event ids the results table shows, top to bottom."""
    response = client.get(f"/search/?{query}")
    assert response.status_code == 200, response.content.decode()[:2000]
    return re.findall(r'<tr data-event-id="([^"]+)"', response.content.decode())


def ids(events, *, newest_first: bool = True) -> list[str]:
    chosen = [event.id for event in sorted(events, key=lambda e: e.time)]
    return chosen[::-1] if newest_first else chosen


def test_each_attribute_finds_its_events_newest_first(client, history):
    shipped, declined, rejected = history["shipped"], history["declined"], history["rejected"]

    assert found(client, "type=payment.declined") == [declined[2].id]
    assert found(client, "type=order.placed") == [rejected[0].id, declined[0].id, shipped[0].id]
    assert found(client, "source=payment") == [declined[2].id, shipped[2].id]
    assert found(client, "subject=ord-a") == ids(shipped)
    assert found(client, f"correlationid={declined[0].correlation_id}") == ids(declined)
    assert found(client, f"causationid={shipped[1].id}") == [shipped[2].id]
    assert found(client, f"id={rejected[1].id}") == [rejected[1].id]
    assert found(client, "type=payment.declined&subject=ord-a") == []


def test_a_time_range_is_since_inclusive_until_exclusive(client, history):
    since = (factories.T0 + MINUTE).isoformat()
    until = (factories.T0 + 2 * MINUTE).isoformat()

    assert found(client, f"since={since}&until={until}") == ids(history["declined"])
    assert found(client, "since=2026-11-27T09:32:00Z&type=order.placed") == [history["rejected"][0].id]
    assert found(client, "until=2026-11-27") == []  # a date alone is its midnight, UTC


def test_data_fields_customers_and_skus_are_searchable(client, history):
    shipped, declined, rejected = history["shipped"], history["declined"], history["rejected"]

    assert found(client, "customer=c-42") == ids(shipped)
    assert found(client, "sku=MUG-STONEWARE&type=order.placed") == [
        rejected[0].id, declined[0].id, shipped[0].id]
    assert found(client, "data.decline.reason=card+declined") == ids(declined[2:])
    assert found(client, "data.order.total.amount=2400&subject=ord-c") == ids(rejected)
    assert found(client, "data.unavailable.shortages.available=0") == ids(rejected[1:])
    assert found(client, "data.points.points=24") == ids(shipped[3:])
    assert found(client, "data.points.points=25") == []


def test_results_link_to_traces_and_pages_follow(client, history, monkeypatch):
    monkeypatch.setattr(search, "RESULTS_PER_PAGE", 4)
    everything = ids([e for events in history.values() for e in events])

    first = client.get("/search/?source=order").content.decode()
    pages = [found(client, f"source=order&page={n}") for n in (1, 2)]

    assert pages[0] + pages[1] == [i for i in everything
                                   if ObservedEvent.objects.get(event_id=i).source == "order"]
    assert len(pages[0]) == 4 and len(pages[1]) == 1
    assert 'href="/orders/ord-c"' in first
    assert 'href="?source=order&amp;page=2" rel="next"' in first
    assert "1\N{EN DASH}4, more follow" in first
    assert 'rel="prev"' in client.get("/search/?source=order&page=2").content.decode()


def test_a_query_as_text_is_answered_with_its_url(client, history):
    response = client.get("/search/", {"q": 'type=payment.declined data.decline.reason="card declined"'})

    assert response.status_code == 302
    assert response["Location"] == "/search/?type=payment.declined&data.decline.reason=card+declined"
    page = client.get(response["Location"]).content.decode()
    assert 'value="type=payment.declined data.decline.reason=&quot;card declined&quot;"' in page


@pytest.mark.parametrize(("query", "message"), [
    ("since=yesterday", "since: &#x27;yesterday&#x27; is not a date and time"),
    ("until=2026-13-45", "until: &#x27;2026-13-45&#x27; is not a date and time"),
    ("colour=red", "unknown attribute &#x27;colour&#x27;: search by type, source, subject"),
    ("data.=x", "data.: a data field is data.&lt;key&gt;"),
    ("data.order..id=x", "a data field is data.&lt;key&gt;"),
    ("since=2026-11-28&until=2026-11-27", "since must be before until"),
    ("type=order.placed&page=two", "page: &#x27;two&#x27; is not a page number"),
    ("q=type", "&#x27;type&#x27; is not a key=value term"),
])
def test_a_malformed_query_is_told_what_is_wrong(client, history, query, message):
    response = client.get(f"/search/?{query}")

    assert response.status_code == 400
    html = response.content.decode()
    assert "This query cannot be run" in html and message in html
    assert "data-search-results" not in html


def test_every_bad_term_is_named_at_once(client, history):
    html = client.get("/search/?since=soon&shade=blue&type=order.placed").content.decode()

    assert "since: &#x27;soon&#x27;" in html and "unknown attribute &#x27;shade&#x27;" in html


def test_a_type_the_model_does_not_declare_is_searched_with_a_note(client, stack):
    services.observation_record(observations=[factories.observe(factories.placed(order_id="ord-x"))])

    html = client.get("/search/?type=order.teleported").content.decode()

    assert "the choreography declares no event type &#x27;order.teleported&#x27;" in html
    assert "No event matches every term." in html


def test_the_aliases_name_fields_of_the_catalogue():
    order = SCHEMAS["order.placed"]["properties"]["order"]["properties"]
    assert search.DATA_ALIASES == {"customer": "order.customerId", "sku": "order.lines.sku"}
    assert "customerId" in order and "sku" in order["lines"]["items"]["properties"]


def test_data_terms_are_bounded_and_go_with_their_event(stack):
    event = factories.placed(order_id="ord-big")
    event.data["order"]["note"] = "x" * (search_terms.TERM_LENGTH + 1)
    event.data["order"]["tags"] = [f"tag-{n}" for n in range(search_terms.TERMS_PER_EVENT)]
    services.observation_record(observations=[factories.observe(event)])

    # Its own terms, and those of the order part it shares with its order's other events.
    own = SearchTerm.objects.filter(event__event_id=event.id)
    shared = SharedTerm.objects.filter(term_set__events__event_id=event.id)
    assert own.count() + shared.count() == search_terms.TERMS_PER_EVENT
    assert not shared.filter(path="order.note").exists()
    assert shared.filter(path="order.customerId", value="customer-1").exists()

    services.read_model_prune(before=factories.T0 + timedelta(days=1))
    assert SearchTerm.objects.count() == SharedTerm.objects.count() == 0


class Subdomains(StrEnum):
    ORDER = "order"
    WAREHOUSE = "warehouse"
    PAYMENT = "payment"
    LOYALTY = "loyalty"
    AUDIT = "audit"


AUDITED = EventType("audit.recorded", Subdomains.AUDIT, 1, "An order was audited.")  # type: ignore[arg-type]
WITH_AUDIT = replace(CHOREOGRAPHY, events=(*CHOREOGRAPHY.events, AUDITED),
                     routes=(*CHOREOGRAPHY.routes, Route(AUDITED.name, Bus.GLOBAL, ToBus(Bus.LOYALTY))))


def audit_recorded(cause):
    """An event of the added type, as its producer would publish it. (The catalogue the
    dashboard validates with is the deployed model's, which does not know the type: the
    event is kept as invalid, and searchable all the same.)"""
    event = new_event(type="order.placed", cause=cause, data=cause.data,
                      time=cause.time + timedelta(milliseconds=90))
    return replace(event, type=AUDITED.name, source=AUDITED.producer.value,
                   data={"audit": {"auditor": "a-7"}})


def test_a_route_added_to_the_model_makes_its_events_searchable(client, stack):
    placed = factories.placed(order_id="ord-audited")
    audited = audit_recorded(placed)
    # Recorded by the model that declares the audit subdomain: by one that does not, an event
    # from its source would be a sighting of an undeclared source, for drift.
    services.observation_record(observations=[factories.observe(placed), factories.observe(audited)],
                                model=WITH_AUDIT)

    query = search.search_query_parse([("type", AUDITED.name), ("data.audit.auditor", "a-7")])

    assert search.search_query_warnings(query, model=WITH_AUDIT) == []
    assert search.search_query_warnings(query) == [
        "the choreography declares no event type 'audit.recorded'"]
    assert [e.event_id for e in search.event_search(query=query).events] == [audited.id]
