"""Real events of real orders, in the envelopes the dashboard receives them in."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.readmodel.observations import Observation, observation_from_queue_body
from tests.support import eventbridge_event
from workflow.envelope import Event, new_event

T0 = datetime(2026, 11, 27, 9, 30, 0, tzinfo=UTC)
STEP = timedelta(milliseconds=40)


def _order(order_id: str, customer_id: str, placed_at: datetime) -> dict[str, Any]:
    return {"orderId": order_id, "customerId": customer_id, "placedAt": placed_at.isoformat(),
            "lines": [{"sku": "MUG-STONEWARE", "name": "Stoneware mug", "quantity": 2,
                       "unitPrice": {"amount": 1200, "currency": "GBP"}}],
            "total": {"amount": 2400, "currency": "GBP"},
            "paymentMethod": {"token": "tok_" + "ab" * 12, "last4": "4242"}}


def placed(*, order_id: str | None = None, customer_id: str = "customer-1",
           at: datetime = T0) -> Event:
    order_id = order_id or f"ord-{uuid.uuid4().hex[:12]}"
    return new_event(type="order.placed", data={"order": _order(order_id, customer_id, at)},
                     correlation_id=str(uuid.uuid4()), subject=order_id, time=at)


def _next(cause: Event, event_type: str, **steps: Any) -> Event:
    data = {"order": cause.data["order"], **steps}
    return new_event(type=event_type, cause=cause, data=data, time=cause.time + STEP)


def happy_path(*, order_id: str | None = None, customer_id: str = "customer-1",
               at: datetime = T0) -> list[Event]:
    first = placed(order_id=order_id, customer_id=customer_id, at=at)
    reservation = {"reservationId": "res-1", "reservedAt": at.isoformat()}
    payment = {"paymentId": "pay-1", "amount": {"amount": 2400, "currency": "GBP"},
               "takenAt": at.isoformat()}
    points = {"points": 24, "awardedAt": at.isoformat()}
    reserved = _next(first, "warehouse.stock-reserved", reservation=reservation)
    taken = _next(reserved, "payment.taken", reservation=reservation, payment=payment)
    awarded = _next(taken, "loyalty.points-awarded", reservation=reservation, payment=payment,
                    points=points)
    shipped = _next(awarded, "warehouse.order-shipped", reservation=reservation, payment=payment,
                    points=points, shipping={"shipmentId": "shp-1", "shippedAt": at.isoformat()})
    return [first, reserved, taken, awarded, shipped]


def declined_path(*, order_id: str | None = None, at: datetime = T0) -> list[Event]:
    first = placed(order_id=order_id, at=at)
    reservation = {"reservationId": "res-2", "reservedAt": at.isoformat()}
    decline = {"reason": "card declined", "declinedAt": at.isoformat()}
    reserved = _next(first, "warehouse.stock-reserved", reservation=reservation)
    declined = _next(reserved, "payment.declined", reservation=reservation, decline=decline)
    released = _next(declined, "warehouse.stock-released", reservation=reservation,
                     decline=decline, release={"releasedAt": at.isoformat()})
    cancelled = _next(released, "order.cancelled", decline=decline,
                      release={"releasedAt": at.isoformat()},
                      outcome={"status": "cancelled", "reason": "card declined",
                               "decidedAt": at.isoformat()})
    return [first, reserved, declined, released, cancelled]


def rejected_path(*, order_id: str | None = None, at: datetime = T0) -> list[Event]:
    first = placed(order_id=order_id, at=at)
    shortage = {"shortages": [{"sku": "MUG-STONEWARE", "requested": 2, "available": 0}]}
    unavailable = _next(first, "warehouse.stock-unavailable", unavailable=shortage)
    rejected = _next(unavailable, "order.rejected", unavailable=shortage,
                     outcome={"status": "rejected", "reason": "stock unavailable",
                              "decidedAt": at.isoformat()})
    return [first, unavailable, rejected]


def envelope(event: Event) -> dict[str, Any]:
    """The EventBridge event as the embedded AWS delivers it."""
    outer = eventbridge_event(event)
    outer["id"] = str(uuid.uuid4())  # each bus wraps the CloudEvent in a new envelope
    return outer


def queue_body(event: Event | dict[str, Any], bus: str = "global") -> str:
    """An observability queue message: {"bus", "event": <EventBridge event>}."""
    outer = envelope(event) if isinstance(event, Event) else event
    return json.dumps({"bus": bus, "event": outer})


def observe(event: Event, bus: str = "global", *, observed_at: datetime | None = None) -> Observation:
    return observation_from_queue_body(queue_body(event, bus),
                                       observed_at=observed_at or event.time + timedelta(milliseconds=5),
                                       origin="live")


def sightings_of(events: list[Event]) -> list[Observation]:
    """Each event as the dashboard sees it: on the global bus, and on the loyalty bus too for
    the two that cross between buses."""
    observations = []
    for event in events:
        observations.append(observe(event))
        if event.type in {"payment.taken", "loyalty.points-awarded"}:
            observations.append(observe(event, "loyalty"))
    return observations


def schema_failing(event: Event) -> dict[str, Any]:
    """An EventBridge event whose CloudEvent fails its schema."""
    outer = envelope(event)
    outer["detail"] = {**outer["detail"], "data": {"order": {"orderId": event.subject}}}
    return outer


HOME_ACCOUNT, LOYALTY_ACCOUNT = "123456789012", "222222222222"


def published_in(events: list[Event], accounts: dict[str, str], *, home: str = HOME_ACCOUNT,
                 region: str = "us-east-1") -> list[Observation]:
    """Each event as the home bus's observability sees it when some subdomains run in other
    accounts: on the global bus only, its envelope saying the account it was published in
    (`accounts`: by event type; the rest in `home`)."""
    observations = []
    for event in events:
        outer = envelope(event)
        outer.update(account=accounts.get(event.type, home), region=region)
        observations.append(observation_from_queue_body(
            json.dumps({"bus": "global", "event": outer}),
            observed_at=event.time + timedelta(milliseconds=5), origin="live"))
    return observations
