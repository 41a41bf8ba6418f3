"""The event buses, and the dead-letter queue of every rule target on them."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from cdk.constructs.queues import dead_letter_queue
from workflow.model import Bus


class Buses(Construct):
    def __init__(self, scope: Construct, construct_id: str,
                 buses: tuple[Bus, ...] = tuple(Bus)) -> None:
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name
        self.buses: dict[Bus, events.EventBus] = {}
        for bus in buses:  # every bus, unless the deployment places some elsewhere
            event_bus = events.EventBus(self, bus.value.title(),
                                        event_bus_name=f"{stack_name}-{bus.value}",
                                        description=f"The {bus.value} event bus")
            logical_id_set(event_bus, f"{bus.value.title()}EventBus")
            self.buses[bus] = event_bus
        # EventBridge sends here what it could not deliver to a target after its retries
        # (a deleted queue, a throttled function, an unreachable endpoint), with the reason
        # in the message attributes.
        self.rule_target_dead_letter_queue = dead_letter_queue(
            self, "RuleTargetDeadLetterQueue", logical_id="RuleTargetDeadLetterQueue")
