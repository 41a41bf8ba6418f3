"""EventBridge: matching, copying and delivering an event as EventBridge does, across
accounts and regions too."""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jsonpath_ng.ext
import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models
from moto.core.exceptions import JsonRESTError
from moto.core.utils import (
    iso_8601_datetime_without_milliseconds,
    utcfromtimestamp,
)
from moto.events.models import EventPattern
from moto.events.utils import _BASE_EVENT_MESSAGE as BASE_EVENT_MESSAGE
from moto.events.utils import EventTemplateParser
from moto.moto_api._internal import mock_random

from local import hooks

if TYPE_CHECKING:  # imported at run time by the functions that use them: they load moto's IAM
    from local.enforcement import Refusal
    from local.policies import Decision, Principal, Statement


from local.moto_patches.clock import now, now_millis, seconds_of


def memoise_jsonpath() -> None:
    """moto builds a fresh JSONPath parser (a PLY grammar) eight times for every target of
    every event put on a bus, whether or not the target transforms its input: about a fifth
    of the embedded AWS's time under load. Parsing is a pure function of the path."""
    parse: Any = jsonpath_ng.ext.parse
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(parse)


class _RecentFlatEvents:
    """The flattened form of the events being put, by event id: every rule of a bus matches
    its pattern against the same event."""

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self.events: dict[str, dict[str, Any]] = {}

    def get(self, event: Any, flatten: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        key = event.get("id") if isinstance(event, dict) else None
        if not isinstance(key, str):
            return flatten(event)
        flat = self.events.get(key)
        if flat is None:
            flat = self.events[key] = flatten(event)
            while len(self.events) > self.keep:
                self.events.pop(next(iter(self.events)), None)
        return flat


def match_each_event_once() -> None:
    """moto matches an event against every rule of its bus by serialising the event to JSON,
    parsing it back and flattening it, once per rule (a route to a FIFO queue is a rule per
    partition): ~6 % of the embedded AWS's time under load, most of it for rules that do not
    match. The flattened event is the same for every rule, so it is made once per event."""
    pattern_class: Any = EventPattern
    recent = _RecentFlatEvents()

    def flatten(event: Any) -> dict[str, Any]:
        return dict(EventPattern._flatten_dict(json.loads(json.dumps(event))))

    def matches_event(self: EventPattern, event: Any) -> bool:
        if not self._pattern:
            return True
        return bool(self._does_event_match(recent.get(event, flatten), self._pattern))

    pattern_class.matches_event = matches_event


def fast_events_clock() -> None:
    """EventBridge builds its event once per rule of the bus, reading the clock twice through
    the same datetime-heavy helper SQS used (see `fast_sqs_clock`)."""
    events_models: Any = moto.events.models
    events_models.unix_time = lambda dt=None: now() if dt is None else seconds_of(dt)


def stamp_logged_events_in_milliseconds() -> None:
    """A log group target's log events were stamped to a fraction of a millisecond (the clock
    helper's float, its only reader in EventBridge); CloudWatch Logs' timestamps are whole
    milliseconds."""
    events_models: Any = moto.events.models
    events_models.unix_time_millis = lambda dt=None: int(
        now_millis() if dt is None else seconds_of(dt) * 1000.0)


class _EventCopies:
    """moto's `copy` module as `put_events` sees it: the blank event it fills in once per rule
    of the bus is copied field by field (its only mutable fields are an empty list and an
    empty dict) rather than with the generic deep copy."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if value is BASE_EVENT_MESSAGE:
            return {**value, "resources": [], "detail": {}}
        return copy.deepcopy(value, memo)


def cheap_event_copies() -> None:
    assert BASE_EVENT_MESSAGE["resources"] == [] and BASE_EVENT_MESSAGE["detail"] == {}
    events_models: Any = moto.events.models
    events_models.copy = _EventCopies


# An event's fields as EventBridge hands it to a target, in the order it writes them (AWS's
# sample `eventBridgeEvent.json`).
EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region",
                "resources", "detail")


def as_delivered(event: Mapping[str, Any]) -> dict[str, Any]:
    """moto's working copy of an event as EventBridge shows it to a target: AWS's fields only
    (not moto's `ingestion-time`), the time as EventBridge writes it rather than a number."""
    delivered = {name: event[name] for name in EVENT_FIELDS if name in event}
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = iso_8601_datetime_without_milliseconds(
            utcfromtimestamp(delivered["time"]))
    return delivered


def _transform(template: str, paths: Mapping[str, str], event: Mapping[str, Any]) -> Any:
    """moto's input transformer (`EventTemplateParser.parse`) step for step, but for
    `<aws.events.event.json>`, which is the event as delivered. The input paths still read
    moto's working copy: its targets rewrite a `time` they are handed, from a number."""
    parser: Any = EventTemplateParser
    for name, path in (paths or parser.DEFAULT_EVENT_INPUT_PATHS_MAP).items():
        matches = jsonpath_ng.ext.parse(path).find(event)
        value = parser._stringify(matches[0].value) if matches else None
        if value:
            template = template.replace(f"<{name}>", value)
    template = template.replace("<aws.events.event.json>", json.dumps(as_delivered(event)))
    template = template.replace("<aws.events.event.ingestion-time>",
                                parser._stringify(event["ingestion-time"]))
    return json.loads(template)


def deliver_whole_events() -> None:
    """What moto hands a rule's targets as the whole event is not the event EventBridge hands
    them:
    - a target without an input transformer gets its input through a template of moto's that
      leaves out `account`, so every event delivered to a queue, a log group or another bus
      lacked a field every event from AWS has (and that Powertools' `EventBridgeModel`
      requires); the template also wrote `source` and `detail-type` into the JSON unescaped,
      so a quote in either failed the whole `PutEvents`;
    - an input transformer's `<aws.events.event.json>` (the observability queue's input) was
      moto's working copy: the time a number of seconds, and an `ingestion-time` field of
      moto's own.
    Both are now the event as delivered (the first keeps its time a number: moto's targets
    write it out as EventBridge does)."""
    parser: Any = EventTemplateParser

    def parse(input_template: str | None, input_paths_map: dict[str, str],
              event: Mapping[str, Any]) -> Any:
        if input_template:
            return _transform(input_template, input_paths_map, event)
        return {name: event[name] for name in EVENT_FIELDS if name in event}

    parser.parse = staticmethod(parse)


# --- EventBridge's deliveries: across accounts and regions, and what a target refuses ----
#
# Measured on moto 5.2.5 (docs/local-mode.md, tests/local/test_cross_account.py): a rule
# whose target is an event bus of another account or region does forward the event, through
# that backend's `put_events`, but
# - it never reads the receiving bus's resource policy: any account's rule reaches any bus;
# - it ignores the target's `RoleArn` and `DeadLetterConfig` (nothing is ever refused, so
#   nothing is ever dead-lettered);
# - the forwarded event's `account` becomes the receiving account (EventBridge keeps the
#   sending account's, which is how a receiving rule tells where an event came from), and
#   it gets a new `id` and `time` and loses its `resources` (as a forward within an account);
# - an event forwarded into a bus is forwarded again by that bus's rules, to any number of
#   buses (EventBridge routes an event received from another bus to no third bus);
# and a `PutEvents` naming another account's bus by its ARN is put on the caller's own bus
# of that name (or fails with "Event bus ... does not exist"): moto drops the ARN's account
# and region. moto's CloudFormation does not model `AWS::Events::EventBusPolicy` at all
# (`local.deploy` applies it with `PutPermission`, which moto stores but never checks).
# Whether a target's policy lets EventBridge deliver is decided in `local.enforcement`.

# The key, in moto's working copy of an event, naming the bus an event was forwarded from:
# never delivered (targets are handed `EVENT_FIELDS` only).
FORWARDED_FROM = "choreo-forwarded-from"


def account_root(account: str) -> Principal:
    """An account's root: the caller of a call signed with any key but a function's role's,
    and the sender of a rule's bus target that has no role."""
    from local.policies import Principal

    return Principal(account=account, arn=f"arn:aws:iam::{account}:root")


def role_session(role_arn: str) -> Principal:
    """A session of a role, as EventBridge assumes a bus target's role to put events."""
    from local.policies import Principal

    parts = role_arn.split(":")
    return Principal(account=parts[4] if len(parts) > 4 else "", arn=role_arn, role_arn=role_arn)


@functools.lru_cache(maxsize=64)
def _bus_statements(policy: str, arn: str) -> tuple[Statement, ...]:
    from local.policies import statements

    return tuple(statements(policy, policy=f"the resource policy of {arn}"))


def bus_policy_decision(bus: Any, principal: Principal, source: str,
                        detail_type: str) -> Decision:
    """How an event bus's resource policy answers `principal` putting an event of `source`
    and `detail_type` on it, as IAM evaluates a resource policy (`local.policies.evaluate`: a
    Deny wins, else an Allow whose principal, resource and conditions all match), with the
    event's `events:source` and `events:detail-type`, which EventBridge evaluates on
    `PutEvents` (EventBridge User Guide, *Using IAM policy conditions*:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html). A
    statement naming an account's root lets in any principal of that account; one naming a
    role, only that role. An account needs no policy to put on its own bus."""
    from local.policies import Decision, evaluate

    if principal.account == bus.account_id:
        return Decision(True)
    context = {"aws:SecureTransport": "true", "aws:PrincipalAccount": principal.account,
               "aws:PrincipalArn": principal.role_arn or principal.arn,
               "events:source": source, "events:detail-type": detail_type}
    return evaluate(_bus_statements(bus.policy or "{}", bus.arn), "events:PutEvents",
                    bus.arn, context, principal)


def bus_of(arn: str) -> Any:
    parsed = moto.events.models.parse_arn(arn)
    backend = moto.events.models.events_backends[parsed.account][parsed.region]
    return backend.event_buses.get(parsed.resource_id)


def _put_on_bus(bus: Any, event: Mapping[str, Any], forwarded_from: str | None = None) -> None:
    """What `put_events` does with one event, on a bus of any account and region, keeping
    the envelope's `account` and `region` (the sender's) and `resources`; a forwarded event
    remembers the bus it came from."""
    event_id = str(mock_random.uuid4())
    for rule in list(bus.rules.values()):
        message = _EventCopies.deepcopy(BASE_EVENT_MESSAGE)
        message.update({"id": event_id, "detail-type": event["detail-type"],
                        "source": event["source"], "account": event["account"],
                        "time": now(), "region": event["region"],
                        "resources": list(event.get("resources", [])),
                        "detail": copy.deepcopy(event["detail"]), "ingestion-time": now()})
        if forwarded_from:
            message[FORWARDED_FROM] = forwarded_from
        rule.send_to_targets(message)


def target_arn(target: Mapping[str, Any]) -> str:
    """The target as the template names it: for a tap queue (`local.template`), the function
    or API destination it stands for."""
    arn = str(target["Arn"])
    tap = hooks.TAPS.get(arn)
    return tap.arn if tap is not None else arn


def _send_dead_letter(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any],
                      refusal: Refusal) -> bool:
    """EventBridge's dead letter for a delivery it will not retry, with its error attributes;
    False when there is no dead-letter queue or it does not take EventBridge's messages."""
    from local.enforcement import dead_letter_allowed

    dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
    if not dead_letter or dead_letter_allowed(rule, dead_letter) is not None:
        return False
    queue = moto.events.models.parse_arn(dead_letter)
    sqs_backend = moto.sqs.models.sqs_backends[queue.account][queue.region]
    sqs_backend.send_message(
        queue_name=queue.resource_id, message_body=json.dumps(as_delivered(event)),
        message_attributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": refusal.code},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": refusal.reason[:250]},
            "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": "0"},
            "RULE_ARN": {"DataType": "String", "StringValue": rule.arn},
            "TARGET_ARN": {"DataType": "String", "StringValue": target_arn(target)}})
    return True


def _refuse(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any],
            refusal: Refusal) -> None:
    """A delivery EventBridge would not make: recorded, logged, and sent to the target's
    dead-letter queue, or dropped and counted when it has none that takes it."""
    detail = event.get("detail")
    dead_lettered = _send_dead_letter(rule, target, event, refusal)
    hooks.refusal_record(
        kind="delivery", rule=rule.arn, target=target_arn(target), account=event.get("account"),
        region=event.get("region"), source=event.get("source"),
        **{"detail-type": event.get("detail-type")}, code=refusal.code, reason=refusal.reason,
        statement=refusal.statement, deadLettered=dead_lettered,
        correlationid=detail.get("correlationid") if isinstance(detail, dict) else None)
    if not dead_lettered:
        hooks.DROPPED["count"] += 1
    logging.getLogger("choreo.local").warning(
        "EventBridge refused %s -> %s: %s %s%s", rule.arn, target_arn(target), refusal.code,
        refusal.reason, "" if dead_lettered else " (dropped: no dead-letter queue takes it)")


def _is_bus(target: Mapping[str, Any]) -> bool:
    return ":event-bus/" in str(target.get("Arn", ""))


def event_buses_across_accounts() -> None:
    """Each target of a matching rule is delivered as EventBridge delivers it: a bus target
    (of this or another account or region) only if it is not a third bus, its role may put
    events there and, across accounts, the receiving bus's policy allows the target's role
    (the rule's account's root when it has none) to put that source and detail-type, keeping
    the sender's `account`, `region` and `resources`; any target only if its resource
    policy lets EventBridge in (with enforcement on, `local.enforcement`). A refused delivery
    is recorded (`local.hooks.REFUSED`), logged, and dead-lettered with its `ERROR_CODE`.
    A `PutEvents` naming another account's or region's bus by ARN goes to that bus, under the
    same policy for its caller (a function's role session, `local.hooks.CALLER`, or its
    account's root) and each entry's source and detail-type, and is refused with
    `AccessDeniedException` when the policy does not allow it."""
    from local.enforcement import check_delivery

    rule_class: Any = moto.events.models.Rule
    send_to_targets = rule_class.send_to_targets
    parse: Any = EventTemplateParser.parse

    def send(self: Any, original_event: Any, transform_input: bool = True) -> None:
        checked = hooks.ENFORCEMENT.enabled or any(_is_bus(target) for target in self.targets)
        if not checked:
            send_to_targets(self, original_event, transform_input)
            return
        if not self.event_pattern.matches_event(original_event):
            return
        delivered = []
        for target in self.targets:
            refusal = check_delivery(self, target, original_event)
            if refusal is None and not _is_bus(target):
                delivered.append(target)
                continue
            transformer = target.get("InputTransformer", {})
            event = parse(input_template=transformer.get("InputTemplate"),
                          input_paths_map=transformer.get("InputPathsMap", {}),
                          event=original_event) if transform_input else dict(original_event)
            if refusal is not None:
                _refuse(self, target, event, refusal)
            else:
                _put_on_bus(bus_of(target["Arn"]), event,
                            forwarded_from=f"arn:aws:events:{self.region_name}:"
                                           f"{self.account_id}:event-bus/{self.event_bus_name}")
        if delivered:
            local = object.__new__(type(self))
            local.__dict__.update(self.__dict__)
            local.targets = delivered
            local.event_pattern = _MATCHED
            send_to_targets(local, original_event, transform_input)

    send.moto_send_to_targets = send_to_targets  # type: ignore[attr-defined]
    rule_class.send_to_targets = send

    backend_class: Any = moto.events.models.EventsBackend
    put_events = backend_class.put_events

    def put(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answers: list[dict[str, Any] | None] = []
        mine: list[dict[str, Any]] = []
        elsewhere: list[tuple[int, dict[str, Any], Any]] = []
        for event in events:
            name = str(event.get("EventBusName") or "")
            parsed = moto.events.models.parse_arn(name) \
                if name.startswith("arn:") and ":event-bus/" in name else None
            if parsed is None or (parsed.account, parsed.region) == (self.account_id,
                                                                      self.region_name):
                mine.append(event)
                answers.append(None)
                continue
            bus = bus_of(name)
            caller = hooks.CALLER.get() or account_root(self.account_id)
            decision = None if bus is None else bus_policy_decision(
                bus, caller, str(event.get("Source", "")), str(event.get("DetailType", "")))
            if decision is None or not decision.allowed:
                why = "with an explicit deny in a resource-based policy" \
                    if decision is not None and decision.explicit_deny \
                    else "because no resource-based policy allows the events:PutEvents action"
                raise JsonRESTError("AccessDeniedException",
                                    f"User: {caller.arn} is not authorized to perform: "
                                    f"events:PutEvents on resource: {name} {why}")
            elsewhere.append((len(answers), event, bus))
            answers.append({"EventId": str(mock_random.uuid4())})
        own = iter(put_events(self, mine) if mine else [])
        for _index, event, bus in elsewhere:
            _put_on_bus(bus, {"detail-type": event.get("DetailType"),
                              "source": event.get("Source"), "account": self.account_id,
                              "region": self.region_name,
                              "resources": event.get("Resources", []),
                              "detail": json.loads(event.get("Detail") or "{}")})
        return [answer if answer is not None else next(own) for answer in answers]

    put.moto_put_events = put_events  # type: ignore[attr-defined]
    backend_class.put_events = put


class _Matched:
    """The pattern of a rule already matched against the event it is handed."""

    @staticmethod
    def matches_event(event: Any) -> bool:
        return True


_MATCHED = _Matched()
