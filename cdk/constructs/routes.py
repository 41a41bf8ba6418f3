"""One EventBridge rule per route of the model, matching exactly one (source, detail-type)
pair on the route's bus and delivering to the route's target."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from workflow.model import (
    Bus,
    Choreography,
    Route,
    ToBus,
    ToFunction,
    ToNotification,
    ToQueue,
)

# How long EventBridge keeps trying to hand an event to a target that fails (throttled,
# unreachable, deleted) before it dead-letters it: long enough to ride out a short outage.
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(1)

# The API destination posts the CloudEvent alone (the EventBridge `detail`), in structured
# mode, as the CloudEvents HTTP binding has it.
NOTIFICATION_HEADERS = {"Content-Type": "application/cloudevents+json"}
NOTIFICATION_BODY = events.RuleTargetInput.from_event_path("$.detail")


class Routes(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, choreography: Choreography,
                 buses: dict[Bus, events.EventBus], queues: dict[str, sqs.IQueue],
                 functions: dict[str, lambda_.IFunction],
                 destinations: dict[str, events.ApiDestination],
                 dead_letter_queue: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self._choreography = choreography
        self._buses = buses
        self._queues = queues
        self._functions = functions
        self._destinations = destinations
        self._dead_letter_queue = dead_letter_queue
        self.rules: dict[str, events.Rule] = {}
        for route in choreography.routes:
            if route.rule_id in self.rules:
                raise ValueError(f"two routes would make the rule {route.rule_id}")
            self.rules[route.rule_id] = self._rule(route)

    def _rule(self, route: Route) -> events.Rule:
        producer = self._choreography.event(route.event).producer.value
        rule = events.Rule(
            self, route.rule_id,
            event_bus=self._buses[route.bus],
            description=f"{route.event} from {producer} on the {route.bus.value} bus",
            event_pattern=events.EventPattern(source=[producer], detail_type=[route.event]),
            targets=[self._target(route)],
        )
        logical_id_set(rule, route.rule_id)
        return rule

    def _target(self, route: Route) -> events.IRuleTarget:
        target = route.target
        dead_letter_queue = self._dead_letter_queue
        if isinstance(target, ToQueue):
            return targets.SqsQueue(
                self._queues[target.queue],
                message_group_id=self._choreography.queue(target.queue).message_group_id,
                retry_attempts=TARGET_RETRY_ATTEMPTS, max_event_age=TARGET_MAX_EVENT_AGE,
                dead_letter_queue=dead_letter_queue)
        if isinstance(target, ToFunction):
            # EventBridge's retries cover handing the event to Lambda; once Lambda accepts
            # it, the function's own asynchronous invocation config retries the handler.
            return targets.LambdaFunction(
                self._functions[target.function],
                retry_attempts=TARGET_RETRY_ATTEMPTS, max_event_age=TARGET_MAX_EVENT_AGE,
                dead_letter_queue=dead_letter_queue)
        if isinstance(target, ToBus):
            # EventBridge takes no retry policy for an event bus target, only a DLQ.
            return targets.EventBus(self._buses[target.bus], dead_letter_queue=dead_letter_queue)
        if isinstance(target, ToNotification):
            return targets.ApiDestination(
                self._destinations[target.destination],
                header_parameters=NOTIFICATION_HEADERS, event=NOTIFICATION_BODY,
                retry_attempts=TARGET_RETRY_ATTEMPTS, max_event_age=TARGET_MAX_EVENT_AGE,
                dead_letter_queue=dead_letter_queue)
        raise TypeError(f"no rule target for {target!r}")
