"""Search over history: events found by any CloudEvent attribute or data field, newest first.

A query is a URL's parameters (`/search/?type=payment.declined&customer=c-42`), and the same
thing as text, `key=value` terms separated by spaces (`type=payment.declined customer=c-42`),
which is what the search box and the live feed's filter take:

- `type`, `source`, `subject` (the order id), `correlationid`, `causationid`, `id`: a CloudEvent
  attribute, equal to the value; each is an indexed column of the read model.
- `since`, `until`: the CloudEvent `time`, ISO 8601 (a date alone is its midnight; no zone is
  UTC), `since` inclusive and `until` exclusive.
- `data.<path>=<value>`: a data field, its keys joined by dots; the items of a list share
  their list's path (`data.order.lines.sku`). A number or boolean is written as JSON writes it.
- `customer`, `sku`: names for the two data fields asked about most (`DATA_ALIASES`).

What a query costs is bounded whoever shapes it: at most `MAX_TERMS` terms (each data term is
a subquery, and a thousand of them took PostgreSQL seconds to plan and SQLite past its
expression depth), each value at most `TERM_LENGTH` characters (no longer one is kept), and
`DASHBOARD_SEARCH_SECONDS` of the database's time. A query past a bound is told which.

Data fields are found through tables of every event's (path, value) pairs that
`observation_record` fills (`dashboard.readmodel.search_terms`): an index lookup for any path,
where a JSON query would read every event's data (docs/dashboard.md, Search, has the
measurements). The part of the data every event type's schema requires (`SHARED_KEYS`: the
order, which every event carries forward whole) is the same on every event of an order, so its
pairs are kept once as a `TermSet` that those events share; `SearchTerm` holds the rest, each
event's own. A path is found in one table or the other by its first key, so that each query is
one index lookup.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from time import monotonic
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet

from dashboard.models import ObservedEvent, SearchTerm, SharedTerm
from dashboard.readmodel.search_terms import TERM_LENGTH, is_shared
from workflow.model import CHOREOGRAPHY, Choreography

ATTRIBUTES: dict[str, str] = {
    "type": "type",
    "source": "source",
    "subject": "order_id",
    "correlationid": "correlation_id",
    "causationid": "causation_id",
    "id": "event_id",
}
"""CloudEvent attributes a query may name, and the read model's column for each."""

DATA_ALIASES: dict[str, str] = {
    "customer": "order.customerId",
    "sku": "order.lines.sku",
}
"""Short names for data fields (tests/dashboard/test_search.py keeps them in the catalogue)."""

TIME_RANGE = ("since", "until")
DATA_PREFIX = "data."
PAGE = "page"
TEXT = "q"
"""A query as text: the view turns it into parameters."""

MAX_TERMS = 20
"""At most this many terms in one query, of every kind."""
TOO_MANY_TERMS = f"at most {MAX_TERMS} terms in one query"
PATH_PATTERN = re.compile(r"[A-Za-z0-9_$@:-]+(\.[A-Za-z0-9_$@:-]+)*")
TEXT_TERM = re.compile(r'\s*([^\s=]+)=("([^"]*)"|(\S*))')


class SearchQueryError(ValueError):
    """A query that cannot be run; its messages say why, one per bad term."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class SearchTimedOut(RuntimeError):
    """A search that took the database longer than it may, and was stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the search took longer than {seconds:g} s and was stopped: narrow it "
                         f"(a type, an order, a time range)")


@dataclass(frozen=True)
class SearchQuery:
    attributes: tuple[tuple[str, str], ...] = ()
    """(attribute, value), as the query names them."""
    since: datetime | None = None
    until: datetime | None = None
    data: tuple[tuple[str, str], ...] = ()
    """(data path, value)."""
    terms: tuple[tuple[str, str], ...] = field(default=())
    """Every term as written, for showing and linking the query back."""

    @property
    def empty(self) -> bool:
        return not (self.attributes or self.data or self.since or self.until)

    def text(self) -> str:
        return " ".join(f'{key}="{value}"' if (" " in value or not value) else f"{key}={value}"
                        for key, value in self.terms)

    def url_query(self, **extra: str) -> str:
        return urlencode([*self.terms, *extra.items()])


def search_syntax() -> dict[str, Any]:
    """The names a query may use, for the live feed's filter (static/dashboard/js/query.js)."""
    return {"attributes": list(ATTRIBUTES), "aliases": DATA_ALIASES, "maxTerms": MAX_TERMS,
            "maxValueLength": TERM_LENGTH}


def _moment(name: str, value: str) -> datetime:
    # A URL typed by hand reads a zone's "+01:00" as " 01:00".
    value = re.sub(r"(T[\d:.]+) (\d\d:?\d\d)$", r"\1+\2", value.strip())
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchQueryError([
            f"{name}: {value!r} is not a date and time (ISO 8601, such as "
            f"2026-11-27T09:30:00Z or 2026-11-27)"]) from None
    try:
        # The read model keeps times in UTC, where 0001-01-01T00:00+01:00 is no year of its.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise SearchQueryError([f"{name}: {value!r} is beyond the dates searched (years 1 to "
                                f"9999, in UTC)"]) from None


def search_query_text_parse(text: str) -> list[tuple[str, str]]:
    """`type=x data.a.b="two words"` as (key, value) terms. Raises SearchQueryError for
    anything that is not a `key=value` term."""
    terms: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = TEXT_TERM.match(text, position)
        if match is None:
            rest = text[position:].split()[0]
            raise SearchQueryError([f"{rest!r} is not a key=value term"])
        terms.append((match[1], match[3] if match[3] is not None else match[4]))
        if len(terms) > MAX_TERMS:
            raise SearchQueryError([TOO_MANY_TERMS])
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return terms


def search_query_parse(terms: Sequence[tuple[str, str]]) -> SearchQuery:
    """A query from (key, value) terms, as a URL's parameters list them; empty values are
    left out (an unfilled field). Raises SearchQueryError naming every bad term."""
    attributes: list[tuple[str, str]] = []
    data: list[tuple[str, str]] = []
    kept: list[tuple[str, str]] = []
    moments: dict[str, datetime] = {}
    errors: list[str] = []
    terms = [(key, value) for key, value in terms if key not in (PAGE, TEXT) and value != ""]
    if len(terms) > MAX_TERMS:
        raise SearchQueryError([TOO_MANY_TERMS])
    for key, value in terms:
        kept.append((key, value))
        if len(value) > TERM_LENGTH:
            errors.append(f"{key}: a value is at most {TERM_LENGTH} characters")
        elif key in ATTRIBUTES:
            attributes.append((key, value))
        elif key in DATA_ALIASES:
            data.append((DATA_ALIASES[key], value))
        elif key in TIME_RANGE:
            try:
                moments[key] = _moment(key, value)
            except SearchQueryError as error:
                errors += error.messages
        elif key.startswith(DATA_PREFIX):
            path = key.removeprefix(DATA_PREFIX)
            if not PATH_PATTERN.fullmatch(path) or len(path) > TERM_LENGTH:
                errors.append(f"{key}: a data field is data.<key>.<key>…, keys of letters, "
                              f"digits, '_' or '-'")
            else:
                data.append((path, value))
        else:
            errors.append(f"unknown attribute {key!r}: search by "
                          f"{', '.join([*ATTRIBUTES, *DATA_ALIASES, *TIME_RANGE])} "
                          f"or data.<path>")
    since, until = moments.get("since"), moments.get("until")
    if since and until and since >= until:
        errors.append("since must be before until")
    if errors:
        raise SearchQueryError(errors)
    return SearchQuery(attributes=tuple(attributes), since=since, until=until,
                       data=tuple(data), terms=tuple(kept))


def search_query_warnings(query: SearchQuery, *,
                          model: Choreography = CHOREOGRAPHY) -> list[str]:
    """What a query asks that the model says cannot be: an event type it does not declare
    (still searched: anyone may publish any type, and such events are kept as invalid)."""
    known = {event.name for event in model.events}
    return [f"the choreography declares no event type {value!r}"
            for key, value in query.attributes if key == "type" and value not in known]


def _matching(query: SearchQuery) -> QuerySet[ObservedEvent]:
    events = ObservedEvent.objects.all()
    for key, value in query.attributes:
        events = events.filter(**{ATTRIBUTES[key]: value})
    if query.since:
        events = events.filter(time__gte=query.since)
    if query.until:
        events = events.filter(time__lt=query.until)
    for path, value in query.data:
        if is_shared(path):
            events = events.filter(shared_terms__in=SharedTerm.objects.filter(
                path=path, value=value).values("term_set_id"))
        else:
            events = events.filter(id__in=SearchTerm.objects.filter(path=path, value=value)
                                   .values("event_id"))
    return events.order_by("-time", "-id")


@dataclass(frozen=True)
class SearchPage:
    events: list[ObservedEvent]
    number: int
    size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.events) - 1


def _cancelled(error: OperationalError) -> bool:
    """Whether the database stopped a statement for taking too long (`_time_limited`)."""
    return getattr(error.__cause__, "sqlstate", None) == "57014" or str(error) == "interrupted"


@contextmanager
def _time_limited(seconds: float) -> Iterator[None]:
    """The statements run inside stop once they have taken `seconds`: PostgreSQL's own
    statement timeout, for this transaction only; on SQLite, a progress handler that
    interrupts. Either raises OperationalError (`_cancelled`)."""
    connection = connections[ObservedEvent.objects.db]
    if connection.vendor == "postgresql":
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)",
                           [str(max(1, round(seconds * 1000)))])
            yield
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        deadline = monotonic() + seconds
        connection.connection.set_progress_handler(lambda: monotonic() > deadline, 10_000)
        try:
            yield
        finally:
            connection.connection.set_progress_handler(None, 0)
    else:
        yield


RESULTS_PER_PAGE = 50
MAX_PAGE = 200
"""Pages are offsets: past the 200th, narrow the query (a time range) instead."""


def event_search(*, query: SearchQuery, page: int = 1,
                 size: int = RESULTS_PER_PAGE) -> SearchPage:
    """One page of the events a query finds, newest (by CloudEvent time) first. Reads one row
    more than the page to know whether another follows, and never counts them all. Raises
    SearchTimedOut past DASHBOARD_SEARCH_SECONDS."""
    page = max(1, min(page, MAX_PAGE))
    offset = (page - 1) * size
    seconds = settings.DASHBOARD_SEARCH_SECONDS
    try:
        with _time_limited(seconds):
            rows = list(_matching(query)[offset:offset + size + 1])
    except OperationalError as error:
        if _cancelled(error):
            raise SearchTimedOut(seconds) from error
        raise
    return SearchPage(events=rows[:size], number=page, size=size, has_next=len(rows) > size)

