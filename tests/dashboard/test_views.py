"""Pages render from the read model, escape whatever users supplied, and place orders through
the order API with its problem details shown next to the fields."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from django.urls import reverse

from dashboard.readmodel import services
from tests.dashboard import factories

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


def record(*paths):
    services.observation_record(observations=[o for path in paths for o in factories.sightings_of(path)])


def test_the_live_view_draws_the_graph_and_the_feed(client, stack):
    record(factories.happy_path(order_id="ord-live"))

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg class=\"graph\"" in html and 'data-connector="' in html
    for label in ("Warehouse.fifo", "loyalty bus", "OrderEvents", "Notifications", "GLOBAL BUS"):
        assert label in html
    assert 'data-event-id="' in html and "ord-live" in html
    assert 'id="graph-data"' in html
    assert "Stoneware mug" in html and "Earl Grey &lt;tea&gt;, 250 g" in html  # the catalogue, escaped
    assert "4000 0000 0000 0002" in html  # the declining test card is one click away
    assert "https://" not in html.replace("https://json-schema.org", "")  # nothing fetched from elsewhere


def test_user_supplied_text_is_escaped_everywhere(client, stack):
    record(factories.happy_path(order_id="ord-xss", customer_id=SCRIPT))

    for url in ("/", "/orders/", "/orders/ord-xss"):
        html = client.get(url).content.decode()
        assert SCRIPT not in html, url
    trace = client.get("/orders/ord-xss").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in trace


def test_the_order_list_is_newest_first_and_filters_by_status(client, stack):
    from datetime import timedelta

    record(factories.happy_path(order_id="ord-old"),
           factories.declined_path(order_id="ord-new", at=factories.T0 + timedelta(minutes=1)))

    everything = client.get("/orders/").content.decode()
    cancelled = client.get("/orders/?status=cancelled").content.decode()

    assert everything.index("ord-new") < everything.index("ord-old")
    assert "ord-new" in cancelled and "ord-old" not in cancelled
    assert "160 ms" in everything  # durations
    partial = client.get("/orders/?partial=1").content.decode()
    assert "<table" in partial and "<html" not in partial


def test_a_trace_names_every_event_of_the_happy_path(client, moto_stack):
    events = factories.happy_path(order_id="ord-five")
    record(events)
    # what the stack's notification receiver keeps
    moto_stack.dynamodb.put_item(TableName=moto_stack.notifications_table, Item={
        "subject": {"S": "ord-five"}, "id": {"S": events[-1].id},
        "receivedAt": {"S": "2026-11-27T09:30:01Z"},
        "contentType": {"S": "application/cloudevents+json"},
        "event": {"S": events[-1].to_json()}})

    html = client.get(reverse("order-trace", args=["ord-five"])).content.decode()

    for event_type in ("order.placed", "warehouse.stock-reserved", "payment.taken",
                       "loyalty.points-awarded", "warehouse.order-shipped"):
        assert f">{event_type}<" in html
    assert "shipped" in html and "160 ms" in html
    assert "application/cloudevents+json" in html  # the notification delivered
    assert "&quot;correlationid&quot;" in html  # each envelope, pretty-printed and escaped
    assert 'class="connector kind-event taken"' in html  # the path, highlighted


def test_a_trace_without_notifications_says_none_yet(client, stack):
    record(factories.happy_path(order_id="ord-quiet")[:2])
    assert "none yet" in client.get("/orders/ord-quiet").content.decode()


def test_an_unknown_order_is_404(client, stack):
    assert client.get("/orders/ord-nobody").status_code == 404
    assert client.get("/api/orders/ord-nobody").status_code == 404


def test_a_trace_as_json(client, stack):
    events = factories.happy_path(order_id="ord-json")
    record(events)

    body = client.get("/api/orders/ord-json").json()

    assert body["status"] == "shipped"
    assert [e["event"]["type"] for e in body["events"]] == [e.type for e in events]
    assert body["events"][2]["buses"] == ["global", "loyalty"]


def test_the_graph_as_json(client, stack):
    body = client.get("/api/graph").json()
    assert any(edge["id"] == "PaymentTakenToLoyaltyBus" for edge in body["edges"])
    assert body["bar"]["deployed"] == "choreo-global"


def test_placing_an_order_goes_through_the_order_api(client, stack, order_api):
    response = client.post("/orders/place", {"customer_id": "bob", "qty_MUG-STONEWARE": "2",
                                             "qty_TEA-EARL-GREY": "0", "card": "declining"},
                           HTTP_ACCEPT="application/json")

    assert response.status_code == 202
    body = response.json()
    assert body["traceUrl"] == f"/orders/{body['orderId']}"
    assert order_api.orders == [{"customerId": "bob", "items": [{"sku": "MUG-STONEWARE", "quantity": 2}],
                                 "card": {"number": "4000 0000 0000 0002"}}]


def test_the_apis_problems_come_back_next_to_their_fields(client, stack):
    response = client.post("/orders/place", {"customer_id": "", "qty_MUG-STONEWARE": "0",
                                             "qty_TEA-EARL-GREY": "500", "card": "custom",
                                             "card_number": "1234"}, HTTP_ACCEPT="application/json")

    assert response.status_code == 200  # an expected refusal, not a failed request
    assert (response.json()["placed"], response.json()["status"]) == (False, 400)
    errors = response.json()["fieldErrors"]
    assert errors["customer_id"] == ["is required, as a non-empty string"]
    assert errors["qty_TEA-EARL-GREY"] == ["must be between 1 and 100"]
    assert errors["card_number"] == ["is not a valid card number"]


def test_without_javascript_the_form_still_works(client, stack):
    refused = client.post("/orders/place", {"customer_id": "", "qty_MUG-STONEWARE": "1", "card": "good"})
    placed = client.post("/orders/place", {"customer_id": "carol", "qty_MUG-STONEWARE": "1", "card": "good"})

    assert refused.status_code == 400
    assert "is required, as a non-empty string" in refused.content.decode()
    assert placed.status_code == 200
    assert "placed — watch it on the graph" in placed.content.decode()


def test_an_unreachable_order_api_is_a_clear_problem(client, stack, order_api):
    from dashboard import aws

    aws.configure(region="us-east-1", stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                  outputs={"OrderApiUrl": "http://127.0.0.1:9"})
    response = client.post("/orders/place", {"customer_id": "dan", "qty_MUG-STONEWARE": "1", "card": "good"},
                           HTTP_ACCEPT="application/json")
    assert response.json()["status"] == 503
    assert "Order API unreachable" in json.dumps(response.json())
    assert "Order API unreachable" in client.get("/").content.decode()


def test_in_production_pages_need_a_login_and_orders_need_staff(client, stack, settings,
                                                                 django_user_model):
    from django.test import override_settings

    middleware = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    with override_settings(DASHBOARD_REQUIRE_LOGIN=True, MIDDLEWARE=middleware):
        assert client.get("/").status_code == 302
        assert client.get("/api/graph").status_code == 302
        assert client.get("/login/").status_code == 200
        client.force_login(django_user_model.objects.create_user("viewer"))
        assert client.get("/").status_code == 200
        refused = client.post("/orders/place", {"customer_id": "x", "qty_MUG-STONEWARE": "1",
                                                "card": "good"}, HTTP_ACCEPT="application/json")
        assert refused.status_code == 403
        client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
        allowed = client.post("/orders/place", {"customer_id": "x", "qty_MUG-STONEWARE": "1",
                                                "card": "good"}, HTTP_ACCEPT="application/json")
        assert allowed.status_code == 202


@pytest.mark.parametrize("path", ["/static/dashboard/css/dashboard.css", "/static/dashboard/js/live.js",
                                  "/static/dashboard/js/nav.js", "/static/dashboard/js/failures.js",
                                  "/static/dashboard/js/graph.js", "/static/dashboard/favicon.svg"])
async def test_static_files_are_served_by_the_app_itself(path):
    from dashboard.asgi import application

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1:8000")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    sent: list[dict] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer is done
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope, receive, send)

    assert sent[0]["status"] == 200
    assert len(b"".join(m.get("body", b"") for m in sent[1:])) > 100


def test_the_order_form_sends_its_key_so_a_double_submit_places_one_order(client, stack,
                                                                          order_api):
    """The form carries one key per form shown; the order API answers a repeat of it with
    the first order (its Idempotency-Key), and the page takes a fresh key for the next one."""
    page = client.get("/").content.decode()
    key = re.search(r'name="request_key" value="([0-9a-f-]{36})"', page)
    assert key, "the form carries a request key"
    fields = {"customer_id": "bob", "qty_MUG-STONEWARE": "1", "card": "good",
              "request_key": key.group(1)}

    first = client.post("/orders/place", fields, HTTP_ACCEPT="application/json").json()
    client.post("/orders/place", fields, HTTP_ACCEPT="application/json")

    assert order_api.keys == [f'"{key.group(1)}"'] * 2
    assert first["nextRequestKey"] != key.group(1)
