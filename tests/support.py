"""Helpers shared by the tests: AWS's own sample events, filled with our events, and one way
to wait for something to become true (`wait_for`, and `eventually` when the test needs what
it waited for)."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from workflow.domain.payment import CardVault
from workflow.envelope import Event

FIXTURES = Path(__file__).parent / "fixtures"
# The card-token key of the tests (a deployment's is generated into Secrets Manager).
TEST_CARD_TOKEN_KEY = "k" * 64
TEST_VAULT = CardVault(TEST_CARD_TOKEN_KEY.encode())

T = TypeVar("T")


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05,
             message: str = "condition not met") -> None:
    """Poll `predicate` until it is truthy. A test waits on a sign that the thing happened, not
    a fixed time, so it is neither slow on a fast machine nor wrong on a slow one; on timeout
    it fails saying what it waited for and how long."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {timeout:g} s)")
        time.sleep(interval)


def eventually(fetch: Callable[[], T], until: Callable[[T], object] = bool, timeout: float = 10.0,
               interval: float = 0.05, message: str = "condition not met") -> T:
    """`wait_for`'s sibling for a test that asserts on what it waited for: call `fetch` until
    `until(value)` is truthy (by default, until the value itself is) and return that value.
    On timeout it fails as `wait_for` does, with the last value fetched."""
    last: list[T] = []

    def arrived() -> object:
        last[:] = [fetch()]
        return until(last[0])

    try:
        wait_for(arrived, timeout=timeout, interval=interval, message=message)
    except AssertionError as error:
        raise AssertionError(f"{error}; last: {repr(last[0])[:2000] if last else 'none'}") from None
    return last[0]


def aws_sample(name: str) -> dict[str, Any]:
    sample: dict[str, Any] = json.loads((FIXTURES / "aws-events" / f"{name}.json").read_text())
    return sample


def eventbridge_event(event: Event) -> dict[str, Any]:
    """AWS's sample EventBridge event, carrying `event` as the double envelope does."""
    envelope = aws_sample("eventBridgeEvent")
    envelope.pop("replay-name", None)
    envelope.update({"source": event.source, "detail-type": event.type,
                     "detail": event.to_dict(), "region": "us-east-1", "resources": []})
    return envelope


def sqs_event(*bodies: str, queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:Payment",
              fifo: bool = False) -> dict[str, Any]:
    """AWS's sample SQS event with one record per body."""
    template = aws_sample("sqsEvent")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record.update({"messageId": f"message-{index}", "body": body, "eventSourceARN": queue_arn,
                       "awsRegion": "us-east-1", "messageAttributes": {}})
        if fifo:
            record["attributes"].update({"MessageGroupId": "warehouse-events",
                                         "SequenceNumber": str(index + 1),
                                         "MessageDeduplicationId": f"dedup-{index}"})
        records.append(record)
    return {"Records": records}


def api_request(method: str, path: str, body: str | bytes | None = None, *,
                content_type: str | None = "application/json",
                headers: dict[str, str] | None = None) -> dict[str, Any]:
    """AWS's sample HTTP API (payload 2.0) request, for one of the order API's routes (HTTP
    APIs hand the function header names in lower case)."""
    event = aws_sample("apiGatewayProxyV2Event")
    headers = {name.lower(): value for name, value in (headers or {}).items()}
    if content_type is not None:
        headers["content-type"] = content_type
    event.update({"rawPath": path, "routeKey": f"{method} {path}", "rawQueryString": "",
                  "headers": headers, "isBase64Encoded": False})
    event.pop("queryStringParameters", None)
    event.pop("pathParameters", None)
    event["requestContext"]["http"].update(method=method, path=path)
    if body is None:
        event.pop("body", None)
    elif isinstance(body, bytes):  # API Gateway base64-encodes a body that is not text
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
    return event
