"""Every dead-letter queue of the stack: what sits in each, and redriving it.

The dead-letter queues are those the model implies (`workflow.outputs.dead_letter_outputs`):
one behind each queue's redrive policy, the OnFailure destination of each function
EventBridge invokes directly, and the rule targets' and the observability rule's
dead-letter queues; the stack outputs say where each is.

Redrive hands each message back to where it failed: a queue's dead letters go back to that
queue, so only its consumer sees them again; an undelivered or failed-invocation event is
published again on the global bus, from where every route of its type leads (consumers
that had applied it already absorb it by its CloudEvent id).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from workflow.dead_letters import DeadLetter, read_dead_letter
from workflow.model import CHOREOGRAPHY, FIFO_SUFFIX, Choreography
from workflow.outputs import dead_letter_outputs

PEEK_LIMIT = 100


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str  # e.g. "Warehouse", "RuleTarget", "LoyaltyFailure" (see DeadLetterOutput)
    url: str
    source_queue_url: str | None  # where a redrive sends its messages, if a queue
    max_receive_count: int | None = None  # the source queue's redrive policy, if the model has it
    purpose: str = "dead letters"
    """What ends up in this queue."""
    redrive_to: str = "published again on the global bus"
    """Where a redrive hands its messages, in words."""
    account: str = ""
    """The account of a queue of another account's stack (`stack`), shown but not redriven
    from here (`dashboard/failures/elsewhere.py`); empty: the home stack's."""
    stack: str = ""

    @property
    def fifo(self) -> bool:
        return self.url.endswith(FIFO_SUFFIX)


def dead_letter_queues(outputs: Mapping[str, str],
                       choreography: Choreography = CHOREOGRAPHY) -> list[DeadLetterQueue]:
    """The stack's dead-letter queues that its outputs locate, in the model's order."""
    return [DeadLetterQueue(
        name=queue.name, url=outputs[queue.key],
        source_queue_url=outputs.get(queue.source_queue_key) if queue.source_queue_key else None,
        max_receive_count=queue.max_receive_count, purpose=queue.purpose,
        redrive_to=queue.redrive)
        for queue in dead_letter_outputs(choreography) if queue.key in outputs]


def _receive_all(sqs: Any, queue_url: str, *, visibility_timeout: int,
                 limit: int = PEEK_LIMIT, max_receives: int | None = None
                 ) -> list[dict[str, Any]]:
    """Up to `limit` messages, in at most `max_receives` receives (a short poll may answer
    fewer than ten while more wait)."""
    messages: list[dict[str, Any]] = []
    receives = 0
    while len(messages) < limit and (max_receives is None or receives < max_receives):
        receives += 1
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                    VisibilityTimeout=visibility_timeout, WaitTimeSeconds=0,
                                    AttributeNames=["All"], MessageAttributeNames=["All"]
                                    ).get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
    return messages


def _make_visible(sqs: Any, queue_url: str, receipt_handles: list[str]) -> None:
    for start in range(0, len(receipt_handles), 10):
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, handle in enumerate(receipt_handles[start:start + 10])])


def dead_letters_peek(*, sqs: Any, queue: DeadLetterQueue, limit: int = PEEK_LIMIT,
                      max_receives: int | None = None) -> list[DeadLetter]:
    """The dead letters in a queue, left in place (they are made visible again at once)."""
    messages = _receive_all(sqs, queue.url, visibility_timeout=30, limit=limit,
                            max_receives=max_receives)
    _make_visible(sqs, queue.url, [message["ReceiptHandle"] for message in messages])
    return [read_dead_letter(message, max_receive_count=queue.max_receive_count)
            for message in messages]


def dead_letters_count(*, sqs: Any, queue: DeadLetterQueue) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages",
                                            "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + \
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))


@dataclass(frozen=True)
class RedriveResult:
    queue: str
    redriven: int
    kept: int  # messages with nothing to hand back (not an event), left in place
    failed: int = 0  # messages the target refused, left in place


REDRIVE_LIMIT = 10_000
"""Messages one redrive receives at most; what is left needs another."""

BATCH_BYTES = 256 * 1024
"""What one SendMessageBatch or PutEvents call may carry in all."""


def _by_size(entries: list[tuple[dict[str, Any], int]]) -> Iterator[list[dict[str, Any]]]:
    """Entries (with their sizes) in runs that one batch call takes: ten, or fewer if large."""
    run: list[dict[str, Any]] = []
    size = 0
    for entry, entry_size in entries:
        if run and (len(run) == 10 or size + entry_size > BATCH_BYTES):
            yield run
            run, size = [], 0
        run.append(entry)
        size += entry_size
    if run:
        yield run


def _send_back(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> set[str]:
    """Send messages to their source queue, in batches; the ids of those it refused."""
    entries = []
    for message in messages:
        entry: dict[str, Any] = {"Id": message["MessageId"], "MessageBody": message["Body"]}
        if queue_url.endswith(FIFO_SUFFIX):
            entry.update(MessageGroupId=message.get("Attributes", {}).get("MessageGroupId",
                                                                          "redrive"),
                         MessageDeduplicationId=str(uuid.uuid4()))
        entries.append((entry, len(message["Body"].encode())))
    refused: set[str] = set()
    for run in _by_size(entries):
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=run)
        refused.update(failure["Id"] for failure in response.get("Failed", []))
    return refused


def _publish_again(events: Any, bus_name: str, letters: list[DeadLetter]) -> set[str]:
    """Publish letters' events on the bus, in batches; the message ids of those refused."""
    entries = []
    for letter in letters:
        event = letter.eventbridge_event or {}
        entry = {"EventBusName": bus_name, "Source": event["source"],
                 "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        entries.append(({"letter": letter.message_id, "entry": entry},
                        sum(len(str(value).encode()) for value in entry.values())))
    refused: set[str] = set()
    for run in _by_size(entries):
        response = events.put_events(Entries=[item["entry"] for item in run])
        for item, answer in zip(run, response.get("Entries", []), strict=False):
            if answer.get("ErrorCode"):
                refused.add(item["letter"])
    return refused


def _hand_back(*, sqs: Any, events: Any, queue: DeadLetterQueue, global_bus_name: str,
               messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                      list[dict[str, Any]]]:
    """Send dead letters back to where they failed, in batch calls: those handed back, those
    kept (holding nothing to send) and those the target refused."""
    if queue.source_queue_url is not None:
        refused = _send_back(sqs, queue.source_queue_url, messages)
        return ([m for m in messages if m["MessageId"] not in refused], [],
                [m for m in messages if m["MessageId"] in refused])
    letters = {m["MessageId"]: read_dead_letter(m) for m in messages}
    sendable = [m for m in messages if letters[m["MessageId"]].eventbridge_event is not None]
    kept = [m for m in messages if letters[m["MessageId"]].eventbridge_event is None]
    refused = _publish_again(events, global_bus_name,
                             [letters[m["MessageId"]] for m in sendable]) if sendable else set()
    return ([m for m in sendable if m["MessageId"] not in refused], kept,
            [m for m in sendable if m["MessageId"] in refused])


def _delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Delete what was handed back. One that cannot be deleted (its receipt expired) is handed
    back again by a later redrive, which its consumer absorbs by CloudEvent id."""
    for start in range(0, len(messages), 10):
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages[start:start + 10])])


def dead_letters_redrive(*, sqs: Any, events: Any, queue: DeadLetterQueue,
                         global_bus_name: str, message_ids: set[str] | None = None,
                         limit: int = REDRIVE_LIMIT, wait_seconds: int = 0,
                         progress: Callable[[RedriveResult], None] | None = None,
                         ) -> RedriveResult:
    """Hand dead letters back (all of them, or those named) and delete them once handed;
    `progress` hears the running totals after each batch. At most `limit` messages are
    received. With `wait_seconds`, each receive is a long poll: it asks every SQS server
    rather than a sample, and waits out letters that someone's look hides for a moment, so
    that the redrive does not stop while letters remain (at the cost of that wait at the end).

    Each batch is handed back and deleted (in batch calls) before the next is received: a FIFO
    queue returns nothing more of a message group while some of it is in flight. Messages
    passed over (not named, holding nothing to hand back, or refused by the target) stay
    hidden until the end, so that they are not received again, and are then made visible at
    once — also when a hand-back fails."""
    wanted = set(message_ids) if message_ids is not None else None
    passed_over: list[str] = []
    result = RedriveResult(queue=queue.name, redriven=0, kept=0, failed=0)
    received = 0
    try:
        while (wanted is None or wanted) and received < limit:
            batch = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10,
                                        VisibilityTimeout=60, WaitTimeSeconds=wait_seconds,
                                        AttributeNames=["All"], MessageAttributeNames=["All"]
                                        ).get("Messages", [])
            if not batch:
                break
            received += len(batch)
            chosen = [m for m in batch if wanted is None or m["MessageId"] in wanted]
            passed_over.extend(m["ReceiptHandle"] for m in batch if m not in chosen)
            if wanted is not None:
                wanted.difference_update(m["MessageId"] for m in chosen)
            handed, kept, failed = _hand_back(sqs=sqs, events=events, queue=queue,
                                              global_bus_name=global_bus_name,
                                              messages=chosen) if chosen else ([], [], [])
            _delete(sqs, queue.url, handed)
            passed_over.extend(m["ReceiptHandle"] for m in kept + failed)
            result = RedriveResult(queue=queue.name, redriven=result.redriven + len(handed),
                                   kept=result.kept + len(kept),
                                   failed=result.failed + len(failed))
            if progress is not None:
                progress(result)
    finally:
        _make_visible(sqs, queue.url, passed_over)
    return result
