"""The API Gateway emulation and the notification endpoint stand-in."""

from __future__ import annotations

import json

from local.http_front import ApiRoute, NotificationInbox, api_gateway_event
from tests.support import aws_sample
from workflow.domain.order import order_place

ROUTE = ApiRoute("GET", "/orders/{orderId}", "OrderApi")


def test_route_keys_match_with_path_parameters():
    assert ROUTE.match("GET", "/orders/ord-1") == {"orderId": "ord-1"}
    assert ROUTE.match("GET", "/orders/ord-1/extra") is None
    assert ROUTE.match("POST", "/orders/ord-1") is None


def test_events_have_the_shape_of_the_aws_sample():
    sample = aws_sample("apiGatewayProxyV2Event")
    event = api_gateway_event(method="GET", path="/orders/ord-1", query="a=1&a=2&b=3",
                              headers={"user-agent": "t"}, body=b"{}", route=ROUTE,
                              path_parameters={"orderId": "ord-1"}, source_ip="127.0.0.1",
                              api_id="local", host="127.0.0.1:4567")
    for key in ("version", "routeKey", "rawPath", "rawQueryString", "headers",
                "queryStringParameters", "requestContext", "body", "pathParameters",
                "isBase64Encoded"):
        assert key in event and key in sample
    assert event["routeKey"] == "GET /orders/{orderId}"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "3"}
    assert set(sample["requestContext"]["http"]) == set(event["requestContext"]["http"])


def inbox() -> NotificationInbox:
    return NotificationInbox(api_key_header="x-api-key", api_key="secret")


def cloudevent() -> bytes:
    return order_place(request={"customerId": "c", "items": [{"sku": "MUG-STONEWARE", "quantity": 1}],
                                "card": {"number": "4242424242424242"}}).to_json().encode()


def test_notifications_need_the_api_key():
    status, _ = inbox().accept({"x-api-key": "wrong"}, cloudevent())
    assert status == 401


def test_a_malformed_notification_is_a_400():
    status, problem = inbox().accept({"x-api-key": "secret"}, b'{"not": "a cloudevent"}')
    assert status == 400 and "lacks" in problem["detail"]


def test_accepted_notifications_are_kept_by_subject():
    box = inbox()
    body = cloudevent()
    status, _ = box.accept({"x-api-key": "secret"}, body)
    assert status == 202
    subject = json.loads(body)["subject"]
    assert [n["event"]["subject"] for n in box.list(subject)] == [subject]
    assert box.list("someone-else") == []
