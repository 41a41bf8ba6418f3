"""Selectors: reads, for views and consumers — the read model, what the order API tells, and
what sits in the dead-letter queues."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from dashboard import aws
from dashboard.failures.dead_letter_queues import (
    DeadLetterQueue,
    dead_letter_queues,
    dead_letters_count,
    dead_letters_peek,
)
from dashboard.failures.elsewhere import Unreadable, other_dead_letter_queues
from dashboard.failures.redrive_jobs import RedriveJob
from dashboard.models import ObservedEvent, Order, OrderStatus
from dashboard.orders.order_api import OrderApi, OrderApiError
from dashboard.problems import Problem
from workflow.dead_letters import DeadLetter
from workflow.model import CHOREOGRAPHY
from workflow.outputs import NOTIFICATIONS_TABLE_NAME, ORDER_API_URL


def order_list(*, status: str | None = None) -> QuerySet[Order]:
    """Orders, newest first, optionally of one status. Newest is first seen last: the time an
    order's events claim decides only between orders first seen together (one poll's batch),
    or any publisher could keep an order on top by dating it ahead."""
    orders = Order.objects.order_by("-observed_at", "-placed_at")
    if status:
        orders = orders.filter(status=status)
    return orders


def order_status_counts() -> dict[str, int]:
    counts = dict.fromkeys(OrderStatus.values, 0)
    for row in Order.objects.values("status").annotate(count=Count("order_id")).order_by():
        counts[row["status"]] = row["count"]
    return counts


def order_get(*, order_id: str) -> Order | None:
    return Order.objects.filter(order_id=order_id).first()


def event_recent_list(*, limit: int = 50) -> list[ObservedEvent]:
    return list(ObservedEvent.objects.order_by("-observed_at")[:limit])


def event_newest_observed_at() -> datetime | None:
    """When the newest event the read model holds was first seen (an index's last entry)."""
    newest: datetime | None = ObservedEvent.objects.aggregate(newest=Max("observed_at"))["newest"]
    return newest


def event_invalid_list(*, limit: int = 25) -> list[ObservedEvent]:
    """Events seen on a bus that the catalogue refused, newest first."""
    return list(ObservedEvent.objects.filter(valid=False).order_by("-observed_at")[:limit])


def event_invalid_count() -> int:
    return ObservedEvent.objects.filter(valid=False).count()


@dataclass(frozen=True)
class TraceEvent:
    event: ObservedEvent
    offset_ms: float | None
    """From the order's placement to this event."""
    start_ms: float | None
    """Where this event's hop starts on the timeline: its cause's offset."""

    @property
    def hop_latency_ms(self) -> float | None:
        return self.event.hop_latency_ms


@dataclass(frozen=True)
class Trace:
    order_id: str
    order: Order | None
    events: list[TraceEvent]
    invalid: list[ObservedEvent]
    span_ms: float
    """The timeline's extent: to the last event."""
    sightings: list[tuple[str, str]] = field(default_factory=list)
    """(event type, bus) of every sighting, for drawing the path."""
    event_total: int = 0
    """How many events the subject has in the read model, loaded or not."""
    shown_first: int = 0
    shown_newest: int = 0
    """When truncated: how many of the first observed and of the newest are loaded."""
    earlier_pruned: bool = False
    """The order's first events are past the retention period and no longer kept."""

    @property
    def types(self) -> list[str]:
        return [trace_event.event.type for trace_event in self.events]

    @property
    def truncated(self) -> bool:
        return self.event_total > len(self.events) + len(self.invalid)


def _trace_rows(order_id: str, limit: int) -> tuple[list[ObservedEvent], int, int, int]:
    """The subject's events to show, its number of events, and how many of the first and of
    the newest observed were loaded. Anyone may publish under any subject, so at most `limit`
    rows are read: the first half observed (how the order began) and the newest half (where it
    is now). An ordinary order takes one query; a crowded subject two more, a count and the
    newest, each an index range (event_order_seen) whatever the subject's size."""
    subject = ObservedEvent.objects.filter(order_id=order_id)
    rows = list(subject.order_by("observed_at", "id")[:limit + 1])
    if len(rows) <= limit:
        return rows, len(rows), 0, 0
    first = limit - limit // 2
    newest = list(subject.order_by("-observed_at", "-id")[:limit // 2])
    loaded = {row.id for row in rows[:first]}
    rows = rows[:first] + [row for row in newest if row.id not in loaded]
    return rows, subject.count(), first, limit // 2


def trace_get(*, order_id: str, limit: int | None = None) -> Trace:
    """One order's events on a timeline from its placement, at most `limit` of them
    (DASHBOARD_TRACE_EVENTS)."""
    rows, total, shown_first, shown_newest = _trace_rows(
        order_id, limit or settings.DASHBOARD_TRACE_EVENTS)
    rows.sort(key=lambda row: (row.observed_at, row.id))
    invalid = [row for row in rows if not (row.valid and row.time is not None)]
    valid = sorted((row for row in rows if row.valid and row.time is not None),
                   key=lambda row: (row.time or row.observed_at, row.observed_at))
    order = Order.objects.filter(order_id=order_id).first()
    origin: datetime | None = order.placed_at if order else None
    if origin is None and valid:
        origin = valid[0].time
    times = {row.event_id: row.time for row in valid}

    def offset(time: datetime | None) -> float | None:
        if time is None or origin is None:
            return None
        return round((time - origin).total_seconds() * 1000, 3)

    events = [TraceEvent(event=row, offset_ms=offset(row.time),
                         start_ms=offset(times.get(row.causation_id, row.time)))
              for row in valid]
    span = max([trace_event.offset_ms or 0.0 for trace_event in events] + [0.0])
    sightings = [(row.type, bus) for row in valid for bus in row.buses]
    # The order remembers when its first event was seen; once that event is pruned, what is
    # left of its trace begins later.
    first_seen = min((row.observed_at for row in valid), default=None)
    earlier_pruned = order is not None and (first_seen is None or first_seen > order.observed_at)
    return Trace(order_id=order_id, order=order, events=events, invalid=invalid, span_ms=span,
                 sightings=sightings, event_total=total, shown_first=shown_first,
                 shown_newest=shown_newest, earlier_pruned=earlier_pruned)


def _order_api() -> OrderApi | None:
    outputs = aws.current().outputs_or_none()
    if outputs is None or ORDER_API_URL not in outputs.values:
        return None
    return OrderApi(outputs.order_api_url)


def product_list() -> tuple[list[dict[str, Any]], Problem | None]:
    """The catalogue from the order API, or why it could not be read."""
    api = _order_api()
    if api is None:
        return [], Problem(status=503, title="Order API unknown",
                           detail=f"the stack outputs name no {ORDER_API_URL} (is the stack up?)")
    try:
        return api.products(), None
    except OrderApiError as error:
        return [], error.problem


def notification_list(*, order_id: str) -> list[dict[str, Any]] | None:
    """What the stack's own notification receiver kept for an order, oldest first; None where
    it cannot be asked (the stack sends its notifications to an endpoint outside it, or the
    table cannot be read)."""
    context = aws.current()
    outputs = context.outputs_or_none()
    table_name = outputs.values.get(NOTIFICATIONS_TABLE_NAME) if outputs else None
    if not table_name:
        return None
    key = CHOREOGRAPHY.notification_receiver.table.partition_key
    try:
        items = context.client("dynamodb").query(
            TableName=table_name, KeyConditionExpression="#key = :subject",
            ExpressionAttributeNames={"#key": key},
            ExpressionAttributeValues={":subject": {"S": order_id}})["Items"]
    except (BotoCoreError, ClientError):
        return None
    notifications = []
    for item in items:
        try:
            event = json.loads(item["event"]["S"])
        except (KeyError, ValueError):
            continue
        notifications.append({"receivedAt": item.get("receivedAt", {}).get("S", ""),
                              "contentType": item.get("contentType", {}).get("S", ""),
                              "event": event})
    return sorted(notifications, key=lambda notification: notification["receivedAt"])


@dataclass(frozen=True)
class DeadLetterQueueState:
    queue: DeadLetterQueue
    count: int
    letters: list[DeadLetter]
    seen_at: datetime | None = None
    """When `letters` were received: a look is shared for a while (see `_dead_letters_seen`)."""

    @property
    def name(self) -> str:
        return self.queue.name

    @property
    def purpose(self) -> str:
        return self.queue.purpose

    @property
    def redrive_to(self) -> str:
        return self.queue.redrive_to

    @property
    def not_shown(self) -> int:
        """Counted but not seen: in flight (being looked at or redriven elsewhere), beyond the
        peek limit, or — in a FIFO queue — behind the first ten of their message group."""
        return max(0, self.count - len(self.letters))


@dataclass(frozen=True)
class DeadLetterOverview:
    queues: list[DeadLetterQueueState]
    problem: Problem | None = None
    """Why AWS could not be asked (then `queues` holds what was read before it failed)."""
    unreadable: list[Unreadable] = field(default_factory=list)
    """Stacks in other accounts whose dead-letter queues could not be read."""

    @property
    def total(self) -> int:
        return sum(state.count for state in self.queues)


@dataclass(frozen=True)
class _Look:
    letters: list[DeadLetter]
    at: datetime


LOOKING_SECONDS = 30
"""How long one request may hold a queue's look to itself (if its process dies mid-look)."""


def _look_key(queue: DeadLetterQueue) -> str:
    return f"dead-letters-look:{queue.url}"


def _dead_letters_seen(*, sqs: Any, queue: DeadLetterQueue) -> _Look | None:
    """The dead letters of a queue as last looked at, looked at again once stale.

    A look is a receive per ten letters, and it changes their visibility: many viewers (or
    one reloading) must not multiply it. So a look is kept in Django's cache (shared by every
    process in the production profile) for `DASHBOARD_DEAD_LETTER_PEEK_SECONDS`, takes at most
    `DASHBOARD_DEAD_LETTER_PEEK_RECEIVES` receives, and only one request at a time takes it:
    the others show the last look meanwhile, or none (None) if there is none yet."""
    key = _look_key(queue)
    look: _Look | None = cache.get(key)
    fresh_for = settings.DASHBOARD_DEAD_LETTER_PEEK_SECONDS
    if look is not None and (timezone.now() - look.at).total_seconds() < fresh_for:
        return look
    if not cache.add(f"{key}:looking", True, LOOKING_SECONDS):
        return look
    try:
        letters = dead_letters_peek(sqs=sqs, queue=queue,
                                    max_receives=settings.DASHBOARD_DEAD_LETTER_PEEK_RECEIVES)
        look = _Look(letters=letters, at=timezone.now())
        # Kept beyond its freshness, to be shown while another request looks again.
        cache.set(key, look, max(fresh_for, 1) * 10)
    finally:
        cache.delete(f"{key}:looking")
    return look


def dead_letters_seen_forget(*, queue: DeadLetterQueue) -> None:
    """After a redrive, the next view looks again rather than show what has gone."""
    cache.delete(_look_key(queue))


def dead_letter_queue_list(*, peek: bool = True) -> DeadLetterOverview:
    """Every dead-letter queue of the stack with its count, the non-empty first; with `peek`,
    the dead letters themselves as last looked at (see `_dead_letters_seen`), left in place
    and visible (a look is a receive, so it adds one to each message's receive count). The
    counts are asked every time: that is cheap and receives nothing."""
    context = aws.current()
    outputs = context.outputs_or_none()
    if outputs is None:
        where = f" at {context.endpoint_url}" if context.endpoint_url else ""
        return DeadLetterOverview([], Problem(
            status=503, title="AWS unreachable",
            detail=f"the stack {context.stack_name} could not be read{where}; is it up?"))
    sqs = context.client("sqs")
    states: list[DeadLetterQueueState] = []
    problem: Problem | None = None
    # the queues of stacks in other accounts too, each read in its account
    elsewhere, unreadable = other_dead_letter_queues(outputs.values, stack_name=context.stack_name)
    try:
        for queue, sqs in [*((queue, sqs) for queue in dead_letter_queues(outputs.values)),
                           *elsewhere]:
            count = dead_letters_count(sqs=sqs, queue=queue)
            look = _dead_letters_seen(sqs=sqs, queue=queue) if peek and count else None
            states.append(DeadLetterQueueState(
                queue=queue, count=count, letters=look.letters if look else [],
                seen_at=look.at if look else None))
    except (BotoCoreError, ClientError) as error:
        problem = Problem(status=503, title="SQS could not be asked", detail=str(error))
    states.sort(key=lambda state: (state.count == 0, state.name))
    return DeadLetterOverview(states, problem, unreadable=unreadable)


REDRIVE_JOBS_SHOWN_SECONDS = 3600
"""How long the failures page shows a redrive job after it started (one running, always)."""


def redrive_job_latest() -> dict[str, RedriveJob]:
    """Each queue's latest redrive job, if it runs or started in the last hour."""
    since = timezone.now() - timedelta(seconds=REDRIVE_JOBS_SHOWN_SECONDS)
    latest: dict[str, RedriveJob] = {}
    for job in RedriveJob.objects.filter(Q(state=RedriveJob.RUNNING) | Q(started_at__gte=since)):
        latest.setdefault(job.queue, job)  # newest first
    return latest


@dataclass(frozen=True)
class QueueBacklog:
    queue_id: str
    consumer: str
    waiting: int
    in_flight: int
    # held back by the queue (the order outbox's checks, due a minute on): not work yet, as
    # SQS counts them apart and the local Lambda service does
    delayed: int = 0

    @property
    def total(self) -> int:
        return self.waiting + self.in_flight


@dataclass(frozen=True)
class Backlog:
    """What the functions have still to do: the messages in the model's queues, waiting or
    being worked on. A backlog that grows means events arrive faster than they are handled."""

    queues: list[QueueBacklog]
    refused: dict[str, int] = field(default_factory=dict)
    """The order API's refusals so far (local mode): `429` throttled, `503` shed."""
    problem: Problem | None = None

    @property
    def total(self) -> int:
        return sum(queue.total for queue in self.queues)


def backlog_get() -> Backlog:
    context = aws.current()
    outputs = context.outputs_or_none()
    if outputs is None:
        return Backlog([], problem=Problem(status=503, title="AWS unreachable",
                                           detail=f"the stack {context.stack_name} could not be read"))
    sqs = context.client("sqs")
    queues = []
    try:
        for queue in CHOREOGRAPHY.queues:
            url = outputs.queue_url(queue.id)
            if url is None:
                continue
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            queues.append(QueueBacklog(
                queue_id=queue.id, consumer=queue.consumer,
                waiting=int(attributes.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0))))
    except (BotoCoreError, ClientError) as error:
        return Backlog(queues, problem=Problem(status=503, title="SQS could not be asked",
                                               detail=str(error)))
    refused: dict[str, int] = {}
    api = _order_api()
    if api is not None and not settings.PRODUCTION:
        try:
            stats = api.runtime_stats()
        except OrderApiError:
            stats = {}
        refused = {status: count for status, count in (stats.get("apiRefused") or {}).items()
                   if isinstance(count, int)}
    return Backlog(queues, refused=refused)


CHAOS_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("injected failures", "sqs.injectedFailures", "invocations failed before the handler ran"),
    ("duplicates", "sqs.injectedDuplicates", "batches delivered a second time"),
    ("poisoned records", "sqs.poisonedRecords", "deliveries of poisoned events, each failed"),
    ("held back", "sqs.delayedRecords", "deliveries held back by the jitter"),
    ("async retries", "asyncInvocations.retries", "asynchronous invocations tried again"),
    ("failed records", "sqs.failedRecords", "records that failed, for any reason"),
)
"""The local runtime's counters worth showing next to the knobs: (label, path in
`/_local/stats`, what it counts)."""


@dataclass(frozen=True)
class ChaosCounter:
    label: str
    value: int | None
    counts: str


@dataclass(frozen=True)
class ChaosPanel:
    knobs: dict[str, float]
    counters: list[ChaosCounter]
    problem: Problem | None = None

    @property
    def active(self) -> bool:
        return any(self.knobs.values())


def _stat(stats: dict[str, Any], path: str) -> int | None:
    value: Any = stats
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def chaos_panel_get() -> ChaosPanel | None:
    """The local runtime's chaos knobs and counters; None where there are none to show: the
    production profile, or an order API without `/_local/chaos` (anything but local mode)."""
    if settings.PRODUCTION:
        return None
    api = _order_api()
    if api is None:
        return None
    try:
        knobs = api.chaos()
    except OrderApiError as error:
        if error.problem.status in (404, 405):
            return None
        return ChaosPanel(knobs={}, counters=[], problem=error.problem)
    try:
        stats = api.runtime_stats()
    except OrderApiError:
        stats = {}
    return ChaosPanel(
        knobs={name: float(value) for name, value in knobs.items()
               if isinstance(value, int | float) and not isinstance(value, bool)},
        counters=[ChaosCounter(label=label, value=_stat(stats, path), counts=counts)
                  for label, path, counts in CHAOS_COUNTERS])
