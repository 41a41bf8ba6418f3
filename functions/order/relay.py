"""The order outbox's relay: publishes again the `order.placed` of each order still `placed`
when its check comes, in case the order API wrote it but did not get to publish it (see
`functions.order.outbox`). Fed by the `OrderOutbox` queue, one check per order placed, each
delivered once the API's invocation can no longer be running; the orders a batch of checks
names are read in one call."""

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

from functions.common.aws import DeadLetters, EventBridgePublisher, event_bus_name, table_name_of
from functions.common.consumer import logger
from functions.order.orders import DynamoOrders
from functions.order.outbox import InvalidCheck, Relay, check_order_id, checked_order_ids
from workflow.model import ORDERS_TABLE

orders = DynamoOrders(table_name=table_name_of(ORDERS_TABLE))
publisher = EventBridgePublisher(bus_name=event_bus_name())
dead_letters = DeadLetters.from_environment()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, relay: Relay) -> None:
    """Relay one check. A failure raises, so that SQS delivers the check again."""
    try:
        order_id = check_order_id(record.body)
    except InvalidCheck as error:
        logger.error("dead-lettering an invalid check", reason=str(error))
        dead_letters.send(record.body, reason=str(error), source=record.event_source_arn)
        return
    relayed = relay.relay(order_id)
    if relayed is not None:
        logger.warning("published again the order.placed of an order still placed at its check",
                       order_id=order_id, event_id=relayed.id)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A batch whose orders cannot be read fails whole, and comes back whole.
    relay = Relay(checked_order_ids(record["body"] for record in event["Records"]),
                  orders=orders, publisher=publisher)
    return process_partial_response(
        event=event, record_handler=lambda record: record_handler(record, relay),
        processor=processor, context=context)
