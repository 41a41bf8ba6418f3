"""The payment subdomain's table: `PAYMENT#<orderId>` {outcome, event}, one per order."""

from __future__ import annotations

from typing import Any

from functions.common.aws import EffectRecords
from workflow.envelope import Event


class DynamoPayments:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.records = EffectRecords(table_name=table_name, client=client)

    def charge_once(self, *, order_id: str, outcome: Event) -> Event:
        return self.records.once(f"PAYMENT#{order_id}", outcome, [],
                                 values={"outcome": outcome.type})
