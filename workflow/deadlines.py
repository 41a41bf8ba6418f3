"""How long the step after an event may take, from what the model knows of its delivery.

After an event, the order waits for the function that reacts to it. How long that may
take before something is wrong follows from how the event reaches that function:
- through an SQS queue: the queue's delivery delay, then as many receives as its redrive
  policy allows (`max_receive_count`), each holding the message for the visibility timeout
  (the model derives it from the consumer's timeout, as the stack does);
- invoked directly by EventBridge (asynchronously): the first invocation and Lambda's
  retries, each up to the function's timeout, with Lambda's waits between them (a minute,
  then two), and never beyond the target's maximum event age;
- forwarded to another bus: that bus's route, after the forward.
Beyond that, the event sits in a dead-letter queue, or was never delivered. A margin is
added for the reacting function's own work and the observation's lag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workflow.model import CHOREOGRAPHY, Bus, Choreography, Route, ToBus, ToFunction, ToQueue

# Lambda waits this long before each retry of an asynchronous invocation.
ASYNC_RETRY_WAITS_SECONDS = (60, 120)
DEFAULT_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class RouteDeadline:
    """How long one delivery path may take, through the routes it crosses."""

    rule_ids: tuple[str, ...]
    consumer: str
    seconds: float
    how: str


@dataclass(frozen=True)
class StepDeadline:
    """How long after `event` its next step may come before the order is late."""

    event: str
    seconds: float
    """The deadline, margin included (or as configured)."""
    paths: tuple[RouteDeadline, ...]
    next_by: tuple[str, ...]
    """The functions that should act next."""
    configured: bool = False
    """Set by configuration rather than derived."""

    @property
    def milliseconds(self) -> float:
        return self.seconds * 1000


def route_seconds(route: Route, model: Choreography = CHOREOGRAPHY) -> tuple[float, str]:
    """How long a delivery through one route (to a queue or a function) may take."""
    target = route.target
    if isinstance(target, ToQueue):
        queue = model.queue(target.queue)
        visibility = model.visibility_timeout_seconds(queue.id)
        seconds = queue.delay_seconds + visibility * queue.max_receive_count
        delay = f"{queue.delay_seconds} s delay + " if queue.delay_seconds else ""
        return float(seconds), (f"{queue.name}: {delay}{queue.max_receive_count} receives x "
                                f"{visibility} s visibility timeout")
    if isinstance(target, ToFunction):
        timeout = model.function(target.function).timeout_seconds
        waits = sum(ASYNC_RETRY_WAITS_SECONDS[:target.retry_attempts])
        seconds = min((target.retry_attempts + 1) * timeout + waits, target.max_event_age_seconds)
        return float(seconds), (f"{target.function} invoked directly: {target.retry_attempts + 1} "
                                f"attempts x {timeout} s + {waits} s between retries, at most "
                                f"{target.max_event_age_seconds} s old")
    raise ValueError(f"a route to a {target.kind} delivers to no function")


def _origin_buses(event: str, model: Choreography) -> tuple[Bus, ...]:
    buses = tuple(dict.fromkeys(f.publishes_to for f in model.publishers_of(event)
                                if f.publishes_to is not None))
    return buses or (model.logged_bus,)


def _paths(event: str, bus: Bus, model: Choreography, via: tuple[str, ...],
           seen: frozenset[Bus]) -> list[RouteDeadline]:
    found: list[RouteDeadline] = []
    for route in model.routes_of(event):
        if route.bus != bus:
            continue
        target = route.target
        if isinstance(target, ToBus):
            if target.bus not in seen:
                found += _paths(event, target.bus, model, (*via, route.rule_id),
                                seen | {target.bus})
            continue
        consumer = target.consumer(model)
        if consumer is None:
            continue
        seconds, how = route_seconds(route, model)
        if via:
            how = f"via {' → '.join(via)}, then {how}"
        found.append(RouteDeadline((*via, route.rule_id), consumer, seconds, how))
    return found


def step_deadlines(model: Choreography = CHOREOGRAPHY, *,
                   overrides: Mapping[str, float] | None = None,
                   margin_seconds: float = DEFAULT_MARGIN_SECONDS) -> dict[str, StepDeadline]:
    """The deadline of the step after each event a function reacts to by publishing, by
    event type. `overrides` sets seconds by event type, or by the rule id of a route (then
    that route's part instead of the derived one); the margin is added to derived ones."""
    overrides = dict(overrides or {})
    deadlines: dict[str, StepDeadline] = {}
    for event in model.events:
        reactors = {function_id for function_id, reaction in model.reactions_to(event.name)
                    if reaction.publishes}
        if event.terminal or not reactors:
            continue
        paths = []
        for bus in _origin_buses(event.name, model):
            for path in _paths(event.name, bus, model, (), frozenset({bus})):
                if path.consumer not in reactors:
                    continue
                configured = next((overrides[r] for r in path.rule_ids if r in overrides), None)
                if configured is not None:
                    path = RouteDeadline(path.rule_ids, path.consumer, float(configured),
                                         f"configured for {' → '.join(path.rule_ids)}")
                paths.append(path)
        next_by = tuple(sorted(reactors, key=[f.id for f in model.functions].index))
        if event.name in overrides:
            deadlines[event.name] = StepDeadline(event.name, float(overrides[event.name]),
                                                 tuple(paths), next_by, configured=True)
            continue
        if not paths:
            continue
        longest = max(path.seconds for path in paths)
        deadlines[event.name] = StepDeadline(event.name, longest + margin_seconds, tuple(paths),
                                             next_by)
    return deadlines
