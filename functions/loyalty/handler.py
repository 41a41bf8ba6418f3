"""Loyalty: awards points for paid orders. A direct target of the loyalty bus: Lambda invokes
it asynchronously with one EventBridge event, retries failures, then sends the event to its
OnFailure destination."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import table_name_of
from functions.common.consumer import EventConsumer, logger, routed_actions
from functions.loyalty.ledger import DynamoLoyalty
from workflow.domain.loyalty import points_award
from workflow.model import LOYALTY_TABLE

ledger = DynamoLoyalty(table_name=table_name_of(LOYALTY_TABLE))
consumer = EventConsumer.from_environment(routed_actions("Loyalty", {
    "payment.taken": lambda event: points_award(event, ledger=ledger),
}))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    consumer.bind(context)
    consumer.consume(event, source=f"eventbridge:{event.get('id', '?')}")
