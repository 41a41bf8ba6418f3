"""Event versions per route: how many events of each version of its type passed through each
route of the model, minute by minute, so that a producer's move to a new version can be watched
until the old one is gone.

Counts are kept per route, version and minute (`RouteVersionMinute`), added to as events are
recorded (`route_version_minutes_add`, called by `observation_record` inside its transaction,
for what is new only, as the route minutes are), so a window reads at most sixty rows per route
and version however many events there were, and a replay of the log group fills the same rows.
An event's version is what its `dataschema` names (`workflow.catalogue.version_of`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max
from django.utils import timezone

from dashboard.insight.routes import minute_of
from dashboard.models import ObservedEvent, RouteVersionMinute
from workflow.catalogue import SCHEMA_VERSIONS, version_of
from workflow.model import CHOREOGRAPHY, Choreography, Route
from workflow.route_keys import route_key, route_keys

WINDOW_MINUTES = 60
"""The minutes the page shows, the current one included."""


def event_version(event_type: str, envelope: dict[str, Any] | None) -> int | None:
    """The version of an observed event, as its `dataschema` names it; None when it names no
    published version of its type."""
    return version_of(str((envelope or {}).get("dataschema", "")), event_type)


# --- recording ------------------------------------------------------------------------------


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


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteVersions:
    """One route's events by version over the window, minute by minute."""

    route: Route
    versions: tuple[int, ...]
    """every published version of the route's event type, and any other seen on it"""
    minutes: list[tuple[datetime, dict[int, int]]]
    """each minute of the window, oldest first, with its count per version"""
    last_seen: dict[int, datetime]
    """the latest minute (ever, not only in the window) each version was seen on the route"""

    @property
    def key(self) -> str:
        return route_key(self.route)

    @property
    def totals(self) -> dict[int, int]:
        return {version: sum(counts.get(version, 0) for _, counts in self.minutes)
                for version in self.versions}

    @property
    def events(self) -> int:
        return sum(self.totals.values())

    def share(self, version: int) -> float | None:
        """The fraction of the window's events in `version`; None when nothing passed."""
        return self.totals[version] / self.events if self.events else None

    @property
    def latest_minute(self) -> tuple[datetime, dict[int, int]] | None:
        """The latest minute of the window anything passed."""
        return next(((minute, counts) for minute, counts in reversed(self.minutes)
                     if sum(counts.values())), None)

    def bars(self) -> list[tuple[int, datetime, list[tuple[int, int, float, float]]]]:
        """For a chart: per minute (its index, the minute) the stacked (version, count, start,
        height) with start and height as fractions of that minute's events."""
        result = []
        for index, (minute, counts) in enumerate(self.minutes):
            total = sum(counts.values())
            stack, start = [], 0.0
            for version in self.versions:
                count = counts.get(version, 0)
                if count:
                    stack.append((version, count, start, count / total))
                    start += count / total
            result.append((index, minute, stack))
        return result

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.key, "event": self.route.event, "bus": self.route.bus.value,
            "target": {"kind": self.route.target.kind, "ref": self.route.target.ref},
            "events": self.events,
            "versions": {str(version): {
                "events": self.totals[version],
                "share": None if self.share(version) is None else round(self.share(version) or 0, 4),
                "lastSeen": self.last_seen[version].isoformat() if version in self.last_seen
                else None} for version in self.versions},
            "minutes": [{"minute": minute.isoformat(),
                         "versions": {str(v): n for v, n in sorted(counts.items())}}
                        for minute, counts in self.minutes if counts],
        }


@dataclass(frozen=True)
class VersionShares:
    start: datetime
    end: datetime
    routes: list[RouteVersions]

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "minutes": WINDOW_MINUTES, "routes": [r.to_dict() for r in self.routes]}


def version_shares(*, now: datetime | None = None, model: Choreography = CHOREOGRAPHY,
                   minutes: int = WINDOW_MINUTES) -> VersionShares:
    """Every route of the model with its events by version over the last `minutes` minutes."""
    now = now or timezone.now()
    end_minute = minute_of(now)
    start = end_minute - timedelta(minutes=minutes - 1)
    counts: dict[str, dict[datetime, dict[int, int]]] = {}
    for route, version, minute, events in RouteVersionMinute.objects.filter(
            minute__gte=start, minute__lte=end_minute).values_list(
            "route", "version", "minute", "events"):
        counts.setdefault(route, {}).setdefault(minute, {})[version] = events
    last_seen: dict[str, dict[int, datetime]] = {}
    for row in RouteVersionMinute.objects.filter(events__gt=0).values("route", "version") \
            .annotate(last=Max("minute")):
        last_seen.setdefault(row["route"], {})[row["version"]] = row["last"]
    window = [start + timedelta(minutes=n) for n in range(minutes)]
    routes = []
    for route in model.routes:
        key = route_key(route)
        seen = set(last_seen.get(key, {}))
        versions = tuple(sorted(set(SCHEMA_VERSIONS.get(route.event, {})) | seen))
        by_minute = counts.get(key, {})
        routes.append(RouteVersions(
            route=route, versions=versions,
            minutes=[(minute, by_minute.get(minute, {})) for minute in window],
            last_seen=last_seen.get(key, {})))
    return VersionShares(start=start, end=now, routes=routes)
