"""Warehouse subdomain: reserve all lines or none, ship what is reserved, release on decline.

Stock is conserved: for every product, available + reserved + shipped = the initial stock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from workflow.envelope import Event, new_event
from workflow.ports import Inventory, Line, Shortage


def order_lines(event: Event) -> list[Line]:
    return [Line(line["sku"], line["quantity"]) for line in event.order["lines"]]


def stock_reserve(placed: Event, *, inventory: Inventory, now: datetime | None = None) -> Event:
    now = now or datetime.now(UTC)
    order = placed.order
    reserved = new_event(type="warehouse.stock-reserved", cause=placed, data={
        "order": order,
        "reservation": {"reservationId": f"res-{order['orderId']}",
                        "reservedAt": now.isoformat()}})

    def unavailable(shortages: Sequence[Shortage]) -> Event:
        return new_event(type="warehouse.stock-unavailable", cause=placed, data={
            "order": order,
            "unavailable": {"shortages": [
                {"sku": s.sku, "requested": s.requested, "available": s.available}
                for s in shortages]}})

    return inventory.reserve(order_id=order["orderId"], lines=order_lines(placed),
                             reserved=reserved, unavailable=unavailable)


def order_ship(awarded: Event, *, inventory: Inventory, now: datetime | None = None) -> Event:
    now = now or datetime.now(UTC)
    order = awarded.order
    shipped = new_event(type="warehouse.order-shipped", cause=awarded, data={
        "order": order, "reservation": awarded.data["reservation"],
        "payment": awarded.data["payment"], "points": awarded.data["points"],
        "shipping": {"shipmentId": f"shp-{order['orderId']}", "shippedAt": now.isoformat()}})
    return inventory.ship(order_id=order["orderId"], shipped=shipped)


def stock_release(declined: Event, *, inventory: Inventory,
                  now: datetime | None = None) -> Event:
    now = now or datetime.now(UTC)
    released = new_event(type="warehouse.stock-released", cause=declined, data={
        "order": declined.order, "reservation": declined.data["reservation"],
        "decline": declined.data["decline"], "release": {"releasedAt": now.isoformat()}})
    return inventory.release(order_id=declined.order["orderId"], released=released)
