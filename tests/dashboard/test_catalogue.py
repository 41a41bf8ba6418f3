"""The catalogue says what the model says: every event type with who sends it, where its rules
take it and who reads it; every function with what it consumes, publishes and keeps; each
type's recent traffic from the read model. An event refused on a bus links to its entry, and a
route or an event type added to the model is an entry on its own."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import quote

import fastjsonschema
import pytest

from dashboard.catalogue import selectors, views
from dashboard.readmodel import services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories
from workflow.catalogue import SCHEMAS, validate_data
from workflow.model import (
    CHOREOGRAPHY,
    Bus,
    EventType,
    Function,
    Queue,
    Route,
    Subdomain,
    ToNotification,
    ToQueue,
)

pytestmark = pytest.mark.django_db


class _Parts(HTMLParser):
    """The text of every element carrying attribute `name`, by its value (nested parts too)."""

    VOID = {"br", "hr", "img", "input", "meta", "link", "source", "wbr"}

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.open: list[tuple[str, int, str | None]] = []  # tag, depth, value
        self.texts: dict[str, list[str]] = {}
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self.depth += 1
        attributes = dict(attrs)
        value = (attributes[self.name] or "") if self.name in attributes else None
        self.open.append((tag, self.depth, value))
        if value is not None:
            self.texts.setdefault(value, [])

    def handle_endtag(self, tag):
        if tag in self.VOID or not self.open:
            return
        self.open.pop()
        self.depth -= 1

    def handle_data(self, data):
        for _tag, _depth, value in self.open:
            if value is not None:
                self.texts[value].append(data)


def parts(html: str, name: str) -> dict[str, str]:
    parser = _Parts(name)
    parser.feed(html)
    return {value: " ".join(" ".join(texts).split()) for value, texts in parser.texts.items()}


def rows(html: str, attribute: str) -> dict[str, str]:
    """The raw HTML of each `<tr|article ... attribute="value">` element."""
    found = {}
    for match in re.finditer(rf'<(tr|article)\b[^>]*\b{attribute}="([^"]+)"', html):
        end = html.index(f"</{match.group(1)}>", match.end())
        found[unescape(match.group(2))] = html[match.start():end]
    return found


def test_the_page_lists_every_event_type_with_its_producer_routes_and_consumers(client, stack):
    html = client.get("/catalogue/").content.decode()

    events = rows(html, "data-event-type")
    assert list(events) == [event.name for event in CHOREOGRAPHY.events]
    for event in CHOREOGRAPHY.events:
        row = events[event.name]
        producer, routes, consumers = (parts(row, "data-producer")[""], parts(row, "data-routes")[""],
                                       parts(row, "data-consumers")[""])
        assert producer.startswith(event.producer.value)
        for function in CHOREOGRAPHY.functions:
            assert (function.id in producer.split()) == (event.name in function.publishes)
            consumed = function.id in CHOREOGRAPHY.consumers_of(event.name)
            assert (function.id in consumers.split()) == consumed
        for route in CHOREOGRAPHY.routes:
            assert (route.rule_id in routes.split()) == (route.event == event.name), route.rule_id
        assert routes.count("→") == len(CHOREOGRAPHY.routes_of(event.name))
        assert f'href="/catalogue/events/{event.name}"' in row
        assert f"v{event.version}" in row


def _names(text: str) -> list[str]:
    return [name for name in text.replace(",", " ").split()]


def test_the_page_lists_every_function_with_what_it_consumes_publishes_and_keeps(client, stack):
    html = client.get("/catalogue/").content.decode()

    functions = rows(html, "data-function")
    assert list(functions) == [function.id for function in CHOREOGRAPHY.functions]
    for function in CHOREOGRAPHY.functions:
        card = functions[function.id]
        assert f'id="function-{function.id}"' in card
        consumes = parts(card, "data-consumes")[""]
        for event_type in CHOREOGRAPHY.consumed_by(function.id):
            assert event_type in consumes
        for route in CHOREOGRAPHY.routes:
            if isinstance(route.target, ToQueue) and route.target.consumer(CHOREOGRAPHY) == function.id:
                assert f"via queue {CHOREOGRAPHY.queue(route.target.queue).name}" in consumes
            elif route.target.kind == "function" and route.target.ref == function.id:
                assert f"{route.event} from {route.bus.value} via a direct target" in consumes
        published = parts(card, "data-publishes")[""]
        assert [name for name in published.split() if "." in name] == list(function.publishes)
        assert _names(parts(card, "data-tables")[""]) == (list(function.tables) or ["—"])
        assert _names(parts(card, "data-secrets")[""]) == (list(function.secrets) or ["—"])


def test_every_event_type_has_its_schema_readable_and_raw_and_a_valid_example(client, stack):
    for event in CHOREOGRAPHY.events:
        html = client.get(f"/catalogue/events/{event.name}").content.decode()
        raw, example = (json.loads(unescape(re.search(rf'<pre class="json" {name}>(.*?)</pre>',
                                                      html, re.S)[1]))
                        for name in ("data-schema-json", "data-example"))

        assert raw["$id"] == event.dataschema and raw["properties"] == SCHEMAS[event.name]["properties"]
        for part in SCHEMAS[event.name]["required"]:
            assert f'field-path depth-0">{part}<' in html
        assert parts(html, "data-dataschema")[""] == event.dataschema
        assert parts(html, "data-version")[""] == str(event.version)
        assert example["type"] == event.name and example["dataschema"] == event.dataschema
        validate_data(event.name, example["data"])
    assert client.get("/catalogue/events/order.shipped").status_code == 404


NOW = datetime.now(UTC).replace(microsecond=0)


def _observed(event, at: datetime, bus: str = "global"):
    return factories.observe(event, bus, observed_at=at)


@pytest.fixture
def traffic():
    """Known events at known times: one order shipped 10 minutes ago (its events observed 10:00,
    9:59, ... minutes ago, payment.taken and loyalty.points-awarded on both buses), one placed
    two hours ago, and a refused order.placed 5 minutes ago."""
    shipped = factories.happy_path(order_id="ord-recent", at=NOW - timedelta(minutes=10))
    observations = []
    for index, event in enumerate(shipped):
        at = NOW - timedelta(minutes=10) + timedelta(seconds=index)
        observations.append(_observed(event, at))
        if event.type in {"payment.taken", "loyalty.points-awarded"}:
            observations.append(_observed(event, at + timedelta(milliseconds=300), "loyalty"))
    observations.append(_observed(factories.placed(order_id="ord-old", at=NOW - timedelta(hours=2)),
                                  NOW - timedelta(hours=2)))
    refused = factories.schema_failing(factories.placed(order_id="ord-refused"))
    observations.append(observation_from_queue_body(factories.queue_body(refused),
                                                    observed_at=NOW - timedelta(minutes=5), origin="live"))
    services.observation_record(observations=observations)


def test_recent_traffic_counts_each_type_in_the_last_hour_and_when_it_was_last_seen(traffic):
    found = selectors.event_type_traffic(types=[event.name for event in CHOREOGRAPHY.events], now=NOW)

    # order.placed: ord-recent's (10 min ago) and the refused one (5 min); ord-old's is 2 h old
    assert found["order.placed"] == selectors.Traffic(2, 1, NOW - timedelta(minutes=5))
    # one event each, seen once whatever the buses it crossed, at 10:00 - index seconds ago
    for index, name in enumerate(CHOREOGRAPHY.happy_path[1:], start=1):
        assert found[name] == selectors.Traffic(1, 0, NOW - timedelta(minutes=10) + timedelta(seconds=index))
    assert found["payment.declined"] == selectors.Traffic(0, 0, None)
    # an hour later, only the last-seen times are left
    later = selectors.event_type_traffic(types=["order.placed"], now=NOW + timedelta(hours=1))
    assert later["order.placed"] == selectors.Traffic(0, 0, NOW - timedelta(minutes=5))


def test_the_page_and_its_json_show_the_traffic(client, stack, traffic):
    html = client.get("/catalogue/").content.decode()
    document = client.get("/api/catalogue/traffic").json()

    shown = parts(html, "data-traffic")
    assert shown["order.placed"] == "2 · 1 invalid"
    assert shown["warehouse.stock-reserved"] == "1 · 0 invalid"  # the invalid part hidden by CSS
    assert 'class="refused hidden"' in rows(html, "data-event-type")["warehouse.stock-reserved"]
    assert parts(html, "data-last-seen")["payment.declined"] == "never"
    assert parts(html, "data-recent-total")[""] == str(2 + len(CHOREOGRAPHY.happy_path) - 1)
    assert document["types"]["order.placed"] == {
        "recent": 2, "recentInvalid": 1, "lastSeen": (NOW - timedelta(minutes=5)).isoformat()}
    assert document["types"]["payment.declined"]["lastSeen"] is None


def test_the_traffic_is_one_query_whatever_the_number_of_types(django_assert_num_queries, traffic):
    names = [event.name for event in CHOREOGRAPHY.events]
    with django_assert_num_queries(1):
        selectors.event_type_traffic(types=names * 3)


def _refused(dataschema: str | None = None) -> str:
    """A refused order.placed on the global bus: its data fails the schema, or it claims
    another schema; returns its event id."""
    event = factories.placed(order_id=f"ord-{uuid.uuid4().hex[:6]}")
    broken = factories.schema_failing(event)
    if dataschema:
        broken = factories.envelope(event)
        broken["detail"] = {**broken["detail"], "dataschema": dataschema}
    services.observation_record(observations=[observation_from_queue_body(
        factories.queue_body(broken), observed_at=datetime.now(UTC), origin="live")])
    return event.id


def test_an_invalid_event_links_to_its_entry_and_the_schema_it_claimed(client, stack):
    event_id = _refused()
    claimed = CHOREOGRAPHY.event("order.placed").dataschema

    failures = client.get("/failures/?partial=invalid").content.decode()
    entry_url = "/catalogue/events/order.placed"
    claimed_url = f"{entry_url}?dataschema={quote(claimed, safe='')}"
    assert f'<a class="type invalid" href="{entry_url}"' in failures
    assert f'href="{claimed_url}" data-claimed-schema><code>{claimed}</code>' in failures

    entry = client.get(claimed_url).content.decode()
    reason = services.ObservedEvent.objects.get(event_id=event_id).invalid_reason
    assert 'data-claimed="match"' in entry
    assert f"The event claimed <code>{claimed}</code>: this schema" in entry
    assert f'data-event-id="{event_id}"' in entry
    assert unescape(reason) in unescape(parts(entry, "data-refused")[""])

    order_id = services.ObservedEvent.objects.get(event_id=event_id).order_id
    trace = client.get(f"/orders/{order_id}").content.decode()
    assert f'href="{claimed_url}" data-claimed-schema' in trace


def test_an_event_claiming_a_schema_the_catalogue_lacks_is_told_so(client, stack):
    _refused(dataschema="urn:choreo:schema:order.placed:9")

    failures = client.get("/failures/?partial=invalid").content.decode()
    url = "/catalogue/events/order.placed?dataschema=" + quote("urn:choreo:schema:order.placed:9", safe="")
    assert f'href="{url}"' in failures
    entry = client.get(url).content.decode()
    assert 'data-claimed="mismatch"' in entry
    assert "order.placed is version 1, <code>urn:choreo:schema:order.placed:1</code>" in entry
    assert "unsupported dataschema" in parts(entry, "data-refused")[""]


@pytest.mark.parametrize("claimed", [
    "urn:choreo:schema:order.placed:1\u00b2",  # digits to str.isdigit(), not to int()
    "urn:choreo:schema:order.placed:\u0661",  # an Arabic-Indic one
    "urn:choreo:schema:order.placed:01"])
def test_an_event_claiming_a_near_miss_of_a_schema_is_told_it_is_none_of_the_catalogues(
        client, stack, claimed):
    _refused(dataschema=claimed)
    url = "/catalogue/events/order.placed?dataschema=" + quote(claimed, safe="")

    failures = client.get("/failures/?partial=invalid")
    entry = client.get(url)

    assert failures.status_code == 200 and f'href="{url}"' in failures.content.decode()
    assert entry.status_code == 200
    assert 'data-claimed="mismatch"' in entry.content.decode()
    assert "unsupported dataschema" in parts(entry.content.decode(), "data-refused")[""]


def test_the_trace_the_graph_and_the_routes_link_to_the_catalogue(client, stack):
    services.observation_record(observations=factories.sightings_of(factories.happy_path(order_id="ord-linked")))

    trace = client.get("/orders/ord-linked").content.decode()
    live = client.get("/").content.decode()

    for event_type in CHOREOGRAPHY.happy_path:
        assert f'<a href="/catalogue/events/{event_type}" data-catalogue-link>' in trace
    # a line of the graph opens its route, and the route's event is its catalogue entry
    for route in CHOREOGRAPHY.routes:
        assert f'<a href="/routes/{route.rule_id}" class="route-link"' in live
        page = client.get(f"/routes/{route.rule_id}").content.decode()
        entry = f'<a href="/catalogue/events/{route.event}" aria-label="{route.event} in the catalogue">'
        assert entry in page
    for function in CHOREOGRAPHY.functions:
        assert f'<a href="/catalogue/#function-{function.id}" aria-label=' in live


def test_the_json_and_asyncapi_documents_say_what_the_page_says(client, stack):
    document = client.get("/api/catalogue").json()
    asyncapi = client.get("/api/catalogue/asyncapi.json").json()

    assert [entry["type"] for entry in document["events"]] == [event.name for event in CHOREOGRAPHY.events]
    for entry in document["events"]:
        assert [route["ruleId"] for route in entry["routes"]] == \
            [route.rule_id for route in CHOREOGRAPHY.routes_of(entry["type"])]
        assert entry["consumers"] == list(CHOREOGRAPHY.consumers_of(entry["type"]))
        validate_data(entry["type"], entry["example"]["data"])
    assert [entry["id"] for entry in document["functions"]] == [f.id for f in CHOREOGRAPHY.functions]

    assert asyncapi["asyncapi"] == "3.0.0"
    assert set(asyncapi["components"]["messages"]) == {event.name for event in CHOREOGRAPHY.events}
    for route in CHOREOGRAPHY.routes:
        assert f"{route.bus.value}:{route.event}" in asyncapi["channels"]
    for operation in asyncapi["operations"].values():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        assert channel in asyncapi["channels"]
    receives = [op for key, op in asyncapi["operations"].items() if op["action"] == "receive"]
    assert len(receives) == sum(1 for route in CHOREOGRAPHY.routes
                                if route.target.kind in {"queue", "function"})


AUDIT_EVENT = "warehouse.stock-audited"
AUDIT = "StockAudit"
WITH_AUDIT = replace(
    CHOREOGRAPHY,
    events=(*CHOREOGRAPHY.events, EventType(AUDIT_EVENT, Subdomain.WAREHOUSE, 3,
                                            "A shipment's stock movement was audited.")),
    functions=(*CHOREOGRAPHY.functions, Function(
        AUDIT, Subdomain.WAREHOUSE, "functions.warehouse.audit.lambda_handler",
        "Audits each shipment's stock movement.", tables=("Audit",), publishes_to=Bus.GLOBAL,
        publishes=(AUDIT_EVENT,))),
    queues=(*CHOREOGRAPHY.queues, Queue(AUDIT, Subdomain.WAREHOUSE, consumer=AUDIT)),
    routes=(*CHOREOGRAPHY.routes, Route("warehouse.order-shipped", Bus.GLOBAL, ToQueue(AUDIT)),
            Route(AUDIT_EVENT, Bus.GLOBAL, ToNotification("OrderNotifications"))))
AUDIT_SCHEMAS = {**SCHEMAS, AUDIT_EVENT: {
    "type": "object", "required": ["order", "audit"],
    "properties": {"order": SCHEMAS["order.placed"]["properties"]["order"],
                   "audit": {"type": "object", "required": ["auditedAt", "lines"],
                             "properties": {"auditedAt": {"type": "string", "format": "date-time"},
                                            "lines": {"type": "integer", "minimum": 1}}}}}}


def test_a_route_and_an_event_type_added_to_the_model_have_their_entries(client, stack, monkeypatch):
    monkeypatch.setattr(views, "MODEL", WITH_AUDIT)
    monkeypatch.setattr(views, "SCHEMAS", AUDIT_SCHEMAS)

    html = client.get("/catalogue/").content.decode()
    entry = client.get(f"/catalogue/events/{AUDIT_EVENT}").content.decode()
    document = client.get("/api/catalogue").json()

    events = rows(html, "data-event-type")
    assert list(events)[-1] == AUDIT_EVENT
    assert parts(events[AUDIT_EVENT], "data-producer")[""] == f"warehouse {AUDIT}"
    assert "WarehouseStockAuditedToOrderNotifications" in parts(events[AUDIT_EVENT], "data-routes")[""]
    shipped_routes = parts(events["warehouse.order-shipped"], "data-routes")[""]
    assert "WarehouseOrderShippedToStockAudit" in shipped_routes
    assert AUDIT in parts(events["warehouse.order-shipped"], "data-consumers")[""].split()
    audit_card = rows(html, "data-function")[AUDIT]
    consumes = parts(audit_card, "data-consumes")[""]
    assert consumes == "warehouse.order-shipped from global via queue StockAudit"
    assert parts(entry, "data-dataschema")[""] == f"urn:choreo:schema:{AUDIT_EVENT}:3"
    assert 'field-path depth-1">audit.auditedAt<' in entry

    [added] = [item for item in document["events"] if item["type"] == AUDIT_EVENT]
    assert added["example"]["data"]["audit"] == {"auditedAt": added["example"]["time"], "lines": 1}
    fastjsonschema.compile(AUDIT_SCHEMAS[AUDIT_EVENT])(added["example"]["data"])


@pytest.mark.django_db(transaction=True)
def test_after_a_restart_the_traffic_comes_back_from_the_log_group(moto_stack, client):
    """An empty read model (a restart of the embedded default) replayed from the log group
    shows the traffic again, each event counted once however many times it is replayed."""
    from dashboard.readmodel import history
    from tests.dashboard.test_history import put_events

    put_events(moto_stack, [*factories.happy_path(order_id="ord-shipped"),
                            *factories.declined_path(order_id="ord-declined")])
    assert client.get("/api/catalogue/traffic").json()["types"]["order.placed"]["recent"] == 0

    for _ in range(2):
        history.history_rebuild(logs=moto_stack.logs, log_group_name=moto_stack.log_group_name)
    types = client.get("/api/catalogue/traffic").json()["types"]

    expected = {"order.placed": 2, "warehouse.stock-reserved": 2, "payment.taken": 1,
                "loyalty.points-awarded": 1, "warehouse.order-shipped": 1, "payment.declined": 1,
                "warehouse.stock-released": 1, "order.cancelled": 1,
                "warehouse.stock-unavailable": 0, "order.rejected": 0}
    assert {name: item["recent"] for name, item in types.items()} == expected
    assert {name for name, item in types.items() if item["lastSeen"] is None} == \
        {"warehouse.stock-unavailable", "order.rejected"}


def test_a_function_behind_an_http_api_shows_its_routes(client, stack):
    html = client.get("/catalogue/").content.decode()

    functions = rows(html, "data-function")
    for function in CHOREOGRAPHY.functions:
        keys = [route.key for api in CHOREOGRAPHY.http_apis if api.function == function.id
                for route in api.routes]
        shown = parts(functions[function.id], "data-http-routes").get("")
        assert shown == (" ".join(keys) if keys else None), function.id


def test_what_follows_each_event_is_what_its_consumers_react_with(client, stack):
    document = client.get("/api/catalogue").json()
    functions = rows(client.get("/catalogue/").content.decode(), "data-function")

    for function in CHOREOGRAPHY.functions:
        reacts = {reaction.consumes: list(reaction.publishes) for reaction in function.reactions}
        [entry] = [item for item in document["functions"] if item["id"] == function.id]
        assert {item["type"]: item["then"] for item in entry["consumes"]} == \
            {event: reacts.get(event, []) for event in CHOREOGRAPHY.consumed_by(function.id)}
        consumes = parts(functions[function.id], "data-consumes")[""]
        for published in reacts.values():
            if published:
                assert "then " + " or ".join(published) in consumes
    for event in CHOREOGRAPHY.events:
        followers = CHOREOGRAPHY.followers_of(event.name)
        shown = parts(client.get(f"/catalogue/events/{event.name}").content.decode(), "data-followed-by")[""]
        assert shown == (" ".join(followers) or "nothing: it ends its consumers' part"), event.name


def test_event_types_seen_that_the_model_does_not_declare_are_marked_undeclared(client, stack) -> None:
    assert "data-undeclared-types" not in client.get("/catalogue/").content.decode()

    refunded = factories.placed(order_id="ord-refund")
    outer = factories.envelope(refunded)
    outer["detail-type"] = "order.refunded"
    outer["detail"] = {**outer["detail"], "type": "order.refunded"}
    # a declared type, from a source that does not publish it
    impostor = factories.envelope(factories.placed(order_id="ord-impostor"))
    impostor["source"] = "payment"
    impostor["detail"] = {**impostor["detail"], "source": "payment", "id": str(uuid.uuid4())}
    services.observation_record(observations=[
        observation_from_queue_body(json.dumps({"bus": "global", "event": event}),
                                    observed_at=refunded.time, origin="live")
        for event in (outer, impostor)])

    html = client.get("/catalogue/").content.decode()
    section = html[html.index("data-undeclared-types"):html.index('id="functions-title"')]
    assert 'data-undeclared-type="order.refunded" data-source="order"' in section
    assert 'data-undeclared-type="order.placed" data-source="payment"' in section
    assert section.count('<span class="badge undeclared">undeclared</span>') == 2
    assert 'href="/search/?type=order.refunded&amp;source=order"' in section
    assert section.count("declared from another source") == 1  # order.placed, by order
