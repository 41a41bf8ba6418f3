"""Where a deployment's EventBridge rules differ from the model.

Given what is deployed on the model's buses (each rule's name, pattern, state and targets, as
`events:ListRules` and `events:ListTargetsByRule` describe them), `drift` says which declared
rules are missing or changed and which rules nobody declared. A clean deployment of the
model's own stack shows nothing: the rules it adds that are no route (observing a bus,
replicating it) are recognised from the model too (`workflow.rules`).

CloudFormation names a rule it was given no name for `<stack>-<logical id>-<random>`, and the
logical id of a route's rule is its `RouteRule.rule_id` (`cdk/constructs/naming.py`): a
deployed rule is matched to the model by its logical id, read from the stack's resources
when the caller has them (`logical_ids`), else from its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from workflow.model import CHOREOGRAPHY, Bus, Choreography, Route, RouteRule, ToBus, ToQueue
from workflow.rules import infrastructure_rule_ids, route_event_pattern

# The one key of `Deployed.addresses` that names no target: the rule targets' dead-letter queue.
DEAD_LETTERS = "dead-letters"


@dataclass(frozen=True)
class DeployedTarget:
    id: str
    arn: str
    dead_letter_arn: str | None = None
    message_group_id: str | None = None
    input: str | None = None
    input_path: str | None = None
    input_transformer: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.id, "arn": self.arn,
                                 "deadLetterArn": self.dead_letter_arn}
        for key, value in (("messageGroupId", self.message_group_id), ("input", self.input),
                           ("inputPath", self.input_path),
                           ("inputTransformer", self.input_transformer)):
            if value is not None:
                found[key] = value
        return found


@dataclass(frozen=True)
class DeployedRule:
    name: str
    pattern: dict[str, Any] | None
    state: str = "ENABLED"
    targets: tuple[DeployedTarget, ...] = ()


@dataclass(frozen=True)
class Deployed:
    """What is deployed, by bus: only the buses in `rules` were read, so a bus missing from it
    is not checked (it is another stack's, or could not be read)."""

    rules: dict[Bus, tuple[DeployedRule, ...]]
    stack_name: str
    logical_ids: dict[str, str] = field(default_factory=dict)
    """the logical id of each deployed rule, by name, as the stack's resources say"""
    addresses: dict[str, str] = field(default_factory=dict)
    """the ARN each target should have, by `target_key` (and `DEAD_LETTERS`): a target whose
    ARN is not known here (a function, an API destination) is checked by its presence only"""


@dataclass(frozen=True)
class Difference:
    kind: str
    """pattern, state, target-removed, target-added, target-changed, dead-letters or
    message-group"""
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class RouteDrift:
    route: str
    rule: str
    """the rule's logical id, which its deployed name carries"""
    bus: Bus
    problem: str  # missing | changed
    deployed_name: str | None = None
    differences: tuple[Difference, ...] = ()

    @property
    def key(self) -> str:
        """What stays the same while this drift lasts, and changes when it does: which rule,
        and what is wrong with it."""
        kinds = ",".join(sorted({d.kind for d in self.differences})) or self.problem
        return f"route:{self.bus.value}:{self.rule}:{kinds}"

    @property
    def summary(self) -> str:
        """What differs, in one line: `missing`, or each difference's detail."""
        if self.problem == "missing":
            return f"no rule {self.rule} on the {self.bus.value} bus"
        return "; ".join(d.detail for d in self.differences)


@dataclass(frozen=True)
class UndeclaredRule:
    bus: Bus
    rule: DeployedRule

    @property
    def key(self) -> str:
        return f"rule:{self.bus.value}:{self.rule.name}"


@dataclass(frozen=True)
class Drift:
    routes: tuple[RouteDrift, ...]
    undeclared_rules: tuple[UndeclaredRule, ...]
    buses: tuple[Bus, ...]
    """the buses that were checked"""

    @property
    def clean(self) -> bool:
        return not self.routes and not self.undeclared_rules

    @property
    def count(self) -> int:
        """How many differences: each rule nobody declared, each route missing or changed."""
        return len(self.routes) + len(self.undeclared_rules)

    def keys(self) -> dict[str, Bus]:
        """Each difference's `key`, with the bus it is on."""
        return {**{item.key: item.bus for item in self.routes},
                **{item.key: item.bus for item in self.undeclared_rules}}


def target_key(route: Route) -> str:
    """`queue:Warehouse`, `function:Loyalty`, `bus:loyalty`, `notification:OrderNotifications`."""
    return f"{route.target.kind}:{route.target.ref}"


def logical_id_of(rule: DeployedRule, deployed: Deployed, known: set[str]) -> str | None:
    """The logical id a deployed rule stands for, if it is one the model knows."""
    listed = deployed.logical_ids.get(rule.name)
    if listed is not None:
        return listed if listed in known else None
    name = rule.name.removeprefix(f"{deployed.stack_name}-")
    for candidate in (name, name.rpartition("-")[0]):
        if candidate in known:
            return candidate
    return None


def _target_differences(route: Route, route_rule: RouteRule, rule: DeployedRule,
                        deployed: Deployed) -> list[Difference]:
    key = target_key(route)
    address = deployed.addresses.get(key)
    targets = list(rule.targets)
    # Known by kind only (no address): whichever target there is stands for it.
    matching = [target for target in targets if target.arn == address] \
        if address is not None else targets[:1]
    found: list[Difference] = []
    if not matching:
        found.append(Difference("target-removed", f"no target delivers to {key}"
                                + (f" ({address})" if address else "")))
        if len(targets) == 1:  # one target, elsewhere: a changed target, not just an extra one
            return [Difference("target-changed", f"delivers to {targets[0].arn}, not to {key}"
                               + (f" ({address})" if address else ""))]
    else:
        target = matching[0]
        targets.remove(target)
        dead_letters = deployed.addresses.get(DEAD_LETTERS)
        if target.dead_letter_arn is None:
            found.append(Difference("dead-letters", f"target {target.id} has no dead-letter queue"))
        elif dead_letters is not None and target.dead_letter_arn != dead_letters:
            found.append(Difference("dead-letters", f"target {target.id} dead-letters to "
                                    f"{target.dead_letter_arn}, not {dead_letters}"))
        if isinstance(route.target, ToQueue) and target.message_group_id != route_rule.message_group_id:
            found.append(Difference("message-group", f"target {target.id} puts events in message "
                                    f"group {target.message_group_id!r}, not "
                                    f"{route_rule.message_group_id!r}"))
    found.extend(Difference("target-added", f"target {target.id} delivers to {target.arn} too")
                 for target in targets)
    return found


def _rule_differences(choreography: Choreography, route: Route, route_rule: RouteRule,
                      rule: DeployedRule, deployed: Deployed) -> list[Difference]:
    found = []
    declared = route_event_pattern(choreography, route, route_rule)
    if rule.pattern != declared:
        found.append(Difference("pattern", f"matches {_dumps(rule.pattern)}, "
                                f"not {_dumps(declared)}"))
    if rule.state != "ENABLED":
        found.append(Difference("state", f"the rule is {rule.state}"))
    return found + _target_differences(route, route_rule, rule, deployed)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def drift(deployed: Deployed, choreography: Choreography = CHOREOGRAPHY) -> Drift:
    """The declared rules missing or changed on the buses read, and the rules on them that
    are neither a route's nor the stack's own."""
    routes: list[RouteDrift] = []
    undeclared: list[UndeclaredRule] = []
    for bus, rules in deployed.rules.items():
        declared = {route_rule.rule_id: (route, route_rule)
                    for route in choreography.routes_on(bus)
                    for route_rule in choreography.rules_of(route)}
        infrastructure = infrastructure_rule_ids(choreography, bus)
        known = set(declared) | infrastructure
        by_logical_id: dict[str, DeployedRule] = {}
        for rule in rules:
            logical_id = logical_id_of(rule, deployed, known)
            if logical_id is None or logical_id in by_logical_id:
                undeclared.append(UndeclaredRule(bus, rule))
            elif logical_id not in infrastructure:
                by_logical_id[logical_id] = rule
        for rule_id, (route, route_rule) in declared.items():
            found = by_logical_id.get(rule_id)
            if found is None:
                routes.append(RouteDrift(route.rule_id, rule_id, bus, "missing"))
                continue
            differences = _rule_differences(choreography, route, route_rule, found, deployed)
            if differences:
                routes.append(RouteDrift(route.rule_id, rule_id, bus, "changed", found.name,
                                         tuple(differences)))
    return Drift(tuple(routes), tuple(undeclared), tuple(deployed.rules))


def expected_buses(choreography: Choreography = CHOREOGRAPHY) -> tuple[Bus, ...]:
    """The buses whose rules the model declares, or that a route forwards to."""
    buses = {route.bus for route in choreography.routes} | {
        route.target.bus for route in choreography.routes if isinstance(route.target, ToBus)}
    return tuple(bus for bus in Bus if bus in buses)
