"""EventBridge targets moto cannot deliver, emulated from a tap queue each.

The template adapter points such a rule target at a local tap queue instead (moto matches the
rule and fills the queue); the runtime drains the tap with the semantics of the real target:
- a Lambda function target is an asynchronous invocation: retried by Lambda up to
  `MaximumRetryAttempts`, then sent to the function's OnFailure destination as an invocation
  record;
- an API destination is an HTTP call with the connection's auth header and the target's
  input path; 5xx, 429 and network errors are retried up to the rule's retry policy, other
  failures go straight to the target's dead-letter queue, with AWS's error attributes.
Retries wait seconds, not the minutes AWS waits, so a local demo stays lively.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from local.lambda_runtime import FunctionWorker

log = logging.getLogger("choreo.local")


@dataclass(frozen=True)
class AsyncInvokeTap:
    queue_url: str
    function_name: str
    function_arn: str
    maximum_retry_attempts: int
    on_failure_queue_url: str | None


@dataclass(frozen=True)
class ApiDestinationTap:
    queue_url: str
    endpoint: str
    method: str
    headers: dict[str, str]
    input_path: str | None
    maximum_retry_attempts: int
    dead_letter_queue_url: str | None
    rule_arn: str
    target_arn: str


@dataclass
class Delivery:
    """One call an API destination made, kept for the dashboard and for tests."""

    at: str
    endpoint: str
    status: int | None
    attempt: int
    body: str


@dataclass
class TapStats:
    invocations: int = 0
    retries: int = 0
    failures_sent: int = 0
    http_calls: list[Delivery] = field(default_factory=list)


def select_path(event: dict[str, Any], path: str | None) -> Any:
    """EventBridge `InputPath` (dot notation from `$`)."""
    if not path or path == "$":
        return event
    value: Any = event
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class TapPoller(threading.Thread):
    retry_delay_seconds = 1

    def __init__(self, *, queue_url: str, sqs: Any, stop: threading.Event, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.queue_url = queue_url
        self.sqs = sqs
        self.stop_event = stop

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                response = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                    AttributeNames=["ApproximateReceiveCount"])
                done = []
                for message in response.get("Messages", []):
                    attempt = int(message["Attributes"].get("ApproximateReceiveCount", "1"))
                    if self.handle(json.loads(message["Body"]), attempt):
                        done.append(message["ReceiptHandle"])
                    else:  # try again after a short back-off
                        self.sqs.change_message_visibility(
                            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                            VisibilityTimeout=self.retry_delay_seconds * attempt)
                if done:
                    self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                        {"Id": str(index), "ReceiptHandle": handle}
                        for index, handle in enumerate(done)])
            except Exception:
                if self.stop_event.is_set():
                    return
                log.exception("%s failed; retrying", self.name)
                time.sleep(1)

    def handle(self, event: dict[str, Any], attempt: int) -> bool:
        """Deliver one event; True when it is done with (delivered or dead-lettered)."""
        raise NotImplementedError


class AsyncInvoker(TapPoller):
    def __init__(self, *, tap: AsyncInvokeTap, worker: FunctionWorker, sqs: Any,
                 stop: threading.Event, stats: TapStats) -> None:
        super().__init__(queue_url=tap.queue_url, sqs=sqs, stop=stop,
                         name=f"async-invoke:{tap.function_name}")
        self.tap = tap
        self.worker = worker
        self.stats = stats

    def handle(self, event: dict[str, Any], attempt: int) -> bool:
        self.stats.invocations += 1
        result = self.worker.invoke(event)
        if not result.failed:
            return True
        log.warning("%s failed (attempt %d): %s", self.tap.function_name, attempt,
                    result.error and result.error.get("errorMessage"))
        if attempt <= self.tap.maximum_retry_attempts:
            self.stats.retries += 1
            return False
        if self.tap.on_failure_queue_url:
            self.stats.failures_sent += 1
            self.sqs.send_message(QueueUrl=self.tap.on_failure_queue_url, MessageBody=json.dumps({
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(),
                "requestContext": {"requestId": result.request_id,
                                   "functionArn": f"{self.tap.function_arn}:$LATEST",
                                   "condition": "RetriesExhausted",
                                   "approximateInvokeCount": attempt},
                "requestPayload": event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                    "functionError": "Unhandled"},
                "responsePayload": result.error,
            }))
        return True


# EventBridge waits at most five seconds for an API destination's endpoint to answer, then
# retries the call by the rule's retry policy, and dead-letters it with ERROR_CODE TIMEOUT
# when the retries run out (AWS Knowledge Center, "I want to successfully invoke my EventBridge
# API destination target"; EventBridge User Guide, *Using dead-letter queues*).
API_DESTINATION_TIMEOUT_SECONDS = 5.0


class ApiDestinationCaller(TapPoller):
    timeout_seconds = API_DESTINATION_TIMEOUT_SECONDS

    def __init__(self, *, tap: ApiDestinationTap, sqs: Any, stop: threading.Event,
                 stats: TapStats) -> None:
        super().__init__(queue_url=tap.queue_url, sqs=sqs, stop=stop,
                         name=f"api-destination:{tap.endpoint}")
        self.tap = tap
        self.stats = stats
        self.session = requests.Session()

    def handle(self, event: dict[str, Any], attempt: int) -> bool:
        payload = select_path(event, self.tap.input_path)
        body = payload if isinstance(payload, str) else json.dumps(payload)
        try:
            response = self.session.request(self.tap.method, self.tap.endpoint, data=body,
                                            headers=self.tap.headers,
                                            timeout=self.timeout_seconds)
            status: int | None = response.status_code
            error = f"{status} {response.text[:200]}"
            code = f"HTTP_{status}"
        except requests.Timeout as exc:
            status, error, code = None, str(exc), "TIMEOUT"
        except requests.RequestException as exc:
            status, error, code = None, str(exc), "SDK_CLIENT_ERROR"
        self.stats.http_calls.append(Delivery(datetime.now(UTC).isoformat(), self.tap.endpoint,
                                              status, attempt, body))
        del self.stats.http_calls[:-1000]
        if status is not None and 200 <= status < 300:
            return True
        retryable = status is None or status == 429 or status >= 500
        if retryable and attempt <= self.tap.maximum_retry_attempts:
            self.stats.retries += 1
            return False
        log.warning("API destination %s gave up: %s", self.tap.endpoint, error)
        if self.tap.dead_letter_queue_url:
            self.stats.failures_sent += 1
            self.sqs.send_message(
                QueueUrl=self.tap.dead_letter_queue_url, MessageBody=json.dumps(event),
                MessageAttributes={
                    "ERROR_CODE": {"DataType": "String", "StringValue": code},
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:250]},
                    "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(attempt - 1)},
                    "RULE_ARN": {"DataType": "String", "StringValue": self.tap.rule_arn},
                    "TARGET_ARN": {"DataType": "String", "StringValue": self.tap.target_arn}})
        return True
