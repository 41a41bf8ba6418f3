"""Planned against actual on the trace page and in the orders lists.

A trace is judged whole by `workflow.conformance` (what the model explains, what came out of
its order, what is still to come and the ending ahead); the lists read the flag each order
keeps (`Order.deviation`, set by `observation_record` as each event's cause is known), so
they never recompute a trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from dashboard.insight.stuck import configured_deadlines
from dashboard.live.graph import Graph, flight_key
from dashboard.models import Order
from dashboard.readmodel.selectors import Trace
from workflow.conformance import Conformance, Seen, Step, Verdict, conformance_of
from workflow.deadlines import StepDeadline
from workflow.model import CHOREOGRAPHY, Bus, Choreography, ToBus


def deviating(orders: QuerySet[Order]) -> QuerySet[Order]:
    """Only the orders whose events deviate from the model (an index serves it)."""
    return orders.exclude(deviation="")


def deviating_count() -> int:
    return Order.objects.exclude(deviation="").count()


def seen_buses(event_type: str, model: Choreography = CHOREOGRAPHY) -> tuple[Bus, ...]:
    """The buses an event of this type is seen on: where its publishers put it, and where
    routes forward it from there."""
    buses = [f.publishes_to for f in model.publishers_of(event_type) if f.publishes_to]
    buses = buses or [model.logged_bus]
    for bus in buses:
        for route in model.routes_of(event_type):
            if route.bus == bus and isinstance(route.target, ToBus) and route.target.bus not in buses:
                buses.append(route.target.bus)
    return tuple(buses)


@dataclass(frozen=True)
class Ghost:
    """A step still to come, as the timeline draws it."""

    step: Step
    due_at: datetime | None = None
    """By when the first step to come should have been seen (its deadline), else None."""
    late: bool = False


@dataclass(frozen=True)
class TraceConformance:
    result: Conformance
    ghosts: list[Ghost]
    verdicts: dict[str, Verdict]
    ghost_connectors: list[str] = field(default_factory=list)
    ghost_edges: list[str] = field(default_factory=list)
    deadline: StepDeadline | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"connectors": self.ghost_connectors, "edges": self.ghost_edges,
                "events": [ghost.step.event for ghost in self.ghosts]}


def trace_conformance(trace: Trace, graph: Graph, *, model: Choreography = CHOREOGRAPHY,
                      deadlines: dict[str, StepDeadline] | None = None,
                      now: datetime | None = None) -> TraceConformance:
    """What the model says of a trace, with the lines its steps to come would take."""
    seen = [Seen(item.event.event_id, item.event.type, item.event.causation_id or None,
                 item.event.time) for item in trace.events if item.event.time is not None]
    result = conformance_of(seen, model)
    deadlines = configured_deadlines(model) if deadlines is None else deadlines
    deadline: StepDeadline | None = None
    ghosts = [Ghost(step) for step in result.to_come]
    if ghosts:
        deadline = deadlines.get(ghosts[0].step.after)
        after = max((s.time for s in seen if s.type == ghosts[0].step.after), default=None)
        if deadline is not None and after is not None:
            due = after + timedelta(seconds=deadline.seconds)
            ghosts[0] = Ghost(ghosts[0].step, due, (now or timezone.now()) > due)
    taken = [f for event_type, bus in trace.sightings
             for f in graph.flights.get(flight_key(event_type, bus), [])]
    taken_connectors = {c for flight in taken for c in flight.connectors}
    taken_edges = {e for flight in taken for e in flight.edges}
    connectors: dict[str, None] = {}
    edges: dict[str, None] = {}
    for ghost in ghosts:
        for bus in seen_buses(ghost.step.event, model):
            for flight in graph.flights.get(flight_key(ghost.step.event, bus.value), []):
                connectors.update((c, None) for c in flight.connectors if c not in taken_connectors)
                edges.update((e, None) for e in flight.edges if e not in taken_edges)
    return TraceConformance(result=result, ghosts=ghosts,
                            verdicts={v.event_id: v for v in result.verdicts},
                            ghost_connectors=list(connectors), ghost_edges=list(edges),
                            deadline=deadline)
