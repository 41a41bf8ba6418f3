"""Delivers `order.placed` of a later version to the sales ledger as version 1: a direct
target of the rule pinned to those versions. It renders the event as version 1
(`workflow.legacy.as_version_one`, the converter's down-conversion) and sends the ledger's
queue the EventBridge event the version 1 rule would have delivered, same CloudEvent id.
An event it can never translate goes to its dead-letter queue with the reason; a failure to
send raises, and Lambda retries the invocation."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import DeadLetters, aws_client, queue_url_of
from workflow.envelope import InvalidEvent, parse_eventbridge
from workflow.legacy import SALES_LEDGER_QUEUE, as_version_one, delivered_as

logger = Logger()


class Translator:
    def __init__(self, *, queue_url: str, dead_letters: DeadLetters,
                 client: Any | None = None) -> None:
        self.queue_url = queue_url
        self.dead_letters = dead_letters
        self.client = client or aws_client("sqs")

    def deliver(self, eventbridge_event: dict[str, Any]) -> str | None:
        """Send the version 1 rendering of the event; its CloudEvent id, or None if the event
        was dead-lettered."""
        try:
            event = as_version_one(parse_eventbridge(eventbridge_event))
        except InvalidEvent as error:
            logger.error("dead-lettering an untranslatable event", reason=str(error))
            self.dead_letters.send(json.dumps(eventbridge_event), reason=str(error),
                                   source=f"eventbridge:{eventbridge_event.get('id', '?')}")
            return None
        self.client.send_message(QueueUrl=self.queue_url,
                                 MessageBody=json.dumps(delivered_as(eventbridge_event, event)))
        logger.info("delivered as version 1", event_id=event.id, order_id=event.subject)
        return event.id


_translator: Translator | None = None


def translator() -> Translator:
    global _translator
    if _translator is None:
        _translator = Translator(queue_url=queue_url_of(SALES_LEDGER_QUEUE),
                                 dead_letters=DeadLetters.from_environment())
    return _translator


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    translator().deliver(event)
