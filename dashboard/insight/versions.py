"""Event versions per route: how many events of each version of its type passed through each
route of the model, minute by minute, so that a producer's move to a new version can be watched
until the old one is gone.

Counts are kept per route, version and minute (`RouteVersionMinute`), added to as events are
recorded (`dashboard.readmodel.version_minutes`, called by `observation_record` inside its
transaction, for what is new only, as the route minutes are), so a window reads at most sixty
rows per route and version however many events there were, and a replay of the log group fills the same rows.
An event's version is what its `dataschema` names (`workflow.catalogue.version_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from dashboard.models import RouteVersionMinute
from dashboard.readmodel.minute_rows import minute_of
from workflow.catalogue import SCHEMA_VERSIONS
from workflow.model import CHOREOGRAPHY, Choreography, Route
from workflow.route_keys import route_key

WINDOW_MINUTES = 60
"""The minutes the page shows, the current one included."""


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
