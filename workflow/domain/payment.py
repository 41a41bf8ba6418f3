"""Payment subdomain: charge reserved orders once; the declining test card is declined."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from workflow.envelope import Event, new_event
from workflow.ports import Payments

# As card processors do, one well-known number always declines.
DECLINING_TEST_CARD = "4000000000000002"
GOOD_TEST_CARD = "4242424242424242"


def tokenize_card(digits: str) -> str:
    """A stand-in for a card vault: the token names the card without carrying its number."""
    return "tok_" + hashlib.sha256(f"choreo-vault:{digits}".encode()).hexdigest()[:24]


DECLINING_TOKEN = tokenize_card(DECLINING_TEST_CARD)


def payment_take(reserved: Event, *, payments: Payments, now: datetime | None = None) -> Event:
    now = now or datetime.now(UTC)
    order = reserved.order
    base = {"order": order, "reservation": reserved.data["reservation"]}
    if order["paymentMethod"]["token"] == DECLINING_TOKEN:
        outcome = new_event(type="payment.declined", cause=reserved, data={
            **base, "decline": {"reason": "card declined", "declinedAt": now.isoformat()}})
    else:
        outcome = new_event(type="payment.taken", cause=reserved, data={
            **base, "payment": {"paymentId": f"pay-{order['orderId']}",
                                "amount": order["total"], "takenAt": now.isoformat()}})
    return payments.charge_once(order_id=order["orderId"], outcome=outcome)
