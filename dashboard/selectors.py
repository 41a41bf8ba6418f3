"""Selectors: reads, for views and consumers — the read model, and what the order API tells."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet

from dashboard import aws
from dashboard.models import ObservedEvent, Order, OrderStatus
from dashboard.order_api import OrderApi, OrderApiError, Problem


def order_list(*, status: str | None = None) -> QuerySet[Order]:
    """Orders, newest first, optionally of one status."""
    orders = Order.objects.order_by("-placed_at")
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

    @property
    def types(self) -> list[str]:
        return [trace_event.event.type for trace_event in self.events]


def trace_get(*, order_id: str) -> Trace:
    """One order's events on a timeline from its placement (one indexed query)."""
    rows = list(ObservedEvent.objects.filter(order_id=order_id).order_by("time", "observed_at"))
    valid = [row for row in rows if row.valid and row.time is not None]
    invalid = [row for row in rows if not (row.valid and row.time is not None)]
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
    return Trace(order_id=order_id, order=order, events=events, invalid=invalid, span_ms=span,
                 sightings=sightings)


def _order_api() -> OrderApi | None:
    outputs = aws.current().outputs_or_none()
    if outputs is None or "OrderApiUrl" not in outputs.values:
        return None
    return OrderApi(outputs.order_api_url)


def product_list() -> tuple[list[dict[str, Any]], Problem | None]:
    """The catalogue from the order API, or why it could not be read."""
    api = _order_api()
    if api is None:
        return [], Problem(status=503, title="Order API unknown",
                           detail="the stack outputs name no OrderApiUrl (is the stack up?)")
    try:
        return api.products(), None
    except OrderApiError as error:
        return [], error.problem


def notification_list(*, order_id: str) -> list[dict[str, Any]] | None:
    """What the notification endpoint received for an order; None where it cannot be asked
    (only the local stand-in keeps what it receives)."""
    api = _order_api()
    if api is None:
        return None
    try:
        return api.notifications(order_id)
    except OrderApiError:
        return None
