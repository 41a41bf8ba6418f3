"""EventBridge across accounts and regions in the embedded AWS: what moto 5.2.5 does by itself
(measured, so that a moto that changes shows up here), and what the patch makes of it — a
receiving bus's resource policy decides, a refused event is dead-lettered and recorded, and
the sender's `account` and `region` stay on the envelope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import moto.events.models
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local import hooks, moto_patches

HOME, LOYALTY, STRANGER = "111111111111", "222222222222", "333333333333"
REGION, OTHER_REGION = "us-east-1", "eu-west-1"


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    moto_patches.apply()


def client(service: str, account: str, region: str = REGION) -> Any:
    """A client of one account: moto picks the account from `x-moto-account-id`."""
    made = boto3.client(service, region_name=region, aws_access_key_id="test",
                        aws_secret_access_key="test")
    made.meta.events.register("before-sign.*.*", lambda request, **_: request.headers
                              .__setitem__("x-moto-account-id", account))
    return made


class Accounts:
    """A home bus whose rule forwards to a bus of another account (and of another region),
    each receiving bus feeding a queue."""

    def __init__(self) -> None:
        self.home = client("events", HOME)
        self.loyalty = client("events", LOYALTY)
        self.replica = client("events", HOME, OTHER_REGION)
        self.home_sqs = client("sqs", HOME)
        self.dead_letters = self.home_sqs.create_queue(QueueName="dlq")["QueueUrl"]
        self.home.create_event_bus(Name="global")
        self.loyalty_arn = self.loyalty.create_event_bus(Name="loyalty")["EventBusArn"]
        self.replica_arn = self.replica.create_event_bus(Name="replica")["EventBusArn"]
        self.loyalty_queue = self._queue_behind(self.loyalty, client("sqs", LOYALTY), "loyalty")
        self.replica_queue = self._queue_behind(self.replica, client("sqs", HOME, OTHER_REGION),
                                                "replica")
        self.home.put_rule(Name="across", EventBusName="global",
                           EventPattern=json.dumps({"source": ["payment"]}))
        dead_letter_arn = f"arn:aws:sqs:{REGION}:{HOME}:dlq"
        self.home.put_targets(Rule="across", EventBusName="global", Targets=[
            {"Id": "loyalty", "Arn": self.loyalty_arn, "RoleArn": f"arn:aws:iam::{HOME}:role/r",
             "DeadLetterConfig": {"Arn": dead_letter_arn}},
            {"Id": "replica", "Arn": self.replica_arn, "RoleArn": f"arn:aws:iam::{HOME}:role/r",
             "DeadLetterConfig": {"Arn": dead_letter_arn}}])

    def _queue_behind(self, events: Any, sqs: Any, bus: str) -> tuple[Any, str]:
        url = sqs.create_queue(QueueName=f"{bus}-queue")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.put_rule(Name="take", EventBusName=bus, EventPattern=json.dumps({"source": [
            {"prefix": ""}]}))
        events.put_targets(Rule="take", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        return sqs, url

    def allow(self, account: str) -> None:
        self.loyalty.put_permission(EventBusName="loyalty", Action="events:PutEvents",
                                    Principal=account, StatementId=f"from{account}")

    def publish(self, detail_type: str = "payment.taken") -> None:
        self.home.put_events(Entries=[{"Source": "payment", "DetailType": detail_type,
                                       "Detail": json.dumps({"id": "ce-1"}),
                                       "EventBusName": "global", "Resources": ["order/1"]}])

    @staticmethod
    def received(queue: tuple[Any, str]) -> list[dict[str, Any]]:
        sqs, url = queue
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def dead_lettered(self) -> list[dict[str, Any]]:
        return self.home_sqs.receive_message(
            QueueUrl=self.dead_letters, MaxNumberOfMessages=10,
            MessageAttributeNames=["All"]).get("Messages", [])


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    with mock_aws():
        hooks.REFUSED.clear()
        yield Accounts()


def test_moto_alone_forwards_to_another_account_whatever_its_bus_policy_says(
        accounts: Accounts, monkeypatch: pytest.MonkeyPatch):
    rule: Any = moto.events.models.Rule
    monkeypatch.setattr(rule, "send_to_targets", rule.send_to_targets.moto_send_to_targets)
    accounts.allow(STRANGER)  # not the home account
    accounts.publish()
    (forwarded,) = accounts.received(accounts.loyalty_queue)
    # delivered regardless, stamped with the receiving account, without its resources
    assert forwarded["account"] == LOYALTY
    assert forwarded["resources"] == []
    assert accounts.dead_lettered() == []


def test_moto_alone_puts_an_event_for_another_accounts_bus_on_the_callers_own(
        accounts: Accounts, monkeypatch: pytest.MonkeyPatch):
    backend: Any = moto.events.models.EventsBackend
    monkeypatch.setattr(backend, "put_events", backend.put_events.moto_put_events)
    with pytest.raises(ClientError, match="Event bus loyalty does not exist"):
        accounts.home.put_events(Entries=[{"Source": "payment", "DetailType": "x",
                                           "Detail": "{}", "EventBusName": accounts.loyalty_arn}])


def test_a_bus_policy_that_allows_the_sending_account_lets_the_event_through_as_sent(
        accounts: Accounts):
    accounts.allow(HOME)
    accounts.publish()
    (forwarded,) = accounts.received(accounts.loyalty_queue)
    assert (forwarded["account"], forwarded["region"]) == (HOME, REGION)
    assert forwarded["resources"] == ["order/1"]
    assert forwarded["detail"] == {"id": "ce-1"}
    assert list(hooks.REFUSED) == []


def test_an_event_from_an_account_the_bus_policy_does_not_allow_is_refused_and_dead_lettered(
        accounts: Accounts):
    accounts.allow(STRANGER)
    accounts.publish()
    assert accounts.received(accounts.loyalty_queue) == []
    (dead_letter,) = accounts.dead_lettered()
    attributes = {name: value["StringValue"]
                  for name, value in dead_letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["TARGET_ARN"] == accounts.loyalty_arn
    assert attributes["RULE_ARN"].endswith(":rule/global/across")
    assert f"account {HOME}" in attributes["ERROR_MESSAGE"]
    assert json.loads(dead_letter["Body"])["detail-type"] == "payment.taken"
    (refusal,) = hooks.REFUSED
    assert (refusal["target"], refusal["account"], refusal["detail-type"]) == (
        accounts.loyalty_arn, HOME, "payment.taken")


def test_a_bus_with_no_policy_refuses_every_other_account(accounts: Accounts):
    accounts.publish()
    assert accounts.received(accounts.loyalty_queue) == []
    assert len(accounts.dead_lettered()) == 1


def test_a_deny_statement_wins_over_an_allow(accounts: Accounts):
    accounts.allow(HOME)
    policy = json.loads(accounts.loyalty.describe_event_bus(Name="loyalty")["Policy"])
    policy["Statement"].append({"Sid": "deny", "Effect": "Deny", "Action": "events:PutEvents",
                                "Principal": {"AWS": f"arn:aws:iam::{HOME}:root"},
                                "Resource": accounts.loyalty_arn})
    accounts.loyalty.put_permission(EventBusName="loyalty", Policy=json.dumps(policy))
    accounts.publish()
    assert accounts.received(accounts.loyalty_queue) == []


def test_the_same_accounts_bus_in_another_region_needs_no_policy_and_keeps_the_senders_region(
        accounts: Accounts):
    accounts.publish()
    (forwarded,) = accounts.received(accounts.replica_queue)
    assert (forwarded["account"], forwarded["region"]) == (HOME, REGION)


def test_put_events_naming_another_accounts_bus_is_delivered_there_when_its_policy_allows(
        accounts: Accounts):
    accounts.allow(HOME)
    answer = accounts.home.put_events(Entries=[
        {"Source": "loyalty", "DetailType": "direct", "Detail": "{}",
         "EventBusName": accounts.loyalty_arn},
        {"Source": "payment", "DetailType": "payment.taken", "Detail": "{}",
         "EventBusName": "global"}])
    assert answer["FailedEntryCount"] == 0 and len(answer["Entries"]) == 2
    received = accounts.received(accounts.loyalty_queue)
    assert sorted(event["detail-type"] for event in received) == ["direct", "payment.taken"]
    assert {event["account"] for event in received} == {HOME}


def test_put_events_naming_another_accounts_bus_is_refused_when_its_policy_does_not_allow(
        accounts: Accounts):
    with pytest.raises(ClientError, match="AccessDeniedException"):
        accounts.home.put_events(Entries=[{"Source": "loyalty", "DetailType": "direct",
                                           "Detail": "{}", "EventBusName": accounts.loyalty_arn}])
    assert accounts.received(accounts.loyalty_queue) == []
