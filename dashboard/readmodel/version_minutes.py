"""The routes' version minutes (`RouteVersionMinute`): how many events of each version of its
type passed through each route, added to as events are recorded and forgotten with them.
The versions page (`dashboard.insight.versions`) reads them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from dashboard.models import ObservedEvent, RouteVersionMinute
from dashboard.readmodel.minute_rows import minute_of, minute_rows_add, minute_rows_clear, minute_rows_prune
from workflow.catalogue import version_of
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.route_keys import route_keys


def event_version(event_type: str, envelope: dict[str, Any] | None) -> int | None:
    """The version of an observed event, as its `dataschema` names it; None when it names no
    published version of its type."""
    return version_of(str((envelope or {}).get("dataschema", "")), event_type)


def route_version_minutes_add(*, created: Iterable[ObservedEvent],
                              model: Choreography = CHOREOGRAPHY) -> int:
    """Add the events recorded for the first time to their routes' version minutes. Call
    inside the transaction that records them. Returns the rows touched."""
    keys = route_keys(model)
    found: Counter[tuple[str, int, datetime]] = Counter()
    for row in created:
        version = event_version(row.type, row.envelope) if row.valid else None
        if version is None:
            continue
        minute = minute_of(row.time or row.observed_at)
        for key in keys.passes(row.type, set(row.buses)):
            found[(key, version, minute)] += 1
    return minute_rows_add(RouteVersionMinute, found, key_fields=("route", "version", "minute"),
                           add=_add_events, update_fields=("events",))


def _add_events(row: RouteVersionMinute, events: int) -> None:
    row.events += events


def route_version_minutes_prune(*, before: datetime) -> int:
    return minute_rows_prune(RouteVersionMinute, before=before)


def route_version_minutes_clear() -> int:
    return minute_rows_clear(RouteVersionMinute)
