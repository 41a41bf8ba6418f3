"""Services: everything that changes state, named `<entity>_<action>`.

`observation_record` is the read model's one way in, for live and historical events alike:
idempotent by CloudEvent id, in batches, so that a replay of a hundred thousand events is a
few hundred transactions rather than a few hundred thousand.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import Exists, OuterRef

from dashboard.models import (
    ObservedEvent,
    Order,
    SearchTerm,
    SharedTerm,
    Sighting,
    TermSet,
    UndeclaredLink,
    UndeclaredSighting,
    UnroutedSighting,
)
from dashboard.readmodel.observations import Observation, moment, unforeseen
from dashboard.readmodel.route_minutes import route_minutes_add, route_minutes_clear, route_minutes_prune
from dashboard.readmodel.search_terms import data_terms, terms_digest, terms_split
from dashboard.readmodel.version_minutes import (
    event_version,
    route_version_minutes_add,
    route_version_minutes_clear,
    route_version_minutes_prune,
)
from workflow.conformance import verdict_of
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.money import from_decimal_text
from workflow.traffic_drift import traffic

log = logging.getLogger("dashboard.readmodel.services")

STATUS_BY_TERMINAL_EVENT: dict[str, str] = {
    event.name: event.concludes_as for event in CHOREOGRAPHY.events
    if event.concludes_as}
"""How an order ends, by the event that says so, as the model declares it."""

FIRST_EVENT = CHOREOGRAPHY.happy_path[0]

BIG_INTEGERS = range(-(2**63), 2**63)
"""What a total's column holds. The catalogue sets no ceiling on an amount, and one beyond
this is not kept (its event still counts): the database would refuse the whole batch."""


def _ms(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds() * 1000, 3)


def _new_event_row(observation: Observation) -> ObservedEvent:
    return ObservedEvent(
        event_id=observation.event_id, type=observation.type, source=observation.source,
        order_id=observation.order_id, correlation_id=observation.correlation_id,
        causation_id=observation.causation_id, time=observation.time,
        observed_at=observation.observed_at, origin=observation.origin, buses=[observation.bus],
        valid=observation.valid, invalid_reason=observation.invalid_reason,
        envelope=observation.envelope, data=observation.data,
        eventbridge=observation.eventbridge,
        observed_lag_ms=_ms(observation.observed_at, observation.time))


def _apply_to_order(order: Order, event: ObservedEvent, observation: Observation) -> None:
    """Fold one newly seen, valid event into its order."""
    assert event.time is not None
    order.event_count += 1
    order.observed_at = min(order.observed_at, event.observed_at)
    # order.placed's time is when the order was placed; until it is seen, the earliest event
    # stands in for it.
    if event.type == FIRST_EVENT or event.time < order.placed_at:
        order.placed_at = event.time
    if not order.correlation_id:
        order.correlation_id = event.correlation_id
    details = observation.order
    if not order.customer_id and isinstance(details.get("customerId"), str):
        order.customer_id = details["customerId"][:128]
    total = details.get("total")
    total = total if isinstance(total, dict) else {}
    amount = total.get("amount")
    if amount is None and isinstance(total.get("value"), str):  # order.placed version 2
        try:
            amount = from_decimal_text(total["value"], str(total.get("currency", ""))).amount
        except ValueError:
            amount = None
    if order.total_amount is None and isinstance(amount, int) and amount in BIG_INTEGERS:
        order.total_amount = amount
        order.currency = str(total.get("currency", ""))[:3]
    if order.last_event_at is None or event.time >= order.last_event_at:
        order.last_event_at = event.time
        order.last_event_type = event.type
    status = STATUS_BY_TERMINAL_EVENT.get(event.type)
    # The first ending wins: a second one would be a defect upstream, not a change of mind.
    if status is not None and (order.concluded_at is None or event.time < order.concluded_at):
        order.status = status
        order.concluded_at = event.time
    order.duration_ms = _ms(order.concluded_at, order.placed_at)


def _item(event: ObservedEvent, observation: Observation, order: Order | None) -> dict[str, Any]:
    """What a websocket client receives for one sighting."""
    return {
        "eventId": event.event_id,
        "bus": observation.bus,
        "buses": list(event.buses),
        "type": event.type,
        "source": event.source,
        "orderId": event.order_id,
        "correlationId": event.correlation_id,
        "causationId": event.causation_id or None,
        "causeType": event.cause_type or None,
        "time": event.time.isoformat() if event.time else None,
        "observedAt": observation.observed_at.isoformat(),
        "hopLatencyMs": event.hop_latency_ms,
        "observedLagMs": _ms(observation.observed_at, event.time),
        "valid": event.valid,
        "invalidReason": event.invalid_reason or None,
        # the version of its type's schema it was published in, as its dataschema names it
        "version": event_version(event.type, event.envelope) if event.valid else None,
        "dataschema": event.envelope.get("dataschema") if event.envelope else None,
        "orderStatus": order.status if order is not None else None,
        "orderDeviation": (order.deviation or None) if order is not None else None,
        "event": observation.cloudevent,
    }


def _text_of(value: Any, length: int) -> str:
    return value[:length] if isinstance(value, str) else ""


def source_undeclared(observation: Observation, *, declared: Collection[str]) -> bool:
    """Whether EventBridge says the event came from a source other than `declared` (the
    model's). An event whose envelope could not be read says nothing of its source: it is
    kept as an invalid event, for the Failures page."""
    source = observation.eventbridge.get("source")
    return isinstance(source, str) and bool(source) and source not in declared


def undeclared_sightings_record(*, observations: Sequence[Observation]) -> int:
    """Record events from sources the model does not declare, one small row each (see
    `UndeclaredSighting`): once per bus and EventBridge id, so that a delivery repeated or a
    history replayed counts nothing twice. Returns how many were new."""
    rows = {}
    for observation in observations:
        envelope = observation.eventbridge
        eventbridge_id = _text_of(envelope.get("id"), 128) or observation.event_id
        rows[(observation.bus, eventbridge_id)] = UndeclaredSighting(
            bus=observation.bus[:64], eventbridge_id=eventbridge_id,
            source=_text_of(envelope.get("source"), 256),
            detail_type=_text_of(envelope.get("detail-type"), 256),
            account=_text_of(envelope.get("account"), 32),
            observed_at=observation.observed_at, origin=observation.origin)
    if not rows:
        return 0
    with transaction.atomic():
        known = set(UndeclaredSighting.objects.filter(
            eventbridge_id__in={key[1] for key in rows}).values_list("bus", "eventbridge_id"))
        new = [row for key, row in rows.items() if key not in known]
        UndeclaredSighting.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def observation_record(*, observations: Sequence[Observation],
                       model: Choreography = CHOREOGRAPHY) -> list[dict[str, Any]]:
    """Record observations in the read model; return what is new (an event not seen before,
    or seen on another bus), as websocket items. Recording the same observation twice changes
    nothing and returns nothing. The figures of the model's routes follow, in the same
    transaction (`route_minutes_add`).

    An event from a source the model does not declare is no event of the model: it is
    recorded as an `UndeclaredSighting` for drift (`undeclared_sightings_record`), and nothing
    goes out for it.

    No one observation fails the others: should a batch fail, each is recorded in a
    transaction of its own, and one that fails alone is kept invalid with what failed as its
    reason, without the content it carried. Only a failure to keep even that is raised, as is
    a database that cannot be reached: then nothing of the batch is recorded."""
    declared = frozenset(model.sources())
    foreign = [o for o in observations if source_undeclared(o, declared=declared)]
    if foreign:
        try:
            undeclared_sightings_record(observations=foreign)
        except (OperationalError, InterfaceError):
            raise  # the database, not an event
        except Exception:  # kept as the events they are, among the failures, rather than lost
            log.exception("recording %d sightings of undeclared sources failed", len(foreign))
        else:
            observations = [o for o in observations if not source_undeclared(o, declared=declared)]
    try:
        return _observations_record(observations, model=model)
    except (OperationalError, InterfaceError):
        raise  # the database, not an event
    except Exception as error:
        if len(observations) == 1:
            return _observations_record([_unrecordable(observations[0], error)], model=model)
        log.warning("recording %d events together failed: recording each alone", len(observations))
    return [item for observation in observations
            for item in observation_record(observations=[observation], model=model)]


def _unrecordable(observation: Observation, error: Exception) -> Observation:
    """What is kept of an observation that could not be recorded: that it was seen, where,
    and why it is not shown."""
    return dataclasses.replace(observation, valid=False, time=None, cloudevent=None, eventbridge={},
                               invalid_reason=unforeseen("not recordable", error))


@transaction.atomic
def _observations_record(observations: Sequence[Observation], *,
                         model: Choreography) -> list[dict[str, Any]]:
    if not observations:
        return []
    known = ObservedEvent.objects.in_bulk({o.event_id for o in observations}, field_name="event_id")
    created: dict[str, ObservedEvent] = {}
    rebussed: dict[str, ObservedEvent] = {}
    fresh: list[tuple[Observation, ObservedEvent]] = []
    for observation in observations:
        row = known.get(observation.event_id) or created.get(observation.event_id)
        if row is None:
            row = created[observation.event_id] = _new_event_row(observation)
        elif observation.bus in row.buses:
            continue
        else:
            row.buses = [*row.buses, observation.bus]
            if row.event_id in known:
                rebussed[row.event_id] = row
        fresh.append((observation, row))
    if not fresh:
        return []

    judged = _link_causes(created)
    own_terms = _terms_share(created.values())
    ObservedEvent.objects.bulk_create(created.values())
    _search_terms_insert([(row.pk, path, value) for row in created.values()
                          for path, value in own_terms[row.event_id]])
    if rebussed:
        ObservedEvent.objects.bulk_update(rebussed.values(), ["buses"])
    Sighting.objects.bulk_create(
        [Sighting(event=row, bus=o.bus, observed_at=o.observed_at, origin=o.origin,
                  eventbridge_id=str(o.eventbridge.get("id", ""))[:128],
                  eventbridge_time=_eventbridge_time(o)) for o, row in fresh],
        ignore_conflicts=True)

    orders = _fold_into_orders(created, {o.event_id: o for o, _ in fresh})
    _deviations_record(judged, orders, model=model)
    _traffic_drift_record(fresh, judged, model=model)
    route_minutes_add(created=created.values(), hops=judged, model=model)
    route_version_minutes_add(created=created.values(), model=model)
    return [_item(row, o, orders.get(row.order_id)) for o, row in fresh]


def _search_terms_insert(rows: list[tuple[int, str, str]]) -> None:
    """Many (event id, path, value) rows in one statement per thousand: a model instance per
    row cost more than the database's own work (a SearchTerm is three columns and an id)."""
    if not rows:
        return
    table = connections["default"].ops.quote_name(SearchTerm._meta.db_table)
    with connections["default"].cursor() as cursor:
        for start in range(0, len(rows), 1000):
            cursor.executemany(f"INSERT INTO {table} (event_id, path, value) VALUES (%s, %s, %s)",
                               rows[start:start + 1000])


def _terms_share(rows: Collection[ObservedEvent]) -> dict[str, list[tuple[str, str]]]:
    """Point each new event at the TermSet of its shared pairs (the order's), making the sets
    not yet kept; return each event's own pairs, which go in SearchTerm. An order's five
    events share one set: its pairs are written once, not five times."""
    own: dict[str, list[tuple[str, str]]] = {}
    wanted: dict[str, list[tuple[str, str]]] = {}
    digest_of: dict[str, str] = {}
    for row in rows:
        shared, own[row.event_id] = terms_split(data_terms(row.data))
        if shared:
            digest = digest_of[row.event_id] = terms_digest(shared)
            wanted.setdefault(digest, shared)
    if not wanted:
        return own
    ids = dict(TermSet.objects.filter(digest__in=list(wanted)).values_list("digest", "id"))
    missing = [digest for digest in wanted if digest not in ids]
    if missing:
        # Another writer may make the same set at once: both insert, neither fails, and its
        # pairs are kept once (SharedTerm's unique constraint).
        TermSet.objects.bulk_create([TermSet(digest=digest) for digest in missing],
                                    ignore_conflicts=True)
        made = dict(TermSet.objects.filter(digest__in=missing).values_list("digest", "id"))
        ids.update(made)
        SharedTerm.objects.bulk_create(
            [SharedTerm(term_set_id=made[digest], path=path, value=value)
             for digest in missing for path, value in wanted[digest]],
            batch_size=2000, ignore_conflicts=True)
    for row in rows:
        if row.event_id in digest_of:
            row.shared_terms_id = ids[digest_of[row.event_id]]
    return own


def _eventbridge_time(observation: Observation) -> datetime | None:
    return moment(observation.eventbridge.get("time"))


def _link_causes(created: dict[str, ObservedEvent]) -> list[ObservedEvent]:
    """Hop latency needs both ends of a hop; whichever arrives second completes it. Returns
    the events that learnt something of their cause (new ones, and earlier ones whose cause
    just came): what the model says of each may have changed."""
    cause_ids = {row.causation_id for row in created.values() if row.causation_id}
    causes: dict[str, tuple[str, datetime | None]] = {
        row.event_id: (row.type, row.time) for row in created.values()}
    missing = cause_ids - causes.keys()
    if missing:
        causes.update({event_id: (event_type, time) for event_id, event_type, time in
                       ObservedEvent.objects.filter(event_id__in=missing)
                       .values_list("event_id", "type", "time")})
    for row in created.values():
        if row.causation_id in causes:
            cause_type, cause_time = causes[row.causation_id]
            row.cause_type = cause_type
            row.hop_latency_ms = _ms(row.time, cause_time)
    orphans = list(ObservedEvent.objects.filter(causation_id__in=list(created),
                                                hop_latency_ms__isnull=True))
    for orphan in orphans:
        cause = created[orphan.causation_id]
        orphan.cause_type = cause.type
        orphan.hop_latency_ms = _ms(orphan.time, cause.time)
    if orphans:
        ObservedEvent.objects.bulk_update(orphans, ["cause_type", "hop_latency_ms"])
    return [*created.values(), *orphans]


def _deviations_record(judged: list[ObservedEvent], orders: dict[str, Order], *,
                       model: Choreography = CHOREOGRAPHY) -> None:
    """Flag the orders one of whose events the model does not explain, or that came out of
    its order (the first reason found stays): each event is judged by what it keeps of its
    cause, so the lists never recompute a trace (workflow.conformance judges a whole trace
    the same way)."""
    reasons: dict[str, str] = {}
    for row in judged:
        if not (row.valid and row.order_id) or row.order_id in reasons:
            continue
        verdict = verdict_of(row.type, cause_type=row.cause_type or None,
                             has_cause=bool(row.causation_id), hop_ms=row.hop_latency_ms,
                             model=model)
        if verdict.deviates:
            reasons[row.order_id] = verdict.reason[:300]
    for order_id, reason in reasons.items():
        flagged = Order.objects.filter(order_id=order_id, deviation="").update(deviation=reason)
        if flagged and order_id in orders:
            orders[order_id].deviation = reason


def _matched_as(observation: Observation, row: ObservedEvent) -> tuple[str, str]:
    """What the bus's rules matched an event on: its EventBridge `detail-type` and `source`,
    which a valid event's CloudEvent `type` and `source` repeat (`workflow.envelope`); the
    CloudEvent's when the envelope says none."""
    kind, source = observation.eventbridge.get("detail-type"), observation.eventbridge.get("source")
    if isinstance(kind, str) and isinstance(source, str):
        return kind, source
    return row.type, row.source


def _traffic_drift_record(fresh: list[tuple[Observation, ObservedEvent]],
                          judged: list[ObservedEvent], *, model: Choreography) -> None:
    """Keep what drift says of the traffic (see `workflow.traffic_drift`): each new sighting
    of an event that no route of the model takes on its bus, and each event that has just
    learnt its cause's type, when the model has no reaction from that type to its own. A set
    lookup per sighting and per event; a row is written only for a difference."""
    expected = traffic(model)
    void = [UnroutedSighting(event=row, bus=o.bus[:64], type=kind[:128], source=source[:128],
                             observed_at=o.observed_at)
            for o, row in fresh
            for kind, source in [_matched_as(o, row)]
            if kind and expected.unrouted(event_type=kind, source=source, bus=o.bus,
                                          dataschema=row.envelope.get("dataschema"))]
    if void:
        UnroutedSighting.objects.bulk_create(void, ignore_conflicts=True)
    links = [UndeclaredLink(event=row, cause_type=row.cause_type, type=row.type,
                            source=row.source, observed_at=row.observed_at)
             for row in judged
             if row.cause_type and row.type
             and expected.undeclared_link(cause_type=row.cause_type, effect_type=row.type)]
    if links:
        UndeclaredLink.objects.bulk_create(links, ignore_conflicts=True)


def _fold_into_orders(created: dict[str, ObservedEvent],
                      observations: dict[str, Observation]) -> dict[str, Order]:
    counted = [row for row in created.values() if row.valid and row.order_id and row.time]
    order_ids = {row.order_id for row in observations.values() if row.order_id}
    orders = Order.objects.in_bulk(order_ids)
    if not counted:
        return orders
    changed: dict[str, Order] = {}
    for row in sorted(counted, key=lambda r: r.time or r.observed_at):
        order = orders.get(row.order_id)
        if order is None:
            order = orders[row.order_id] = Order(order_id=row.order_id, placed_at=row.time,
                                                 observed_at=row.observed_at)
        _apply_to_order(order, row, observations[row.event_id])
        changed[order.order_id] = order
    Order.objects.bulk_create(
        changed.values(), update_conflicts=True, unique_fields=["order_id"],
        update_fields=["correlation_id", "customer_id", "status", "placed_at", "observed_at",
                       "concluded_at", "duration_ms", "event_count", "last_event_type",
                       "last_event_at", "total_amount", "currency"])
    return orders


def read_model_clear() -> tuple[int, int]:
    """Forget everything observed (a rebuild from the log group starts here). Returns the
    numbers of events and orders forgotten."""
    with transaction.atomic():
        events = ObservedEvent.objects.count()
        orders = Order.objects.count()
        Sighting.objects.all().delete()
        UnroutedSighting.objects.all().delete()
        UndeclaredLink.objects.all().delete()
        SearchTerm.objects.all().delete()
        ObservedEvent.objects.all().delete()
        SharedTerm.objects.all().delete()
        TermSet.objects.all().delete()
        Order.objects.all().delete()
        UndeclaredSighting.objects.all().delete()
        route_minutes_clear()
        route_version_minutes_clear()
    return events, orders


PRUNE_BATCH = 1000
"""Rows forgotten in one transaction: short enough that recording never waits long for it."""


def retention_horizon(*, now: datetime | None = None) -> datetime | None:
    """Before this moment nothing observed is kept (DASHBOARD_RETENTION_DAYS ago); None when
    everything is kept."""
    if not settings.DASHBOARD_RETENTION_DAYS:
        return None
    return (now or datetime.now(UTC)) - timedelta(days=settings.DASHBOARD_RETENTION_DAYS)


@dataclass(frozen=True)
class PruneResult:
    events: int = 0
    orders: int = 0
    undeclared: int = 0
    """sightings of undeclared sources (`UndeclaredSighting`)"""
    done: bool = True
    """Nothing is left to prune (False: a bounded run stopped with more to do)."""


def _events_prune(before: datetime, size: int) -> int:
    with transaction.atomic():
        rows = list(ObservedEvent.objects.filter(observed_at__lt=before).order_by("observed_at")
                    .values_list("id", "shared_terms_id")[:size])
        ids = [event_id for event_id, _ in rows]
        # Their sightings and search terms go with them; only ids are read to find those.
        ObservedEvent.objects.filter(id__in=ids).only("id").delete()
        # ... and the term sets no event shares any more.
        TermSet.objects.filter(
            ~Exists(ObservedEvent.objects.filter(shared_terms=OuterRef("pk"))),
            id__in={set_id for _, set_id in rows if set_id}).delete()
    return len(ids)


def _events_left(before: datetime) -> bool:
    return ObservedEvent.objects.filter(observed_at__lt=before).exists()


def _orders_left(before: datetime) -> bool:
    eventless = ~Exists(ObservedEvent.objects.filter(order_id=OuterRef("order_id")))
    return Order.objects.filter(eventless, observed_at__lt=before).exists()


def _undeclared_left(before: datetime) -> bool:
    return UndeclaredSighting.objects.filter(observed_at__lt=before).exists()


def _undeclared_prune(before: datetime, size: int) -> int:
    with transaction.atomic():
        ids = list(UndeclaredSighting.objects.filter(observed_at__lt=before)
                   .order_by("observed_at").values_list("id", flat=True)[:size])
        UndeclaredSighting.objects.filter(id__in=ids).delete()
    return len(ids)


def _orders_prune(before: datetime, size: int) -> int:
    """Orders first seen before `before` with no event left. One whose early events are gone
    but whose later ones are kept stays: its trace shows what is left."""
    eventless = ~Exists(ObservedEvent.objects.filter(order_id=OuterRef("order_id")))
    with transaction.atomic():
        ids = list(Order.objects.filter(eventless, observed_at__lt=before).order_by("observed_at")
                   .values_list("order_id", flat=True)[:size])
        deleted, _ = Order.objects.filter(eventless, order_id__in=ids).delete()
    return deleted


def read_model_prune(*, before: datetime, batch_size: int | None = None,
                     max_batches: int | None = None) -> PruneResult:
    """Forget the events observed before `before`, then the orders first seen before it that
    have no event left, then the sightings of undeclared sources before it: `batch_size` rows
    a transaction, so that a large backlog never holds the tables for long, and at most
    `max_batches` transactions that forget something (None: until done); the next run goes on
    where this one stopped."""
    size = batch_size or PRUNE_BATCH
    route_minutes_prune(before=before)  # one row per route and minute: few, even for days
    route_version_minutes_prune(before=before)
    pruned = {"events": 0, "orders": 0, "undeclared": 0}
    batches = 0
    for kind, prune, left in (("events", _events_prune, _events_left),
                              ("orders", _orders_prune, _orders_left),
                              ("undeclared", _undeclared_prune, _undeclared_left)):
        last = size
        while last == size:
            if max_batches is not None and batches >= max_batches:
                if not left(before):
                    break
                return PruneResult(events=pruned["events"], orders=pruned["orders"],
                                   undeclared=pruned["undeclared"], done=False)
            last = prune(before, size)
            pruned[kind] += last
            batches += 1 if last else 0  # finding nothing left costs no batch
    return PruneResult(events=pruned["events"], orders=pruned["orders"],
                       undeclared=pruned["undeclared"])


