"""What the read model says of each event type's traffic: how many were seen lately, how many
of those failed their schema, and when the last one was seen; and the event types and the
sources seen that the model does not declare."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce

from django.db import connection
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.models import ObservedEvent, UndeclaredSighting
from workflow.model import CHOREOGRAPHY, Choreography

RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class Traffic:
    recent: int
    """events of the type first seen within the last hour (RECENT)"""
    recent_invalid: int
    """of those, how many failed their schema"""
    last_seen: datetime | None


def database_moment(value: datetime | str | None) -> datetime | None:
    """A database's datetime: SQLite hands an aggregate's back as text (UTC, no offset)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def event_type_traffic(*, types: Iterable[str], now: datetime | None = None) -> dict[str, Traffic]:
    """Each type's traffic, in one query whatever the history's size: per type, two index ranges
    and one index lookup (index `event_type_seen`: type, when observed, valid), never a scan of
    the events."""
    names = list(dict.fromkeys(types))
    if not names:
        return {}
    since = (now or timezone.now()) - RECENT
    table = connection.ops.quote_name(ObservedEvent._meta.db_table)
    rows = ", ".join(["(%s)"] * len(names))
    sql = (f"WITH types(name) AS (VALUES {rows}) SELECT types.name, "
           f"(SELECT COUNT(*) FROM {table} e WHERE e.type = types.name AND e.observed_at >= %s), "
           f"(SELECT COUNT(*) FROM {table} e WHERE e.type = types.name AND e.observed_at >= %s "
           f"AND e.valid = %s), "
           f"(SELECT MAX(e.observed_at) FROM {table} e WHERE e.type = types.name) FROM types")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*names, since, since, False])
        return {name: Traffic(recent=recent, recent_invalid=invalid, last_seen=database_moment(last))
                for name, recent, invalid, last in cursor.fetchall()}


def event_refused_list(*, event_type: str, limit: int = 10) -> list[ObservedEvent]:
    """The latest events of a type that failed their schema, newest first (index
    `event_type_seen`, read backwards)."""
    return list(ObservedEvent.objects.filter(type=event_type, valid=False)
                .order_by("-observed_at")[:limit])


@dataclass(frozen=True)
class UndeclaredEventType:
    type: str
    source: str
    count: int
    first_seen: datetime
    last_seen: datetime


def undeclared_event_types(*, model: Choreography = CHOREOGRAPHY) -> list[UndeclaredEventType]:
    """The (type, source) pairs observed that the model declares no event for, busiest first.
    An event nothing could be read from (no type) is no type at all: the Failures page lists
    it among the invalid events."""
    declared = reduce(lambda either, event: either | Q(type=event.name, source=event.producer.value),
                      model.events, Q(pk__in=[]))
    rows = (ObservedEvent.objects.exclude(type="").exclude(declared)
            .values("type", "source")
            .annotate(count=Count("id"), first=Min("observed_at"), last=Max("observed_at"))
            .order_by("-count", "type", "source"))
    return [UndeclaredEventType(row["type"], row["source"], row["count"], row["first"], row["last"])
            for row in rows]


UNDECLARED_SOURCES_SHOWN = 50
"""Sources listed at most, busiest first; and at most this many types of each."""


@dataclass(frozen=True)
class UndeclaredSource:
    """A source the model does not declare that put events on an observed bus: how many, on
    which buses, first and last seen, and each type (EventBridge `detail-type`) it used."""

    source: str
    count: int
    first_seen: datetime
    last_seen: datetime
    buses: tuple[str, ...]
    types: tuple[UndeclaredEventType, ...]


def undeclared_sources(*, limit: int = UNDECLARED_SOURCES_SHOWN) -> list[UndeclaredSource]:
    """The sources the model does not declare seen on the observed buses, busiest first, each
    with its types, busiest first (`UndeclaredSighting`; index `undeclared_seen`). At most
    `limit` sources, and `limit` types of each."""
    rows = list(UndeclaredSighting.objects.values("source")
                .annotate(count=Count("id"), first=Min("observed_at"), last=Max("observed_at"))
                .order_by("-count", "source")[:limit])
    names = [row["source"] for row in rows]
    types: dict[str, list[UndeclaredEventType]] = {name: [] for name in names}
    for row in (UndeclaredSighting.objects.filter(source__in=names)
                .values("source", "detail_type")
                .annotate(count=Count("id"), first=Min("observed_at"), last=Max("observed_at"))
                .order_by("-count", "detail_type")):
        if len(types[row["source"]]) < limit:
            types[row["source"]].append(UndeclaredEventType(
                row["detail_type"], row["source"], row["count"],
                database_moment(row["first"]) or row["first"],
                database_moment(row["last"]) or row["last"]))
    buses: dict[str, set[str]] = {name: set() for name in names}
    for source, bus in (UndeclaredSighting.objects.filter(source__in=names)
                        .values_list("source", "bus").distinct()):
        buses[source].add(bus)
    return [UndeclaredSource(row["source"], row["count"], database_moment(row["first"]) or row["first"],
                             database_moment(row["last"]) or row["last"], tuple(sorted(buses[row["source"]])),
                             tuple(types[row["source"]]))
            for row in rows]
