"""The stack's own notification receiver, behind its function URL: what an outside endpoint
would answer, with the key read from Secrets Manager and notifications kept in DynamoDB."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.common.aws import aws_client
from tests.functions.conftest import REGION, FakeContext
from tests.support import TEST_VAULT as VAULT
from tests.support import aws_sample
from workflow.domain.order import order_place
from workflow.handler_env import EnvKind, environment_of, handler_environment
from workflow.model import CHOREOGRAPHY

KEY = "k" * 48
TABLE = CHOREOGRAPHY.notification_receiver.table


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test", "POWERTOOLS_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="notifications", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": TABLE.partition_key, "KeyType": "HASH"},
                       {"AttributeName": str(TABLE.sort_key), "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": TABLE.partition_key, "AttributeType": "S"},
                                  {"AttributeName": str(TABLE.sort_key), "AttributeType": "S"}])
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="api-key", SecretString=KEY)
        for name, value in environment_of(
                handler_environment(CHOREOGRAPHY, CHOREOGRAPHY.notification_receiver),
                {EnvKind.TABLE_NAME: "notifications", EnvKind.SECRET_ARN: secret["ARN"]}).items():
            monkeypatch.setenv(name, value)
        aws_client.cache_clear()
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        from functions.notifications import receiver as module

        yield module


def request(body: bytes, *, key: str | None = KEY, method: str = "POST",
            base64_encoded: bool = False) -> dict[str, Any]:
    """A function URL event, shaped like AWS's sample, as the API destination sends it."""
    event = aws_sample("lambdaFunctionUrlEvent")
    event["requestContext"]["http"]["method"] = method
    event["headers"] = {"content-type": "application/cloudevents+json"}
    if key is not None:
        event["headers"]["x-api-key"] = key
    event["body"] = base64.b64encode(body).decode() if base64_encoded else body.decode()
    event["isBase64Encoded"] = base64_encoded
    return event


def cloudevent() -> bytes:
    placed = order_place(vault=VAULT, request={
        "customerId": "c", "items": [{"sku": "MUG-STONEWARE", "quantity": 1}],
        "card": {"number": "4242424242424242"}})
    return placed.to_json().encode()


def kept(subject: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName="notifications", KeyConditionExpression="#k = :s",
        ExpressionAttributeNames={"#k": TABLE.partition_key},
        ExpressionAttributeValues={":s": {"S": subject}})["Items"]
    return [json.loads(item["event"]["S"]) for item in items]


def answer(receiver: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = receiver.lambda_handler(event, FakeContext())
    return response["statusCode"], json.loads(response["body"])


def test_a_notification_with_the_key_is_kept_by_order(receiver: Any) -> None:
    body = cloudevent()
    status, body_answer = answer(receiver, request(body))
    assert status == 202
    event = json.loads(body)
    assert body_answer == {"status": "accepted", "id": event["id"]}
    assert [kept_event["id"] for kept_event in kept(event["subject"])] == [event["id"]]


@pytest.mark.parametrize("key", [None, "wrong", KEY[:-1]])
def test_a_missing_or_wrong_key_is_401_and_nothing_is_kept(receiver: Any, key: str | None) -> None:
    body = cloudevent()
    status, problem = answer(receiver, request(body, key=key))
    assert status == 401 and problem["title"] == "Unauthorized"
    assert kept(json.loads(body)["subject"]) == []


@pytest.mark.parametrize("body, detail", [
    (b"not json", "not JSON"),
    (b'{"not": "a cloudevent"}', "lacks"),
])
def test_a_malformed_body_is_400(receiver: Any, body: bytes, detail: str) -> None:
    status, problem = answer(receiver, request(body))
    assert status == 400 and detail in problem["detail"]


def test_anything_but_post_is_405(receiver: Any) -> None:
    status, _ = answer(receiver, request(b"", method="GET"))
    assert status == 405


def test_a_base64_body_is_read_as_the_function_url_sends_it(receiver: Any) -> None:
    status, _ = answer(receiver, request(cloudevent(), base64_encoded=True))
    assert status == 202


def test_a_redelivery_keeps_one_notification_and_is_accepted_again(receiver: Any) -> None:
    body = cloudevent()
    assert answer(receiver, request(body))[0] == 202
    assert answer(receiver, request(body))[0] == 202
    assert len(kept(json.loads(body)["subject"])) == 1
