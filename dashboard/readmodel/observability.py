"""The poller: long-polls the observability queue, records what it sees in the read model,
broadcasts it, and only then deletes it — at least once, so the read model and the browser
dedupe by event id.

It is an asyncio task on the server's own event loop: broadcasting from a plain thread would
not wake that loop, and frames would go out 100 to 500 ms late. The blocking boto3 long poll runs
in a daemon thread of its own, so that stopping never waits for a 20-second poll to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from dashboard.models import Origin
from dashboard.readmodel import services
from dashboard.readmodel.observations import Observation, observation_from_queue_body
from workflow.model import CHOREOGRAPHY

log = logging.getLogger("dashboard.poller")

T = TypeVar("T")
MAX_MESSAGES = 10  # SQS's ceiling per receive
# A receive returns as soon as one message is there: under a steady stream of events that
# means batches of one or two, each paying for a receive, a delete and a read-model
# transaction. A receive that did not come back full is followed, this much later, by one
# that takes what else arrived meanwhile; receives that come back full (a backlog) are
# followed at once. Up to GATHER messages are recorded together. The live view waits at most
# the linger longer; a backlog drains no slower.
LINGER_SECONDS = 0.1
GATHER = 50
# The read model is kept within its retention period (DASHBOARD_RETENTION_DAYS) by the poller:
# a run at start, then one a minute, each of at most PRUNE_BATCHES short transactions, so
# that a large backlog is worked off over several runs without holding up recording.
PRUNE_EVERY_SECONDS = 60.0
PRUNE_BATCHES = 10


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """Run a blocking call without holding up shutdown: unlike the default executor's, this
    thread is not waited for when the loop or the interpreter ends."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def run() -> None:
        outcome: Callable[[], None]
        try:
            result = work()
            outcome = lambda: future.set_result(result)  # noqa: E731
        except BaseException as error:  # handed to the awaiting task, not lost in a thread
            failure = error
            outcome = lambda: future.set_exception(failure)  # noqa: E731
        # A closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=run, name="observability-poll", daemon=True).start()
    return await future


def _record(observations: list[Observation]) -> list[dict[str, Any]]:
    close_old_connections()  # a long-lived worker thread must not keep a dead connection
    return services.observation_record(observations=observations)


def _prune_batch() -> bool:
    """One batch of what is past the retention period; True when nothing is left."""
    close_old_connections()
    before = services.retention_horizon()
    return before is None or services.read_model_prune(before=before, max_batches=1).done


class Broadcaster(Protocol):
    """Where what is newly recorded goes out (the live view's `EventBroadcaster`): named by
    what it does, so that the read model does not import the live view."""

    async def publish(self, items: Sequence[dict[str, Any]]) -> None: ...

    async def close(self) -> None: ...


@dataclass
class PollerStats:
    receives: int = 0
    messages: int = 0
    new_sightings: int = 0
    invalid: int = 0
    undeclared: int = 0  # events from a source the model does not declare (drift, not failures)
    deleted: int = 0
    errors: int = 0
    prune_passes: int = 0  # finished, so a reader knows one has run and stopped where it did


class ObservabilityPoller:
    def __init__(self, *, sqs: Any, queue_url: str, broadcaster: Broadcaster | None,
                 wait_seconds: int = 20, receivers: int = 2, delete: bool = True,
                 prune_every: float = PRUNE_EVERY_SECONDS) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.broadcaster = broadcaster
        self.wait_seconds = wait_seconds
        self.receivers = receivers
        self.delete = delete
        self.stats = PollerStats()
        self.prune_every = prune_every
        self._record = sync_to_async(_record, thread_sensitive=True)
        # In the recording thread too: a batch of recording and one of pruning take turns.
        self._prune_batch = sync_to_async(_prune_batch, thread_sensitive=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; several receives in flight keep the queue drained."""
        log.info("polling %s", self.queue_url)
        loops = [asyncio.create_task(self._loop(stop)) for _ in range(self.receivers)]
        loops.append(asyncio.create_task(self._prune_loop(stop)))
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([waiter, *loops], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [waiter, *loops]:
                task.cancel()
            await asyncio.gather(waiter, *loops, return_exceptions=True)
            if self.broadcaster is not None:
                await self.broadcaster.close()

    async def _loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self.poll_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                self.stats.errors += 1
                log.exception("observability poll failed (%d in a row)", failures)
                await asyncio.sleep(min(10.0, 0.5 * 2 ** min(failures, 5)))

    async def _prune_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.prune_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.errors += 1
                log.exception("pruning the read model failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.prune_every)

    async def prune_once(self) -> None:
        """Forget up to PRUNE_BATCHES batches of what is past the retention period."""
        try:
            for _ in range(PRUNE_BATCHES):
                if await self._prune_batch():
                    return
        finally:
            self.stats.prune_passes += 1

    async def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        answer = await in_daemon_thread(lambda: self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=wait_seconds))
        self.stats.receives += 1
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    async def poll_once(self, wait_seconds: int | None = None) -> int:
        """One long poll and what arrives on its heels: record, broadcast, then delete.
        Returns the number of messages."""
        messages = await self._receive(self.wait_seconds if wait_seconds is None else wait_seconds)
        if not messages:
            return 0
        if len(messages) < MAX_MESSAGES:
            await asyncio.sleep(LINGER_SECONDS)
            messages += await self._receive(0)
        while len(messages) % MAX_MESSAGES == 0 and len(messages) < GATHER:
            more = await self._receive(0)
            messages += more
            if len(more) < MAX_MESSAGES:
                break
        await self.handle(messages)
        return len(messages)

    async def handle(self, messages: list[dict[str, Any]]) -> None:
        observed_at = datetime.now(UTC)
        observations = [observation_from_queue_body(message.get("Body", ""), observed_at=observed_at,
                                                    origin=Origin.LIVE) for message in messages]
        declared = frozenset(CHOREOGRAPHY.sources())
        # An undeclared source's events are drift, counted rather than each warned of: a busy
        # one would bury the invalid events of the model in the log.
        undeclared = [services.source_undeclared(o, declared=declared) for o in observations]
        invalid = [o for o, foreign in zip(observations, undeclared, strict=True)
                   if not o.valid and not foreign]
        for observation in invalid:
            log.warning("invalid event %s on %s: %s", observation.event_id, observation.bus,
                        observation.invalid_reason)
        items = await self._record(observations)
        self.stats.messages += len(messages)
        self.stats.new_sightings += len(items)
        self.stats.invalid += len(invalid)
        self.stats.undeclared += sum(undeclared)
        if self.broadcaster is not None:
            await self.broadcaster.publish(items)
        if self.delete:
            await self._delete(messages)

    async def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_MESSAGES):
            entries = [{"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                       for index, message in enumerate(messages[start:start + MAX_MESSAGES])]
            answer = await in_daemon_thread(functools.partial(
                self.sqs.delete_message_batch, QueueUrl=self.queue_url, Entries=entries))
            failed = answer.get("Failed", [])
            self.stats.deleted += len(entries) - len(failed)
            for failure in failed:
                # Seen again after the visibility timeout, and deduplicated then.
                log.warning("could not delete message %s: %s", failure.get("Id"),
                            failure.get("Message"))
