"""The targets moto cannot deliver, as the local runtime delivers them: a direct Lambda
target with Lambda's asynchronous retries and OnFailure record, and an API destination with
EventBridge's retry policy and dead-letter attributes, against a real HTTP endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.lambda_runtime import InvocationResult
from local.targets import (
    ApiDestinationCaller,
    ApiDestinationTap,
    AsyncInvoker,
    AsyncInvokeTap,
    TapStats,
    select_path,
)

EVENT = {"id": "e-1", "detail-type": "payment.taken", "detail": {"id": "ce-1", "type": "payment.taken"}}


class Sent:
    """The SQS calls a tap makes besides its own queue's: where failures go."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.messages.append(request)
        return {"MessageId": str(len(self.messages))}


class Worker:
    def __init__(self, *outcomes: dict[str, Any] | None) -> None:
        self.outcomes = list(outcomes)
        self.events: list[Any] = []

    def invoke(self, event: Any) -> InvocationResult:
        self.events.append(event)
        return InvocationResult(f"req-{len(self.events)}", error=self.outcomes.pop(0))


def invoker(worker: Worker, sqs: Sent, retries: int = 2) -> tuple[AsyncInvoker, TapStats]:
    stats = TapStats()
    tap = AsyncInvokeTap(queue_url="tap", function_name="Loyalty", function_arn="arn:fn:Loyalty",
                         maximum_retry_attempts=retries, on_failure_queue_url="failures")
    return AsyncInvoker(tap=tap, worker=worker, sqs=sqs, stop=threading.Event(),  # type: ignore[arg-type]
                        stats=stats), stats


def test_an_async_invocation_that_succeeds_is_done():
    worker, sqs = Worker(None), Sent()
    tap, stats = invoker(worker, sqs)
    assert tap.handle(EVENT, attempt=1) is True
    assert worker.events == [EVENT] and sqs.messages == [] and stats.invocations == 1


def test_a_failing_async_invocation_is_retried_then_recorded_on_failure():
    boom = {"errorType": "ValueError", "errorMessage": "boom"}
    worker, sqs = Worker(boom, boom, boom), Sent()
    tap, stats = invoker(worker, sqs, retries=2)

    outcomes = [tap.handle(EVENT, attempt) for attempt in (1, 2, 3)]

    assert outcomes == [False, False, True]  # two retries, then given up
    [record] = sqs.messages
    assert record["QueueUrl"] == "failures"
    body = json.loads(record["MessageBody"])
    assert body["requestContext"]["condition"] == "RetriesExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 3
    assert body["requestPayload"] == EVENT and body["responsePayload"] == boom
    assert (stats.retries, stats.failures_sent) == (2, 1)


class Endpoint(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[tuple[dict[str, str], str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).statuses.pop(0))
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    Endpoint.statuses, Endpoint.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()


def caller(url: str, sqs: Sent) -> tuple[ApiDestinationCaller, TapStats]:
    stats = TapStats()
    tap = ApiDestinationTap(queue_url="tap", endpoint=url, method="POST",
                            headers={"x-api-key": "k", "content-type": "application/cloudevents+json"},
                            input_path="$.detail", maximum_retry_attempts=2,
                            dead_letter_queue_url="dlq", rule_arn="arn:rule", target_arn="arn:dest")
    return ApiDestinationCaller(tap=tap, sqs=sqs, stop=threading.Event(), stats=stats), stats


def test_an_api_destination_posts_the_input_path_with_the_key(endpoint):
    Endpoint.statuses = [202]
    call, stats = caller(endpoint, Sent())
    assert call.handle(EVENT, attempt=1) is True
    [(headers, body)] = Endpoint.received
    assert headers["x-api-key"] == "k" and json.loads(body) == EVENT["detail"]
    assert [delivery.status for delivery in stats.http_calls] == [202]


def test_server_errors_are_retried_and_then_dead_lettered_with_aws_s_attributes(endpoint):
    Endpoint.statuses = [503, 500, 502]
    sqs = Sent()
    call, _ = caller(endpoint, sqs)
    assert [call.handle(EVENT, attempt) for attempt in (1, 2, 3)] == [False, False, True]
    [letter] = sqs.messages
    attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "HTTP_502" and attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["RULE_ARN"] == "arn:rule" and json.loads(letter["MessageBody"]) == EVENT


def test_a_client_error_is_dead_lettered_at_once(endpoint):
    Endpoint.statuses = [401]
    sqs = Sent()
    call, _ = caller(endpoint, sqs)
    assert call.handle(EVENT, attempt=1) is True and len(Endpoint.received) == 1
    assert sqs.messages[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "HTTP_401"


def test_an_unreachable_endpoint_is_retried_as_a_network_error():
    sqs = Sent()
    call, _ = caller("http://127.0.0.1:9/hooks", sqs)
    assert call.handle(EVENT, attempt=1) is False
    assert call.handle(EVENT, attempt=3) is True
    assert sqs.messages[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "SDK_CLIENT_ERROR"


def test_input_path_selects_with_dot_notation():
    assert select_path(EVENT, "$.detail.type") == "payment.taken"
    assert select_path(EVENT, "$") == EVENT and select_path(EVENT, None) == EVENT
    assert select_path(EVENT, "$.nothing.here") is None


class SlowEndpoint(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(0.5)
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_an_endpoint_slower_than_eventbridge_waits_times_out_is_retried_then_dead_lettered(
        monkeypatch: pytest.MonkeyPatch):
    # EventBridge waits five seconds (AWS Knowledge Center); here a tenth of a second stands
    # for them, so that the test does not wait five
    assert ApiDestinationCaller.timeout_seconds == 5.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sqs = Sent()
        call, _ = caller(f"http://127.0.0.1:{server.server_address[1]}/hooks", sqs)
        monkeypatch.setattr(call, "timeout_seconds", 0.1)
        assert call.handle(EVENT, attempt=1) is False  # retried
        assert call.handle(EVENT, attempt=3) is True
        assert sqs.messages[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "TIMEOUT"
    finally:
        server.shutdown()
