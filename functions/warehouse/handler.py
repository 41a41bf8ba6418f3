"""Warehouse: reserves stock for placed orders, ships paid-and-awarded ones, releases the
stock of declined ones. Fed by the `Warehouse.fifo` queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import table_name_of
from functions.common.consumer import EventConsumer, logger, routed_actions
from functions.warehouse.inventory import DynamoInventory
from workflow.domain.warehouse import order_ship, stock_release, stock_reserve
from workflow.model import INVENTORY_TABLE

inventory = DynamoInventory(table_name=table_name_of(INVENTORY_TABLE))
consumer = EventConsumer.from_environment(routed_actions("Warehouse", {
    "order.placed": lambda event: stock_reserve(event, inventory=inventory),
    "loyalty.points-awarded": lambda event: order_ship(event, inventory=inventory),
    "payment.declined": lambda event: stock_release(event, inventory=inventory),
}))
processor = SqsFifoPartialProcessor()


def record_handler(record: SQSRecord) -> None:
    consumer.consume(record.body, source=record.event_source_arn)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    consumer.bind(context)
    with consumer.batch():
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=processor, context=context)
