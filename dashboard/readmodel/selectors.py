"""Selectors: the read model's reads that several features share — orders, events and an
order's trace. What one feature alone reads lives with it (orders, failures, live, traces)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, QuerySet

from dashboard.models import ObservedEvent, Order, OrderStatus


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


