"""Drift: where the deployed rules and the observed traffic differ from the model.

The deployed side is read from EventBridge (`events:ListRules` and `events:ListTargetsByRule`
on each of the model's buses the stack outputs name) and from the stack's resources (which
logical id each rule is), then judged by `workflow.drift`; one read is shared by every viewer
and process for `DEPLOYED_SECONDS`, as AWS's list calls are throttled per account. The
observed side is the read model's: the (type, source) pairs seen that the model does not
declare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from dashboard import aws
from dashboard.models import ObservedEvent
from workflow import outputs
from workflow.drift import DEAD_LETTERS, Deployed, DeployedRule, DeployedTarget, Drift, drift, target_key
from workflow.model import CHOREOGRAPHY, Bus, Choreography

DEPLOYED_SECONDS = 60


@dataclass(frozen=True)
class DeployedRead:
    deployed: Deployed
    read_at: datetime
    problems: tuple[str, ...] = ()
    """what could not be read (a bus, the stack's resources), said rather than hidden"""


def _target(raw: dict[str, Any]) -> DeployedTarget:
    return DeployedTarget(
        id=raw.get("Id", ""), arn=raw.get("Arn", ""),
        dead_letter_arn=(raw.get("DeadLetterConfig") or {}).get("Arn"),
        message_group_id=(raw.get("SqsParameters") or {}).get("MessageGroupId"),
        input=raw.get("Input"), input_path=raw.get("InputPath"),
        input_transformer=raw.get("InputTransformer"))


def _rules_of(events: Any, bus_name: str) -> tuple[DeployedRule, ...]:
    rules: list[DeployedRule] = []
    token: str | None = None
    while True:
        page = events.list_rules(EventBusName=bus_name, **({"NextToken": token} if token else {}))
        for rule in page.get("Rules", []):
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus_name)
            pattern = rule.get("EventPattern")
            rules.append(DeployedRule(
                name=rule["Name"], pattern=json.loads(pattern) if pattern else None,
                state=rule.get("State", "ENABLED"),
                targets=tuple(_target(target) for target in targets.get("Targets", []))))
        token = page.get("NextToken")
        if not token:
            return tuple(rules)


def _logical_ids(context: aws.AwsContext) -> dict[str, str]:
    """Each rule's logical id by its name: CloudFormation's physical id of a rule on a custom
    bus is `<bus>|<name>`."""
    found: dict[str, str] = {}
    paginator = context.client("cloudformation").get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=context.stack_name):
        for resource in page.get("StackResourceSummaries", []):
            if resource.get("ResourceType") == "AWS::Events::Rule" and resource.get("PhysicalResourceId"):
                found[resource["PhysicalResourceId"].rpartition("|")[2]] = resource["LogicalResourceId"]
    return found


def _queue_arn(context: aws.AwsContext, url: str) -> str:
    answer = context.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(answer["Attributes"]["QueueArn"])


def _addresses(context: aws.AwsContext, stack: aws.StackOutputs, bus_names: dict[Bus, str],
               model: Choreography) -> dict[str, str]:
    """The ARNs of the targets the stack outputs lead to: queues and buses. A function's or an
    API destination's target is checked by its presence alone (the local runtime puts a queue
    of its own in their place)."""
    found: dict[str, str] = {}
    for route in model.routes:
        key = target_key(route)
        if key in found:
            continue
        if route.target.kind == "queue":
            url = stack.queue_url(route.target.ref)
            if url:
                found[key] = _queue_arn(context, url)
        elif route.target.kind == "bus" and Bus(route.target.ref) in bus_names:
            found[key] = context.client("events").describe_event_bus(
                Name=bus_names[Bus(route.target.ref)])["Arn"]
    dead_letters = stack.values.get(outputs.dead_letter_queue_url(outputs.RULE_TARGET))
    if dead_letters:
        found[DEAD_LETTERS] = _queue_arn(context, dead_letters)
    return found


def deployed_read(context: aws.AwsContext | None = None, *,
                  model: Choreography = CHOREOGRAPHY) -> DeployedRead:
    """What is deployed on the model's buses, read from AWS now."""
    context = context or aws.current()
    stack = context.outputs()
    bus_names = {bus: stack.values[outputs.bus_name(bus)] for bus in Bus
                 if outputs.bus_name(bus) in stack.values}
    events = context.client("events")
    problems: list[str] = [f"the stack outputs name no {bus.value} bus" for bus in Bus
                           if bus not in bus_names]
    rules: dict[Bus, tuple[DeployedRule, ...]] = {}
    for bus, name in bus_names.items():
        try:
            rules[bus] = _rules_of(events, name)
        except Exception as error:
            problems.append(f"the rules of {name} could not be read: {error}")
    try:
        logical_ids = _logical_ids(context)
    except Exception as error:  # the names alone still match a stack CloudFormation named
        problems.append(f"the stack's resources could not be read: {error}")
        logical_ids = {}
    deployed = Deployed(rules=rules, stack_name=context.stack_name, logical_ids=logical_ids,
                        addresses=_addresses(context, stack, bus_names, model))
    return DeployedRead(deployed, timezone.now(), tuple(problems))


def deployed_cached(context: aws.AwsContext | None = None) -> DeployedRead:
    """`deployed_read`, shared for `DEPLOYED_SECONDS`."""
    context = context or aws.current()
    key = f"drift:deployed:{context.endpoint_url}:{context.region}:{context.stack_name}"
    found: DeployedRead | None = cache.get(key)
    if found is None:
        found = deployed_read(context)
        cache.set(key, found, DEPLOYED_SECONDS)
    return found


@dataclass(frozen=True)
class UndeclaredEventType:
    type: str
    source: str
    count: int
    first_seen: datetime
    last_seen: datetime


def undeclared_event_types(*, model: Choreography = CHOREOGRAPHY) -> list[UndeclaredEventType]:
    """The (type, source) pairs observed that the model declares no event for, busiest first.
    An event nothing could be read from (no type) is no type at all: the Failures page lists
    it among the invalid events."""
    declared = reduce(lambda either, event: either | Q(type=event.name, source=event.producer.value),
                      model.events, Q(pk__in=[]))
    rows = (ObservedEvent.objects.exclude(type="").exclude(declared)
            .values("type", "source")
            .annotate(count=Count("id"), first=Min("observed_at"), last=Max("observed_at"))
            .order_by("-count", "type", "source"))
    return [UndeclaredEventType(row["type"], row["source"], row["count"], row["first"], row["last"])
            for row in rows]


def _rule_dict(bus: Bus, rule: DeployedRule) -> dict[str, Any]:
    return {"bus": bus.value, "name": rule.name, "pattern": rule.pattern, "state": rule.state,
            "targets": [target.to_dict() for target in rule.targets]}


def drift_report(*, context: aws.AwsContext | None = None) -> dict[str, Any]:
    """`/api/drift`'s answer: the deployed rules judged against the model, and the observed
    event types it does not declare."""
    read = deployed_cached(context)
    found: Drift = drift(read.deployed)
    return {
        "clean": found.clean and not read.problems,
        "buses": [bus.value for bus in found.buses],
        "undeclaredRules": [_rule_dict(item.bus, item.rule) for item in found.undeclared_rules],
        "routes": [{"route": item.route, "rule": item.rule, "bus": item.bus.value,
                    "deployedName": item.deployed_name, "problem": item.problem,
                    "differences": [d.to_dict() for d in item.differences]}
                   for item in found.routes],
        "undeclaredEventTypes": [
            {"type": item.type, "source": item.source, "count": item.count,
             "firstSeen": item.first_seen.isoformat(), "lastSeen": item.last_seen.isoformat()}
            for item in undeclared_event_types()],
        "problems": list(read.problems),
        "deployedReadAt": read.read_at.isoformat(),
        "checkedAt": timezone.now().isoformat(),
    }
