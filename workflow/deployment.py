"""How a deployment of the choreography is named and set: the CDK context keys that choose it,
and the physical names the stack's resources take from the stack's name.

The CDK app reads these settings and local mode sets them (`local.deploy`), so the keys are
named once, here. Names follow the stack's name so that several stacks (`choreo-dev` beside
`choreo-prod`, one per developer) share an account and region.
"""

from __future__ import annotations

import re
from typing import Any

from workflow.model import CHOREOGRAPHY, Bus, Choreography, queue_name

STACK_NAME = "choreo:stackName"
BUNDLE = "choreo:bundle"
NOTIFICATION_ENDPOINT = "choreo:notificationEndpoint"
NOTIFICATION_API_KEY_SECRET_NAME = "choreo:notificationApiKeySecretName"
# Which version of each event its producers publish: "order.placed=2" (see
# workflow.handler_env.EVENT_VERSIONS_ENV, the function setting it becomes). Unset: the model's.
EVENT_VERSIONS = "choreo:eventVersions"
# Whether the deployment carries the v1-only sales ledger and the translator that feeds it
# `order.placed` version 1 whatever version its producer publishes (workflow.legacy). Off: the
# choreography alone.
LEGACY_CONSUMER = "choreo:legacyConsumer"
# Set by local mode alone: the template is for the embedded AWS.
LOCAL = "choreo:local"

DEFAULT_STACK_NAME = "choreo"

# CloudFormation's rule for stack names, and the longest name each kind of resource takes.
_STACK_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_LONGEST_NAME = {"SQS queue": 80, "EventBridge bus": 256}


def stack_name_of(context: dict[str, Any]) -> str:
    return str(context.get(STACK_NAME) or DEFAULT_STACK_NAME)


def physical_names(stack_name: str,
                   choreography: Choreography = CHOREOGRAPHY) -> dict[str, list[str]]:
    """The names the stack gives its resources, by kind (everything else is named by
    CloudFormation, after the stack, with a random suffix)."""
    queues = [queue_name(f"{stack_name}-{queue.id}{suffix}", fifo=queue.fifo)
              for queue in choreography.queues for suffix in ("", "-dlq")]
    buses = [f"{stack_name}-{bus.value}" for bus in Bus]
    return {"SQS queue": queues, "EventBridge bus": buses}


def stack_name_problems(stack_name: str, choreography: Choreography = CHOREOGRAPHY) -> list[str]:
    """Why `stack_name` cannot name a stack of `choreography`, if it cannot."""
    if not _STACK_NAME_PATTERN.fullmatch(stack_name):
        return [f"{STACK_NAME}={stack_name!r} is not a CloudFormation stack name: a letter, then "
                "letters, digits and hyphens, at most 128 characters"]
    problems = []
    for kind, names in physical_names(stack_name, choreography).items():
        longest = max(names, key=len)
        if len(longest) > _LONGEST_NAME[kind]:
            problems.append(f"{STACK_NAME}={stack_name!r} is too long: the {kind} name "
                            f"{longest!r} would exceed {_LONGEST_NAME[kind]} characters")
    return problems
