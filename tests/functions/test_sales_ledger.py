"""The v1-only sales ledger and the translator that feeds it later versions of `order.placed`,
against moto: version 2 reaches the ledger as the version 1 rule would have delivered it, and
each order is counted once, however it came."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.common.aws import DeadLetters
from functions.sales.ledger import SalesLedger
from functions.sales.translator import Translator
from tests.support import eventbridge_event
from workflow.envelope import parse_cloudevent
from workflow.examples import example_event

REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName="SalesLedger", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk",
                                                     "AttributeType": "S"}])
        yield {"sqs": sqs, "dynamodb": dynamodb,
               "ledger_url": sqs.create_queue(QueueName="SalesLedger")["QueueUrl"],
               "dlq_url": sqs.create_queue(QueueName="Failures")["QueueUrl"]}


def _translator(aws: dict[str, Any]) -> Translator:
    return Translator(queue_url=aws["ledger_url"], client=aws["sqs"], dead_letters=DeadLetters(
        queue_url=aws["dlq_url"], function_name="translator", client=aws["sqs"]))


def _received(aws: dict[str, Any], url: str) -> list[str]:
    messages = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
        "Messages", [])
    return [message["Body"] for message in messages]


def _placed(version: int, order_id: str = "ord-1", time: str = "2026-11-29T10:00:00Z"):
    return parse_cloudevent({**example_event("order.placed", version=version),
                             "subject": order_id, "time": time})


def test_the_translator_delivers_version_2_as_the_version_1_rule_would(aws):
    published = eventbridge_event(_placed(2))
    assert _translator(aws).deliver(published) == published["detail"]["id"]

    [body] = _received(aws, aws["ledger_url"])
    delivered = json.loads(body)
    assert {k: v for k, v in delivered.items() if k != "detail"} == \
        {k: v for k, v in published.items() if k != "detail"}
    detail = delivered["detail"]
    assert detail["dataschema"] == "urn:choreo:schema:order.placed:1"
    assert detail["id"] == published["detail"]["id"]
    assert detail["data"]["order"]["total"] == {"amount": 2400, "currency": "GBP"}
    assert detail["data"] == example_event("order.placed")["data"]


def test_the_translator_dead_letters_what_is_not_the_ledgers(aws):
    other = eventbridge_event(parse_cloudevent(example_event("payment.taken")))
    assert _translator(aws).deliver(other) is None
    assert _received(aws, aws["ledger_url"]) == []
    [body] = _received(aws, aws["dlq_url"])
    assert json.loads(body)["detail"]["type"] == "payment.taken"


def test_the_ledger_reads_version_1_and_breaks_on_version_2(aws):
    ledger = SalesLedger(table_name="SalesLedger", client=aws["dynamodb"])
    with pytest.raises(ValueError, match=r"reads urn:choreo:schema:order\.placed:1 only"):
        ledger.record(json.dumps(eventbridge_event(_placed(2))))
    assert ledger.day("2026-11-29", "GBP") == {"amount": 0, "orders": 0}


def test_each_order_is_counted_once_by_whichever_route_it_came(aws):
    ledger = SalesLedger(table_name="SalesLedger", client=aws["dynamodb"])
    translator = _translator(aws)
    # ord-1 published in version 1, delivered twice; ord-2 in version 2, translated twice;
    # ord-3 on the next day
    assert ledger.record(json.dumps(eventbridge_event(_placed(1, "ord-1"))))
    assert not ledger.record(json.dumps(eventbridge_event(_placed(1, "ord-1"))))
    translator.deliver(eventbridge_event(_placed(2, "ord-2")))
    translator.deliver(eventbridge_event(_placed(2, "ord-2")))
    bodies = _received(aws, aws["ledger_url"])
    assert len(bodies) == 2
    assert [ledger.record(body) for body in bodies] == [True, False]
    ledger.record(json.dumps(eventbridge_event(_placed(1, "ord-3", "2026-11-30T00:00:01Z"))))

    # the example order is 2 x 12.00 GBP: 2400 minor units each
    assert ledger.day("2026-11-29", "GBP") == {"amount": 4800, "orders": 2}
    assert ledger.day("2026-11-30", "GBP") == {"amount": 2400, "orders": 1}
