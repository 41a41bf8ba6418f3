"""What the stack's EventBridge rules are called and what they match, from the model alone.

The CDK app builds the rules from these (`cdk/constructs/routes.py`, `observability.py`,
`boundaries.py`), and whoever reads a deployment back (the dashboard's drift check) derives
from the same functions what each rule should be, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any

from workflow.model import UNPARTITIONED, Bus, Choreography, Route, RouteRule


def partition_pattern(partition: str | None, partitions: tuple[str, ...]) -> dict[str, Any] | None:
    """The `detail` filter of one partition's rule: its own key, or (for the rule of events
    that name none) a missing key or one that is not a partition's."""
    if partition is None:
        return None
    if partition != UNPARTITIONED:
        return {"partitionkey": [partition]}
    return {"$or": [{"partitionkey": [{"exists": False}]},
                    {"partitionkey": [{"anything-but": list(partitions)}]}]}


def route_detail_pattern(route: Route, partition: str | None,
                         partitions: tuple[str, ...]) -> dict[str, Any] | None:
    """The `detail` filter of one rule of `route`: its partition's (`partition_pattern`) and,
    for a route pinned to versions of its event, the `dataschema` of each of them."""
    detail = partition_pattern(partition, partitions)
    if route.versions:
        detail = {**(detail or {}), "dataschema": list(route.dataschemas)}
    return detail


def route_event_pattern(choreography: Choreography, route: Route,
                        rule: RouteRule) -> dict[str, Any]:
    """The whole event pattern of one rule of `route`: its one (source, detail-type) pair,
    and its `detail` filter if it has one."""
    pattern: dict[str, Any] = {"source": [choreography.event(route.event).producer.value],
                               "detail-type": [route.event]}
    detail = route_detail_pattern(route, rule.partition, choreography.partition_keys())
    if detail is not None:
        pattern["detail"] = detail
    return pattern


def observation_event_pattern() -> dict[str, Any]:
    """What an observing rule matches: every event on its bus, whoever put it there, so that
    a source or an event type the model does not declare is seen too (the dashboard's drift).

    EventBridge has no pattern that is "everything", and a rule must have one: this is prefix
    matching on `source` with the empty prefix, which every string begins with. Every event
    delivered to a bus has a `source`, a string (EventBridge User Guide, "Event structure
    reference", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html),
    and prefix matching matches a string value by how it begins (EventBridge User Guide,
    "Content filtering in Amazon EventBridge event patterns", Prefix matching,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html).
    Matching on `account` instead would miss what other accounts forward to the bus."""
    return {"source": [{"prefix": ""}]}


def observation_rule_id(bus: Bus) -> str:
    """The rule that sends every event on `bus` to observability."""
    return f"Observe{bus.value.title()}Bus"


def replication_rule_id(choreography: Choreography, bus: Bus) -> str:
    """The rule that copies what was published on `bus` to the observability replica."""
    return "ReplicateToObservabilityReplica" if bus == choreography.logged_bus \
        else f"Replicate{bus.value.title()}ToObservabilityReplica"


def infrastructure_rule_ids(choreography: Choreography, bus: Bus) -> frozenset[str]:
    """The rules the stack puts on `bus` that are no route: observing it, and replicating
    it (when the deployment has a replica)."""
    found = {replication_rule_id(choreography, bus)}
    if bus in choreography.observed_buses:
        found.add(observation_rule_id(bus))
    return frozenset(found)
