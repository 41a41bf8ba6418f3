"""The EventBridge rules of the model's routes, each matching exactly one (source,
detail-type) pair on the route's bus and delivering to the route's target.

A route to a FIFO queue is one rule per partition of the orders (`Choreography.rules_of`):
EventBridge gives a rule's SQS target one fixed message group, so the partition each event
carries (`partitionkey`) picks the rule, and the rule the group. One more rule takes the
events that name no partition, so that every event of the route is delivered by exactly one
rule.

No rule grants itself anything: CDK's targets add a queue-policy statement per rule to the
queue they deliver to and to the dead-letter queue, which SQS caps at 20 statements and
8 KB. The stack grants each queue to the rules of its buses once (`rule_delivery_grant`).
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from workflow.model import (
    Bus,
    Choreography,
    Route,
    RouteRule,
    ToBus,
    ToFunction,
    ToNotification,
    ToQueue,
)
from workflow.rules import route_event_pattern

# How long EventBridge keeps trying to hand an event to a target that fails (throttled,
# unreachable, deleted) before it dead-letters it: long enough to ride out a short outage.
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(1)

# The API destination posts the CloudEvent alone (the EventBridge `detail`), in structured
# mode, as the CloudEvents HTTP binding has it.
NOTIFICATION_HEADERS = {"Content-Type": "application/cloudevents+json"}
NOTIFICATION_BODY = events.RuleTargetInput.from_event_path("$.detail")

EVENTS_PRINCIPAL = iam.ServicePrincipal("events.amazonaws.com")

RETRY_POLICY = events.CfnRule.RetryPolicyProperty(
    maximum_retry_attempts=TARGET_RETRY_ATTEMPTS,
    maximum_event_age_in_seconds=int(TARGET_MAX_EVENT_AGE.to_seconds()))


def rule_delivery_grant(queue: sqs.IQueue, buses: list[events.IEventBus], *, sid: str) -> None:
    """Let every rule of `buses` send to `queue`: one statement, however many rules."""
    stack = Stack.of(queue)
    queue.add_to_resource_policy(iam.PolicyStatement(
        sid=sid, principals=[EVENTS_PRINCIPAL], actions=["sqs:SendMessage"],
        resources=[queue.queue_arn],
        conditions={"ArnLike": {"aws:SourceArn": [
            stack.format_arn(service="events", resource="rule",
                             resource_name=f"{bus.event_bus_name}/*")
            for bus in buses]}}))


@jsii.implements(events.IRuleTarget)
class QueueTarget:
    """An SQS queue as a rule target, in one message group if it is FIFO; unlike CDK's
    `SqsQueue`, it leaves the queue's policy to the stack."""

    def __init__(self, queue: sqs.IQueue, *, message_group_id: str | None,
                 dead_letter_queue: sqs.IQueue) -> None:
        self.queue = queue
        self.message_group_id = message_group_id
        self.dead_letter_queue = dead_letter_queue

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self.queue.queue_arn,
            sqs_parameters=events.CfnRule.SqsParametersProperty(
                message_group_id=self.message_group_id) if self.message_group_id else None,
            retry_policy=RETRY_POLICY,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self.dead_letter_queue.queue_arn))


@jsii.implements(events.IRuleTarget)
class WithDeadLetterQueue:
    """Any CDK rule target, with a dead-letter queue whose policy the stack writes once (CDK's
    targets add a statement to it for every rule)."""

    def __init__(self, target: events.IRuleTarget, *, dead_letter_queue: sqs.IQueue) -> None:
        self.target = target
        self.dead_letter_queue = dead_letter_queue

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        config = self.target.bind(rule, id)
        return events.RuleTargetConfig(
            arn=config.arn, role=config.role, input=config.input,
            retry_policy=config.retry_policy, http_parameters=config.http_parameters,
            sqs_parameters=config.sqs_parameters, target_resource=config.target_resource,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self.dead_letter_queue.queue_arn))


class Routes(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, choreography: Choreography,
                 buses: dict[Bus, events.EventBus], queues: dict[str, sqs.IQueue],
                 functions: dict[str, lambda_.IFunction],
                 destinations: dict[str, events.ApiDestination],
                 dead_letter_queue: sqs.IQueue, remote_buses: dict[Bus, str] | None = None,
                 remote_roles: dict[Bus, str] | None = None) -> None:
        super().__init__(scope, construct_id)
        self._choreography = choreography
        self._buses = buses
        # The buses of other stacks (another account or region), by ARN: a route to one is a
        # cross-account or cross-region bus target, with a role and the DLQ.
        self._remote_buses: dict[Bus, events.IEventBus] = {
            bus: events.EventBus.from_event_bus_arn(self, f"Remote{bus.value.title()}Bus", arn)
            for bus, arn in (remote_buses or {}).items()}
        # The role of a target on another account's bus, which that bus's policy names, is
        # in a stack of its own (`cdk.forwarding`); any other bus target gets one of its own.
        self._remote_roles: dict[Bus, iam.IRole] = {
            bus: iam.Role.from_role_arn(self, f"Forward{bus.value.title()}Role", arn,
                                        mutable=False)
            for bus, arn in (remote_roles or {}).items()}
        self._queues = queues
        self._functions = functions
        self._destinations = destinations
        self._dead_letter_queue = dead_letter_queue
        self.rules: dict[str, events.Rule] = {}
        for route in choreography.routes:
            for rule in choreography.rules_of(route):
                if rule.rule_id in self.rules:
                    raise ValueError(f"two routes would make the rule {rule.rule_id}")
                self.rules[rule.rule_id] = self._rule(route, rule)

    def _rule(self, route: Route, route_rule: RouteRule) -> events.Rule:
        producer = self._choreography.event(route.event).producer.value
        pattern = route_event_pattern(self._choreography, route, route_rule)
        partition = f", partition {route_rule.partition}" if route_rule.partition else ""
        if route.versions:
            partition += ", version " + ", ".join(str(v) for v in route.versions)
        rule = events.Rule(
            self, route_rule.rule_id,
            event_bus=self._buses[route.bus],
            description=f"{route.event} from {producer} on the {route.bus.value} bus{partition}",
            event_pattern=events.EventPattern(source=pattern["source"],
                                              detail_type=pattern["detail-type"],
                                              detail=pattern.get("detail")),
            targets=[self._target(route, route_rule)],
        )
        logical_id_set(rule, route_rule.rule_id)
        return rule

    def _target(self, route: Route, route_rule: RouteRule) -> events.IRuleTarget:
        target = route.target
        dead_letter_queue = self._dead_letter_queue
        if isinstance(target, ToQueue):
            return QueueTarget(self._queues[target.queue],
                               message_group_id=route_rule.message_group_id,
                               dead_letter_queue=dead_letter_queue)
        if isinstance(target, ToFunction):
            # EventBridge's retries cover handing the event to Lambda; once Lambda accepts
            # it, the function's own asynchronous invocation config retries the handler.
            inner: events.IRuleTarget = targets.LambdaFunction(
                self._functions[target.function],
                retry_attempts=TARGET_RETRY_ATTEMPTS, max_event_age=TARGET_MAX_EVENT_AGE)
        elif isinstance(target, ToBus):
            # EventBridge takes no retry policy for an event bus target, only a DLQ.
            local = self._buses.get(target.bus)
            inner = targets.EventBus(local if local is not None else self._remote_buses[target.bus],
                                     role=self._remote_roles.get(target.bus))
        elif isinstance(target, ToNotification):
            inner = targets.ApiDestination(
                self._destinations[target.destination],
                header_parameters=NOTIFICATION_HEADERS, event=NOTIFICATION_BODY,
                retry_attempts=TARGET_RETRY_ATTEMPTS, max_event_age=TARGET_MAX_EVENT_AGE)
        else:
            raise TypeError(f"no rule target for {target!r}")
        return WithDeadLetterQueue(inner, dead_letter_queue=dead_letter_queue)
