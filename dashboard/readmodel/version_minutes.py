"""The routes' version minutes (`RouteVersionMinute`): how many events of each version of its
type passed through each route, added to as events are recorded and forgotten with them.
The versions page (`dashboard.insight.versions`) reads them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from dashboard.models import ObservedEvent, RouteVersionMinute
from dashboard.readmodel.route_minutes import minute_of
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
    if not found:
        return 0
    # As the route minutes: every row exists before it is locked and added to, so that two
    # writers (the poller and a rebuild) neither collide nor lose each other's counts.
    RouteVersionMinute.objects.bulk_create(
        [RouteVersionMinute(route=key, version=version, minute=minute)
         for key, version, minute in found], ignore_conflicts=True)
    locked = RouteVersionMinute.objects.select_for_update().filter(
        route__in={key for key, _, _ in found}, minute__in={minute for _, _, minute in found})
    rows = [row for row in locked if (row.route, row.version, row.minute) in found]
    for row in rows:
        row.events += found[(row.route, row.version, row.minute)]
    RouteVersionMinute.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["route", "version", "minute"],
        update_fields=["events"])
    return len(rows)


def route_version_minutes_prune(*, before: datetime) -> int:
    deleted, _ = RouteVersionMinute.objects.filter(minute__lt=minute_of(before)).delete()
    return deleted


def route_version_minutes_clear() -> int:
    deleted, _ = RouteVersionMinute.objects.all().delete()
    return deleted
