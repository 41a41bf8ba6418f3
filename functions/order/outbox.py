"""The order API's outbox: an order is placed crash-safe, so that it either completes or
never existed.

1. The API asks for the order to be checked later: a message to the `OrderOutbox` queue,
   which SQS holds back until the API's invocation can no longer be running.
2. It writes the order together with its `order.placed`, unpublished, in one write.
3. It publishes the event, then marks it published.

Dying anywhere leaves one of two states. Before step 2, nothing was written, and the check
finds no order: the order never existed (and no client was told otherwise). After it, the
check finds the order and, if it is still unpublished, `relay` publishes the very event that
was written, same id: consumers that had it already absorb it by that id.
"""

from __future__ import annotations

import json
from typing import Any

from functions.common.aws import EventBridgePublisher, aws_client
from functions.order.orders import DynamoOrders
from workflow.envelope import Event


class InvalidCheck(ValueError):
    """A message on the outbox queue that names no order: it can never succeed."""


class OutboxChecks:
    """Asks for an order to be checked once the queue's delay has passed."""

    def __init__(self, *, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self.client: Any = client or aws_client("sqs")

    def request(self, order_id: str) -> None:
        self.client.send_message(QueueUrl=self.queue_url,
                                 MessageBody=json.dumps({"orderId": order_id}))


def check_order_id(body: str) -> str:
    """The order a check names."""
    try:
        check = json.loads(body)
    except ValueError:
        raise InvalidCheck("a check is a JSON object naming an orderId") from None
    order_id = check.get("orderId") if isinstance(check, dict) else None
    if not isinstance(order_id, str) or not 0 < len(order_id) <= 64:
        raise InvalidCheck("a check names an orderId of 1 to 64 characters")
    return order_id


def relay(order_id: str, *, orders: DynamoOrders, publisher: EventBridgePublisher) -> Event | None:
    """Publish the order's `order.placed` if it was written but not published; returns what
    was published. An order that does not exist was never placed: nothing to do."""
    event = orders.unpublished(order_id)
    if event is None:
        return None
    publisher.publish([event])
    orders.published(order_id)
    return event
