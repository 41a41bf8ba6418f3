"""The observability replica: in another region of the home account, a copy of the logged
bus that the home stack forwards every event to, observed as the home stack observes its
own (a queue to drain live, a log group of record). It survives the home region's outage
with the history up to it, and a second consumer can read it there."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from cdk.constructs.boundaries import bus_policies
from cdk.constructs.buses import Buses
from cdk.constructs.observability import Observability
from cdk.constructs.routes import rule_delivery_grant
from workflow import outputs
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.placement import Placements


class ObservabilityReplicaStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *,
                 choreography: Choreography = CHOREOGRAPHY,
                 placements: Placements | None = None, home_stack_name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        logged = choreography.logged_bus
        self.buses = Buses(self, "Buses", buses=(logged,))
        self.observability = Observability(
            self, "Observability", buses=self.buses.buses, observed_buses=(logged,),
            logged_bus=logged,
            dead_letter_queue=self.buses.rule_target_dead_letter_queue)
        bus = self.buses.buses[logged]
        # EventBridge dead-letters what it cannot deliver only to a queue that lets it in.
        rule_delivery_grant(self.buses.rule_target_dead_letter_queue, [bus],
                            sid="UndeliveredRuleTargets")
        # The buses in other accounts replicate what is published on them (see
        # `cdk.constructs.boundaries.replication_rule`): their replication roles may put
        # those events.
        if placements is not None and home_stack_name is not None:
            bus_policies(self, logged, bus, [
                forward for forward in placements.forwards(home_stack_name, choreography)
                if forward.receiver.name == self.stack_name], logical_prefix="ReplicaBus")

        def output(key: str, value: str, description: str) -> None:
            CfnOutput(self, key, value=value, description=description)

        output(outputs.ACCOUNT, self.account, "The account this stack is deployed in")
        output(outputs.REGION, self.region, "The region this stack is deployed in")
        output(outputs.bus_name(logged), bus.event_bus_name,
               f"The replica of the {logged.value} bus")
        output(outputs.bus_arn(logged), bus.event_bus_arn,
               "What the home stack's replication rule targets")
        output(outputs.OBSERVABILITY_QUEUE_URL, self.observability.queue.queue_url,
               "Every replicated event")
        output(outputs.OBSERVABILITY_LOG_GROUP_NAME, self.observability.log_group.log_group_name,
               "Every replicated event, as EventBridge saw it")
        output(outputs.dead_letter_queue_url(outputs.RULE_TARGET),
               self.buses.rule_target_dead_letter_queue.queue_url,
               "What EventBridge could not deliver to a rule target")
        output(outputs.dead_letter_queue_url(outputs.OBSERVABILITY),
               self.observability.dead_letter_queue.queue_url,
               "Observations a consumer of the replica failed to handle")
