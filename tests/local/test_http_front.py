"""The API Gateway and function URL emulation."""

from __future__ import annotations

import http.client

import pytest

from local.config import Chaos, ChaosControl
from local.http_front import (
    Admission,
    ApiRoute,
    HttpFront,
    TokenBucket,
    api_gateway_event,
    function_url_event,
)
from tests.support import aws_sample

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


def test_function_url_events_have_the_shape_of_the_aws_sample():
    sample = aws_sample("lambdaFunctionUrlEvent")
    event = function_url_event(method="POST", path="/", query="", headers={"user-agent": "t"},
                               body=b"{}", source_ip="127.0.0.1", url_id="receiver",
                               host="127.0.0.1:4567")
    assert set(event) - {"body"} == set(sample)
    assert set(event["requestContext"]) == set(sample["requestContext"])
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "$default"
    assert event["requestContext"]["accountId"] == "anonymous"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_stage_throttle_admits_a_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(0.5)  # empty: the next token in half a second
    clock.now += 0.5
    assert bucket.take() == 0
    clock.now += 100  # a long pause refills the bucket, never beyond the burst
    assert [bucket.take() for _ in range(4)][-1] > 0


def test_work_is_refused_while_the_functions_are_behind_but_reads_are_served():
    waited = {"seconds": 0.4}
    admission = Admission(behind=lambda: waited["seconds"], behind_after_seconds=1.0)
    assert admission.refusal("POST") is None
    waited["seconds"] = 2.5
    status, message, wait = admission.refusal("POST")  # type: ignore[misc]
    assert status == 503 and "waited 2.5 s" in message and wait == pytest.approx(2.5)
    assert admission.refusal("GET") is None


def test_throttled_answers_carry_retry_after():
    clock = Clock()
    admission = Admission(throttle=TokenBucket(rate=1, burst=1, clock=clock))
    assert admission.refusal("GET") is None
    assert admission.refusal("GET") == (429, "Too Many Requests", pytest.approx(1.0))


def test_the_front_keeps_a_connection_alive_and_closes_it_after_a_refusal():
    """Served by cheroot, as the embedded AWS is: a client's connection is reused, and one
    whose request is refused before its body is read is not."""
    front = HttpFront(host="127.0.0.1", port=0, routes=[], workers={},
                      chaos=ChaosControl(Chaos()), stats=dict)
    front.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", front.port, timeout=5)
        connection.request("GET", "/_local/chaos")
        first = connection.getresponse()
        assert first.status == 200 and first.read()
        kept = connection.sock
        connection.request("HEAD", "/_local/stats")
        head = connection.getresponse()
        assert head.status == 200 and head.read() == b"" and int(head.headers["Content-Length"]) > 0
        assert connection.sock is kept and not head.will_close
        connection.request("GET", "/_local/stats", headers={"Host": f"rebound.example:{front.port}"})
        refused = connection.getresponse()
        assert refused.status == 421 and refused.will_close
        connection.close()
    finally:
        front.stop()
