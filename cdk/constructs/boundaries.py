"""What a deployment across accounts and regions needs at each boundary (`workflow.placement`):

- each bus that another account's rules forward to has a resource policy allowing that
  account's `events:PutEvents`, for the event sources it forwards and no others (a bus in
  another region of the same account needs none: the rule's role is enough);
- every event of the logged bus is copied to the observability replica's bus in its region,
  from the bus it was published on (the home stack's logged bus, and the buses that forward
  to it, wherever they are), through rules whose targets have their role and the rule
  targets' DLQ (the
  routes across a boundary are the model's own, in `Routes`, with the same);
- outputs: where the stack is, and its buses' ARNs, which the other side targets.

With everything in one place (the default) there is no boundary and this adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from cdk.constructs.routes import WithDeadLetterQueue
from workflow import outputs
from workflow.model import Bus, Choreography
from workflow.placement import Placements, bus_arn, replica_stack_name


def bus_policy_statement(bus_arn_value: str, account: str, sources: list[str]) -> dict[str, object]:
    return {"Sid": f"FromAccount{account}", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "events:PutEvents", "Resource": bus_arn_value,
            "Condition": {"StringEquals": {"events:source": sources}}}


def replication_rule(scope: Construct, choreography: Choreography, bus: Bus,
                     event_bus: events.IEventBus, replica_bus: events.IEventBus,
                     dead_letter_queue: sqs.IQueue) -> events.Rule | None:
    """The rule that copies to the replica what was published on `bus` and is on the logged
    bus (`Choreography.replicated_from`): from the bus an event was published on, so that no
    event is forwarded a second time (EventBridge routes an event that came from another bus
    to no third bus, and dead-letters it THIRD_ACCOUNT_HOP_DETECTED /
    THIRD_REGION_HOP_DETECTED)."""
    replicated = choreography.replicated_from(bus)
    if not replicated:
        return None
    name = "ReplicateToObservabilityReplica" if bus == choreography.logged_bus \
        else f"Replicate{bus.value.title()}ToObservabilityReplica"
    rule = events.Rule(
        scope, name, event_bus=event_bus,
        description=f"Every event published on the {bus.value} bus that the "
                    f"{choreography.logged_bus.value} bus carries, to the observability replica",
        event_pattern=events.EventPattern(
            source=list(replicated),
            detail_type=[event for types in replicated.values() for event in types]),
        targets=[WithDeadLetterQueue(targets.EventBus(replica_bus),
                                     dead_letter_queue=dead_letter_queue)])
    logical_id_set(rule, name)
    return rule


class Boundaries(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, choreography: Choreography,
                 placements: Placements, buses: dict[Bus, events.EventBus],
                 home_stack_name: str, dead_letter_queue: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self._buses = buses
        self._single = placements.single
        self.policies: dict[tuple[Bus, str], events.CfnEventBusPolicy] = {}
        self.replication: events.Rule | None = None
        if placements.single:
            return
        for bus, event_bus in buses.items():
            here = placements.of_bus(bus, choreography)
            for where, sources in placements.accepted_sources(bus, choreography).items():
                if where.account is None or where.account == here.account:
                    continue
                policy = events.CfnEventBusPolicy(
                    self, f"{bus.value.title()}BusFrom{where.account}",
                    event_bus_name=event_bus.event_bus_name,
                    statement_id=f"FromAccount{where.account}",
                    statement=bus_policy_statement(event_bus.event_bus_arn, where.account,
                                                   sources))
                policy.override_logical_id(f"{bus.value.title()}EventBusFrom{where.account}")
                self.policies[(bus, where.account)] = policy

        replica = placements.replica
        if replica is not None:
            replica_bus = events.EventBus.from_event_bus_arn(
                self, "ReplicaBus", bus_arn(choreography.logged_bus,
                                            replica_stack_name(home_stack_name), replica))
            for bus, event_bus in buses.items():
                rule = replication_rule(self, choreography, bus, event_bus, replica_bus,
                                        dead_letter_queue)
                if rule is not None and bus == choreography.logged_bus:
                    self.replication = rule

    def outputs_add(self, output: Callable[[str, str, str], None]) -> None:
        if self._single:
            return
        stack = Stack.of(self)
        output(outputs.ACCOUNT, stack.account, "The account this stack is deployed in")
        output(outputs.REGION, stack.region, "The region this stack is deployed in")
        for bus, event_bus in self._buses.items():
            output(outputs.bus_arn(bus), event_bus.event_bus_arn,
                   f"The {bus.value} event bus, as another account's rules target it")
