"""Which route an observed fact belongs to: the model's answer, so that per-route figures
(the live graph's edge health) follow the model wherever it goes.

A route is keyed by its rule id (`Route.rule_id`, unique in the model). Three kinds of fact
are attributed to routes:

- an event of type T *passes through* every route of T on every bus T crosses. The buses an
  event type crosses are those its publishers publish it to, then, transitively, those a
  bus-to-bus route forwards it to (`payment.taken` crosses the global bus, then the loyalty
  bus). The log group keeps only one bus, so counting from the model rather than from each
  bus's sighting is what lets a replay of the log group give the same figures as the live
  poller did.
- a hop (an event of type T whose cause is of type C: `cause_type` → `type`) measures the
  consumer of a route: C was delivered by route R to R's consumer function F, which then
  published T. So the pair (C, T) belongs to every route of C whose target's consumer
  publishes T. A route that ends at no function (a forward to another bus, a notification)
  has no hop of its own.
- dead letters: a route to a queue fails into that queue's dead-letter queue; a route to a
  function EventBridge invokes directly fails into that function's OnFailure queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.model import CHOREOGRAPHY, Choreography, Route, ToBus, ToFunction, ToQueue


def route_key(route: Route) -> str:
    return route.rule_id


def buses_crossed(model: Choreography, event_type: str) -> frozenset[str]:
    """The buses an event type travels on: where its publishers put it, and where bus-to-bus
    routes carry it from there."""
    buses = {f.publishes_to.value for f in model.publishers_of(event_type) if f.publishes_to}
    frontier = set(buses)
    while frontier:
        bus = frontier.pop()
        for route in model.routes_of(event_type):
            if route.bus.value == bus and isinstance(route.target, ToBus) \
                    and route.target.bus.value not in buses:
                buses.add(route.target.bus.value)
                frontier.add(route.target.bus.value)
    return frozenset(buses)


def dead_letter_queue_of(route: Route) -> str | None:
    """The name of the dead-letter queue (as `workflow.outputs.dead_letter_outputs` names it)
    where what this route delivers ends up when its target fails for good; None when the
    route has none of its own (forwards and notifications share EventBridge's rule-target
    queue with every other rule)."""
    if isinstance(route.target, ToQueue):
        return route.target.queue
    if isinstance(route.target, ToFunction):
        return f"{route.target.function}Failure"
    return None


@dataclass(frozen=True)
class RouteKeys:
    """The model's routes as the figures see them."""

    routes: tuple[Route, ...]
    through: dict[tuple[str, str], tuple[str, ...]]
    """(event type, bus) → the routes an event of that type on that bus passes through"""
    hops: dict[tuple[str, str], tuple[str, ...]]
    """(cause type, type) → the routes whose consumer that hop measures"""
    crossed: dict[str, frozenset[str]]
    """event type → the buses it crosses"""

    def route(self, key: str) -> Route | None:
        return next((route for route in self.routes if route_key(route) == key), None)

    def passes(self, event_type: str, buses: set[str] | frozenset[str]) -> tuple[str, ...]:
        """The routes an event of this type passes through, seen on `buses` (added to the
        buses the model says it crosses: an event the model does not know still passes
        through the rules of the bus it was seen on)."""
        found: dict[str, None] = {}
        for bus in sorted(self.crossed.get(event_type, frozenset()) | buses):
            found.update(dict.fromkeys(self.through.get((event_type, bus), ())))
        return tuple(found)

    def hop_pairs(self, key: str) -> tuple[tuple[str, str], ...]:
        """The (cause type, type) pairs that measure one route."""
        return tuple(pair for pair, keys in self.hops.items() if key in keys)


def route_keys(model: Choreography = CHOREOGRAPHY) -> RouteKeys:
    through: dict[tuple[str, str], list[str]] = {}
    hops: dict[tuple[str, str], list[str]] = {}
    for route in model.routes:
        key = route_key(route)
        through.setdefault((route.event, route.bus.value), []).append(key)
        consumer = route.target.consumer(model)
        if consumer is None:
            continue
        for published in model.function(consumer).publishes:
            hops.setdefault((route.event, published), []).append(key)
    return RouteKeys(
        routes=model.routes,
        through={pair: tuple(keys) for pair, keys in through.items()},
        hops={pair: tuple(keys) for pair, keys in hops.items()},
        crossed={event.name: buses_crossed(model, event.name) for event in model.events})
