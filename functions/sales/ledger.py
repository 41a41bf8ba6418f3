"""The sales ledger: each day's sales per currency, in minor units. Fed by the `SalesLedger`
queue, which a rule pinned to `order.placed` version 1 and the translator (version 2 rendered
as 1) deliver to.

It stands for a consumer written before version 2 and never changed: it reads the EventBridge
event as plain JSON, takes `data.order.total.amount` as an integer, and does not go through the
project's converter. An event of another version is not its to read: the record fails, and
the queue's redrive sets it aside. Each order is counted once (`ORDER#<orderId>`, written in
one transaction with the day's totals), however often and by whichever route it comes.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import EffectRecords, table_name_of
from workflow.legacy import SALES_LEDGER_TABLE

READS = "urn:choreo:schema:order.placed:1"

logger = Logger()


class SalesLedger:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.records = EffectRecords(table_name=table_name, client=client)

    def record(self, body: str) -> bool:
        """Count the order of one delivered EventBridge event; False if it was counted."""
        cloudevent = json.loads(body)["detail"]
        if cloudevent.get("dataschema") != READS:
            raise ValueError(f"the sales ledger reads {READS} only, "
                             f"not {cloudevent.get('dataschema')!r}")
        total = cloudevent["data"]["order"]["total"]
        amount = total["amount"]
        if not isinstance(amount, int):
            raise ValueError(f"total.amount {amount!r} is not an integer of minor units")
        day = cloudevent["time"][:10]
        codes = self.records.transact([
            self.records.put_new(f"ORDER#{cloudevent['subject']}",
                                 {"eventId": cloudevent["id"], "day": day, "amount": amount,
                                  "currency": total["currency"]}),
            self.records.update(f"DAY#{day}#{total['currency']}",
                                "ADD amount :a, orders :one", {":a": amount, ":one": 1}),
        ])
        if codes is None:
            return True
        if self.records.get(f"ORDER#{cloudevent['subject']}") is not None:
            return False
        raise RuntimeError(f"sales of {cloudevent['subject']} not recorded: {codes}")

    def day(self, day: str, currency: str) -> dict[str, int]:
        """A day's totals in one currency: `amount` in minor units and `orders` counted."""
        record = self.records.get(f"DAY#{day}#{currency}") or {}
        return {"amount": int(record.get("amount", 0)), "orders": int(record.get("orders", 0))}


processor = BatchProcessor(event_type=EventType.SQS)
_ledger: SalesLedger | None = None


def ledger() -> SalesLedger:
    global _ledger
    if _ledger is None:
        _ledger = SalesLedger(table_name=table_name_of(SALES_LEDGER_TABLE))
    return _ledger


def record_handler(record: SQSRecord) -> None:
    counted = ledger().record(record.body)
    logger.info("sales recorded" if counted else "order already counted",
                message_id=record.message_id)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
