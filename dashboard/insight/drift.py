"""Drift: where the deployed rules and the observed traffic differ from the model.

The deployed side is read from EventBridge (`events:ListRules` and `events:ListTargetsByRule`
on each of the model's buses the stack outputs name), from the stack's resources (which
logical id each rule is) and from Lambda (`lambda:ListEventSourceMappings` on each of the
model's queues the stack outputs name), then judged by `workflow.drift` and
`workflow.mapping_drift`; one read is shared by every viewer
and process for `DEPLOYED_SECONDS`, as AWS's list calls are throttled per account. The
observed side is the read model's: the (type, source) pairs seen that the model does not
declare (`dashboard.catalogue.selectors.undeclared_event_types`), the sources it does not
declare that put events on an observed bus, with the types they used
(`dashboard.catalogue.selectors.undeclared_sources`; the observing rules match every event),
the events put on a bus where no route of the model takes them, and the causation links seen
that the model has no reaction for (`dashboard.insight.drift_traffic`).

Each judgement (`drift_get`) records since when each difference has been seen
(`DriftNoticed`), and is kept for `DEPLOYED_SECONDS` as the latest (`drift_latest`): what the
top bar counts and the live graph marks, so that rendering a page never waits on AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from dashboard import aws
from dashboard.catalogue.selectors import (
    UndeclaredEventType,
    UndeclaredSource,
    undeclared_event_types,
    undeclared_sources,
)
from dashboard.insight.drift_traffic import Link, Unrouted, undeclared_link_list, unrouted_list
from dashboard.models import DriftNoticed
from workflow import outputs
from workflow.drift import (
    DEAD_LETTERS,
    Deployed,
    DeployedRule,
    DeployedTarget,
    Drift,
    UndeclaredRule,
    drift,
    target_key,
)
from workflow.mapping_drift import DeployedMapping, DeployedMappings, MappingDrift, mapping_drift
from workflow.model import CHOREOGRAPHY, Bus, Choreography

DEPLOYED_SECONDS = 60


@dataclass(frozen=True)
class DeployedRead:
    deployed: Deployed
    read_at: datetime
    problems: tuple[str, ...] = ()
    """what could not be read (a bus, the stack's resources), said rather than hidden"""
    mappings: DeployedMappings | None = None
    """the event source mappings on the model's queues; None when they could not be read"""


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


def _mappings_of(context: aws.AwsContext, stack: aws.StackOutputs,
                 model: Choreography) -> DeployedMappings:
    """The event source mappings whose source is one of the model's queues the stack outputs
    name, and the names the outputs give its functions."""
    queues = {queue.id: _queue_arn(context, url) for queue in model.queues
              if (url := stack.queue_url(queue.id))}
    functions = {function.id: stack.values[outputs.function_name(function.id)]
                 for function in model.functions
                 if outputs.function_name(function.id) in stack.values}
    paginator = context.client("lambda").get_paginator("list_event_source_mappings")
    found: list[DeployedMapping] = []
    for arn in queues.values():
        for page in paginator.paginate(EventSourceArn=arn):
            found.extend(DeployedMapping(
                uuid=raw.get("UUID", ""), queue_arn=raw.get("EventSourceArn", arn),
                function_arn=raw.get("FunctionArn", ""), batch_size=raw.get("BatchSize"),
                batching_window_seconds=raw.get("MaximumBatchingWindowInSeconds"),
                response_types=tuple(raw.get("FunctionResponseTypes") or ()),
                state=raw.get("State", "")) for raw in page.get("EventSourceMappings", []))
    return DeployedMappings(tuple(found), queues, functions)


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
    try:
        mappings: DeployedMappings | None = _mappings_of(context, stack, model)
    except Exception as error:
        problems.append(f"the event source mappings could not be read: {error}")
        mappings = None
    deployed = Deployed(rules=rules, stack_name=context.stack_name, logical_ids=logical_ids,
                        addresses=_addresses(context, stack, bus_names, model))
    return DeployedRead(deployed, timezone.now(), tuple(problems), mappings)


def _cache_key(what: str, context: aws.AwsContext) -> str:
    return f"drift:{what}:{context.endpoint_url}:{context.region}:{context.stack_name}"


def deployed_cached(context: aws.AwsContext | None = None) -> DeployedRead:
    """`deployed_read`, shared for `DEPLOYED_SECONDS`."""
    context = context or aws.current()
    key = _cache_key("deployed", context)
    found: DeployedRead | None = cache.get(key)
    if found is None:
        found = deployed_read(context)
        cache.set(key, found, DEPLOYED_SECONDS)
    return found


@dataclass(frozen=True)
class DriftView:
    """The deployment judged against the model, the event types and the sources seen that it
    does not declare, and since when each difference of the deployment has been seen."""

    found: Drift
    read: DeployedRead
    event_types: tuple[UndeclaredEventType, ...]
    noticed: dict[str, datetime]
    """when each difference (by its `workflow.drift` key) was first seen"""
    checked_at: datetime
    sources: tuple[UndeclaredSource, ...] = ()
    """the sources seen that the model does not declare, each with its types"""
    unrouted: tuple[Unrouted, ...] = ()
    """the events seen on a bus where no route of the model takes them, by bus, type, source"""
    links: tuple[Link, ...] = ()
    """the causation links seen that the model has no reaction for"""
    mappings: tuple[MappingDrift, ...] = ()
    """the event source mappings on the model's queues missing, changed or undeclared"""

    @property
    def count(self) -> int:
        """How many differences: the deployment's, the undeclared event types, the undeclared
        sources (each once, whatever types it used), the events put into the void (each bus,
        type and source once), the undeclared causation links (each pair once) and the event
        source mappings missing, changed or undeclared."""
        return self.found.count + len(self.event_types) + len(self.sources) + \
            len(self.unrouted) + len(self.links) + len(self.mappings)

    @property
    def clean(self) -> bool:
        return not self.count and not self.read.problems

    @property
    def drawn(self) -> bool:
        """Whether the live graph has any of it to draw: the deployment's differences and the
        undeclared links (the types, sources and void have no place on it)."""
        return bool(self.found.count or self.links or self.mappings)

    def since(self, key: str) -> datetime | None:
        return self.noticed.get(key)


MAPPINGS = "lambda"
"""What `DriftNoticed.bus` says of an event source mapping's difference: Lambda's, no bus's."""


def noticed_record(found: Drift, *, now: datetime,
                   mappings: tuple[MappingDrift, ...] | None = None) -> dict[str, datetime]:
    """Since when each difference has been seen: new ones from `now`; one that is gone from a
    bus that was read (or from the mappings, when they were: `mappings` not None) is forgotten
    (what could not be read says nothing)."""
    keys: dict[str, str] = {key: bus.value for key, bus in found.keys().items()}
    checked = [bus.value for bus in found.buses]
    if mappings is not None:
        keys.update({item.key: MAPPINGS for item in mappings})
        checked.append(MAPPINGS)
    with transaction.atomic():
        DriftNoticed.objects.filter(bus__in=checked).exclude(key__in=list(keys)).delete()
        known = dict(DriftNoticed.objects.filter(key__in=list(keys)).values_list("key", "first_seen"))
        new = [DriftNoticed(key=key, bus=bus, first_seen=now)
               for key, bus in keys.items() if key not in known]
        DriftNoticed.objects.bulk_create(new, ignore_conflicts=True)
    return {**{item.key: now for item in new}, **known}


def drift_get(*, context: aws.AwsContext | None = None) -> DriftView:
    """The drift now: the deployed rules as last read (at most `DEPLOYED_SECONDS` ago), the
    read model as it is. Kept as the latest for `drift_latest`."""
    context = context or aws.current()
    read = deployed_cached(context)
    found = drift(read.deployed)
    mappings = mapping_drift(read.mappings) if read.mappings is not None else None
    now = timezone.now()
    view = DriftView(found=found, read=read, event_types=tuple(undeclared_event_types()),
                     noticed=noticed_record(found, now=now, mappings=mappings), checked_at=now,
                     mappings=mappings or (),
                     sources=tuple(undeclared_sources()), unrouted=tuple(unrouted_list()),
                     links=tuple(undeclared_link_list()))
    cache.set(_cache_key("latest", context), view, DEPLOYED_SECONDS)
    return view


def drift_latest(*, context: aws.AwsContext | None = None, read: bool = False) -> DriftView | None:
    """The drift as last judged, within `DEPLOYED_SECONDS`; when there is none, judged now if
    `read`, else None (a page being rendered does not wait on AWS)."""
    context = context or aws.current()
    found: DriftView | None = cache.get(_cache_key("latest", context))
    if found is None and read:
        found = drift_get(context=context)
    return found


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _rule_dict(view: DriftView, item: UndeclaredRule) -> dict[str, Any]:
    rule = item.rule
    return {"bus": item.bus.value, "name": rule.name, "pattern": rule.pattern, "state": rule.state,
            "targets": [target.to_dict() for target in rule.targets],
            "noticedAt": _moment(view.since(item.key))}


def drift_report(*, context: aws.AwsContext | None = None) -> dict[str, Any]:
    """`/api/drift`'s answer: the deployed rules judged against the model, the observed
    event types and sources it does not declare, the events put into the void and the causation
    links it has no reaction for."""
    view = drift_get(context=context)
    return {
        "clean": view.clean,
        "count": view.count,
        "buses": [bus.value for bus in view.found.buses],
        "undeclaredRules": [_rule_dict(view, item) for item in view.found.undeclared_rules],
        "routes": [{"route": item.route, "rule": item.rule, "bus": item.bus.value,
                    "deployedName": item.deployed_name, "problem": item.problem,
                    "differences": [d.to_dict() for d in item.differences],
                    "noticedAt": _moment(view.since(item.key))}
                   for item in view.found.routes],
        "undeclaredEventTypes": [
            {"type": item.type, "source": item.source, "count": item.count,
             "firstSeen": item.first_seen.isoformat(), "lastSeen": item.last_seen.isoformat()}
            for item in view.event_types],
        "undeclaredSources": [
            {"source": item.source, "count": item.count, "buses": list(item.buses),
             "firstSeen": item.first_seen.isoformat(), "lastSeen": item.last_seen.isoformat(),
             "types": [{"type": kind.type, "count": kind.count,
                        "firstSeen": kind.first_seen.isoformat(),
                        "lastSeen": kind.last_seen.isoformat()} for kind in item.types]}
            for item in view.sources],
        "unroutedEvents": [
            {"bus": item.bus, "type": item.type, "source": item.source, "count": item.count,
             "firstSeen": item.first_seen.isoformat(), "lastSeen": item.last_seen.isoformat(),
             "latestEventId": item.latest_event_id, "latestOrderId": item.latest_order_id or None}
            for item in view.unrouted],
        "undeclaredLinks": [
            {"causeType": item.cause_type, "type": item.type, "source": item.source,
             "count": item.count, "expected": list(item.expected), "detail": item.summary,
             "firstSeen": item.first_seen.isoformat(), "lastSeen": item.last_seen.isoformat(),
             "latestEventId": item.latest_event_id, "latestOrderId": item.latest_order_id or None}
            for item in view.links],
        "eventSourceMappings": [
            {"queue": item.queue, "function": item.function, "problem": item.problem,
             "uuid": item.uuid, "differences": [d.to_dict() for d in item.differences],
             "detail": item.summary, "noticedAt": _moment(view.since(item.key))}
            for item in view.mappings],
        "problems": list(view.read.problems),
        "deployedReadAt": view.read.read_at.isoformat(),
        "checkedAt": view.checked_at.isoformat(),
    }
