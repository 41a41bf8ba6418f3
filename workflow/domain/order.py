"""Order subdomain: placing an order, and concluding it from the events that end it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workflow.domain.payment import CardVault
from workflow.envelope import Event, new_event
from workflow.model import CHOREOGRAPHY, OrderStatus
from workflow.money import Money
from workflow.ports import Orders
from workflow.products import PRODUCTS_BY_SKU, Product

MAX_QUANTITY_PER_LINE = 100
MAX_LINES = 20
TERMINAL_STATUSES = tuple(OrderStatus(e.concludes_as) for e in CHOREOGRAPHY.events if e.concludes_as)
STATUSES = (OrderStatus.PLACED, *TERMINAL_STATUSES)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidOrder(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


def _is_text(value: str) -> bool:
    """JSON can carry lone surrogates ("\\ud800"), which no UTF-8 store will take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return value.isprintable()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_digits(card: Any, problems: list[FieldProblem]) -> str | None:
    if not isinstance(card, dict):
        problems.append(FieldProblem("card", "must be an object with a number"))
        return None
    number = card.get("number")
    if not isinstance(number, str):
        problems.append(FieldProblem("card.number", "is required, as a string"))
        return None
    digits = number.replace(" ", "").replace("-", "")
    # str.isdigit() alone takes "²" and Arabic-Indic digits, which are no card's
    if not (digits.isascii() and digits.isdigit()) or not 12 <= len(digits) <= 19 \
            or not _luhn_ok(digits):
        problems.append(FieldProblem("card.number", "is not a valid card number"))
        return None
    return digits


def _lines(items: Any, problems: list[FieldProblem]) -> list[tuple[Product, int]]:
    if not isinstance(items, list) or not items:
        problems.append(FieldProblem("items", "must be a non-empty list"))
        return []
    if len(items) > MAX_LINES:
        problems.append(FieldProblem("items", f"at most {MAX_LINES} lines"))
        return []
    quantities: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            problems.append(FieldProblem(where, "must be an object with sku and quantity"))
            continue
        sku, quantity = item.get("sku"), item.get("quantity")
        if not isinstance(sku, str) or not sku:
            problems.append(FieldProblem(f"{where}.sku", "is required, as a string"))
        elif sku not in PRODUCTS_BY_SKU:
            problems.append(FieldProblem(f"{where}.sku", f"unknown product {sku[:64]!r}"))
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            problems.append(FieldProblem(f"{where}.quantity", "is required, as an integer"))
        elif not 1 <= quantity <= MAX_QUANTITY_PER_LINE:
            problems.append(FieldProblem(f"{where}.quantity",
                                         f"must be between 1 and {MAX_QUANTITY_PER_LINE}"))
        elif isinstance(sku, str) and sku in PRODUCTS_BY_SKU:
            quantities[sku] = quantities.get(sku, 0) + quantity
    for sku, quantity in quantities.items():
        if quantity > MAX_QUANTITY_PER_LINE:
            problems.append(FieldProblem("items", f"{sku}: at most {MAX_QUANTITY_PER_LINE} in all"))
    return [(PRODUCTS_BY_SKU[sku], quantity) for sku, quantity in quantities.items()]


def order_place(*, request: Any, vault: CardVault, now: datetime | None = None,
                order_id: str | None = None) -> Event:
    """Validate an order request and make its `order.placed` event.

    Prices come from the catalogue, never from the client; the card number never leaves this
    function: events carry the vault's token and the last four digits only.
    """
    problems: list[FieldProblem] = []
    if not isinstance(request, dict):
        raise InvalidOrder([FieldProblem("", "the body must be a JSON object")])
    customer_id = request.get("customerId")
    if not isinstance(customer_id, str) or not customer_id.strip():
        problems.append(FieldProblem("customerId", "is required, as a non-empty string"))
    elif len(customer_id) > 64:
        problems.append(FieldProblem("customerId", "at most 64 characters"))
    elif not _is_text(customer_id):
        problems.append(FieldProblem("customerId", "must be valid Unicode text"))
    lines = _lines(request.get("items"), problems)
    digits = _card_digits(request.get("card"), problems)
    if problems:
        raise InvalidOrder(problems)
    assert isinstance(customer_id, str) and digits is not None
    now = now or datetime.now(UTC)
    order_id = order_id or f"ord-{uuid.uuid4().hex[:12]}"
    total = Money(0, lines[0][0].unit_price.currency)
    for product, quantity in lines:
        total = total + product.unit_price * quantity
    order = {
        "orderId": order_id,
        "customerId": customer_id.strip(),
        "placedAt": now.isoformat(),
        "lines": [{"sku": product.sku, "name": product.name, "quantity": quantity,
                   "unitPrice": product.unit_price.to_dict()} for product, quantity in lines],
        "total": total.to_dict(),
        "paymentMethod": {"token": vault.token(digits), "last4": digits[-4:]},
    }
    return new_event(type="order.placed", data={"order": order}, correlation_id=str(uuid.uuid4()),
                     subject=order_id, time=now)


def order_conclude(event: Event, *, orders: Orders, now: datetime | None = None) -> Event | None:
    """An ending event decides the order's terminal status; compensated endings are announced
    (`order.rejected`, `order.cancelled`). Returns the announcement to publish, if any."""
    now = now or datetime.now(UTC)
    order_id = event.order["orderId"]
    if event.type == "warehouse.order-shipped":
        return orders.conclude(order_id=order_id, status=OrderStatus.SHIPPED, concluded_by=event,
                               announcement=None)
    if event.type == "warehouse.stock-unavailable":
        outcome = {"status": OrderStatus.REJECTED.value, "reason": "stock unavailable",
                   "decidedAt": now.isoformat()}
        rejected = new_event(type="order.rejected", cause=event, data={
            "order": event.order, "unavailable": event.data["unavailable"], "outcome": outcome})
        return orders.conclude(order_id=order_id, status=OrderStatus.REJECTED, concluded_by=event,
                               announcement=rejected)
    if event.type == "warehouse.stock-released":
        outcome = {"status": OrderStatus.CANCELLED.value, "reason": event.data["decline"]["reason"],
                   "decidedAt": now.isoformat()}
        cancelled = new_event(type="order.cancelled", cause=event, data={
            "order": event.order, "decline": event.data["decline"],
            "release": event.data["release"], "outcome": outcome})
        return orders.conclude(order_id=order_id, status=OrderStatus.CANCELLED, concluded_by=event,
                               announcement=cancelled)
    raise ValueError(f"the order subdomain does not conclude on {event.type}")
