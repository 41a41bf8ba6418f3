"""The embedded AWS's enforcement, in process: IAM's evaluation of a policy (IAM User Guide,
*Policy evaluation logic*, *Condition operators*), and EventBridge's deliveries refused as
its user guide says (*Using resource-based policies for EventBridge*; *Using dead-letter
queues*; *Sending events between event buses*)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import hooks, moto_patches
from local.policies import Principal, evaluate, statements

ACCOUNT, REGION = "123456789012", "us-east-1"
EVENTS = Principal(service="events.amazonaws.com")


def policy(*statement: dict[str, Any]) -> list[Any]:
    return statements({"Version": "2012-10-17", "Statement": list(statement)}, policy="p")


PUT_ORDER_EVENTS = {"Effect": "Allow", "Action": "events:PutEvents",
                    "Resource": "arn:aws:events:us-east-1:1:event-bus/global",
                    "Condition": {"StringEquals": {"events:source": ["order"]}}}


def test_a_condition_on_the_source_allows_only_that_source():
    every = policy(PUT_ORDER_EVENTS)
    bus = "arn:aws:events:us-east-1:1:event-bus/global"
    assert evaluate(every, "events:PutEvents", bus, {"events:source": "order"}).allowed
    refused = evaluate(every, "events:PutEvents", bus, {"events:source": "payment"})
    # an unmet condition makes the Allow not apply: an implicit deny, not an explicit one
    assert not refused.allowed and not refused.explicit_deny
    assert not evaluate(every, "events:PutEvents", bus, {}).allowed  # key missing
    assert not evaluate(every, "events:PutEvents", bus + "2", {"events:source": "order"}).allowed


def test_actions_match_without_case_and_resources_with_iams_wildcards_only():
    every = policy({"Effect": "Allow", "Action": "SQS:Send*",
                    "Resource": "arn:aws:sqs:*:1:queue-?.fifo"})
    assert evaluate(every, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:queue-a.fifo", {}).allowed
    # `.` is a dot, not any character; `?` is one character
    assert not evaluate(every, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:queue-aXfifo", {}).allowed
    assert not evaluate(every, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:queue-ab.fifo", {}).allowed


def test_an_explicit_deny_wins_and_is_named():
    every = policy({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
                   {"Sid": "NoPlainText", "Effect": "Deny", "Action": "sqs:*", "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert evaluate(every, "sqs:SendMessage", "q", {"aws:SecureTransport": "true"}).allowed
    denied = evaluate(every, "sqs:SendMessage", "q", {"aws:SecureTransport": "false"})
    assert denied.explicit_deny and denied.statement == "p, statement 2 (NoPlainText)"


def test_negated_operators_hold_when_the_key_is_missing_and_if_exists_too():
    every = policy({"Effect": "Deny", "Action": "*", "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "1"}}},
                   {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*",
                    "Condition": {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:events:*"}}})
    assert evaluate(every, "sqs:SendMessage", "q", {}).explicit_deny
    assert evaluate(every, "sqs:SendMessage", "q", {"aws:PrincipalAccount": "1"}).allowed
    assert not evaluate(every, "iam:PutRolePolicy", "r", {"aws:PrincipalAccount": "1"}).allowed
    assert not evaluate(every, "sqs:SendMessage", "q", {"aws:PrincipalAccount": "1",
                                                        "aws:SourceArn": "arn:aws:sns:x"}).allowed


def test_a_statement_for_a_service_principal_and_source_arn_lets_only_that_rule_in():
    every = policy({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:1:q",
                    "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/b/r"}}})
    rule = {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/b/r"}
    assert evaluate(every, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q", rule, EVENTS).allowed
    assert not evaluate(every, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q",
                        {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/b/other"}, EVENTS).allowed
    assert not evaluate(every, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q", rule,
                        Principal(account="1", role_arn="arn:aws:iam::1:role/x")).allowed


# --- deliveries, in the embedded AWS's own code ---------------------------------------------


@pytest.fixture
def enforced() -> Iterator[None]:
    moto_patches.apply()
    from local import enforcement

    enforcement.apply()
    hooks.ENFORCEMENT.enabled = True
    hooks.REFUSED.clear()
    dropped = hooks.DROPPED["count"]
    try:
        with mock_aws():
            yield
    finally:
        hooks.ENFORCEMENT.enabled = False
        hooks.DROPPED["count"] = dropped


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test")


def queue(name: str, allow_rules: str | None = None) -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if allow_rules is not None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": allow_rules}}}]})})
    return url, arn


def messages(url: str) -> list[dict[str, Any]]:
    return client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                         MessageAttributeNames=["All"]).get("Messages", [])


def rule_to(target_arn: str, dead_letter_arn: str | None = None, bus: str = "global",
            **target: Any) -> None:
    events = client("events")
    events.put_rule(Name=f"to-{target_arn.rsplit(':', 1)[-1].replace('/', '-')}",
                    EventBusName=bus, EventPattern=json.dumps({"source": ["payment"]}))
    if dead_letter_arn:
        target["DeadLetterConfig"] = {"Arn": dead_letter_arn}
    events.put_targets(Rule=f"to-{target_arn.rsplit(':', 1)[-1].replace('/', '-')}",
                       EventBusName=bus, Targets=[{"Id": "t", "Arn": target_arn, **target}])


def publish(bus: str = "global") -> None:
    client("events").put_events(Entries=[{"Source": "payment", "DetailType": "payment.taken",
                                          "Detail": json.dumps({"id": "ce-1"}),
                                          "EventBusName": bus}])


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}


def test_a_queue_whose_policy_lets_the_rule_in_receives_the_event(enforced: None):
    client("events").create_event_bus(Name="global")
    url, arn = queue("payment", allow_rules=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/global/*")
    rule_to(arn)
    publish()
    assert len(messages(url)) == 1
    assert list(hooks.REFUSED) == []


def test_a_queue_without_the_allow_refuses_and_the_event_is_dead_lettered_not_retried(
        enforced: None):
    client("events").create_event_bus(Name="global")
    rules = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/global/*"
    url, arn = queue("payment")  # no policy
    dead_url, dead_arn = queue("dlq", allow_rules=rules)
    rule_to(arn, dead_arn)
    publish()
    assert messages(url) == []
    (letter,) = messages(dead_url)
    assert attributes(letter)["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes(letter)["RETRY_ATTEMPTS"] == "0"
    assert attributes(letter)["TARGET_ARN"] == arn
    (refusal,) = hooks.REFUSED
    assert refusal["deadLettered"] is True


def test_a_dead_letter_queue_that_refuses_eventbridge_loses_the_event_and_it_is_counted(
        enforced: None):
    client("events").create_event_bus(Name="global")
    _url, arn = queue("payment")
    dead_url, dead_arn = queue("dlq")  # no policy either: EventBridge cannot dead-letter
    before = hooks.DROPPED["count"]
    rule_to(arn, dead_arn)
    publish()
    assert messages(dead_url) == []
    assert hooks.DROPPED["count"] == before + 1
    (refusal,) = hooks.REFUSED
    assert refusal["deadLettered"] is False


def test_an_event_forwarded_into_a_bus_is_not_forwarded_to_a_third(enforced: None):
    events, iam = client("events"), client("iam")
    for name in ("global", "loyalty", "replica"):
        events.create_event_bus(Name=name)
    role = iam.create_role(RoleName="forward", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "events.amazonaws.com"}}]})
                           )["Role"]["Arn"]
    iam.put_role_policy(RoleName="forward", PolicyName="put", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:PutEvents",
                                                "Resource": "*"}]}))
    dead_url, dead_arn = queue("dlq", allow_rules=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/*")
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/"
    rule_to(bus + "loyalty", dead_arn, bus="global", RoleArn=role)
    rule_to(bus + "replica", dead_arn, bus="loyalty", RoleArn=role)
    seen_url, seen_arn = queue("seen", allow_rules=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/*")
    rule_to(seen_arn, bus="loyalty")
    publish()
    assert len(messages(seen_url)) == 1  # the first forward is delivered
    (letter,) = messages(dead_url)  # the second is refused
    assert attributes(letter)["ERROR_CODE"] == "THIRD_ACCOUNT_HOP_DETECTED"
    assert attributes(letter)["TARGET_ARN"] == bus + "replica"


def test_a_bus_target_whose_role_does_not_trust_eventbridge_fails_to_assume_it(enforced: None):
    events, iam = client("events"), client("iam")
    events.create_event_bus(Name="global")
    events.create_event_bus(Name="loyalty")
    role = iam.create_role(RoleName="forward", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]})
                           )["Role"]["Arn"]
    dead_url, dead_arn = queue("dlq", allow_rules=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/*")
    rule_to(f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/loyalty", dead_arn, RoleArn=role)
    publish()
    (letter,) = messages(dead_url)
    assert attributes(letter)["ERROR_CODE"] == "FAILED_TO_ASSUME_ROLE"


def test_put_events_takes_at_most_ten_entries(enforced: None):
    """EventBridge API Reference, PutEvents: Entries, 1 to 10 items (moto's own check)."""
    from botocore.exceptions import ClientError

    client("events").create_event_bus(Name="global")
    entry = {"Source": "order", "DetailType": "order.placed", "Detail": "{}",
             "EventBusName": "global"}
    with pytest.raises(ClientError, match="less than or equal to 10"):
        client("events").put_events(Entries=[entry] * 11)


def test_an_event_source_mapping_whose_role_may_not_read_its_queue_is_not_polled(enforced: None):
    """Lambda Developer Guide, *Using Lambda with Amazon SQS*: the execution role needs
    sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the queue."""
    from local.event_sources import SqsMapping
    from local.lambda_runtime import FunctionSpec
    from local.lambda_service import mapping_allowed
    from local.runtime import Topology

    iam = client("iam")
    _url, arn = queue("payment")
    mapping = SqsMapping(queue_url="https://sqs/123456789012/payment", queue_arn=arn,
                         function_name="payment", batch_size=10,
                         report_batch_item_failures=True)

    def topology(actions: list[str]) -> Topology:
        name = f"role-{len(actions)}"
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions,
                                                    "Resource": arn}]}))
        spec = FunctionSpec(name="payment", arn="arn:aws:lambda:us-east-1:123456789012:function:payment",
                            handler="h.h", timeout_seconds=3, memory_mb=128, role_arn=role)
        return Topology(functions={"Payment": spec}, mappings=[mapping], async_taps=[],
                        api_destination_taps=[], routes=[])

    reads = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    assert mapping_allowed(mapping, topology(reads))
    assert not mapping_allowed(mapping, topology(reads[:2]))
    (refusal,) = [refusal for refusal in hooks.REFUSED if refusal["kind"] == "mapping"]
    assert refusal["action"] == "sqs:GetQueueAttributes" and refusal["resource"] == arn


# --- a bus of another account lets in the forwarding role, for the events it forwards -------

OTHER = "222222222222"
HOME_BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/global"
NAMED, STRANGER = (f"arn:aws:iam::{OTHER}:role/{name}" for name in ("forward", "stranger"))


def client_in(account: str, service: str, key: str = "test") -> Any:
    """A client of another account: moto picks the account from `x-moto-account-id`."""
    made = boto3.client(service, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key="test")
    made.meta.events.register("before-sign.*.*", lambda request, **_: request.headers
                              .__setitem__("x-moto-account-id", account))
    return made


class Boundary:
    """The home bus, whose policy lets in one role of the other account for one source and
    detail-type, as the CDK app writes it (`cdk.constructs.boundaries.bus_policy_statement`);
    in the other account, a bus whose rules forward to it and a dead-letter queue."""

    def __init__(self) -> None:
        client("events").create_event_bus(Name="global")
        client("events").put_permission(EventBusName="global", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": f"FromAccount{OTHER}", "Effect": "Allow", "Principal": {"AWS": NAMED},
                "Action": "events:PutEvents", "Resource": HOME_BUS,
                "Condition": {"StringEquals": {"events:source": ["loyalty"],
                                               "events:detail-type": ["loyalty.points-awarded"]}}}]}))
        self.seen_url, seen_arn = queue(
            "seen", allow_rules=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/global/*")
        client("events").put_rule(Name="to-seen", EventBusName="global",
                                  EventPattern=json.dumps({"source": ["loyalty"]}))
        client("events").put_targets(Rule="to-seen", EventBusName="global",
                                     Targets=[{"Id": "seen", "Arn": seen_arn}])
        self.events, iam, sqs = (client_in(OTHER, service) for service in ("events", "iam", "sqs"))
        self.events.create_event_bus(Name="loyalty")
        for role in (NAMED, STRANGER):  # each may put on the home bus, as far as IAM goes
            name = role.rsplit("/", 1)[-1]
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "events.amazonaws.com"}}]}))
            iam.put_role_policy(RoleName=name, PolicyName="put", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "events:PutEvents", "Resource": HOME_BUS}]}))
        self.dead_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        self.dead_arn = f"arn:aws:sqs:{REGION}:{OTHER}:dlq"
        sqs.set_queue_attributes(QueueUrl=self.dead_url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": self.dead_arn,
                "Condition": {"ArnLike": {
                    "aws:SourceArn": f"arn:aws:events:{REGION}:{OTHER}:rule/loyalty/*"}}}]})})
        self.sqs = sqs

    def forward_as(self, role: str) -> None:
        self.events.put_rule(Name="to-home", EventBusName="loyalty",
                             EventPattern=json.dumps({"source": ["loyalty"]}))
        self.events.put_targets(Rule="to-home", EventBusName="loyalty", Targets=[{
            "Id": "home", "Arn": HOME_BUS, "RoleArn": role,
            "DeadLetterConfig": {"Arn": self.dead_arn}}])

    def publish(self, detail_type: str = "loyalty.points-awarded") -> None:
        self.events.put_events(Entries=[{"Source": "loyalty", "DetailType": detail_type,
                                         "Detail": json.dumps({"id": "ce-1"}),
                                         "EventBusName": "loyalty"}])

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(QueueUrl=self.dead_url, MaxNumberOfMessages=10,
                                        MessageAttributeNames=["All"]).get("Messages", [])


@pytest.fixture
def boundary(enforced: None) -> Boundary:
    return Boundary()


def test_the_declared_forward_as_the_named_role_reaches_the_other_accounts_bus(
        boundary: Boundary):
    boundary.forward_as(NAMED)
    boundary.publish()
    (delivered,) = messages(boundary.seen_url)
    assert json.loads(delivered["Body"])["account"] == OTHER
    assert boundary.dead_letters() == [] and list(hooks.REFUSED) == []


def test_a_forward_as_a_role_the_bus_policy_does_not_name_is_refused_no_permissions(
        boundary: Boundary):
    """Any other role of the same account is refused, though its own policy lets it put."""
    boundary.forward_as(STRANGER)
    boundary.publish()
    assert messages(boundary.seen_url) == []
    (letter,) = boundary.dead_letters()
    assert attributes(letter)["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes(letter)["TARGET_ARN"] == HOME_BUS
    assert f"does not allow account {OTHER} as {STRANGER}" in attributes(letter)["ERROR_MESSAGE"]


def test_a_detail_type_the_bus_policy_does_not_list_is_refused_no_permissions(
        boundary: Boundary):
    boundary.forward_as(NAMED)
    boundary.publish("loyalty.points-revoked")
    assert messages(boundary.seen_url) == []
    (letter,) = boundary.dead_letters()
    assert attributes(letter)["ERROR_CODE"] == "NO_PERMISSIONS"
    assert json.loads(letter["Body"])["detail-type"] == "loyalty.points-revoked"
    (refusal,) = hooks.REFUSED
    assert "loyalty.points-revoked from loyalty" in refusal["reason"]


def test_a_put_events_call_on_the_other_accounts_bus_is_evaluated_as_its_caller(
        boundary: Boundary):
    """A call names the bus by ARN: its caller is the principal the bus policy is evaluated
    for — the account's root is not the named role; a session of that role is let in, for
    the listed detail-type only."""
    from botocore.exceptions import ClientError

    from local.policies import Principal

    entry = {"Source": "loyalty", "DetailType": "loyalty.points-awarded", "Detail": "{}",
             "EventBusName": HOME_BUS}
    with pytest.raises(ClientError, match=f"arn:aws:iam::{OTHER}:root is not authorized"):
        boundary.events.put_events(Entries=[entry])
    hooks.PRINCIPALS["ASIAFORWARDSESSION01"] = Principal(
        account=OTHER, arn=f"arn:aws:sts::{OTHER}:assumed-role/forward/s", role_arn=NAMED)
    try:
        as_role = client_in(OTHER, "events", key="ASIAFORWARDSESSION01")
        assert as_role.put_events(Entries=[entry])["FailedEntryCount"] == 0
        assert len(messages(boundary.seen_url)) == 1
        with pytest.raises(ClientError, match="no resource-based policy allows"):
            as_role.put_events(Entries=[{**entry, "DetailType": "loyalty.points-revoked"}])
    finally:
        del hooks.PRINCIPALS["ASIAFORWARDSESSION01"]
