"""What each function's handler finds in its environment, declared once, from the model.

The stack writes exactly these variables (cdk/stack.py, cdk/constructs/notifications.py), the
handlers read them by the names made here (functions/common/aws.py), and the tests and the
benchmarks set them from the same declaration: a table, queue or secret given to a function
in the model reaches all of them under one name, and none of them can drift from the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from workflow.model import (
    IDEMPOTENCY_TABLE,
    NOTIFICATION_API_KEY,
    Choreography,
    Function,
    NotificationReceiver,
    ToNotification,
)

# The bus a function publishes to.
EVENT_BUS_NAME_ENV = "EVENT_BUS_NAME"
# Where a consumer sends what can never succeed: its queue's dead-letter queue, or its
# OnFailure queue when EventBridge invokes it directly.
DEAD_LETTER_QUEUE_URL_ENV = "DEAD_LETTER_QUEUE_URL"
# Set by Lambda itself in every execution environment, not by the stack: the function's name.
LAMBDA_FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"
# How long a consumer remembers that it handled a CloudEvent (`Choreography.idempotency_window_seconds`).
IDEMPOTENCY_WINDOW_ENV = "IDEMPOTENCY_WINDOW_SECONDS"
# Which version of each event its producer publishes: "order.placed=2[,other.type=3]", read by
# `workflow.versions.emitted_versions`. An event type it does not name is published in the
# model's version.
EVENT_VERSIONS_ENV = "EVENT_VERSIONS"


def table_env_var(table_id: str) -> str:
    """The variable a handler reads a table's name from: `ORDERS_TABLE_NAME`."""
    return f"{table_id.upper()}_TABLE_NAME"


def queue_env_var(queue_id: str) -> str:
    """The variable a handler reads the URL of a queue it sends to from: `ORDEROUTBOX_QUEUE_URL`."""
    return f"{queue_id.upper()}_QUEUE_URL"


def secret_env_var(secret_id: str) -> str:
    """The variable a handler reads a secret's ARN from: `CARD_TOKEN_KEY_SECRET_ARN`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", secret_id).upper() + "_SECRET_ARN"


class EnvKind(StrEnum):
    """What a variable stands for: each kind is one kind of value the stack puts there."""

    TABLE_NAME = "table name"
    QUEUE_URL = "queue URL"
    BUS_NAME = "bus name"
    DEAD_LETTER_QUEUE_URL = "dead-letter queue URL"
    SECRET_ARN = "secret ARN"
    IDEMPOTENCY_WINDOW = "idempotency window"
    EVENT_VERSIONS = "event versions"


@dataclass(frozen=True)
class EnvVar:
    """One variable of a handler's environment."""

    name: str
    kind: EnvKind
    ref: str
    """what it names: the table, queue or secret (its id) or the bus (its name); for the
    dead-letter queue, the idempotency window and the event versions, the function itself"""
    optional: bool = False
    """set only when a deployment setting asks for it (the event versions): the handler
    falls back to the model without it"""


def handler_environment(choreography: Choreography,
                        function: Function | NotificationReceiver) -> tuple[EnvVar, ...]:
    """The variables a function's handler is given: a table's name for each table it uses,
    a secret's ARN for each secret it reads, a queue's URL for each queue it sends to (its
    outbox's, or those it delivers to), the bus it publishes to and the versions it publishes
    in, and, if it consumes events, its idempotency window and its dead-letter queue."""
    if isinstance(function, NotificationReceiver):
        return (EnvVar(table_env_var(function.table.id), EnvKind.TABLE_NAME, function.table.id),
                EnvVar(secret_env_var(NOTIFICATION_API_KEY), EnvKind.SECRET_ARN,
                       NOTIFICATION_API_KEY))
    variables = [EnvVar(secret_env_var(secret), EnvKind.SECRET_ARN, secret)
                 for secret in function.secrets]
    variables += [EnvVar(table_env_var(table), EnvKind.TABLE_NAME, table)
                  for table in function.tables]
    sends_to = [*(queue.id for queue in choreography.outbox_queues(function.id)),
                *function.delivers_to]
    variables += [EnvVar(queue_env_var(queue), EnvKind.QUEUE_URL, queue) for queue in sends_to]
    if IDEMPOTENCY_TABLE in function.tables:
        variables.append(EnvVar(IDEMPOTENCY_WINDOW_ENV, EnvKind.IDEMPOTENCY_WINDOW, function.id))
    if function.publishes_to is not None:
        variables.append(EnvVar(EVENT_BUS_NAME_ENV, EnvKind.BUS_NAME, function.publishes_to.value))
        variables.append(EnvVar(EVENT_VERSIONS_ENV, EnvKind.EVENT_VERSIONS, function.id,
                                optional=True))
    consumes = any(queue.consumer == function.id for queue in choreography.queues)
    if consumes or function.id in choreography.direct_targets():
        variables.append(EnvVar(DEAD_LETTER_QUEUE_URL_ENV, EnvKind.DEAD_LETTER_QUEUE_URL,
                                function.id))
    return tuple(variables)


def handler_environments(choreography: Choreography) -> dict[str, tuple[EnvVar, ...]]:
    """Every function's environment, by function id; the notification receiver's too when a
    route notifies (the stack brings it unless the deployment names an endpoint)."""
    found = {function.id: handler_environment(choreography, function)
             for function in choreography.functions}
    if any(isinstance(route.target, ToNotification) for route in choreography.routes):
        receiver = choreography.notification_receiver
        found[receiver.function] = handler_environment(choreography, receiver)
    return found


Value = str | Callable[[EnvVar], str]


def environment_of(variables: Iterable[EnvVar], values: Mapping[EnvKind, Value]) -> dict[str, str]:
    """The environment `variables` make, given a value for each kind, or a function of the
    variable for a kind whose variables differ (a table's name): what a test or a benchmark
    sets where the stack would. An optional variable whose kind has no value is left out; a
    required one is refused, so that a kind added here is not forgotten there."""
    found: dict[str, str] = {}
    for variable in variables:
        value = values.get(variable.kind)
        if value is None:
            if variable.optional:
                continue
            raise KeyError(f"no value for {variable.name}, a {variable.kind}")
        found[variable.name] = value if isinstance(value, str) else value(variable)
    return found


def choreography_environment(choreography: Choreography,
                             values: Mapping[EnvKind, Value]) -> dict[str, str]:
    """One environment in which any function of the choreography can be imported and run:
    every function's variables, from `values` as `environment_of` takes them. A name several
    functions share (each consumer's own dead-letter queue) gets one value."""
    return environment_of((variable for function in choreography.functions
                           for variable in handler_environment(choreography, function)), values)
