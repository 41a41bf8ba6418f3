"""SQS: costs that grew with a queue's depth or history, and what its messages lacked."""

from __future__ import annotations

import copy
import itertools
import json
import string
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models
from moto.core.utils import (
    camelcase_to_underscores,
)
from moto.moto_api._internal import mock_random
from moto.sqs.models import Message, Queue, SQSBackend

from local.moto_patches.clock import now, now_millis, seconds_of


def fast_sqs_clock() -> None:
    """SQS reads the clock for every message it looks at (is it visible? delayed?), through a
    helper that builds two datetimes each time: ~30 µs a message, which made every receive
    and every send cost time in proportion to the queue's depth. The POSIX clock gives the
    same value."""
    sqs_models: Any = moto.sqs.models
    sqs_models.unix_time = lambda dt=None: now() if dt is None else seconds_of(dt)
    sqs_models.unix_time_millis = lambda dt=None: now_millis() if dt is None \
        else seconds_of(dt) * 1000.0


class QueueAttributes(Mapping[str, Any]):
    """A queue's attributes, each computed when it is read. moto computed all of them (three
    of which walk every message in the queue) whenever any one was needed: at every send, to
    see whether the queue deduplicates by content, and at every message received, to read its
    retention period."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        names = list(Queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += Queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += Queue.KMS_ATTRIBUTES
        self.names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        queue = self.queue
        if name == "Policy":
            value = queue.policy
        elif name == "RedrivePolicy" and queue.redrive_policy:
            value = json.dumps(queue.redrive_policy)
        else:
            value = getattr(queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def sqs_attributes_on_demand() -> None:
    queue_class: Any = Queue
    queue_class.attributes = property(QueueAttributes)

    original = SQSBackend.get_queue_attributes

    def get_queue_attributes(self: SQSBackend, queue_name: str,
                             attribute_names: list[str]) -> dict[str, Any]:
        # a plain dict, as moto's callers (and its JSON responses) expect
        return dict(original(self, queue_name, attribute_names))

    backend_class: Any = SQSBackend
    backend_class.get_queue_attributes = get_queue_attributes

    def is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str,
                                                   message: Any) -> bool:
        queue = self.get_queue(queue_name)
        period = queue.message_retention_period  # type: ignore[attr-defined]
        retain_until = int(period) + message.sent_timestamp / 1000
        return bool(retain_until > now())

    backend_class.is_message_valid_based_on_retention_period = \
        is_message_valid_based_on_retention_period


def fast_receipt_handles() -> None:
    """A receipt handle is 185 random letters, which moto draws one `random.choice` at a time
    for every message it hands out: ~5 % of the embedded AWS's time under load."""
    sqs_models: Any = moto.sqs.models

    def generate_receipt_handle() -> str:
        return "".join(mock_random.choices(string.ascii_lowercase, k=185))

    sqs_models.generate_receipt_handle = generate_receipt_handle


def _copy_for_receive(value: Any, memo: Any = None) -> Any:
    # The copy only has its message attributes replaced by a filtered dict, never mutated.
    return copy.copy(value) if isinstance(value, Message) else copy.deepcopy(value, memo)


def shallow_copy_received_messages() -> None:
    """Every message handed out was deep-copied (its body, attributes and receipt history),
    only so that its message attributes could be filtered on the copy."""
    sqs_models: Any = moto.sqs.models
    sqs_models.deepcopy = _copy_for_receive


class RecentSet:
    """A set that keeps only its most recent `limit` members. The server's threads delete
    from one queue at once, so adding and evicting hold a lock (a look needs none)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.members: dict[str, None] = {}
        self._lock = threading.Lock()

    def __contains__(self, member: object) -> bool:
        return member in self.members

    def update(self, members: Any) -> None:
        with self._lock:
            for member in members:
                self.members[member] = None
            while len(self.members) > self.limit:
                del self.members[next(iter(self.members))]

    def __len__(self) -> int:
        return len(self.members)


# SQS's sequence numbers are 20 digits, and grow within a message group.
SEQUENCE_NUMBERS = itertools.count(10**19)


def number_every_fifo_message() -> None:
    """SQS gives every message of a FIFO queue a sequence number; moto only a message sent
    with an explicit deduplication id. EventBridge's deliveries to a FIFO queue are
    deduplicated by content, so none had one, and the records Lambda is handed for them
    lacked the `SequenceNumber` attribute AWS's records of a FIFO queue have."""
    original = Queue.add_message

    def add_message(self: Queue, message: Message) -> None:
        if self.fifo_queue and message.sequence_number is None:
            message.sequence_number = str(next(SEQUENCE_NUMBERS))
        original(self, message)

    queue_class: Any = Queue
    queue_class.add_message = add_message


# Deleting a message twice succeeds, as on SQS, for as long as its receipt handle is among the
# queue's most recent deletions.
DELETED_HANDLES_KEPT = 10_000


def sqs_bounded_deleted_handles() -> None:
    """moto remembers every receipt handle of every message ever deleted from a queue, so
    that a second delete succeeds: memory that grows with the queue's whole history."""
    original = Queue.__init__

    def __init__(self: Queue, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.deleted_messages = RecentSet(DELETED_HANDLES_KEPT)  # type: ignore[assignment]

    queue_class: Any = Queue
    queue_class.__init__ = __init__


# How long a receive of a FIFO queue that found nothing to deliver waits before it looks
# again, unless a message arrives or a group is released first.
BLOCKED_RECHECK_SECONDS = 0.05


def fifo_long_polls_wait_for_a_deliverable_group() -> None:
    """A long poll of a FIFO queue whose visible messages all belong to groups in flight
    (another consumer holds a batch of each) was a busy loop in moto: asked to wait, the
    queue let it through at once (there *are* visible messages) and it scanned the whole
    queue again, for the poll's whole wait — a third of the embedded AWS's time as soon as
    two pollers shared a FIFO queue. Worse, it judged groups by the ones in flight when the
    poll began, so a group released meanwhile was not delivered until the poll ended.

    A FIFO long poll is now a series of immediate receives, each seeing the groups in flight
    at that moment, with a wait on the queue between them that a new message or a delete (a
    group released) cuts short, and `BLOCKED_RECHECK_SECONDS` bounds."""
    receive = SQSBackend.receive_message

    def receive_message(self: SQSBackend, queue_name: str, count: int,
                        wait_seconds_timeout: int, visibility_timeout: int,
                        message_attribute_names: list[str] | None = None) -> list[Message]:
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue or not wait_seconds_timeout:
            return receive(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                           message_attribute_names)
        deadline = now() + wait_seconds_timeout
        lock = queue._messages_lock
        while True:
            result = receive(self, queue_name, count, 0, visibility_timeout,
                             message_attribute_names)
            remaining = deadline - now()
            if result or remaining <= 0:
                return result
            with lock:
                lock.wait(timeout=min(remaining, BLOCKED_RECHECK_SECONDS))

    delete = Queue.delete_message

    def delete_message(self: Queue, receipt_handle: str) -> None:
        delete(self, receipt_handle)
        if self.fifo_queue:  # its group may be free for a waiting receive now
            with self._messages_lock:
                self._messages_lock.notify_all()

    backend_class: Any = SQSBackend
    backend_class.receive_message = receive_message
    queue_class: Any = Queue
    queue_class.delete_message = delete_message
