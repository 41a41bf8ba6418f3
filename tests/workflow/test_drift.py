"""The drift check on hand-made deployments: the model's own is clean, and each kind of
change by hand shows as what it is."""

from __future__ import annotations

import dataclasses

from workflow.drift import DEAD_LETTERS, Deployed, DeployedRule, DeployedTarget, drift, target_key
from workflow.model import CHOREOGRAPHY, Bus, ToQueue
from workflow.rules import observation_event_pattern, observation_rule_id, route_event_pattern

STACK = "choreo"
DLQ = "arn:aws:sqs:us-east-1:123456789012:choreo-RuleTargetDeadLetterQueue-X"


def arn_of(key: str) -> str:
    kind, _, ref = key.partition(":")
    return f"arn:aws:{kind}:us-east-1:123456789012:{ref}"


def clean() -> Deployed:
    """The model's stack as CloudFormation deploys it: generated names, one target a rule."""
    rules: dict[Bus, list[DeployedRule]] = {bus: [] for bus in Bus}
    for route in CHOREOGRAPHY.routes:
        for rule in CHOREOGRAPHY.rules_of(route):
            rules[route.bus].append(DeployedRule(
                name=f"{STACK}-{rule.rule_id}-A1B2C3D4E5F6",
                pattern=route_event_pattern(CHOREOGRAPHY, route, rule),
                targets=(DeployedTarget("Target0", arn_of(target_key(route)), DLQ,
                                        message_group_id=rule.message_group_id),)))
    for bus in CHOREOGRAPHY.observed_buses:
        rules[bus].append(DeployedRule(
            name=f"{STACK}-{observation_rule_id(bus)}-0123456789AB",
            pattern=observation_event_pattern(),
            targets=(DeployedTarget("ObservabilityQueue", arn_of("queue:Observability"), DLQ),)))
    addresses = {target_key(route): arn_of(target_key(route)) for route in CHOREOGRAPHY.routes
                 if route.target.kind in ("queue", "bus")}
    return Deployed(rules={bus: tuple(found) for bus, found in rules.items()}, stack_name=STACK,
                    addresses={**addresses, DEAD_LETTERS: DLQ})


def changed(deployed: Deployed, bus: Bus, name_part: str, **changes: object) -> Deployed:
    rules = tuple(dataclasses.replace(rule, **changes) if f"-{name_part}-" in rule.name else rule
                  for rule in deployed.rules[bus])
    return dataclasses.replace(deployed, rules={**deployed.rules, bus: rules})


def test_the_models_own_deployment_is_clean() -> None:
    found = drift(clean())
    assert found.clean, found
    assert set(found.buses) == set(Bus)


def test_a_rule_added_by_hand_is_undeclared_with_its_pattern_and_targets() -> None:
    deployed = clean()
    by_hand = DeployedRule(name="audit-everything", pattern={"detail-type": ["order.placed"]},
                           targets=(DeployedTarget("t1", arn_of("sqs:Audit")),))
    deployed = dataclasses.replace(deployed, rules={
        **deployed.rules, Bus.GLOBAL: (*deployed.rules[Bus.GLOBAL], by_hand)})
    found = drift(deployed)
    assert [(rule.bus, rule.rule) for rule in found.undeclared_rules] == [(Bus.GLOBAL, by_hand)]
    assert not found.routes


def test_a_missing_rule_is_a_missing_route() -> None:
    deployed = clean()
    deployed = dataclasses.replace(deployed, rules={**deployed.rules, Bus.LOYALTY: tuple(
        rule for rule in deployed.rules[Bus.LOYALTY] if "-PaymentTakenToLoyalty-" not in rule.name)})
    [missing] = drift(deployed).routes
    assert (missing.route, missing.rule, missing.bus, missing.problem) == (
        "PaymentTakenToLoyalty", "PaymentTakenToLoyalty", Bus.LOYALTY, "missing")


def test_a_removed_target_is_a_changed_route() -> None:
    found = drift(changed(clean(), Bus.GLOBAL, "WarehouseStockReservedToPayment", targets=()))
    [route] = found.routes
    assert route.problem == "changed"
    assert [d.kind for d in route.differences] == ["target-removed"]
    assert "queue:Payment" in route.differences[0].detail


def test_a_target_pointed_elsewhere_an_added_target_and_a_lost_dead_letter_queue() -> None:
    elsewhere = DeployedTarget("Target0", arn_of("queue:Somewhere"), DLQ)
    no_dlq = DeployedTarget("Target0", arn_of("queue:Order"))
    extra = DeployedTarget("Target1", arn_of("queue:Extra"), DLQ)
    deployed = changed(clean(), Bus.GLOBAL, "WarehouseStockReservedToPayment", targets=(elsewhere,))
    deployed = changed(deployed, Bus.GLOBAL, "WarehouseOrderShippedToOrder", targets=(no_dlq, extra))
    found = {route.rule: [d.kind for d in route.differences] for route in drift(deployed).routes}
    assert found == {"WarehouseStockReservedToPayment": ["target-changed"],
                     "WarehouseOrderShippedToOrder": ["dead-letters", "target-added"]}


def test_a_changed_pattern_a_disabled_rule_and_a_wrong_message_group() -> None:
    deployed = changed(clean(), Bus.GLOBAL, "OrderRejectedToOrderNotifications",
                       pattern={"source": ["order"]}, state="DISABLED")
    partition = next(rule for rule in deployed.rules[Bus.GLOBAL]
                     if "-OrderPlacedToWarehousePartition0-" in rule.name)
    deployed = changed(deployed, Bus.GLOBAL, "OrderPlacedToWarehousePartition0", targets=(
        dataclasses.replace(partition.targets[0], message_group_id="warehouse-1"),))
    found = {route.rule: [d.kind for d in route.differences] for route in drift(deployed).routes}
    assert found == {"OrderRejectedToOrderNotifications": ["pattern", "state"],
                     "OrderPlacedToWarehousePartition0": ["message-group"]}


def test_the_stacks_resources_name_rules_whose_names_were_cut_short() -> None:
    """CloudFormation shortens a long generated name; the stack's resources still say which
    logical id it is."""
    deployed = clean()
    route = next(route for route in CHOREOGRAPHY.routes if isinstance(route.target, ToQueue)
                 and route.target.queue == "Payment")
    [rule] = [rule for rule in deployed.rules[Bus.GLOBAL] if f"-{route.rule_id}-" in rule.name]
    short = dataclasses.replace(rule, name="choreo-WarehouseStockRes-QWERTY")
    deployed = dataclasses.replace(deployed, rules={**deployed.rules, Bus.GLOBAL: tuple(
        short if r is rule else r for r in deployed.rules[Bus.GLOBAL])},
        logical_ids={short.name: route.rule_id})
    assert drift(deployed).clean


def test_only_the_buses_read_are_checked() -> None:
    deployed = clean()
    found = drift(dataclasses.replace(deployed, rules={Bus.GLOBAL: deployed.rules[Bus.GLOBAL]}))
    assert found.clean and found.buses == (Bus.GLOBAL,)


def test_each_difference_is_counted_once_and_keeps_its_key_while_it_lasts() -> None:
    by_hand = DeployedRule(name="audit-everything", pattern={"detail-type": ["order.placed"]})
    deployed = clean()
    deployed = dataclasses.replace(deployed, rules={
        **deployed.rules, Bus.GLOBAL: (*deployed.rules[Bus.GLOBAL], by_hand)})
    deployed = changed(deployed, Bus.GLOBAL, "WarehouseStockReservedToPayment", targets=())
    found = drift(deployed)
    assert (drift(clean()).count, found.count) == (0, 2)
    assert found.keys() == {"rule:global:audit-everything": Bus.GLOBAL,
                            "route:global:WarehouseStockReservedToPayment:target-removed": Bus.GLOBAL}
    assert drift(deployed).keys() == found.keys()

    # the same route, wrong in another way, is another difference
    disabled = changed(deployed, Bus.GLOBAL, "WarehouseStockReservedToPayment", state="DISABLED")
    [route] = drift(disabled).routes
    assert route.key == "route:global:WarehouseStockReservedToPayment:state,target-removed"
    assert route.summary == "the rule is DISABLED; no target delivers to queue:Payment " \
        f"({arn_of('queue:Payment')})"


def test_a_missing_route_says_which_rule_on_which_bus() -> None:
    deployed = clean()
    deployed = dataclasses.replace(deployed, rules={**deployed.rules, Bus.LOYALTY: tuple(
        rule for rule in deployed.rules[Bus.LOYALTY] if "-PaymentTakenToLoyalty-" not in rule.name)})
    [missing] = drift(deployed).routes
    assert missing.key == "route:loyalty:PaymentTakenToLoyalty:missing"
    assert missing.summary == "no rule PaymentTakenToLoyalty on the loyalty bus"
