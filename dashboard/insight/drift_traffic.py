"""Selectors: what the read model keeps of the traffic's drift (`workflow.traffic_drift`).

- events put into the void (`UnroutedSighting`): by bus, type and source, busiest first;
- causation links the model does not have (`UndeclaredLink`): by cause type, type and source,
  busiest first.

Each with how many, first and last seen, and the latest event (its id and order) for a link to
its trace. The rows are written as events are recorded and forgotten with them, so a
difference stays listed for as long as its events are kept, as the undeclared types are. At
most `SHOWN` of each; one grouped read over an index of the differences alone, and one look-up
of the latest event per group listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min

from dashboard.catalogue.selectors import database_moment
from dashboard.models import UndeclaredLink, UnroutedSighting
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.traffic_drift import expected_after

SHOWN = 50


@dataclass(frozen=True)
class Unrouted:
    """Events of one type and source seen on a bus where no route of the model takes them."""

    bus: str
    type: str
    source: str
    count: int
    first_seen: datetime
    last_seen: datetime
    latest_event_id: str
    latest_order_id: str

    @property
    def key(self) -> str:
        return f"void:{self.bus}:{self.source}:{self.type}"


@dataclass(frozen=True)
class _Group:
    values: tuple[str, str, str]
    count: int
    first_seen: datetime
    last_seen: datetime
    latest_event_id: str
    latest_order_id: str


@dataclass(frozen=True)
class Link:
    """Events of `type` (from `source`) caused by events of `cause_type`, which the model does
    not have them follow."""

    cause_type: str
    type: str
    source: str
    count: int
    first_seen: datetime
    last_seen: datetime
    latest_event_id: str
    latest_order_id: str
    expected: tuple[str, ...]
    """what the model has follow `cause_type` instead (nothing, for a type it does not declare)"""

    @property
    def key(self) -> str:
        return f"link:{self.cause_type}>{self.source}:{self.type}"

    @property
    def summary(self) -> str:
        """What differs, in one line."""
        instead = " or ".join(self.expected) if self.expected else "nothing"
        return f"{self.type} was caused by {self.cause_type}, which the model follows with {instead}"


def _groups(sighting: Any, fields: tuple[str, str, str], limit: int) -> Iterator[_Group]:
    """The sightings grouped by `fields`, busiest first: each group's values, count, first
    and last seen, and its latest event's id and order id."""
    rows = (sighting.objects.values(*fields)
            .annotate(count=Count("id"), first=Min("observed_at"), last=Max("observed_at"))
            .order_by("-count", *fields)[:limit])
    for row in rows:
        latest = (sighting.objects.filter(**{field: row[field] for field in fields})
                  .order_by("-observed_at").values_list("event__event_id", "event__order_id")
                  .first()) or ("", "")
        first, second, third = (row[field] for field in fields)
        yield _Group((first, second, third), row["count"],
                     database_moment(row["first"]) or row["first"],
                     database_moment(row["last"]) or row["last"], *latest)


def unrouted_list(*, limit: int = SHOWN) -> list[Unrouted]:
    """The events put into the void, by bus, type and source, busiest first."""
    found = []
    for group in _groups(UnroutedSighting, ("bus", "type", "source"), limit):
        bus, type_, source = group.values
        found.append(Unrouted(bus, type_, source, group.count, group.first_seen,
                              group.last_seen, group.latest_event_id, group.latest_order_id))
    return found


def undeclared_link_list(*, limit: int = SHOWN,
                         model: Choreography = CHOREOGRAPHY) -> list[Link]:
    """The causation links observed that the model does not have, busiest first."""
    found = []
    for group in _groups(UndeclaredLink, ("cause_type", "type", "source"), limit):
        cause_type, type_, source = group.values
        found.append(Link(cause_type, type_, source, group.count, group.first_seen,
                          group.last_seen, group.latest_event_id, group.latest_order_id,
                          expected=expected_after(cause_type, model)))
    return found
