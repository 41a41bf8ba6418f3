"""Loyalty subdomain: one point per whole unit of currency paid, awarded once per order."""

from __future__ import annotations

from datetime import UTC, datetime

from workflow.envelope import Event, new_event
from workflow.ports import LoyaltyLedger


def points_for(amount_minor_units: int) -> int:
    return amount_minor_units // 100


def points_award(taken: Event, *, ledger: LoyaltyLedger, now: datetime | None = None) -> Event:
    now = now or datetime.now(UTC)
    order = taken.order
    points = points_for(taken.data["payment"]["amount"]["amount"])
    awarded = new_event(type="loyalty.points-awarded", cause=taken, data={
        "order": order, "reservation": taken.data["reservation"],
        "payment": taken.data["payment"],
        "points": {"points": points, "awardedAt": now.isoformat()}})
    return ledger.award_once(order_id=order["orderId"], customer_id=order["customerId"],
                             points=points, awarded=awarded)
