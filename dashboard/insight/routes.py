"""Route health: per route of the model, what passes through it, how long its consumer takes,
and what fails, over the last minute, quarter of an hour or hour.

Figures are kept per route and per minute (`RouteMinute`), added to as events are recorded
(`dashboard.readmodel.route_minutes`, called by `observation_record` inside its transaction,
for what is new only: an event recorded twice is counted once, and a replay of the log group
fills the same rows the live poller did). A window reads at most sixty rows per route.

Latency percentiles are read from a fixed log-scale histogram: bin i >= 1 holds latencies in
[2^((i-1)/8), 2^(i/8)) ms, bin 0 everything under 1 ms. A percentile is reported as its
bin's geometric middle, so it is within ±4.4 % (2^(1/16)) of a latency in that bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from dashboard.models import ObservedEvent, RouteMinute
from dashboard.readmodel.route_minutes import PRECISION, MinuteFigures, bin_bounds, bin_value, minute_of
from workflow.model import CHOREOGRAPHY, Choreography, Route
from workflow.route_keys import RouteKeys, dead_letter_queue_of, route_key, route_keys

WINDOWS: dict[str, int] = {"1m": 1, "15m": 15, "1h": 60}
"""Window name → the minutes it covers (the current one included)."""
DEFAULT_WINDOW = "15m"


def percentile(histogram: dict[int, int], p: float) -> float | None:
    """The p-th percentile (nearest rank) of the latencies a histogram counts."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return bin_value(index)
    return bin_value(max(histogram))  # not reached


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteFigures:
    """One route's figures over a window."""

    route: Route
    events: int
    seconds: float
    invalid: int
    latency_count: int
    latency_sum_ms: float
    histogram: dict[int, int]
    dead_letter_queue: str | None
    dead_letters: int | None = None
    """what waits now in the route's dead-letter queue (shared by every route to the same
    target); None when it could not be counted"""

    @property
    def key(self) -> str:
        return route_key(self.route)

    @property
    def rate(self) -> float:
        """Events per second, over the whole window."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def mean_ms(self) -> float | None:
        return self.latency_sum_ms / self.latency_count if self.latency_count else None

    @property
    def p50(self) -> float | None:
        return percentile(self.histogram, 50)

    @property
    def p95(self) -> float | None:
        return percentile(self.histogram, 95)

    @property
    def p99(self) -> float | None:
        return percentile(self.histogram, 99)

    @property
    def failures(self) -> int:
        return self.invalid + (self.dead_letters or 0)

    def histogram_bars(self) -> list[tuple[int, float, float, int]]:
        """(bin, low ms, high ms, count) for every bin from the first to the last one used."""
        if not self.histogram:
            return []
        return [(index, *bin_bounds(index), self.histogram.get(index, 0))
                for index in range(min(self.histogram), max(self.histogram) + 1)]

    def to_dict(self) -> dict[str, object]:
        route = self.route
        return {
            "rule": self.key, "event": route.event, "bus": route.bus.value,
            "target": {"kind": route.target.kind, "ref": route.target.ref},
            "events": self.events, "perSecond": round(self.rate, 4),
            "latency": {"count": self.latency_count,
                        "meanMs": _round(self.mean_ms), "p50Ms": _round(self.p50),
                        "p95Ms": _round(self.p95), "p99Ms": _round(self.p99)},
            "invalid": self.invalid, "deadLetterQueue": self.dead_letter_queue,
            "deadLetters": self.dead_letters, "failures": self.failures,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class RouteHealth:
    window: str
    start: datetime
    end: datetime
    routes: list[RouteFigures]

    @property
    def busiest(self) -> str | None:
        """The route with the most events per second (None if nothing passed)."""
        best = max(self.routes, key=lambda f: f.events, default=None)
        return best.key if best is not None and best.events else None

    @property
    def slowest(self) -> str | None:
        """The route whose consumer's p95 is the highest (None if none was measured)."""
        measured = [f for f in self.routes if f.p95 is not None]
        return max(measured, key=lambda f: f.p95 or 0).key if measured else None

    def get(self, key: str) -> RouteFigures | None:
        return next((f for f in self.routes if f.key == key), None)

    def to_dict(self) -> dict[str, object]:
        return {"window": self.window, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "seconds": round((self.end - self.start).total_seconds(), 3),
                "busiest": self.busiest, "slowest": self.slowest,
                "precision": round(PRECISION, 4),
                "routes": [figures.to_dict() for figures in self.routes]}


def window_bounds(window: str, now: datetime) -> tuple[datetime, datetime]:
    """A window ends now and starts at the beginning of its first minute: "15m" is the current
    minute and the fourteen before it."""
    minutes = WINDOWS[window]
    return minute_of(now) - timedelta(minutes=minutes - 1), now


def route_health(*, window: str = DEFAULT_WINDOW, now: datetime | None = None,
                 model: Choreography = CHOREOGRAPHY, only: str | None = None,
                 dead_letters: dict[str, int] | None = None) -> RouteHealth:
    """Every route's figures over a window (or only the route `only`). `dead_letters` is what
    waits in each dead-letter queue, by name, if it could be counted."""
    now = now or timezone.now()
    start, end = window_bounds(window, now)
    keys: RouteKeys = route_keys(model)
    routes = [r for r in keys.routes if only is None or route_key(r) == only]
    rows = RouteMinute.objects.filter(minute__gte=start, minute__lte=end,
                                      route__in=[route_key(r) for r in routes])
    sums: dict[str, MinuteFigures] = {route_key(r): MinuteFigures() for r in routes}
    for route, events, invalid, count, total, histogram in rows.values_list(
            "route", "events", "invalid", "latency_count", "latency_sum_ms", "histogram"):
        into = sums[route]
        into.events += events
        into.invalid += invalid
        into.latency_count += count
        into.latency_sum_ms += total
        for index, n in histogram.items():
            into.histogram[int(index)] = into.histogram.get(int(index), 0) + n
    seconds = max((end - start).total_seconds(), 1.0)
    figures = []
    for route in routes:
        into = sums[route_key(route)]
        queue = dead_letter_queue_of(route)
        figures.append(RouteFigures(
            route=route, events=into.events, seconds=seconds, invalid=into.invalid,
            latency_count=into.latency_count, latency_sum_ms=into.latency_sum_ms,
            histogram=into.histogram, dead_letter_queue=queue,
            dead_letters=(dead_letters or {}).get(queue) if queue and dead_letters is not None
            else None))
    return RouteHealth(window=window, start=start, end=end, routes=figures)


def route_events_recent(*, route: Route, limit: int = 20) -> list[ObservedEvent]:
    """The latest events of the route's type, newest first."""
    return list(ObservedEvent.objects.filter(type=route.event).order_by("-observed_at")[:limit])


def route_hops_recent(*, route: Route, model: Choreography = CHOREOGRAPHY,
                      limit: int = 20) -> list[ObservedEvent]:
    """The latest hops the route's consumer made: events caused by one of its type, of a type
    its consumer publishes, newest first. One index range per (cause type, type) pair
    (`event_edge_recent`), however many events there are."""
    pairs = route_keys(model).hop_pairs(route_key(route))
    found: list[ObservedEvent] = []
    for cause, effect in pairs:
        found += ObservedEvent.objects.filter(cause_type=cause, type=effect) \
            .order_by("-observed_at")[:limit]
    return sorted(found, key=lambda row: row.observed_at, reverse=True)[:limit]
