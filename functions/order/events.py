"""Order events: keeps each order's status from the events that end it, and announces
compensated endings (`order.rejected`, `order.cancelled`). Fed by the `Order` queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import table_name_of
from functions.common.consumer import EventConsumer, logger
from functions.order.orders import DynamoOrders
from workflow.domain.order import order_conclude
from workflow.model import CHOREOGRAPHY, ORDERS_TABLE

orders = DynamoOrders(table_name=table_name_of(ORDERS_TABLE))
consumer = EventConsumer.from_environment({
    event_type: lambda event: order_conclude(event, orders=orders)
    for event_type in CHOREOGRAPHY.consumed_by("OrderEvents")
})
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    consumer.consume(record.body, source=record.event_source_arn)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    consumer.bind(context)
    with consumer.batch():
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=processor, context=context)
