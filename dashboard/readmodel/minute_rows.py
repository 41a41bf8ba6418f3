"""The per-minute roll-ups' one way of being written and forgotten: a table of rows keyed by
some fields and a `minute` (`RouteMinute`, `RouteVersionMinute`), added to as events are
recorded, pruned with the read model's retention and cleared with it. Each roll-up says what it
found and how to add it to a row; this module makes the rows exist, locks them and writes the
sums back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import models

Row = TypeVar("Row", bound=models.Model)
Found = TypeVar("Found")


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minute_rows_add(table: type[Row], found: Mapping[Any, Found], *,
                    key_fields: Sequence[str], add: Callable[[Row, Found], None],
                    update_fields: Sequence[str]) -> int:
    """Add to `table` what `found` holds by key (the values of `key_fields`, in that order,
    the last of which is the minute): `add(row, figures)` adds one key's figures to its row.
    Call inside the transaction that records the events. Returns the rows touched.

    Every row exists before it is locked and added to: two writers (the poller and a rebuild)
    neither collide on creating one nor lose each other's counts. The sums are then written
    back in one upsert (cheaper than an update per row, or one CASE per column)."""
    if not found:
        return 0
    manager = table._default_manager
    manager.bulk_create([table(**dict(zip(key_fields, key, strict=True))) for key in found],
                        ignore_conflicts=True)
    locked = manager.select_for_update().filter(
        **{f"{name}__in": {key[at] for key in found} for at, name in enumerate(key_fields)})
    rows = []
    for row in locked:
        figures = found.get(tuple(getattr(row, name) for name in key_fields))
        if figures is not None:
            add(row, figures)
            rows.append(row)
    manager.bulk_create(rows, update_conflicts=True, unique_fields=list(key_fields),
                        update_fields=list(update_fields))
    return len(rows)


def minute_rows_prune(table: type[models.Model], *, before: datetime) -> int:
    """Forget the minutes before `before` (the read model's retention horizon)."""
    deleted, _ = table._default_manager.filter(minute__lt=minute_of(before)).delete()
    return deleted


def minute_rows_clear(table: type[models.Model]) -> int:
    deleted, _ = table._default_manager.all().delete()
    return deleted
