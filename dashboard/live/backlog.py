"""What the functions have still to do, shown on the live page."""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from dashboard import aws
from dashboard.orders.order_api import OrderApiError
from dashboard.orders.selectors import order_api_or_none
from dashboard.shared.problems import Problem
from workflow.model import CHOREOGRAPHY


@dataclass(frozen=True)
class QueueBacklog:
    queue_id: str
    consumer: str
    waiting: int
    in_flight: int
    # held back by the queue (the order outbox's checks, due a minute on): not work yet, as
    # SQS counts them apart and the local Lambda service does
    delayed: int = 0

    @property
    def total(self) -> int:
        return self.waiting + self.in_flight


@dataclass(frozen=True)
class Backlog:
    """What the functions have still to do: the messages in the model's queues, waiting or
    being worked on. A backlog that grows means events arrive faster than they are handled."""

    queues: list[QueueBacklog]
    refused: dict[str, int] = field(default_factory=dict)
    """The order API's refusals so far (local mode): `429` throttled, `503` shed."""
    problem: Problem | None = None

    @property
    def total(self) -> int:
        return sum(queue.total for queue in self.queues)


def backlog_get() -> Backlog:
    context = aws.current()
    outputs = context.outputs_or_none()
    if outputs is None:
        return Backlog([], problem=Problem(status=503, title="AWS unreachable",
                                           detail=f"the stack {context.stack_name} could not be read"))
    sqs = context.client("sqs")
    queues = []
    try:
        for queue in CHOREOGRAPHY.queues:
            url = outputs.queue_url(queue.id)
            if url is None:
                continue
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            queues.append(QueueBacklog(
                queue_id=queue.id, consumer=queue.consumer,
                waiting=int(attributes.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0))))
    except (BotoCoreError, ClientError) as error:
        return Backlog(queues, problem=Problem(status=503, title="SQS could not be asked",
                                               detail=str(error)))
    refused: dict[str, int] = {}
    api = order_api_or_none()
    if api is not None and not settings.PRODUCTION:
        try:
            stats = api.runtime_stats()
        except OrderApiError:
            stats = {}
        refused = {status: count for status, count in (stats.get("apiRefused") or {}).items()
                   if isinstance(count, int)}
    return Backlog(queues, refused=refused)
