"""The embedded AWS refuses what AWS refuses: every call a function makes is evaluated against
its role's policies, and every delivery EventBridge makes against the target's resource policy.

moto checks a call's signature and its action against the caller's policies when its access
control is on, but not the resource the call is on (for most services it never works out
which), nor the conditions this template uses, nor any resource policy; and its EventBridge
delivers to any queue, log group or bus whatever their policies say. Here (enforcement on,
`CHOREO_ENFORCEMENT`, the default of `make up`):

- **Calls**: a call signed with credentials the Lambda service issued to a function (its
  role's session, `local.hooks.PRINCIPALS`) is evaluated per resource it touches — each table
  of a transaction with the action the transaction performs on it, each entry of `PutEvents`
  with its bus and `events:source`/`events:detail-type` — against the role's inline and
  managed policies, and for a queue also against the queue's policy (IAM User Guide, *Policy
  evaluation logic*: an explicit Deny in either wins; within one account either may allow).
  A refusal answers AWS's `AccessDeniedException` with AWS's message, to which the embedded
  AWS adds the statement that denied it (or that none allowed it). Any other key (`test`) is
  its account's root, which may do anything in its account, as on LocalStack.
- **Deliveries** (EventBridge User Guide, *Using resource-based policies for EventBridge*;
  *Event bus targets*; *Using dead-letter queues*): an SQS target's queue policy must allow
  `events.amazonaws.com` to `sqs:SendMessage` with the rule's `aws:SourceArn`; a Lambda
  target's function policy must allow `lambda:InvokeFunction` likewise; a log group target
  needs the account's Logs resource policies to allow `logs:CreateLogStream` and
  `logs:PutLogEvents` (the source ARN is known to the second only: docs/decisions.md); an
  event bus target needs its role to trust EventBridge and allow `events:PutEvents` on the
  bus, the receiving bus's policy when the bus is another account's, and must not be a third
  bus (*Sending events between event buses*: "EventBridge can't route events received from a
  sender event bus to a third event bus"). A refused delivery is not retried: it goes to the
  target's dead-letter queue with AWS's `ERROR_CODE` (`NO_PERMISSIONS`, `NO_RESOURCE`,
  `FAILED_TO_ASSUME_ROLE`, `THIRD_ACCOUNT_HOP_DETECTED`, `THIRD_REGION_HOP_DETECTED`) — if
  that queue's own policy lets EventBridge in; else it is dropped and counted.

Decisions are cached per principal, action, resource and context, and forgotten whenever any
policy changes (`local.hooks.Enforcement.generation`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import moto.events.models
import moto.sqs.models
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionAuthenticatorMixin

from local import hooks
from local.policies import Context, Decision, Principal, Statement, evaluate, statements

log = logging.getLogger("choreo.local")

EVENTS = Principal(service="events.amazonaws.com")
# Every request reaches AWS over TLS (the SDKs' endpoints are HTTPS); the embedded AWS's own
# endpoint stands in for them, so the policies' `aws:SecureTransport` Deny does not apply.
TRANSPORT: dict[str, str] = {"aws:SecureTransport": "true"}

# --- what a policy says ------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _parsed(document: str, policy: str) -> tuple[Statement, ...]:
    return tuple(statements(document, policy=policy))


def role_of(arn: str) -> Any:
    from moto.iam.models import iam_backends

    account = arn.split(":")[4]
    with contextlib.suppress(Exception):
        return iam_backends[account]["aws"].get_role_by_arn(arn)
    return None


def role_statements(role_arn: str) -> tuple[Statement, ...]:
    """The statements of a role's inline and managed policies; none for a role that is gone."""
    role = role_of(role_arn)
    if role is None:
        return ()
    found: list[Statement] = []
    for name, document in role.policies.items():
        found += _parsed(document if isinstance(document, str) else json.dumps(document),
                         f"the role's inline policy {name}")
    for managed in role.managed_policies.values():
        version = next((v for v in managed.versions if v.is_default), None)
        if version is not None:
            found += _parsed(version.document, f"managed policy {managed.name}")
    return tuple(found)


def trusts(role_arn: str, service: str) -> bool:
    """Whether a role's trust policy lets `service` assume it."""
    role = role_of(role_arn)
    if role is None:
        return False
    document = role.assume_role_policy_document
    trust = _parsed(document if isinstance(document, str) else json.dumps(document),
                    "the role's trust policy")
    return evaluate(trust, "sts:AssumeRole", role_arn, {},
                    Principal(service=service)).allowed


def queue_of(arn: str) -> Any:
    parsed = moto.events.models.parse_arn(arn)
    with contextlib.suppress(Exception):
        return moto.sqs.models.sqs_backends[parsed.account][parsed.region].get_queue(
            parsed.resource_id)
    return None


def queue_statements(queue: Any) -> tuple[Statement, ...]:
    policy = queue.policy
    return _parsed(policy, f"the queue policy of {queue.name}") if policy else ()


# --- calls -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


def _params(response: Any) -> dict[str, Any]:
    body = response.body
    if isinstance(body, dict):  # parsed already (moto's automated parameter parsing)
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.startswith("{"):
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
            return parsed if isinstance(parsed, dict) else {}
    return {}


_TRANSACTION_ACTIONS = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem",
                        "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem"}


def _secret_arn(account: str, region: str, secret_id: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    with contextlib.suppress(Exception):
        return str(secretsmanager_backends[account][region].describe_secret(secret_id).arn)
    return secret_id if secret_id.startswith("arn:") else \
        f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"


def call_requests(response: Any, service: str, action: str, *, account: str,
                  region: str) -> list[Request]:
    """What one call asks IAM for: an action on a resource, with the request's context keys,
    for each resource the call touches (Service Authorization Reference, per service)."""
    full = f"{service}:{action}"
    params = _params(response)
    if service == "dynamodb":
        def table(name: str) -> str:
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

        if action in ("TransactWriteItems", "TransactGetItems"):
            return [Request(f"dynamodb:{_TRANSACTION_ACTIONS[kind]}", table(op.get("TableName", "")))
                    for item in params.get("TransactItems", []) if isinstance(item, dict)
                    for kind, op in item.items()
                    if kind in _TRANSACTION_ACTIONS and isinstance(op, dict)]
        if action in ("BatchGetItem", "BatchWriteItem"):
            return [Request(full, table(name)) for name in params.get("RequestItems", {})]
        if "TableName" in params:
            return [Request(full, table(str(params["TableName"])))]
    elif service == "events" and action == "PutEvents":
        requests = []
        for entry in params.get("Entries", []):
            bus = str(entry.get("EventBusName") or "default")
            arn = bus if bus.startswith("arn:") else \
                f"arn:aws:events:{region}:{account}:event-bus/{bus}"
            requests.append(Request(full, arn, (
                ("events:source", str(entry.get("Source", ""))),
                ("events:detail-type", str(entry.get("DetailType", ""))))))
        return requests
    elif service == "sqs":
        return [Request(full, response._determine_resource())]
    elif service == "secretsmanager" and "SecretId" in params:
        return [Request(full, _secret_arn(account, region, str(params["SecretId"])))]
    elif service == "logs" and "logGroupName" in params:
        group = f"arn:aws:logs:{region}:{account}:log-group:{params['logGroupName']}"
        stream = params.get("logStreamName")
        return [Request(full, f"{group}:log-stream:{stream}" if stream else f"{group}:*")]
    return [Request(full, "*")]


class AccessDenied(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("AccessDeniedException", message)


_DECISIONS: dict[tuple[Any, ...], tuple[Decision, str]] = {}


def _decide(principal: Principal, request: Request, queue_arn: str | None) -> tuple[Decision, str]:
    """The decision on one request, and whose policy made it ("identity" or "resource")."""
    key = (principal.role_arn, hooks.ENFORCEMENT.generation, request, queue_arn)
    cached = _DECISIONS.get(key)
    if cached is not None:
        return cached
    context: Context = {**TRANSPORT, "aws:PrincipalAccount": principal.account,
                        "aws:PrincipalArn": principal.role_arn, **dict(request.context)}
    identity = evaluate(role_statements(principal.role_arn), request.action,
                        request.resource, context, principal)
    decided = (identity, "identity")
    queue = queue_of(queue_arn) if queue_arn else None
    if queue is not None and not identity.explicit_deny:
        resource = evaluate(queue_statements(queue), request.action, request.resource,
                            context, principal)
        if resource.explicit_deny or (resource.allowed and not identity.allowed
                                      and str(queue_arn).split(":")[4] == principal.account):
            decided = (resource, "resource")
    if len(_DECISIONS) > 20_000:
        _DECISIONS.clear()
    _DECISIONS[key] = decided
    return decided


def refusal_message(principal: Principal, request: Request, decision: Decision,
                    whose: str) -> str:
    """AWS's message for a refused call, then which statement decided (the embedded AWS's)."""
    head = (f"User: {principal.arn} is not authorized to perform: {request.action} on "
            f"resource: {request.resource}")
    if decision.explicit_deny:
        kind = "an identity-based" if whose == "identity" else "a resource-based"
        return f"{head} with an explicit deny in {kind} policy (embedded AWS: {decision.statement})"
    context = ", ".join(f"{key}={value}" for key, value in request.context)
    return (f"{head} because no identity-based policy allows the {request.action} action "
            f"(embedded AWS: no statement of {principal.role_arn.rsplit('/', 1)[-1]}'s "
            f"policies allows it{f' with {context}' if context else ''})")


def authorize_call(response: Any, resource: str = "*") -> None:
    """moto's `_authenticate_and_authorize_normal_action`, for the embedded AWS."""
    principal = hooks.PRINCIPALS.get(response.get_access_key()) if hooks.PRINCIPALS else None
    hooks.CALLER.set(principal)
    if not hooks.ENFORCEMENT.enabled:
        return
    if principal is None:
        return  # an account's root
    service = str(response.service_name)
    action = str(response._get_action())
    if f"{service}:{action}" == "sts:GetCallerIdentity":
        return  # always allowed (IAM User Guide)
    requests = call_requests(response, service, action, account=principal.account,
                             region=response.region)
    for request in requests:
        queue_arn = request.resource if service == "sqs" and request.resource != "*" else None
        decision, whose = _decide(principal, request, queue_arn)
        if decision.allowed:
            continue
        message = refusal_message(principal, request, decision, whose)
        detail = _correlation(response, service)
        hooks.refusal_record(kind="call", principal=principal.arn, action=request.action,
                             resource=request.resource, statement=decision.statement,
                             reason=message, correlationid=detail)
        log.warning("refused: %s", message)
        raise AccessDenied(message)


def _correlation(response: Any, service: str) -> str | None:
    """The order a refused `PutEvents` was about, for the dashboard."""
    if service != "events":
        return None
    for entry in _params(response).get("Entries", []):
        with contextlib.suppress(Exception):
            value = json.loads(entry.get("Detail") or "{}").get("correlationid")
            if isinstance(value, str):
                return value
    return None


def identity_enforcement() -> None:
    mixin: Any = ActionAuthenticatorMixin
    mixin._authenticate_and_authorize_normal_action = authorize_call


# --- policy changes ----------------------------------------------------------------------

_POLICY_WRITERS = {
    "moto.iam.models.IAMBackend": (
        "put_role_policy", "delete_role_policy", "attach_role_policy", "detach_role_policy",
        "create_policy_version", "delete_policy_version", "set_default_policy_version",
        "update_assume_role_policy", "delete_role", "create_role"),
    "moto.sqs.models.SQSBackend": ("set_queue_attributes", "delete_queue", "create_queue"),
    "moto.awslambda.models.LambdaBackend": ("add_permission", "remove_permission",
                                            "create_function", "delete_function"),
    "moto.events.models.EventsBackend": ("put_permission", "remove_permission"),
    "moto.logs.models.LogsBackend": ("put_resource_policy", "delete_resource_policy"),
}


def _announcing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def changed(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        finally:
            hooks.ENFORCEMENT.changed()

    return changed


def policy_changes_are_seen() -> None:
    """Every write to a policy makes the cached decisions stale."""
    import importlib

    for path, names in _POLICY_WRITERS.items():
        module_name, class_name = path.rsplit(".", 1)
        backend = getattr(importlib.import_module(module_name), class_name)
        for name in names:
            method = getattr(backend, name, None)
            if method is not None:
                setattr(backend, name, _announcing(method))


# --- deliveries ---------------------------------------------------------------------------

NO_PERMISSIONS = "NO_PERMISSIONS"
NO_RESOURCE = "NO_RESOURCE"
FAILED_TO_ASSUME_ROLE = "FAILED_TO_ASSUME_ROLE"
THIRD_ACCOUNT_HOP_DETECTED = "THIRD_ACCOUNT_HOP_DETECTED"
THIRD_REGION_HOP_DETECTED = "THIRD_REGION_HOP_DETECTED"


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str
    statement: str | None = None


def _delivery_context(rule: Any) -> dict[str, str]:
    return {**TRANSPORT, "aws:SourceArn": rule.arn, "aws:SourceAccount": rule.account_id}


def _allowed_by(every: tuple[Statement, ...], action: str, resource: str,
                context: Context) -> Decision:
    return evaluate(every, action, resource, context, EVENTS)


def _refusal(what: str, decision: Decision, action: str, resource: str) -> Refusal:
    if decision.explicit_deny:
        return Refusal(NO_PERMISSIONS, f"{what} denies EventBridge {action} on {resource}: "
                                       f"{decision.statement}", decision.statement)
    return Refusal(NO_PERMISSIONS, f"{what} does not allow EventBridge {action} on "
                                   f"{resource} (no statement allows it)")


def check_queue(rule: Any, arn: str) -> Refusal | None:
    queue = queue_of(arn)
    if queue is None:
        return Refusal(NO_RESOURCE, f"no queue {arn}")
    tap = hooks.TAPS.get(arn)
    if tap is not None:
        return check_function(rule, tap.arn) if tap.kind == "function" else None
    decision = _allowed_by(queue_statements(queue), "sqs:SendMessage", arn,
                           _delivery_context(rule))
    return None if decision.allowed else _refusal(f"the queue policy of {queue.name}",
                                                  decision, "sqs:SendMessage", arn)


def _function_statements(arn: str) -> tuple[Statement, ...]:
    from moto.awslambda.models import lambda_backends

    parsed = moto.events.models.parse_arn(arn)
    name = arn.rsplit(":", 1)[-1]
    try:  # the backend answers as the API does: the policy inside {"Policy": ...}
        policy = str(json.loads(lambda_backends[parsed.account][parsed.region]
                                .get_policy(name))["Policy"])
    except Exception:
        return ()
    return _parsed(policy, f"the resource policy of function {name}")


def check_function(rule: Any, arn: str) -> Refusal | None:
    name = arn.rsplit(":", 1)[-1]
    every = _function_statements(arn)
    decision = _allowed_by(every, "lambda:InvokeFunction", arn, _delivery_context(rule))
    return None if decision.allowed else _refusal(f"the resource policy of function {name}",
                                                  decision, "lambda:InvokeFunction", arn)


ANONYMOUS = Principal(arn="anonymous")


def function_url_refusal(function_arn: str) -> str | None:
    """Why the function URL of `function_arn` (`AuthType NONE`) refuses an anonymous caller,
    or None: its resource policy must allow `lambda:InvokeFunctionUrl` (with
    `lambda:FunctionUrlAuthType` NONE) and, since October 2025, `lambda:InvokeFunction` via
    the URL (Lambda Developer Guide, *Control access to Lambda function URLs*)."""
    if not hooks.ENFORCEMENT.enabled:
        return None
    every = _function_statements(function_arn)
    for action, context in (("lambda:InvokeFunctionUrl", {"lambda:FunctionUrlAuthType": "NONE"}),
                            ("lambda:InvokeFunction", {"lambda:InvokedViaFunctionUrl": "true"})):
        decision = evaluate(every, action, function_arn, context, ANONYMOUS)
        if not decision.allowed:
            return (f"the resource policy of {function_arn.rsplit(':', 1)[-1]} does not allow "
                    f"{action} to anyone" if decision.statement is None
                    else f"{action} denied by {decision.statement}")
    return None


def _log_policies(account: str, region: str) -> tuple[Statement, ...]:
    from moto.logs.models import logs_backends

    found: list[Statement] = []
    for name, policy in logs_backends[account][region].resource_policies.items():
        found += _parsed(policy.policy_document, f"Logs resource policy {name}")
    return tuple(found)


def check_log_group(rule: Any, arn: str) -> Refusal | None:
    """EventBridge creates a log stream, then puts the event in it. Which request carries the
    rule's ARN as `aws:SourceArn`: docs/decisions.md ("The Logs resource policy")."""
    parsed = moto.events.models.parse_arn(arn)
    group = parsed.resource_id.removesuffix(":*")
    stream = f"arn:aws:logs:{parsed.region}:{parsed.account}:log-group:{group}:log-stream:x"
    every = _log_policies(parsed.account, parsed.region)
    create_context = dict(TRANSPORT)
    for action, context in (("logs:CreateLogStream", create_context),
                            ("logs:PutLogEvents", _delivery_context(rule))):
        decision = _allowed_by(every, action, stream, context)
        if not decision.allowed:
            return _refusal(f"the Logs resource policies of {parsed.account}", decision, action,
                            stream)
    return None


def check_bus(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> Refusal | None:
    from local.moto_patches import (
        FORWARDED_FROM,
        account_root,
        bus_of,
        bus_policy_decision,
        role_session,
    )

    arn = str(target["Arn"])
    parsed = moto.events.models.parse_arn(arn)
    if event.get(FORWARDED_FROM) and hooks.ENFORCEMENT.enabled:
        code = THIRD_REGION_HOP_DETECTED if parsed.region != rule.region_name \
            else THIRD_ACCOUNT_HOP_DETECTED
        return Refusal(code, f"the event came to this bus from {event[FORWARDED_FROM]}: "
                             f"EventBridge does not route it to a third bus ({arn})")
    bus = bus_of(arn)
    if bus is None:
        return Refusal(NO_RESOURCE, f"no event bus {arn}")
    role_arn = target.get("RoleArn")
    if role_arn and hooks.ENFORCEMENT.enabled:
        if not trusts(str(role_arn), EVENTS.service):
            return Refusal(FAILED_TO_ASSUME_ROLE,
                           f"{role_arn} does not exist or does not trust {EVENTS.service}")
        decision = evaluate(role_statements(str(role_arn)), "events:PutEvents", arn,
                            {**TRANSPORT, "events:source": str(event.get("source", "")),
                             "events:detail-type": str(event.get("detail-type", ""))},
                            Principal(account=str(role_arn).split(":")[4], role_arn=str(role_arn)))
        if not decision.allowed:
            return _refusal(f"the role {role_arn}", decision, "events:PutEvents", arn)
    # Across accounts, the receiving bus's policy decides, for the role EventBridge puts the
    # event as (without one, the rule's account) and for the event's source and detail-type.
    principal = role_session(str(role_arn)) if role_arn else account_root(rule.account_id)
    source, detail_type = str(event.get("source", "")), str(event.get("detail-type", ""))
    decision = bus_policy_decision(bus, principal, source, detail_type)
    if decision.allowed:
        return None
    who = f"account {principal.account}" + (f" as {role_arn}" if role_arn else "")
    what = f"{detail_type} from {source}"
    if decision.explicit_deny:
        return Refusal(NO_PERMISSIONS, f"the resource policy of {bus.arn} denies {who} "
                                       f"putting {what} on it: {decision.statement}",
                       decision.statement)
    return Refusal(NO_PERMISSIONS, f"the resource policy of {bus.arn} does not allow {who} "
                                   f"to put {what} on it (no statement allows it)")


_DELIVERIES: dict[tuple[str, str, int], Refusal | None] = {}


def _target_check(rule: Any, arn: str) -> Refusal | None:
    """Whether a queue, function or log group takes a rule's deliveries: a function of the
    policies alone (not of the event), so decided once per rule, target and policy
    generation rather than for every event."""
    key = (rule.arn, arn, hooks.ENFORCEMENT.generation)
    if key in _DELIVERIES:
        return _DELIVERIES[key]
    service = moto.events.models.parse_arn(arn).service
    refusal = check_queue(rule, arn) if service == "sqs" else \
        check_log_group(rule, arn) if service == "logs" else \
        check_function(rule, arn) if service == "lambda" else None
    if len(_DELIVERIES) > 10_000:
        _DELIVERIES.clear()
    _DELIVERIES[key] = refusal
    return refusal


def check_delivery(rule: Any, target: Mapping[str, Any],
                   event: Mapping[str, Any]) -> Refusal | None:
    """Why EventBridge would not deliver `event` to `target`, or None."""
    arn = str(target.get("Arn", ""))
    if _is_bus_arn(arn):
        return check_bus(rule, target, event)
    return _target_check(rule, arn) if hooks.ENFORCEMENT.enabled else None


def _is_bus_arn(arn: str) -> bool:
    return ":event-bus/" in arn


def dead_letter_allowed(rule: Any, arn: str) -> Refusal | None:
    """A rule target's dead-letter queue takes EventBridge's message only if its policy lets
    EventBridge send for that rule (EventBridge User Guide, *Granting permissions to the
    dead-letter queue*)."""
    if not hooks.ENFORCEMENT.enabled:
        return None if queue_of(arn) is not None else Refusal(NO_RESOURCE, f"no queue {arn}")
    return _target_check(rule, arn)


# --- what moto's CloudFormation leaves out -------------------------------------------------


class QueuePolicy(CloudFormationModel):
    """`AWS::SQS::QueuePolicy`, which moto's CloudFormation skipped: the policy document set
    on each of its queues, as CloudFormation does (with every intrinsic function resolved by
    moto's own template parser), so that a queue deployed locally refuses what it refuses on
    AWS."""

    def __init__(self, name: str, queue_urls: list[str]) -> None:
        self.name = name
        self.queue_urls = queue_urls

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str,
            region_name: str, **kwargs: Any) -> QueuePolicy:
        properties = cloudformation_json["Properties"]
        document = properties["PolicyDocument"]
        backend = moto.sqs.models.sqs_backends[account_id][region_name]
        urls = [str(url) for url in properties.get("Queues", [])]
        for url in urls:
            backend.set_queue_attributes(url.rstrip("/").rsplit("/", 1)[-1],
                                         {"Policy": json.dumps(document)})
        return cls(resource_name, urls)


def queue_policies_deployed() -> None:
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


PATCHES = (identity_enforcement, policy_changes_are_seen, queue_policies_deployed)


def apply() -> None:
    """Enforcement's patches, after moto's own; whether they refuse anything is
    `hooks.ENFORCEMENT.enabled`."""
    from local.moto_patches import apply as moto_patches_apply
    from local.moto_patches import apply_each

    moto_patches_apply()
    apply_each(PATCHES)
