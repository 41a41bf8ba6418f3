"""cdk-nag's AWS Solutions checks, and why each finding they raise here is acceptable.

cdk-nag 3 is a policy-validation plugin: synth fails on any finding not acknowledged here,
on the narrowest construct it applies to.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk.aws_secretsmanager import Secret
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from cdk.replica import ObservabilityReplicaStack
from cdk.stack import ChoreoStack

PACK = "AwsSolutions"


def _acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))


def nag_checks_add(app: App, *stacks: ChoreoStack | Stack) -> None:
    """Add the checks to `app` and acknowledge what is acceptable in each of `stacks`."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    for stack in stacks:
        if isinstance(stack, ChoreoStack):
            _acknowledge_findings(stack)
        elif isinstance(stack, ObservabilityReplicaStack):
            _acknowledge_rule_target_dead_letters(stack.buses.rule_target_dead_letter_queue)


def _acknowledge_rule_target_dead_letters(queue: IConstruct) -> None:
    _acknowledge(queue, "SQS3",
                 "This queue is the dead-letter queue of every EventBridge rule target "
                 "(each target's DeadLetterConfig names it); a dead-letter queue needs none.")


def _acknowledge_findings(stack: ChoreoStack) -> None:

    # SQS3 only counts a queue as a dead-letter queue when another queue's redrive policy
    # names it. These two are dead-letter queues by the other two ways AWS has.
    _acknowledge_rule_target_dead_letters(stack.buses.rule_target_dead_letter_queue)
    for failure_queue in stack.failure_queues.values():
        _acknowledge(failure_queue, "SQS3",
                     "This queue is a Lambda OnFailure destination: the dead-letter queue of "
                     "the function's asynchronous invocations; a dead-letter queue needs none.")

    receiver = stack.notifications.receiver if stack.notifications else None
    functions = [*stack.functions.values(), *([receiver.function] if receiver else [])]
    for function in functions:
        _acknowledge(function, "L1",
                     "The runtime is pinned on purpose: the dependency layer's wheels are "
                     "resolved for this Python version, so the runtime moves only together "
                     "with the layer and the project's supported Python.")

    for subdomain in stack.subdomains.values():
        for http_api in subdomain.http_apis.values():
            _acknowledge(http_api, "APIG4",
                         "The order API is a shop's public front: anyone may browse the "
                         "catalogue and place an order. Input is validated and size-capped, "
                         "prices come from the catalogue, never from the client; customer "
                         "sign-in is outside this reference app.")

    if stack.notifications and isinstance(stack.notifications.api_key, Secret):
        _acknowledge(stack.notifications.api_key, "SMG4",
                     "The notification API key is shared with the endpoint: rotating it "
                     "means changing it on both sides at once, which an automatic rotation "
                     "cannot do for an outside endpoint. Rotate it by hand (docs/deploy.md); "
                     "the stack's own receiver reads the new value within five minutes.")
    for secret in stack.secrets.values():
        _acknowledge(secret, "SMG4",
                     "Rotating the card-token key gives every card a new token: an order in "
                     "flight under the old key would not be recognised. Rotate it by hand, "
                     "between orders (docs/decisions.md).")
