"""Payment: charges orders whose stock is reserved. Fed by the `Payment` queue."""

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

from functions.common.aws import card_vault, table_name_of
from functions.common.consumer import EventConsumer, logger, routed_actions
from functions.payment.ledger import DynamoPayments
from workflow.domain.payment import payment_take
from workflow.model import PAYMENTS_TABLE

payments = DynamoPayments(table_name=table_name_of(PAYMENTS_TABLE))
consumer = EventConsumer.from_environment(routed_actions("Payment", {
    "warehouse.stock-reserved": lambda event: payment_take(event, payments=payments,
                                                           vault=card_vault()),
}))
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    consumer.consume(record.body, source=record.event_source_arn)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    consumer.bind(context)
    with consumer.batch():
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=processor, context=context)
