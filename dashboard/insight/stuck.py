"""Stuck orders: those not ended whose next step is later than the model allows.

An order stops at its last event; the function that reacts to that event should act within
the event's step deadline (`workflow.deadlines`, or `DASHBOARD_STEP_DEADLINES`). Orders keep
their last event's type and time, so the stuck ones are, per event type, an index range
(`order_stopped_at`): still placed, that last event, older than its cutoff.

Why one is stuck is looked for where failures go: its event in a dead-letter queue (the
failures page's look at them, shared and cached); else its next function failing (dead
letters in that function's queues, invalid events of the type it consumes); else nothing
observed, which is said as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from dashboard.failures.selectors import DeadLetterOverview
from dashboard.models import ObservedEvent, Order, OrderStatus
from workflow.deadlines import StepDeadline, step_deadlines
from workflow.model import CHOREOGRAPHY, Choreography

STUCK_SHOWN = 100


def configured_deadlines(model: Choreography = CHOREOGRAPHY) -> dict[str, StepDeadline]:
    """Each event's step deadline, as derived from the model and configured."""
    return step_deadlines(model, overrides=settings.DASHBOARD_STEP_DEADLINES,
                          margin_seconds=settings.DASHBOARD_STEP_DEADLINE_MARGIN_SECONDS)


def _stopped(event_type: str, deadline: StepDeadline, now: datetime) -> QuerySet[Order]:
    return Order.objects.filter(status=OrderStatus.PLACED, last_event_type=event_type,
                                last_event_at__lt=now - timedelta(seconds=deadline.seconds))


def stuck_counts(*, now: datetime | None = None,
                 model: Choreography = CHOREOGRAPHY) -> dict[str, int]:
    """How many orders are stuck after each event type (only types with any)."""
    now = now or timezone.now()
    counts = {event: _stopped(event, deadline, now).count()
              for event, deadline in configured_deadlines(model).items()}
    return {event: count for event, count in counts.items() if count}


@dataclass(frozen=True)
class Cause:
    kind: str  # "dead-letter", "failing", "nothing", "unknown"
    text: str
    link: str | None = None


@dataclass(frozen=True)
class StuckOrder:
    order: Order
    deadline: StepDeadline
    stopped_ms: float
    """How long since its last event."""
    cause: Cause

    @property
    def overdue_ms(self) -> float:
        return self.stopped_ms - self.deadline.seconds * 1000


def dead_letter_queues_of(function_id: str, model: Choreography = CHOREOGRAPHY) -> tuple[str, ...]:
    """The dead-letter queues where what a function failed on ends up (as the stack names
    them: workflow.outputs.dead_letter_outputs)."""
    names = [queue.id for queue in model.queues if queue.consumer == function_id]
    if function_id in model.direct_targets():
        names.append(f"{function_id}Failure")
    return tuple(names)


def _cause(order: Order, deadline: StepDeadline, overview: DeadLetterOverview | None,
           invalid: dict[str, int], model: Choreography) -> Cause:
    failures = reverse("failures")
    if overview is not None:
        for state in overview.queues:
            for letter in state.letters:
                if letter.order_id == order.order_id and letter.event_type == order.last_event_type:
                    return Cause("dead-letter", f"its {order.last_event_type} sits in the "
                                 f"{state.name} dead-letter queue: {letter.reason}",
                                 f"{failures}#queue-{state.name}")
        counts = {state.name: state.count for state in overview.queues}
        for function_id in deadline.next_by:
            for name in dead_letter_queues_of(function_id, model):
                if counts.get(name):
                    letters = "dead letter" if counts[name] == 1 else "dead letters"
                    return Cause("failing", f"{function_id} is failing: {counts[name]} {letters} "
                                 f"in {name}", f"{failures}#queue-{name}")
    if invalid.get(order.last_event_type):
        return Cause("failing", f"{invalid[order.last_event_type]} invalid "
                     f"{order.last_event_type} events were seen: "
                     f"{' and '.join(deadline.next_by)} refuses them", f"{failures}#invalid-title")
    if overview is None or overview.problem is not None:
        return Cause("unknown", "the dead-letter queues could not be read; nothing else observed")
    return Cause("nothing", f"nothing observed: no dead letter and no invalid event for it; "
                 f"{' and '.join(deadline.next_by)} may be slow, throttled or stopped "
                 "(its logs say)")


def stuck_list(*, now: datetime | None = None, model: Choreography = CHOREOGRAPHY,
               dead_letters: DeadLetterOverview | None = None,
               limit: int = STUCK_SHOWN) -> list[StuckOrder]:
    """The stuck orders, longest stopped first, at most `limit`: the oldest of each event
    type's index range, merged."""
    now = now or timezone.now()
    deadlines = configured_deadlines(model)
    rows: list[tuple[Order, StepDeadline]] = []
    for event, deadline in deadlines.items():
        rows += [(order, deadline)
                 for order in _stopped(event, deadline, now).order_by("last_event_at")[:limit]]
    rows.sort(key=lambda row: row[0].last_event_at or now)
    rows = rows[:limit]
    stuck_types = {order.last_event_type for order, _ in rows}
    invalid = {row["type"]: row["count"] for row in
               ObservedEvent.objects.filter(valid=False, type__in=stuck_types)
               .values("type").annotate(count=Count("id")).order_by()} if rows else {}
    return [StuckOrder(order, deadline,
                       ((now - order.last_event_at).total_seconds() * 1000
                        if order.last_event_at else 0.0),
                       _cause(order, deadline, dead_letters, invalid, model))
            for order, deadline in rows]
