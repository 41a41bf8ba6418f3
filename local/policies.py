"""IAM policy evaluation for the embedded AWS, built on moto's own statement model.

moto's `IAMPolicyStatement` (moto/iam/access_control.py) matches a statement's actions, and
its resources against whatever the service worked out the call is on (for most services,
nothing: "*"). It treats an unmet condition as a Deny (an Allow whose condition fails denies
the call outright), knows no service principals, and matches wildcards as regular expressions
(so `?` and `.` mean what they mean to `re`). `Statement` extends it with what AWS's policy
evaluation logic documents and this project's policies use:

- actions matched case-insensitively, resources case-sensitively, with `*` and `?` as IAM's
  wildcards (IAM User Guide, *IAM JSON policy elements: Action / Resource*);
- `NotAction`, `NotResource`, `Principal` and `NotPrincipal` with `AWS` (account ids, root,
  role and assumed-role ARNs), `Service` and `*`;
- conditions: every `String*`, `Arn*`, `Numeric*` and `Bool` operator, with `...IfExists`,
  `ForAnyValue:`/`ForAllValues:` and `Null`; keys case-insensitive; a key missing from the
  request fails a condition, but for the negated operators, which it satisfies (IAM User
  Guide, *Condition operators*);
- an unmet condition makes a statement not apply; only a Deny that applies denies.

`evaluate` combines statements as IAM does: an explicit Deny wins, else an Allow allows,
else the call is implicitly denied — and says which statement decided, so that every refusal
can be explained.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moto.iam.access_control import IAMPolicyStatement

Context = Mapping[str, str | Sequence[str]]


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    escaped = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"{escaped}\\Z", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` any one; nothing else is special."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _pattern(pattern, ignore_case).match(value) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _compare(base: str, expected: str, actual: str) -> bool:
    """One value of the request against one value of the condition, for an operator with its
    negation, set and `IfExists` parts taken off."""
    if base == "StringEquals":
        return actual == expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base in ("StringLike", "ArnLike", "ArnEquals"):
        return wildcard_match(expected, actual)
    if base == "Bool":
        return actual.lower() == str(expected).lower()
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    return {"NumericEquals": left == right, "NumericLessThan": left < right,
            "NumericLessThanEquals": left <= right, "NumericGreaterThan": left > right,
            "NumericGreaterThanEquals": left >= right}.get(base, False)


_NEGATED = {"StringNotEquals": "StringEquals",
            "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals",
            "ArnNotLike": "ArnLike", "NumericNotEquals": "NumericEquals"}


def condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One condition operator's test of one key (IAM User Guide, *Condition operators*)."""
    present = {name.lower(): value for name, value in context.items()}
    found = present.get(key.lower())
    actual = [] if found is None else [str(value) for value in _as_list(found)]
    expected_values = [str(value) for value in _as_list(expected)]
    if operator == "Null":
        return (not actual) == (str(expected_values[0]).lower() == "true")
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if not actual:
        return if_exists or operator in _NEGATED
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)

    def matches(value: str) -> bool:
        hit = any(_compare(base, want, value) for want in expected_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(matches(value) for value in actual)
    return any(matches(value) for value in actual)


@dataclass(frozen=True)
class Principal:
    """Who makes a call: an account's root, a role's session, or an AWS service."""

    account: str = ""
    arn: str = ""  # the assumed-role session's ARN, or the root's
    role_arn: str = ""
    service: str = ""  # e.g. events.amazonaws.com

    def named_by(self, value: str) -> bool:
        if value == "*":
            return True
        if self.service:
            return False
        if value in (self.account, f"arn:aws:iam::{self.account}:root"):
            return True
        return bool(value) and value in (self.arn, self.role_arn)


class Statement(IAMPolicyStatement):
    """One statement of a policy (see the module's docstring)."""

    def __init__(self, statement: Mapping[str, Any], *, policy: str, index: int) -> None:
        super().__init__(statement)
        self.policy = policy
        self.index = index
        self.effect = str(statement.get("Effect", "Deny"))

    @property
    def name(self) -> str:
        sid = self._statement.get("Sid")
        return f"{self.policy}, statement {self.index + 1}" + (f" ({sid})" if sid else "")

    def _check_element_matches(self, statement_element: Any, value: str) -> bool:
        ignore_case = statement_element in ("Action", "NotAction")
        return any(wildcard_match(str(pattern), value, ignore_case=ignore_case)
                   for pattern in _as_list(self._statement[statement_element]))

    def _principal_matches(self, principal: Principal | None) -> bool:
        for element, negated in (("Principal", False), ("NotPrincipal", True)):
            if element not in self._statement:
                continue
            if principal is None:
                return False
            named = self._statement[element]
            if named == "*":
                hit = True
            else:
                hit = any(principal.named_by(str(value))
                          for value in _as_list(named.get("AWS", []))) or \
                    any(principal.service == str(value)
                        for value in _as_list(named.get("Service", [])))
            return hit != negated
        return True

    def applies(self, action: str, resource: str, context: Context,
                principal: Principal | None = None) -> bool:
        if "NotAction" in self._statement:
            if self._check_element_matches("NotAction", action):
                return False
        elif not self._check_element_matches("Action", action):
            return False
        if "NotResource" in self._statement:
            if self._check_element_matches("NotResource", resource):
                return False
        elif "Resource" in self._statement and \
                not self._check_element_matches("Resource", resource):
            return False
        if not self._principal_matches(principal):
            return False
        return all(condition_holds(operator, key, expected, context)
                   for operator, tests in (self._statement.get("Condition") or {}).items()
                   for key, expected in tests.items())


@dataclass(frozen=True)
class Decision:
    allowed: bool
    statement: str | None = None  # which statement decided; None: none applied

    @property
    def explicit_deny(self) -> bool:
        return not self.allowed and self.statement is not None


def statements(document: str | Mapping[str, Any], *, policy: str) -> list[Statement]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return [Statement(statement, policy=policy, index=index)
            for index, statement in enumerate(_as_list(parsed.get("Statement", [])))]


def evaluate(every: Iterable[Statement], action: str, resource: str, context: Context,
             principal: Principal | None = None) -> Decision:
    """IAM's evaluation of one request against statements: explicit Deny, Allow, or none."""
    allowed_by: Statement | None = None
    for statement in every:
        if not statement.applies(action, resource, context, principal):
            continue
        if statement.effect == "Deny":
            return Decision(False, statement.name)
        allowed_by = allowed_by or statement
    return Decision(allowed_by is not None, allowed_by.name if allowed_by else None)
