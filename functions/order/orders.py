"""The order subdomain's table: `ORDER#<orderId>` {orderId, status, correlationId, placedAt,
event, concludedBy, concludedAt, announcement, fingerprint}` (`fingerprint` only for an order
placed with an `Idempotency-Key`: `functions.order.idempotency`).

An order is its own outbox: it is written in one put together with its `order.placed`
(`event`). An order still `placed` when its check comes, a minute on, has that same event
published again, same id (`functions.order.outbox`). Orders written before the order API
stopped marking them carry a `published` flag, which nothing reads any more."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from functions.common.aws import EffectRecords
from workflow.envelope import Event, parse_cloudevent
from workflow.model import OrderStatus
from workflow.ports import PreconditionNotMet


class OrderExists(Exception):
    """An order of that id is recorded already."""


def order_key(order_id: str) -> str:
    return f"ORDER#{order_id}"


class DynamoOrders:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.records = EffectRecords(table_name=table_name, client=client)

    def add(self, placed: Event, *, fingerprint: str | None = None) -> None:
        """The order and its `order.placed`, in one write; OrderExists if its id is taken."""
        record = {"orderId": placed.subject, "status": OrderStatus.PLACED.value,
                  "correlationId": placed.correlation_id,
                  "placedAt": placed.order["placedAt"], "event": placed.to_json()}
        if fingerprint is not None:
            record["fingerprint"] = fingerprint
        codes = self.records.transact([self.records.put_new(order_key(placed.subject), record)])
        if codes is not None:
            raise OrderExists(f"order {placed.subject} exists already")

    def still_placed(self, order_ids: Iterable[str]) -> dict[str, Event]:
        """The `order.placed` of each of these orders that exists and is still `placed`, by
        order id, read in one call for up to 100 orders."""
        records = self.records.get_many((order_key(order_id) for order_id in order_ids),
                                        attributes=("orderId", "status", "event"))
        return {record["orderId"]: parse_cloudevent(record["event"])
                for record in records.values()
                if record["status"] == OrderStatus.PLACED.value}

    def get(self, order_id: str) -> dict[str, Any] | None:
        return self.records.get(order_key(order_id))

    def conclude(self, *, order_id: str, status: str, concluded_by: Event,
                 announcement: Event | None) -> Event | None:
        values: dict[str, Any] = {":to": status, ":placed": OrderStatus.PLACED.value, ":by": concluded_by.id,
                                  ":at": concluded_by.time.isoformat()}
        expression = "SET #status = :to, concludedBy = :by, concludedAt = :at"
        if announcement is not None:
            values[":announcement"] = announcement.to_json()
            expression += ", announcement = :announcement"
        codes = self.records.transact([self.records.update(
            order_key(order_id), expression, values, condition="#status = :placed",
            names={"#status": "status"})])
        if codes is None:
            return announcement
        record = self.get(order_id)
        if record is None:
            raise PreconditionNotMet(f"order {order_id} is not recorded yet")
        # concluded before: whatever concluded it stands, and its announcement is repeated
        return parse_cloudevent(record["announcement"]) if "announcement" in record else None
