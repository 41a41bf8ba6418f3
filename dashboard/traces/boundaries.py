"""Where each hop of a trace ran, and the hops that crossed an account or region.

Each event is published by a function in some account and region, and EventBridge keeps
that `account` and `region` in the event's envelope across accounts and regions
(`workflow.placement.placement_of_envelope`); the read model keeps the envelope of the first
sighting (`ObservedEvent.eventbridge`). A hop is an event and its cause (`causationid`): when
the cause was published somewhere else, the hop crossed a boundary, and its hop latency
(the event's time minus its cause's, `ObservedEvent.hop_latency_ms`) is the cross-boundary
latency: the forward between buses, the consumer's work and its publish.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.readmodel.selectors import Trace
from workflow.placement import Placement, placement_of_envelope


def place_label(where: Placement) -> str:
    return f"{where.account or '?'} · {where.region or '?'}"


@dataclass(frozen=True)
class HopPlace:
    where: Placement
    """The account and region the event was published in."""
    crossed_from: Placement | None = None
    """Where its cause was published, when that is elsewhere."""
    latency_ms: float | None = None
    """The hop's latency, when it crossed."""

    @property
    def label(self) -> str:
        return place_label(self.where)

    @property
    def crossed_label(self) -> str:
        return place_label(self.crossed_from) if self.crossed_from else ""

    @property
    def crossed(self) -> bool:
        return self.crossed_from is not None

    def to_dict(self) -> dict[str, object]:
        return {"account": self.where.account, "region": self.where.region,
                "crossedFrom": None if self.crossed_from is None else {
                    "account": self.crossed_from.account, "region": self.crossed_from.region},
                "crossLatencyMs": self.latency_ms}


@dataclass(frozen=True)
class TracePlaces:
    hops: dict[str, HopPlace]
    """By CloudEvent id."""

    @property
    def places(self) -> list[Placement]:
        return list(dict.fromkeys(hop.where for hop in self.hops.values()
                                  if hop.where.account or hop.where.region))

    @property
    def spans_boundaries(self) -> bool:
        """Whether the order's events were published in more than one place."""
        return len(self.places) > 1

    @property
    def crossings(self) -> int:
        return sum(hop.crossed for hop in self.hops.values())


def trace_places(trace: Trace) -> TracePlaces:
    """Each event of a trace with where it was published, and whether its hop crossed."""
    where = {item.event.event_id: placement_of_envelope(item.event.eventbridge or {})
             for item in trace.events}
    hops: dict[str, HopPlace] = {}
    for item in trace.events:
        event = item.event
        here = where[event.event_id]
        cause = where.get(event.causation_id) if event.causation_id else None
        known = bool(here.account or here.region) and cause is not None \
            and bool(cause.account or cause.region)
        if known and cause != here:
            hops[event.event_id] = HopPlace(here, crossed_from=cause,
                                            latency_ms=event.hop_latency_ms)
        else:
            hops[event.event_id] = HopPlace(here)
    return TracePlaces(hops)
