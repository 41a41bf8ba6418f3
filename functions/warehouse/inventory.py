"""The warehouse's DynamoDB table: stock per product, and one record per order's reservation.

Items: `PRODUCT#<sku>` {available, reserved, shipped}; `RESERVATION#<orderId>` {lines, state,
event}; `SHIPMENT#<orderId>` and `RELEASE#<orderId>` {event}. Each effect is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from functions.common.aws import EffectRecords
from workflow.envelope import Event
from workflow.ports import EffectConflict, Line, PreconditionNotMet, Shortage
from workflow.products import PRODUCTS
from workflow.stock import STOCK_FIELDS, product_key


class DynamoInventory:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.records = EffectRecords(table_name=table_name, client=client)

    def seed(self) -> int:
        """Stock every catalogue product that has no stock record yet."""
        seeded = 0
        for product in PRODUCTS:
            codes = self.records.transact([self.records.put_new(product_key(product.sku), {
                "sku": product.sku, "available": product.initial_stock, "reserved": 0,
                "shipped": 0, "initial": product.initial_stock})])
            seeded += codes is None
        return seeded

    def stock(self, sku: str) -> dict[str, int]:
        record = self.records.get(product_key(sku)) or {}
        return {name: int(record.get(name, 0)) for name in STOCK_FIELDS}

    def reserve(self, *, order_id: str, lines: Sequence[Line], reserved: Event,
                unavailable: Callable[[Sequence[Shortage]], Event]) -> Event:
        key = f"RESERVATION#{order_id}"
        take = [self.records.update(
            product_key(line.sku),
            "SET available = available - :q, reserved = reserved + :q",
            {":q": line.quantity}, condition="available >= :q") for line in lines]

        def short(_codes: list[str]) -> Event:
            shortages = [Shortage(line.sku, line.quantity, self.stock(line.sku)["available"])
                         for line in lines]
            short_lines = [s for s in shortages if s.available < s.requested] or shortages
            return self.records.once(key, unavailable(short_lines), [],
                                     values={"state": "unavailable"})

        return self.records.once(key, reserved, take, on_conflict=short, values={
            "state": "reserved",
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in lines]})

    def _reservation(self, order_id: str) -> dict[str, Any]:
        reservation = self.records.get(f"RESERVATION#{order_id}")
        if reservation is None:
            raise PreconditionNotMet(f"order {order_id} has no reservation yet")
        return reservation

    def _settle(self, order_id: str, *, kind: str, event: Event, to_state: str,
                stock_update: str) -> Event:
        recorded = self.records.recorded_event(f"{kind}#{order_id}")
        if recorded is not None:
            return recorded
        reservation = self._reservation(order_id)
        if reservation["state"] != "reserved":
            raise EffectConflict(f"order {order_id} reservation is {reservation['state']}, "
                                 f"cannot move it to {to_state}")
        effects = [self.records.update(f"RESERVATION#{order_id}", "SET #state = :to",
                                       {":to": to_state, ":from": "reserved"},
                                       condition="#state = :from", names={"#state": "state"})]
        effects += [self.records.update(product_key(line["sku"]), stock_update,
                                        {":q": int(line["quantity"])})
                    for line in reservation["lines"]]
        return self.records.once(f"{kind}#{order_id}", event, effects)

    def ship(self, *, order_id: str, shipped: Event) -> Event:
        return self._settle(order_id, kind="SHIPMENT", event=shipped, to_state="shipped",
                            stock_update="SET reserved = reserved - :q, shipped = shipped + :q")

    def release(self, *, order_id: str, released: Event) -> Event:
        return self._settle(order_id, kind="RELEASE", event=released, to_state="released",
                            stock_update="SET reserved = reserved - :q, available = available + :q")
