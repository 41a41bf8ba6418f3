"""The order API's outbox: an order is placed crash-safe, so that it either completes or
never existed.

1. The API asks for the order to be checked later: a message to the `OrderOutbox` queue,
   which SQS holds back until the API's invocation can no longer be running.
2. It writes the order, `placed`, together with its `order.placed`, in one write.
3. It publishes the event. Nothing is written after the publish.

Dying anywhere leaves one of two states. Before step 2, nothing was written, and the check
finds no order: the order never existed (and no client was told otherwise). After it, the
check finds the order, and `Relay` decides from its status alone whether its event could have
been lost:

- *Concluded* (shipped, rejected, cancelled): its `order.placed` reached the bus. An order is
  concluded only by `OrderEvents`, only on an event the warehouse published, and the
  warehouse publishes for an order only once `order.placed` has reached it. Nothing to do.
- *Still `placed`*: either the event never reached the bus, or it did and the order is
  still on its way a minute on (a backlog, a record being retried or dead-lettered). The two
  cannot be told apart from here, and need not be: the very event that was written is
  published again, same id. Had it been lost, the order now goes ahead; had it not, the
  warehouse absorbs the copy by its id (Powertools idempotency, whose window, an hour on AWS
  and ten minutes locally, outlasts the check's minute) and, past that, by its reservation's
  effect record, which returns the reservation's recorded event, same id.

So no order is lost, and an order costs nothing after its publish: the order API used to mark
each order published (an update per order) so that the check could tell the two cases apart;
the status tells them apart as well for every order that has ended by its check, which is
every order that is not stuck or far behind. The price is a copy of `order.placed` for an
order still under way after a minute, and at most one per check delivered: on the embedded
AWS, whose order API refuses work once an event has waited a second, none in 6,000 orders
at 5 to 10/s on a busy machine (docs/benchmarks.md). A backlog of minutes, on AWS, would copy
the event of every order it holds, once each: a publish, and a delivery to the warehouse
that ends at its idempotency record.

A check that reads the order just before a conclusion is written publishes a copy of an
order that has ended: the same copy, absorbed the same way. The relay reads the orders its
batch of checks names in one consistent BatchGetItem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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


def checked_order_ids(bodies: Iterable[str]) -> list[str]:
    """The orders a batch of checks names; a check that names none is left to its record."""
    order_ids = []
    for body in bodies:
        try:
            order_ids.append(check_order_id(body))
        except InvalidCheck:
            continue
    return order_ids


class Relay:
    """One batch of checks: the orders they name are read at once, then each check is
    relayed on its own, so that one that fails comes back alone."""

    def __init__(self, order_ids: Iterable[str], *, orders: DynamoOrders,
                 publisher: EventBridgePublisher) -> None:
        self.placed = orders.still_placed(order_ids)
        self.publisher = publisher

    def relay(self, order_id: str) -> Event | None:
        """Publish the order's `order.placed` again if the order is still `placed`; returns
        what was published. An order that does not exist was never placed, and one that has
        ended had its event published: nothing to do for either."""
        event = self.placed.get(order_id)
        if event is None:
            return None
        self.publisher.publish([event])
        del self.placed[order_id]  # a second check of it in this batch finds it published
        return event
