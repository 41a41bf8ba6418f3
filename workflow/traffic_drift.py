"""Where the observed traffic differs from the model's routes and reactions.

Two judgements of one observed event, cheap enough to make as each event is recorded (a set
lookup each, in tables built once per model, `traffic`):

- **Into the void** (`Traffic.unrouted`): an event of the model seen on a bus where none of
  the model's routes takes it. A route's rules match the event's `source` and `detail-type`
  and, for a route pinned to versions, its `dataschema` (`workflow.rules.route_event_pattern`),
  so an event on a bus with no route of its type, or of a version no route of it there takes,
  reaches no consumer: a bus delivers an event to the targets of the rules whose pattern it
  matches, and to no one else (EventBridge User Guide, "Event buses in Amazon EventBridge",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus.html, and "What
  Amazon EventBridge logs for event buses", whose processing of an event stops at the match
  when it matches no rule,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-logs-execution-steps.html).
  Only the observing rules, which match every event, see it. An event that ends an order
  (`EventType.terminal`) needs no consumer, so it is never judged so; nor is an event whose
  (type, source) the model declares no event for: that is an undeclared event type, which
  drift lists already, and would be counted twice.
- **An undeclared causation link** (`Traffic.undeclared_link`): an event whose cause (its
  CloudEvents extension `causationid`: the `id` of the event it was published in reaction to)
  is of a type the model does not have it follow: no function's `Reaction` consumes the
  cause's type and publishes the effect's.

`link_ends` says where the live graph draws such a link: from the function that publishes the
cause's type to the one that published the effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from workflow.model import CHOREOGRAPHY, Choreography


@dataclass(frozen=True)
class Traffic:
    """The model's routes and reactions as observed events meet them."""

    declared: frozenset[tuple[str, str]]
    """(type, source) of every event the model declares"""
    terminal: frozenset[str]
    """the types that end an order"""
    schemas: dict[tuple[str, str], frozenset[str] | None]
    """(type, bus) → the `dataschema`s the routes of that type on that bus take, None when one
    of them takes every version; a pair with no route is absent"""
    reactions: frozenset[tuple[str, str]]
    """(consumed type, published type) of every function's reactions"""

    def unrouted(self, *, event_type: str, source: str, bus: str, dataschema: object) -> bool:
        """Whether an event of the model seen on `bus` matched none of the model's routes
        there."""
        if (event_type, source) not in self.declared or event_type in self.terminal:
            return False
        if (event_type, bus) not in self.schemas:
            return True
        taken = self.schemas[(event_type, bus)]
        return taken is not None and dataschema not in taken

    def undeclared_link(self, *, cause_type: str, effect_type: str) -> bool:
        """Whether no function of the model publishes `effect_type` in reaction to
        `cause_type`."""
        return (cause_type, effect_type) not in self.reactions


@cache
def traffic(model: Choreography = CHOREOGRAPHY) -> Traffic:
    """The model's `Traffic` (the model is immutable: built once; asking costs a hash of the
    model, so ask once a batch rather than once an event)."""
    schemas: dict[tuple[str, str], frozenset[str] | None] = {}
    for route in model.routes:
        key = (route.event, route.bus.value)
        if not route.versions:
            schemas[key] = None
        elif key not in schemas or schemas[key] is not None:
            schemas[key] = (schemas.get(key) or frozenset()) | frozenset(route.dataschemas)
    return Traffic(
        declared=frozenset((event.name, event.producer.value) for event in model.events),
        terminal=frozenset(event.name for event in model.events if event.terminal),
        schemas=schemas,
        reactions=frozenset((reaction.consumes, published) for function in model.functions
                            for reaction in function.reactions for published in reaction.publishes))


def expected_after(cause_type: str, model: Choreography = CHOREOGRAPHY) -> tuple[str, ...]:
    """What the model has follow an event of `cause_type`, for saying what differs."""
    return model.followers_of(cause_type) if cause_type in {e.name for e in model.events} else ()


def _publisher(event_type: str, source: str, model: Choreography,
               reacting_to: str | None = None) -> str | None:
    """The function that published an event: of the source's subdomain, the one the model has
    publish the type (reacting to `reacting_to`, if several do), else the one that consumes
    `reacting_to`, else the subdomain's only function."""
    functions = [f for f in model.functions if f.subdomain.value == source]
    for candidates in (
            [f for f in functions if event_type in f.publishes
             and any(r.consumes == reacting_to for r in f.reactions)],
            [f for f in functions if event_type in f.publishes],
            [f for f in functions if any(r.consumes == reacting_to for r in f.reactions)]):
        if candidates:
            return candidates[0].id
    return functions[0].id if len(functions) == 1 else None


def link_ends(*, cause_type: str, effect_type: str, effect_source: str,
              model: Choreography = CHOREOGRAPHY) -> tuple[str, str] | None:
    """The functions (ids) a causation link runs between: the cause's producer and the
    effect's; None when the model cannot say which function one of them is (a type or source
    it does not declare)."""
    declared = {event.name: event for event in model.events}
    cause = declared.get(cause_type)
    if cause is None:
        return None
    cause_end = _publisher(cause_type, cause.producer.value, model)
    effect_end = _publisher(effect_type, effect_source, model, reacting_to=cause_type)
    if cause_end is None or effect_end is None:
        return None
    return cause_end, effect_end
