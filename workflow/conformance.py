"""Planned against actual: what the model says an order's events should be, against those seen.

A choreography has no orchestrator to ask where an order is. The model knows what follows
what (each function's `reactions`), so an order's observed events say by themselves whether
they did what the model says (each event is one its cause's reactions may publish, and comes
after it), where the order stands (its newest events that nothing has followed yet), what is
still to come (the likely continuation to an ending: the happy path where there is a choice,
the alternatives named) and which ending it is heading for.

Pure: no Django, no AWS. Events may come in any order, twice, or with gaps (a cause never
seen, or not yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from workflow.model import CHOREOGRAPHY, Choreography


@dataclass(frozen=True)
class Seen:
    """One observed event of an order, as far as conformance cares."""

    event_id: str
    type: str
    causation_id: str | None
    time: datetime


@dataclass(frozen=True)
class Verdict:
    """What the model says of one observed event."""

    event_id: str
    type: str
    cause_type: str | None
    """The type of its cause, if its cause was seen."""
    explained: bool | None
    """The model explains it (True), does not (False), or cannot tell: its cause was never
    seen, and some event the model knows could have caused it (None)."""
    out_of_order: bool
    """Its time is before its cause's: it came out of the model's order."""
    reason: str = ""
    """Why it deviates, or why it cannot be told, in words."""

    @property
    def deviates(self) -> bool:
        return self.explained is False or self.out_of_order


def verdict_of(event_type: str, *, cause_type: str | None, has_cause: bool,
               hop_ms: float | None, event_id: str = "",
               model: Choreography = CHOREOGRAPHY) -> Verdict:
    """One event's verdict from what is known of it and its cause: `has_cause` whether it
    names a cause, `cause_type` the cause's type if the cause was seen, `hop_ms` its time
    less its cause's. The read model keeps these per event, so it can judge each event as it
    arrives, and the same judgement as the whole trace's."""
    out_of_order = hop_ms is not None and hop_ms < 0
    late = f"{event_type} is dated before its cause {cause_type}" if out_of_order else ""
    known = {event.name for event in model.events}
    if event_type not in known:
        return Verdict(event_id, event_type, cause_type, False, out_of_order,
                       f"the model has no event {event_type}")
    if not has_cause:
        if event_type in model.start_events():
            return Verdict(event_id, event_type, None, True, False)
        return Verdict(event_id, event_type, None, False, False,
                       f"{event_type} names no cause, and only {_either(model.start_events())} "
                       f"starts an order")
    if cause_type is None:
        causes = [event.name for event in model.events if event_type in model.followers_of(event.name)]
        if not causes:
            return Verdict(event_id, event_type, None, False, False,
                           f"no reaction of the model publishes {event_type}")
        return Verdict(event_id, event_type, None, None, False,
                       f"its cause was never seen (the model has it follow {_either(causes)})")
    if event_type not in model.followers_of(cause_type):
        followers = model.followers_of(cause_type)
        expected = _either(followers) if followers else "nothing"
        return Verdict(event_id, event_type, cause_type, False, out_of_order,
                       f"{event_type} followed {cause_type}, which the model follows with {expected}")
    return Verdict(event_id, event_type, cause_type, True, out_of_order, late)


def _either(names: Iterable[str]) -> str:
    names = list(names)
    return " or ".join(names) if names else "nothing"


@dataclass(frozen=True)
class Step:
    """One step still to come: `event`, which `by` publishes in reaction to `after`, or one of
    `alternatives` instead."""

    event: str
    after: str
    by: str
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conformance:
    verdicts: tuple[Verdict, ...]
    """One per distinct event, in time order."""
    at: tuple[str, ...]
    """Where the order stands: the types of its newest events that nothing has followed yet
    and that do not end it."""
    to_come: tuple[Step, ...]
    """The likely continuation from where it stands to an ending."""
    ending: str | None
    """The ending it reached (its first, if more than one), else the one it is heading for."""
    reached: bool
    """`ending` was observed."""
    endings: tuple[str, ...] = ()
    """Every ending still reachable from where it stands (just `ending`, once reached)."""

    @property
    def deviates(self) -> bool:
        return any(verdict.deviates for verdict in self.verdicts)

    @property
    def deviation(self) -> str:
        """The first deviation, in words ('' when it conforms)."""
        return next((verdict.reason for verdict in self.verdicts if verdict.deviates), "")

    def verdict(self, event_id: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.event_id == event_id), None)


def publisher_of(event_type: str, after: str, model: Choreography = CHOREOGRAPHY) -> str:
    """The function that publishes `event_type` in reaction to `after`."""
    return next((function_id for function_id, reaction in model.reactions_to(after)
                 if event_type in reaction.publishes), "")


def continuation(event_type: str, model: Choreography = CHOREOGRAPHY) -> tuple[Step, ...]:
    """The likely steps after an event, to an ending, each with its alternatives."""
    steps: list[Step] = []
    previous = event_type
    for step in model.likely_path(event_type):
        alternatives = tuple(f for f in model.followers_of(previous) if f != step)
        steps.append(Step(step, previous, publisher_of(step, previous, model), alternatives))
        previous = step
    return tuple(steps)


def _descendants(event_type: str, model: Choreography) -> set[str]:
    """Every event that may come, however far, after an event."""
    found: set[str] = set()
    todo = list(model.followers_of(event_type))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(model.followers_of(name))
    return found


def conformance_of(events: Iterable[Seen], model: Choreography = CHOREOGRAPHY) -> Conformance:
    """What the model says of an order's observed events."""
    distinct: dict[str, Seen] = {}
    for event in events:
        distinct.setdefault(event.event_id, event)
    ordered = sorted(distinct.values(), key=lambda e: (e.time, e.event_id))
    verdicts = []
    for event in ordered:
        cause = distinct.get(event.causation_id or "")
        hop = (event.time - cause.time).total_seconds() * 1000 if cause else None
        verdicts.append(verdict_of(event.type, cause_type=cause.type if cause else None,
                                   has_cause=bool(event.causation_id), hop_ms=hop,
                                   event_id=event.event_id, model=model))
    known = {e.name for e in model.events}
    endings_seen = [e.type for e in ordered if e.type in known and model.event(e.type).terminal]
    if endings_seen:
        return Conformance(tuple(verdicts), (), (), endings_seen[0], True, (endings_seen[0],))
    followed = {e.causation_id for e in ordered if e.causation_id}
    # The frontier: events the model can continue from that nothing seen has followed yet.
    # An event that nothing follows and that a later event continues past (its follower came
    # under another cause) is behind the order, not where it stands.
    open_ends = [e for e in ordered if e.event_id not in followed and e.type in known
                 and model.followers_of(e.type)]
    reached_types = {e.type for e in ordered}
    open_ends = [e for e in open_ends if not _descendants(e.type, model) & reached_types]
    if not open_ends:
        return Conformance(tuple(verdicts), (), (), None, False, ())
    newest = open_ends[-1]
    at = tuple(dict.fromkeys(e.type for e in open_ends))
    steps = continuation(newest.type, model)
    ending = steps[-1].event if steps and model.event(steps[-1].event).terminal else None
    return Conformance(tuple(verdicts), at, steps, ending, False,
                       model.endings_from(newest.type))
