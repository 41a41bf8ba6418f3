"""What a deployment across accounts and regions needs at each boundary (`workflow.placement`):

- each bus that another account's rules forward to has a resource policy allowing
  `events:PutEvents` to the role those rules' targets put events as (`cdk.forwarding`), for
  the sources and detail-types they forward and no others (a bus in another region of the
  same account needs none: the rule's role is enough);
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
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from cdk.constructs.routes import WithDeadLetterQueue
from workflow import outputs
from workflow.model import Bus, Choreography
from workflow.placement import Forward, Placements, bus_arn, replica_stack_name
from workflow.rules import replication_rule_id


def bus_policy_statement(bus_arn_value: str, account: str,
                         forwards: list[Forward]) -> dict[str, object]:
    """The statement of a bus's policy that lets in the forwards of one other account: only
    the roles their rule targets put events as, only the sources and detail-types they carry.
    EventBridge evaluates `events:source` and `events:detail-type` on `PutEvents` in a bus's
    resource policy (EventBridge User Guide, *Example policy: Send events to a custom bus in a
    different account*:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-example-policy-cross-account-custom-bus-source.html;
    *Using IAM policy conditions*:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html). A rule
    target on a bus of another account puts events as its role, a role of the sending
    account (*Sending and receiving events between AWS accounts*:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html), so the
    statement names that role rather than the account's root, which would let in any of the
    account's principals. The role must exist when the policy is written (`cdk.forwarding`)."""
    roles = sorted({forward.role_arn for forward in forwards})
    return {"Sid": f"FromAccount{account}", "Effect": "Allow",
            "Principal": {"AWS": roles[0] if len(roles) == 1 else roles},
            "Action": "events:PutEvents", "Resource": bus_arn_value,
            "Condition": {"StringEquals": {
                "events:source": sorted({s for forward in forwards for s in forward.sources}),
                "events:detail-type": sorted({t for forward in forwards
                                              for t in forward.detail_types})}}}


def bus_policies(scope: Construct, bus: Bus, event_bus: events.IEventBus,
                 forwards: list[Forward], *, logical_prefix: str,
                 ) -> dict[str, events.CfnEventBusPolicy]:
    """One policy statement on `event_bus` per other account forwarding to it, by account."""
    by_account: dict[str, list[Forward]] = {}
    for forward in forwards:
        account = forward.sender.placement.account
        assert account is not None  # a deployment across accounts names every account
        by_account.setdefault(account, []).append(forward)
    policies = {}
    for account, theirs in by_account.items():
        policy = events.CfnEventBusPolicy(
            scope, f"{logical_prefix}From{account}", event_bus_name=event_bus.event_bus_name,
            statement_id=f"FromAccount{account}",
            statement=bus_policy_statement(event_bus.event_bus_arn, account, theirs))
        policy.override_logical_id(f"{bus.value.title()}EventBusFrom{account}")
        policies[account] = policy
    return policies


def forwarding_role(scope: Construct, construct_id: str, forward: Forward | None) -> iam.IRole | None:
    """The role of a rule target on another account's bus, from its stack (`cdk.forwarding`);
    None within one account, where the target gets a role of its own."""
    if forward is None:
        return None
    return iam.Role.from_role_arn(scope, construct_id, forward.role_arn, mutable=False)


def replication_rule(scope: Construct, choreography: Choreography, bus: Bus,
                     event_bus: events.IEventBus, replica_bus: events.IEventBus,
                     dead_letter_queue: sqs.IQueue,
                     forward: Forward | None = None) -> events.Rule | None:
    """The rule that copies to the replica what was published on `bus` and is on the logged
    bus (`Choreography.replicated_from`): from the bus an event was published on, so that no
    event is forwarded a second time (EventBridge routes an event that came from another bus
    to no third bus, and dead-letters it THIRD_ACCOUNT_HOP_DETECTED /
    THIRD_REGION_HOP_DETECTED). From another account than the replica's, its target puts
    events as that `forward`'s role."""
    replicated = choreography.replicated_from(bus)
    if not replicated:
        return None
    name = replication_rule_id(choreography, bus)
    role = forwarding_role(scope, f"{name}Role", forward)
    rule = events.Rule(
        scope, name, event_bus=event_bus,
        description=f"Every event published on the {bus.value} bus that the "
                    f"{choreography.logged_bus.value} bus carries, to the observability replica",
        event_pattern=events.EventPattern(
            source=list(replicated),
            detail_type=[event for types in replicated.values() for event in types]),
        targets=[WithDeadLetterQueue(targets.EventBus(replica_bus, role=role),
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
        stack_name = Stack.of(self).stack_name
        forwards = placements.forwards(home_stack_name, choreography)
        for bus, event_bus in buses.items():
            policies = bus_policies(
                self, bus, event_bus, [forward for forward in forwards
                                       if forward.receiver.name == stack_name
                                       and forward.bus == bus],
                logical_prefix=f"{bus.value.title()}Bus")
            for account, policy in policies.items():
                self.policies[(bus, account)] = policy

        replica = placements.replica
        if replica is not None:
            replica_name = replica_stack_name(home_stack_name)
            replica_bus = events.EventBus.from_event_bus_arn(
                self, "ReplicaBus", bus_arn(choreography.logged_bus, replica_name, replica))
            for bus, event_bus in buses.items():
                forward = next((forward for forward in forwards
                                if forward.sender.name == stack_name
                                and forward.receiver.name == replica_name), None)
                rule = replication_rule(self, choreography, bus, event_bus, replica_bus,
                                        dead_letter_queue, forward)
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
