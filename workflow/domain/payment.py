"""Payment subdomain: charge reserved orders once; the declining test card is declined."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from workflow.envelope import Event, new_event
from workflow.ports import Payments

# As card processors do, one well-known number always declines.
DECLINING_TEST_CARD = "4000000000000002"
GOOD_TEST_CARD = "4242424242424242"


# Shorter keys are refused: the key is all that stands between a token and its card number.
MIN_KEY_BYTES = 32


class CardVault:
    """Names a card without carrying its number, as a card vault's token does.

    The token is a keyed hash (HMAC-SHA256) of the number, under a key only the order API and
    the payment function can read. A card number has little entropy (a public six-digit BIN,
    the last four digits shown beside the token, one check digit: about a million
    candidates), so an unkeyed hash would give the number back to anyone who sees a token;
    without the key, a token says nothing of the number. The same card gives the same token
    within a deployment, which is what a payment service needs to recognise a card."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a card-token key has at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def token(self, digits: str) -> str:
        # 96 bits of the HMAC, the length the `order.placed` schema gives a token
        return "tok_" + hmac.new(self._key, digits.encode(), hashlib.sha256).hexdigest()[:24]

    def declines(self, token: str) -> bool:
        """Whether the token is the declining test card's."""
        return hmac.compare_digest(token, self.token(DECLINING_TEST_CARD))


def payment_take(reserved: Event, *, payments: Payments, vault: CardVault,
                 now: datetime | None = None) -> Event:
    now = now or datetime.now(UTC)
    order = reserved.order
    base = {"order": order, "reservation": reserved.data["reservation"]}
    if vault.declines(order["paymentMethod"]["token"]):
        outcome = new_event(type="payment.declined", cause=reserved, data={
            **base, "decline": {"reason": "card declined", "declinedAt": now.isoformat()}})
    else:
        outcome = new_event(type="payment.taken", cause=reserved, data={
            **base, "payment": {"paymentId": f"pay-{order['orderId']}",
                                "amount": order["total"], "takenAt": now.isoformat()}})
    return payments.charge_once(order_id=order["orderId"], outcome=outcome)
