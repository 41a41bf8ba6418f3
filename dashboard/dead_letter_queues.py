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
from collections.abc import Mapping
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


REDRIVE_LIMIT = 10_000


def _hand_back(*, sqs: Any, events: Any, queue: DeadLetterQueue, global_bus_name: str,
               message: dict[str, Any]) -> bool:
    """Send one dead letter back to where it failed; False if it holds nothing to send."""
    letter = read_dead_letter(message)
    if queue.source_queue_url is not None:
        send: dict[str, Any] = {"QueueUrl": queue.source_queue_url, "MessageBody": letter.body}
        if queue.source_queue_url.endswith(FIFO_SUFFIX):
            group = message.get("Attributes", {}).get("MessageGroupId", "redrive")
            send.update(MessageGroupId=group, MessageDeduplicationId=str(uuid.uuid4()))
        sqs.send_message(**send)
        return True
    if letter.eventbridge_event is None:
        return False
    event = letter.eventbridge_event
    response = events.put_events(Entries=[{
        "EventBusName": global_bus_name, "Source": event["source"],
        "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"could not publish {letter.message_id} again: {response}")
    return True


def dead_letters_redrive(*, sqs: Any, events: Any, queue: DeadLetterQueue,
                         global_bus_name: str, message_ids: set[str] | None = None,
                         ) -> RedriveResult:
    """Hand dead letters back (all of them, or those named) and delete them once handed.

    Each batch is handed back and deleted before the next is received: a FIFO queue returns
    nothing more of a message group while some of it is in flight. Messages passed over (not
    named, or holding nothing to hand back) stay hidden until the end, so that they are not
    received again, and are then made visible at once — also when a hand-back fails."""
    wanted = set(message_ids) if message_ids is not None else None
    passed_over: list[str] = []
    redriven = kept = 0
    try:
        while (wanted is None or wanted) and redriven + len(passed_over) < REDRIVE_LIMIT:
            batch = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10,
                                        VisibilityTimeout=60, WaitTimeSeconds=0,
                                        AttributeNames=["All"], MessageAttributeNames=["All"]
                                        ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                if wanted is not None and message["MessageId"] not in wanted:
                    passed_over.append(message["ReceiptHandle"])
                    continue
                if wanted is not None:
                    wanted.discard(message["MessageId"])
                if not _hand_back(sqs=sqs, events=events, queue=queue,
                                  global_bus_name=global_bus_name, message=message):
                    kept += 1
                    passed_over.append(message["ReceiptHandle"])
                    continue
                sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
                redriven += 1
    finally:
        _make_visible(sqs, queue.url, passed_over)
    return RedriveResult(queue=queue.name, redriven=redriven, kept=kept)
