"""Lambda's SQS event source mapping, emulated: long-poll a queue, hand the batch to the
function in AWS's own event shape, delete what succeeded, leave the rest to come back.

Semantics kept from Lambda:
- batches of up to `BatchSize` records, with the real record shape and attributes;
- a function error fails the whole batch; with `ReportBatchItemFailures` the function's
  `batchItemFailures` fail just those records (an unknown identifier fails the batch);
- failed records are not deleted: they return after the queue's visibility timeout, their
  receive count grows, and the queue's redrive policy moves them to its dead-letter queue.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from local.config import ChaosControl
from local.lambda_runtime import FunctionWorker, InvocationResult
from workflow.model import FIFO_SUFFIX

log = logging.getLogger("choreo.local")


@dataclass(frozen=True)
class SqsMapping:
    queue_url: str
    queue_arn: str
    function_name: str
    batch_size: int
    report_batch_item_failures: bool
    batching_window_seconds: int = 0

    @property
    def fifo(self) -> bool:
        return self.queue_url.endswith(FIFO_SUFFIX)


# The most messages one SQS receive hands back.
MAX_RECEIVE = 10


@dataclass
class Backlog:
    """Whether a mapping's last receive came back full. Lambda adds pollers (and so
    concurrent batches) while a queue has more waiting than one batch, and takes them away as
    it drains; the extra pollers of a mapping poll only while this is set."""

    full: bool = False


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    failed_records: int = 0
    injected_failures: int = 0
    injected_duplicates: int = 0
    poisoned_records: int = 0
    delayed_records: int = 0


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda hands it to a function (see AWS's sample `sqsEvent.json`)."""
    attributes = {key: value for key, value in message.get("Attributes", {}).items()
                  if key in {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                             "ApproximateFirstReceiveTimestamp", "SequenceNumber",
                             "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader"}}
    message_attributes = {
        name: {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
               "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        for name, value in message.get("MessageAttributes", {}).items()}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_message_ids(result: InvocationResult, batch_ids: list[str],
                       report_batch_item_failures: bool) -> list[str]:
    """Which records of a batch Lambda would leave on the queue after this invocation."""
    if result.failed:
        return batch_ids
    if not report_batch_item_failures or not isinstance(result.payload, dict):
        return []
    failures = result.payload.get("batchItemFailures") or []
    ids = [failure.get("itemIdentifier") if isinstance(failure, dict) else None
           for failure in failures]
    if any(not isinstance(item, str) or item not in batch_ids for item in ids):
        return batch_ids  # an invalid response fails the whole batch, as Lambda does
    return [item for item in ids if isinstance(item, str)]


class SqsPoller(threading.Thread):
    def __init__(self, *, mapping: SqsMapping, worker: FunctionWorker, sqs: Any, region: str,
                 stop: threading.Event, chaos: ChaosControl, stats: PollerStats,
                 retry_delay_seconds: int = 0, backlog: Backlog | None = None,
                 scale_out: bool = False) -> None:
        super().__init__(name=f"sqs-poller:{mapping.function_name}", daemon=True)
        self.mapping = mapping
        self.worker = worker
        self.sqs = sqs
        self.region = region
        self.stop_event = stop
        self.control = chaos
        self.retry_delay_seconds = retry_delay_seconds
        self.stats = stats
        self.random = random.Random()
        self.held: list[tuple[float, dict[str, Any]]] = []
        self.backlog = backlog or Backlog()
        self.scale_out = scale_out
        # Passes of the loop and receives made, so that an observer can tell a poller that
        # chose not to poll from one that has not yet had the chance to.
        self.rounds = 0
        self.receives = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                if self.scale_out and not self.backlog.full and not self.held:
                    self.stop_event.wait(0.05)
                    continue
                self.poll_once()
            except Exception:
                if self.stop_event.is_set():
                    return
                log.exception("poller for %s failed; retrying", self.mapping.queue_url)
                time.sleep(1)
            finally:
                self.rounds += 1

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        self.receives += 1
        response = self.sqs.receive_message(
            QueueUrl=self.mapping.queue_url, MaxNumberOfMessages=min(count, MAX_RECEIVE),
            WaitTimeSeconds=wait_seconds, AttributeNames=["All"],
            MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _gather(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """With a batching window, receive more until the batch is full or the window has
        passed since the first record, as Lambda's poller does; SQS hands at most ten
        messages a receive."""
        batch_size = self.mapping.batch_size
        deadline = time.monotonic() + self.mapping.batching_window_seconds
        while len(messages) < batch_size and not self.stop_event.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(batch_size - len(messages), 1 if remaining >= 1 else 0)
            messages += more
            if not more and remaining < 1:
                time.sleep(min(remaining, 0.1))
        return messages

    def poll_once(self, wait_seconds: int = 1) -> int:
        messages = self._receive(self.mapping.batch_size, 0 if self.held else wait_seconds)
        if messages and self.mapping.batching_window_seconds:
            messages = self._gather(messages)
        self.backlog.full = len(messages) >= self.mapping.batch_size
        if self.control.chaos.jitter_seconds and not self.mapping.fifo:
            messages = self._hold_some(messages)
        messages += self._due()
        if not messages:
            if self.held:
                time.sleep(0.1)
            return 0
        self.deliver(messages)
        return len(messages)

    def _hold_some(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Reordering: hold back a random share of messages for a random while. They stay
        received (invisible) meanwhile, so holding them costs no receive count."""
        kept = []
        for message in messages:
            if self.random.random() < 0.5:
                delay = self.random.uniform(0, self.control.chaos.jitter_seconds)
                self.held.append((time.monotonic() + delay, message))
                self.stats.delayed_records += 1
            else:
                kept.append(message)
        return kept

    def _due(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        due = [message for at, message in self.held if at <= now]
        self.held = [(at, message) for at, message in self.held if at > now]
        return due

    def _poisoned(self, record: dict[str, Any]) -> bool:
        """A poison message fails on every delivery; which ones is decided by the body, so
        the same event stays poison across redeliveries until the knob is switched off."""
        rate = self.control.chaos.poison_rate
        if not rate:
            return False
        digest = hashlib.sha256(record["body"].encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < rate

    def deliver(self, messages: list[dict[str, Any]]) -> list[str]:
        chaos = self.control.chaos
        records = [sqs_record(message, queue_arn=self.mapping.queue_arn, region=self.region)
                   for message in messages]
        batch_ids = [record["messageId"] for record in records]
        poisoned = [record["messageId"] for record in records if self._poisoned(record)]
        healthy = [record for record in records if record["messageId"] not in poisoned]
        self.stats.poisoned_records += len(poisoned)
        failed: list[str] = list(poisoned)
        if healthy:
            event = {"Records": healthy}
            healthy_ids = [record["messageId"] for record in healthy]
            if chaos.failure_rate and self.random.random() < chaos.failure_rate:
                self.stats.injected_failures += 1
                result = InvocationResult("chaos", error={
                    "errorType": "ChaosFailure",
                    "errorMessage": "failure injected before the handler"})
            else:
                result = self.worker.invoke(event)
                if chaos.duplicate_rate and self.random.random() < chaos.duplicate_rate:
                    self.stats.injected_duplicates += 1
                    self.worker.invoke(event)  # at-least-once: the same batch, delivered again
            if result.failed:
                log.warning("%s failed a batch of %d: %s: %s", self.mapping.function_name,
                            len(healthy), result.error and result.error.get("errorType"),
                            result.error and result.error.get("errorMessage"))
            failed += failed_message_ids(result, healthy_ids,
                                         self.mapping.report_batch_item_failures)
        by_id = {message["MessageId"]: message for message in messages}
        succeeded = [message for message in messages if message["MessageId"] not in failed]
        if succeeded:
            self.sqs.delete_message_batch(QueueUrl=self.mapping.queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(succeeded)])
        if failed and self.retry_delay_seconds:
            self.sqs.change_message_visibility_batch(QueueUrl=self.mapping.queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": by_id[message_id]["ReceiptHandle"],
                 "VisibilityTimeout": self.retry_delay_seconds}
                for index, message_id in enumerate(failed)])
        self.stats.batches += 1
        self.stats.records += len(records)
        self.stats.failed_records += len(failed)
        return [message_id for message_id in batch_ids if message_id in failed]
