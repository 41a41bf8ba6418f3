"""The warehouse's DynamoDB table: stock per product, and one record per order's reservation.

Items: `PRODUCT#<sku>` {available, reserved, shipped}; `RESERVATION#<orderId>` {lines,
linesDigest, state, event}; `SHIPMENT#<orderId>` and `RELEASE#<orderId>` {event}. Each effect
is one transaction, written first: only when it is cancelled is anything read, to learn why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from functions.common.aws import EffectRecords
from workflow.envelope import Event
from workflow.ports import EffectConflict, Line, PreconditionNotMet, Shortage
from workflow.stock import STOCK_FIELDS, product_key


def lines_digest(lines: Sequence[tuple[str, int]]) -> str:
    """What a reservation was made of, in a form a condition can compare: shipping or
    releasing moves exactly the units the reservation took, whatever the event says."""
    return hashlib.sha256(json.dumps([[sku, quantity] for sku, quantity in lines],
                                     separators=(",", ":")).encode()).hexdigest()[:32]


def event_lines(event: Event) -> list[tuple[str, int]]:
    return [(line["sku"], int(line["quantity"])) for line in event.order["lines"]]


class DynamoInventory:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.records = EffectRecords(table_name=table_name, client=client)

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
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
            "linesDigest": lines_digest([(line.sku, line.quantity) for line in lines])})

    def _settle_effects(self, order_id: str, lines: Sequence[tuple[str, int]], *, to_state: str,
                        stock_update: str, digest: str | None) -> list[dict[str, Any]]:
        condition = "#state = :from" + (" AND linesDigest = :digest" if digest else "")
        values = {":to": to_state, ":from": "reserved", **({":digest": digest} if digest else {})}
        return [self.records.update(f"RESERVATION#{order_id}", "SET #state = :to", values,
                                    condition=condition, names={"#state": "state"}),
                *(self.records.update(product_key(sku), stock_update, {":q": quantity})
                  for sku, quantity in lines)]

    def _settle(self, order_id: str, *, kind: str, event: Event, to_state: str,
                stock_update: str) -> Event:
        """Move a reservation's units on, once: written first with the lines the event
        carries, on condition that they are the lines reserved; if that is cancelled, the
        records tell why (done already, not reserved yet, reserved otherwise, or reserved
        before reservations kept a digest, which is then settled from the record)."""
        key = f"{kind}#{order_id}"
        lines = event_lines(event)

        def from_the_records(_codes: list[str]) -> Event:
            recorded = self.records.recorded_event(key)
            if recorded is not None:
                return recorded
            reservation = self.records.get(f"RESERVATION#{order_id}")
            if reservation is None:
                raise PreconditionNotMet(f"order {order_id} has no reservation yet")
            if reservation["state"] != "reserved":
                raise EffectConflict(f"order {order_id} reservation is {reservation['state']}, "
                                     f"cannot move it to {to_state}")
            reserved = [(line["sku"], int(line["quantity"])) for line in reservation["lines"]]
            return self.records.once(key, event, self._settle_effects(
                order_id, reserved, to_state=to_state, stock_update=stock_update, digest=None))

        return self.records.once(key, event, self._settle_effects(
            order_id, lines, to_state=to_state, stock_update=stock_update,
            digest=lines_digest(lines)), on_conflict=from_the_records)

    def ship(self, *, order_id: str, shipped: Event) -> Event:
        return self._settle(order_id, kind="SHIPMENT", event=shipped, to_state="shipped",
                            stock_update="SET reserved = reserved - :q, shipped = shipped + :q")

    def release(self, *, order_id: str, released: Event) -> Event:
        return self._settle(order_id, kind="RELEASE", event=released, to_state="released",
                            stock_update="SET reserved = reserved - :q, available = available + :q")
