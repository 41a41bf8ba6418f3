"""Every event, observed: a queue the dashboard's poller drains live, and a log group that
keeps the global bus's history (the dashboard rebuilds its read model from it).

The rules are written at the CloudFormation level on purpose. The queue's input has to be
`{"bus": ..., "event": <aws.events.event.json>}` (the whole event, tagged with the bus it
was seen on), which the L2 `RuleTargetInput` cannot express; and the L2 log group target
writes the log group's resource policy with a custom-resource Lambda, where a plain
`AWS::Logs::ResourcePolicy` does the same job.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.defaults import LOG_RETENTION, REMOVAL_POLICY
from cdk.constructs.naming import logical_id_set
from cdk.constructs.queues import RedrivenQueue
from cdk.constructs.routes import TARGET_MAX_EVENT_AGE, TARGET_RETRY_ATTEMPTS
from workflow.model import Bus
from workflow.rules import observation_event_pattern, observation_rule_id

# The observability queue has one consumer, the dashboard's poller; a message it fails to
# handle this many times is kept aside rather than blocking the live view.
MAX_RECEIVE_COUNT = 5

EVENTS_PRINCIPAL = iam.ServicePrincipal("events.amazonaws.com")


def observation_template(bus: Bus) -> str:
    """The observability queue's message: the event exactly as EventBridge saw it, and the
    bus it was seen on (an event forwarded between buses is observed on both)."""
    return '{"bus": ' + json.dumps(bus.value) + ', "event": <aws.events.event.json>}'


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, buses: dict[Bus, events.EventBus],
                 observed_buses: tuple[Bus, ...], logged_bus: Bus, dead_letter_queue: sqs.Queue) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        redriven = RedrivenQueue(self, "Observability", name=None, logical_id="Observability",
                                 fifo=False, max_receive_count=MAX_RECEIVE_COUNT)
        self.queue = redriven.queue
        self.dead_letter_queue = redriven.dead_letter_queue
        self.log_group = logs.LogGroup(self, "LogGroup", retention=LOG_RETENTION,
                                       removal_policy=REMOVAL_POLICY)
        logical_id_set(self.log_group, "ObservabilityLogGroup")
        # EventBridge names a log group target without the `:*` of the log group's Arn.
        log_group_target_arn = stack.format_arn(
            service="logs", resource="log-group", resource_name=self.log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME)
        retry_policy = events.CfnRule.RetryPolicyProperty(
            maximum_retry_attempts=TARGET_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=int(TARGET_MAX_EVENT_AGE.to_seconds()))
        dead_letter_config = events.CfnRule.DeadLetterConfigProperty(
            arn=dead_letter_queue.queue_arn)

        self.rules: dict[Bus, events.CfnRule] = {}
        for bus in observed_buses:
            rule_targets = [events.CfnRule.TargetProperty(
                id="ObservabilityQueue", arn=self.queue.queue_arn,
                input_transformer=events.CfnRule.InputTransformerProperty(
                    input_paths_map={}, input_template=observation_template(bus)),
                retry_policy=retry_policy, dead_letter_config=dead_letter_config)]
            if bus == logged_bus:
                # The raw event: the history the dashboard replays is what EventBridge saw.
                rule_targets.append(events.CfnRule.TargetProperty(
                    id="ObservabilityLogGroup", arn=log_group_target_arn,
                    retry_policy=retry_policy, dead_letter_config=dead_letter_config))
            rule = events.CfnRule(
                self, observation_rule_id(bus),
                description=f"Every event on the {bus.value} bus, to observability",
                event_bus_name=buses[bus].event_bus_name,
                # Every event, the model's or not (`observation_event_pattern` says why so).
                event_pattern=observation_event_pattern(),
                state="ENABLED",
                targets=rule_targets)
            rule.override_logical_id(observation_rule_id(bus))
            self.rules[bus] = rule
        # One statement for the observing rules, however many buses (the dead-letter queue
        # accepts every rule of the buses: see the stack).
        self.queue.add_to_resource_policy(iam.PolicyStatement(
            sid="ObservingRules", principals=[EVENTS_PRINCIPAL], actions=["sqs:SendMessage"],
            resources=[self.queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": [rule.attr_arn
                                                        for rule in self.rules.values()]}}))

        # What targets.CloudWatchLogGroup would write through a custom resource, narrowed to
        # the one rule that logs. Two statements: EventBridge creates the log stream without
        # the rule's ARN as `aws:SourceArn` (only its PutLogEvents carries it), so a condition
        # on the source ARN would refuse every CreateLogStream and the log group would stay
        # empty (docs/decisions.md, "The Logs resource policy"); a stream is only a place, its
        # events still come from that rule alone. Each such policy counts against
        # CloudWatch Logs' quota of ten per account and region.
        writers = [EVENTS_PRINCIPAL, iam.ServicePrincipal("delivery.logs.amazonaws.com")]
        self.log_group_policy = logs.ResourcePolicy(
            self, "LogGroupPolicy",
            resource_policy_name=f"{stack.stack_name}-observability-events",
            policy_statements=[
                iam.PolicyStatement(
                    sid="CreateStreamsInTheObservabilityLogGroup", principals=writers,
                    actions=["logs:CreateLogStream"], resources=[self.log_group.log_group_arn]),
                iam.PolicyStatement(
                    sid="PutTheLoggingRulesEvents", principals=writers,
                    actions=["logs:PutLogEvents"], resources=[self.log_group.log_group_arn],
                    conditions={"ArnEquals": {"aws:SourceArn":
                                              self.rules[logged_bus].attr_arn}})])
        logical_id_set(self.log_group_policy, "ObservabilityLogGroupPolicy")
