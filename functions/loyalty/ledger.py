"""The loyalty table: `AWARD#<orderId>` {points, event} once per order, and
`CUSTOMER#<customerId>` {points} summed in the same transaction."""

from __future__ import annotations

from typing import Any

from functions.common.aws import EffectRecords
from workflow.envelope import Event


class DynamoLoyalty:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.records = EffectRecords(table_name=table_name, client=client)

    def award_once(self, *, order_id: str, customer_id: str, points: int,
                   awarded: Event) -> Event:
        credit = self.records.update(f"CUSTOMER#{customer_id}",
                                     "ADD points :p", {":p": points})
        return self.records.once(f"AWARD#{order_id}", awarded, [credit],
                                 values={"points": points, "customerId": customer_id})

    def balance(self, customer_id: str) -> int:
        record = self.records.get(f"CUSTOMER#{customer_id}") or {}
        return int(record.get("points", 0))
