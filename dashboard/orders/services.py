"""Placing an order: through the order HTTP API, as any client would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dashboard import aws
from dashboard.orders.order_api import OrderApi


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int


def order_place(*, customer_id: str, lines: Sequence[OrderLine], card_number: str,
                api: OrderApi | None = None, idempotency_key: str | None = None
                ) -> dict[str, Any]:
    """Place an order through the order HTTP API, as any client would; with an
    `idempotency_key`, a second submit of the same form answers the same order. Raises
    `OrderApiError` with the API's problem details when it refuses."""
    api = api or OrderApi(aws.current().outputs().order_api_url)
    return api.place_order({
        "customerId": customer_id,
        "items": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
        "card": {"number": card_number},
    }, idempotency_key=idempotency_key)
