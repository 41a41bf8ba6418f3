"""What the read model says of each event type's traffic: how many were seen lately, how many
of those failed their schema, and when the last one was seen."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.models import ObservedEvent

RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class Traffic:
    recent: int
    """events of the type first seen within the last hour (RECENT)"""
    recent_invalid: int
    """of those, how many failed their schema"""
    last_seen: datetime | None


def _moment(value: datetime | str | None) -> datetime | None:
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
        return {name: Traffic(recent=recent, recent_invalid=invalid, last_seen=_moment(last))
                for name, recent, invalid, last in cursor.fetchall()}


def event_refused_list(*, event_type: str, limit: int = 10) -> list[ObservedEvent]:
    """The latest events of a type that failed their schema, newest first (index
    `event_type_seen`, read backwards)."""
    return list(ObservedEvent.objects.filter(type=event_type, valid=False)
                .order_by("-observed_at")[:limit])
