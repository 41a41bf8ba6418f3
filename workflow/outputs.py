"""The stack's outputs: every key a client reads to find a deployed resource, named once.

The CDK app writes these outputs, the local mode reads them back from the embedded AWS,
and the dashboard, the tests and scripts read them from CloudFormation; all of them take
the keys from here, derived from the model, so a queue, function, table or bus added to the
model is found everywhere without another edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.model import CHOREOGRAPHY, INVENTORY_TABLE, ORDER_API, Bus, Choreography, HttpApi

OBSERVABILITY_QUEUE_URL = "ObservabilityQueueUrl"
OBSERVABILITY_LOG_GROUP_NAME = "ObservabilityLogGroupName"
NOTIFICATION_ENDPOINT = "NotificationEndpoint"
NOTIFICATION_API_KEY_SECRET_ARN = "NotificationApiKeySecretArn"

_DEAD_LETTERS = "DeadLetterQueueUrl"
RULE_TARGET = "RuleTarget"
OBSERVABILITY = "Observability"


def bus_name(bus: Bus) -> str:
    return f"{bus.value.title()}EventBusName"


def bus_arn(bus: Bus) -> str:
    """A bus's ARN: what a stack in another account or region targets and allows."""
    return f"{bus.value.title()}EventBusArn"


# Where a stack is (`workflow.placement`): its account and region, for the stacks that
# target its buses and the dashboard that draws the boundaries.
ACCOUNT = "Account"
REGION = "Region"


def queue_url(queue_id: str) -> str:
    return f"{queue_id}QueueUrl"


def dead_letter_queue_url(owner: str) -> str:
    """A dead-letter queue's URL: of a queue of the model (by its id), or of RULE_TARGET or
    OBSERVABILITY."""
    return f"{owner}{_DEAD_LETTERS}"


def failure_queue_url(function_id: str) -> str:
    """The OnFailure destination of a function EventBridge invokes directly."""
    return f"{function_id}FailureQueueUrl"


def function_name(function_id: str) -> str:
    return f"{function_id}FunctionName"


def table_name(table_id: str) -> str:
    return f"{table_id}TableName"


def http_api_url(api: HttpApi) -> str:
    return f"{api.function}Url"


ORDER_API_URL = http_api_url(CHOREOGRAPHY.http_api(ORDER_API))
"""where orders are placed and read (the dashboard's form, the load generator)"""
INVENTORY_TABLE_NAME = table_name(INVENTORY_TABLE)
"""where stock is kept (seeding and topping up)"""
NOTIFICATIONS_TABLE_NAME = table_name(CHOREOGRAPHY.notification_receiver.table.id)
"""what the stack's own notification receiver kept (absent when notifications go elsewhere)"""


@dataclass(frozen=True)
class DeadLetterOutput:
    """A queue where what failed for good ends up, as the outputs name it and the Failures
    page shows it."""

    name: str
    """short and unique: a queue's id, RULE_TARGET, OBSERVABILITY, or `<Function>Failure`"""
    key: str
    purpose: str
    source_queue_key: str | None = None
    """the queue whose redrive policy sends here: a redrive hands its messages back there;
    None: a redrive publishes them again on the global bus"""
    max_receive_count: int | None = None

    @property
    def redrive(self) -> str:
        """Where a redrive sends this queue's messages, in words."""
        if self.source_queue_key is not None:
            return f"back to the {self.name} queue"
        return "published again on the global bus (a message holding no event stays)"


def dead_letter_outputs(choreography: Choreography) -> tuple[DeadLetterOutput, ...]:
    """Every dead-letter queue of the stack, in the order the Failures page lists them."""
    return (
        *(DeadLetterOutput(queue.id, dead_letter_queue_url(queue.id),
                           f"what the {queue.consumer} function refused, or failed on every "
                           "delivery", queue_url(queue.id), queue.max_receive_count)
          for queue in choreography.queues),
        *(DeadLetterOutput(f"{function_id}Failure", failure_queue_url(function_id),
                           f"events Lambda gave up invoking the {function_id} function with")
          for function_id in choreography.direct_targets()),
        DeadLetterOutput(RULE_TARGET, dead_letter_queue_url(RULE_TARGET),
                         "what EventBridge could not deliver to a rule target"),
        DeadLetterOutput(OBSERVABILITY, dead_letter_queue_url(OBSERVABILITY),
                         "observations the dashboard's poller failed to handle"),
    )
