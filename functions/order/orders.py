"""The order subdomain's table: `ORDER#<orderId>` {status, order, correlationId, placedEvent,
concludedBy, announcement}."""

from __future__ import annotations

from typing import Any

from functions.common.aws import EffectRecords
from workflow.envelope import Event, parse_cloudevent
from workflow.model import OrderStatus
from workflow.ports import PreconditionNotMet


def order_key(order_id: str) -> str:
    return f"ORDER#{order_id}"


class DynamoOrders:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.records = EffectRecords(table_name=table_name, client=client)

    def add(self, placed: Event) -> None:
        codes = self.records.transact([self.records.put_new(order_key(placed.subject), {
            "orderId": placed.subject, "status": OrderStatus.PLACED.value,
            "correlationId": placed.correlation_id,
            "placedAt": placed.order["placedAt"], "event": placed.to_json()})])
        if codes is not None:
            raise RuntimeError(f"order {placed.subject} exists already")

    def remove(self, order_id: str) -> None:
        self.records.client.delete_item(TableName=self.records.table_name,
                                        Key={"pk": {"S": order_key(order_id)}})

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
