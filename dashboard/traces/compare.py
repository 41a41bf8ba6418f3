"""Two orders' timelines side by side, aligned step by step.

A step is an event type, in the order the model declares its events (types it does not
declare follow, in the order they happened); the second event of a type in one order lines
up with the second of that type in the other. Each step shows both events' hop latency (from
their cause) and offset (from their order's placement), and how much later or sooner B was
than A: B - A, so a positive difference is B slower.

A typical order to compare with is the median-duration order of the same ending (status):
of the n concluded orders of that status (the order itself left out), ordered by duration,
the one at index (n - 1) // 2. An order in flight has no ending yet; its typical order is
one of the ending the model's happy path reaches.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from dashboard.models import Order, OrderStatus
from dashboard.readmodel.selectors import Trace, TraceEvent, trace_get
from workflow.model import CHOREOGRAPHY, Choreography


def _diff(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return round(b - a, 3)


@dataclass(frozen=True)
class Step:
    event_type: str
    a: TraceEvent | None
    b: TraceEvent | None

    @property
    def hop_diff_ms(self) -> float | None:
        return _diff(self.a.hop_latency_ms if self.a else None,
                     self.b.hop_latency_ms if self.b else None)

    @property
    def offset_diff_ms(self) -> float | None:
        return _diff(self.a.offset_ms if self.a else None, self.b.offset_ms if self.b else None)


@dataclass(frozen=True)
class Comparison:
    a: Trace
    b: Trace
    steps: list[Step]

    @property
    def sides(self) -> tuple[Trace, Trace]:
        return self.a, self.b

    @property
    def span_ms(self) -> float:
        return max(self.a.span_ms, self.b.span_ms)

    @property
    def duration_diff_ms(self) -> float | None:
        return _diff(self.a.order.duration_ms if self.a.order else None,
                     self.b.order.duration_ms if self.b.order else None)


def steps_align(a: list[TraceEvent], b: list[TraceEvent], *,
                model: Choreography = CHOREOGRAPHY) -> list[Step]:
    """Both timelines' events as steps, in the model's order of event types."""
    rank = {event.name: index for index, event in enumerate(model.events)}
    slots: dict[tuple[str, int], list[TraceEvent | None]] = {}
    first_offset: dict[tuple[str, int], float] = {}
    for side, events in enumerate((a, b)):
        seen: dict[str, int] = defaultdict(int)
        for item in events:
            key = (item.event.type, seen[item.event.type])
            seen[item.event.type] += 1
            slots.setdefault(key, [None, None])[side] = item
            offset = item.offset_ms if item.offset_ms is not None else float("inf")
            first_offset[key] = min(first_offset.get(key, offset), offset)
    ordered = sorted(slots, key=lambda key: (rank.get(key[0], len(rank)), key[1],
                                             first_offset[key]))
    return [Step(event_type=key[0], a=slots[key][0], b=slots[key][1]) for key in ordered]


def order_compare_get(*, a: str, b: str, model: Choreography = CHOREOGRAPHY) -> Comparison:
    trace_a, trace_b = trace_get(order_id=a), trace_get(order_id=b)
    return Comparison(a=trace_a, b=trace_b,
                      steps=steps_align(trace_a.events, trace_b.events, model=model))


def ending_of(order: Order, *, model: Choreography = CHOREOGRAPHY) -> str:
    """The status an order ended with, or for one in flight the happy path's ending."""
    if order.status != OrderStatus.PLACED or not model.happy_path:
        return order.status
    concludes = model.event(model.happy_path[-1]).concludes_as
    return concludes.value if concludes else order.status


def order_typical_get(*, order: Order, model: Choreography = CHOREOGRAPHY) -> Order | None:
    """The median-duration concluded order of the same ending, other than this one; None if
    there is none. Two index ranges (order_status_duration): a count and an offset."""
    peers = (Order.objects.filter(status=ending_of(order, model=model), duration_ms__isnull=False)
             .exclude(order_id=order.order_id).order_by("duration_ms", "order_id"))
    count = peers.count()
    if not count:
        return None
    return peers[(count - 1) // 2]
