"""SQS as the Lambda service reaches it: from inside the embedded AWS, without HTTP.

AWS's own pollers (SQS event source mappings, asynchronous invocation, API destinations) are
internal to AWS and never pay for the public API. The local runtime runs them inside the
embedded AWS's process too, and this client answers the few SQS calls they make straight from
moto's SQS backend, with the shapes boto3's client returns: under load the pollers' receives
and deletes were the largest share of every request the embedded AWS served, and each cost a
round of HTTP, request parsing and response serialisation on both sides.

Every call goes through the backend's own methods (the ones moto's HTTP layer calls), so
visibility, receive counts, redrive to dead-letter queues and long polling behave exactly as
they do for any other client.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from moto.sqs.models import Message, SQSBackend, sqs_backends

from local.hooks import CALLS

# What `AttributeNames=["All"]` returns for a message, in the order SQS documents.
SYSTEM_ATTRIBUTES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                     "ApproximateFirstReceiveTimestamp", "MessageDeduplicationId",
                     "MessageGroupId", "SequenceNumber")


def queue_name(queue_url: str) -> str:
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def _attributes(message: Message) -> dict[str, str]:
    values = {
        "SenderId": message.sender_id,
        "SentTimestamp": message.sent_timestamp,
        "ApproximateReceiveCount": message.approximate_receive_count,
        "ApproximateFirstReceiveTimestamp": message.approximate_first_receive_timestamp,
        "MessageDeduplicationId": message.deduplication_id,
        "MessageGroupId": message.group_id,
        "SequenceNumber": message.sequence_number,
    }
    return {name: str(values[name]) for name in SYSTEM_ATTRIBUTES if values[name] is not None}


def _received(message: Message) -> dict[str, Any]:
    received: dict[str, Any] = {"MessageId": message.id, "ReceiptHandle": message.receipt_handle,
                                "MD5OfBody": message.body_md5, "Body": message.body,
                                "Attributes": _attributes(message)}
    if message.message_attributes:
        received["MessageAttributes"] = message.message_attributes
        received["MD5OfMessageAttributes"] = message.attribute_md5
    return received


class InProcessSqs:
    """The subset of boto3's SQS client the local Lambda service uses, with boto3's parameter
    names."""

    def __init__(self, *, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    @property
    def backend(self) -> SQSBackend:
        backend: SQSBackend = sqs_backends[self.account_id][self.region]
        return backend

    def backend_of(self, queue_url: str) -> SQSBackend:
        """The backend of the account a queue's URL names (`.../<account>/<name>`): the
        functions of a subdomain in another account poll and write that account's queues."""
        parts = queue_url.rstrip("/").rsplit("/", 2)
        account = parts[-2] if len(parts) == 3 and parts[-2].isdigit() else self.account_id
        backend: SQSBackend = sqs_backends[account][self.region]
        return backend

    def depth(self, queue_url: str) -> int:
        """Messages in the queue, waiting or in flight: what is still to be done. A message
        the queue still holds back (its delay, as SQS counts it apart) is not due yet: the
        order outbox's checks come a minute after each order, and would keep a system that
        has finished its work looking busy."""
        queue = self.backend_of(queue_url).get_queue(queue_name(queue_url))
        return sum(1 for message in list(queue._messages) if not message.delayed)

    def longest_wait(self, queue_url: str) -> float:
        """How long the message that has waited longest to be received has waited, in
        seconds: since it was due (sent, and past any delay the queue holds it back for), or
        since it became visible again after a failure. A message held back for a minute has
        not waited that minute for a function."""
        now = time.time() * 1000
        waits = [now - max(message.sent_timestamp or now, message.visible_at,
                           getattr(message, "delayed_until", 0))
                 for message in list(self.backend_of(queue_url).get_queue(queue_name(queue_url))._messages)
                 if message.visible and not message.delayed]
        return max(waits, default=0.0) / 1000

    def get_queue_url(self, *, QueueName: str) -> dict[str, str]:
        queue = self.backend.get_queue(QueueName)
        return {"QueueUrl": queue.physical_resource_id}

    def receive_message(self, *, QueueUrl: str, MaxNumberOfMessages: int = 1,
                        WaitTimeSeconds: int | None = None, VisibilityTimeout: int | None = None,
                        **_names: Sequence[str]) -> dict[str, Any]:
        """Every system attribute and message attribute comes back, as `["All"]` asks."""
        CALLS.count("sqs", "ReceiveMessage", internal=True)
        name = queue_name(QueueUrl)
        backend = self.backend_of(QueueUrl)
        queue = backend.get_queue(name)
        wait = int(queue.receive_message_wait_time_seconds  # type: ignore[attr-defined]
                   if WaitTimeSeconds is None else WaitTimeSeconds)
        visibility = int(queue.visibility_timeout  # type: ignore[attr-defined]
                         if VisibilityTimeout is None else VisibilityTimeout)
        messages = backend.receive_message(name, MaxNumberOfMessages, wait, visibility,
                                                message_attribute_names=["All"])
        return {"Messages": [_received(message) for message in messages]} if messages else {}

    def delete_message_batch(self, *, QueueUrl: str,
                             Entries: list[dict[str, str]]) -> dict[str, Any]:
        CALLS.count("sqs", "DeleteMessageBatch", internal=True)
        succeeded, failed = self.backend_of(QueueUrl).delete_message_batch(queue_name(QueueUrl),
                                                                          Entries)
        return {"Successful": [{"Id": entry_id} for entry_id in succeeded], "Failed": failed}

    def change_message_visibility(self, *, QueueUrl: str, ReceiptHandle: str,
                                  VisibilityTimeout: int) -> dict[str, Any]:
        CALLS.count("sqs", "ChangeMessageVisibility", internal=True)
        self.backend_of(QueueUrl).change_message_visibility(queue_name(QueueUrl), ReceiptHandle,
                                               VisibilityTimeout)
        return {}

    def change_message_visibility_batch(self, *, QueueUrl: str,
                                        Entries: list[dict[str, Any]]) -> dict[str, Any]:
        CALLS.count("sqs", "ChangeMessageVisibilityBatch", internal=True)
        succeeded, failed = self.backend_of(QueueUrl).change_message_visibility_batch(
            queue_name(QueueUrl), Entries)
        return {"Successful": [{"Id": entry_id} for entry_id in succeeded], "Failed": failed}

    def send_message(self, *, QueueUrl: str, MessageBody: str,
                     MessageAttributes: dict[str, Any] | None = None,
                     MessageGroupId: str | None = None,
                     MessageDeduplicationId: str | None = None) -> dict[str, Any]:
        CALLS.count("sqs", "SendMessage", internal=True)
        message = self.backend_of(QueueUrl).send_message(
            queue_name(QueueUrl), MessageBody, message_attributes=MessageAttributes or {},
            group_id=MessageGroupId, deduplication_id=MessageDeduplicationId)
        return {"MessageId": message.id, "MD5OfMessageBody": message.body_md5}
