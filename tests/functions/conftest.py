"""Handlers against moto's in-process AWS: real DynamoDB conditions and transactions, a real
bus whose rule copies everything published into a capture queue. `aws_server` is the same AWS
behind moto's server, on a free port, for a handler run in a process of its own."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from moto.server import ThreadedMotoServer

from functions.common.aws import aws_client
from tests.support import TEST_CARD_TOKEN_KEY
from workflow.envelope import Event, parse_eventbridge
from workflow.handler_env import EnvKind, choreography_environment
from workflow.model import CARD_TOKEN_KEY, CHOREOGRAPHY, ORDER_OUTBOX_QUEUE

REGION = "us-east-1"


class FakeContext:
    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb = 256
    aws_request_id = "request-1"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class Aws:
    sqs: Any
    dynamodb: Any
    capture_url: str
    dead_letter_url: str
    tables: dict[str, str]
    outbox_url: str

    def handler(self, module: str) -> ModuleType:
        aws_client.cache_clear()  # clients belong to this test's mocked AWS
        sys.modules.pop(module, None)
        return importlib.import_module(module)

    def published(self) -> list[Event]:
        events = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.capture_url,
                                                MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(parse_eventbridge(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.capture_url,
                                        ReceiptHandle=message["ReceiptHandle"])

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10,
                                        MessageAttributeNames=["All"]).get("Messages", [])


def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test", "AWS_LAMBDA_FUNCTION_NAME": "test-function",
                        "POWERTOOLS_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def aws_create(monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The model's tables, a bus, and its queues, in whatever AWS boto3 reaches now; the
    handlers' environment names them."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    tables = {}
    for table in CHOREOGRAPHY.tables:
        key = table.partition_key
        name = f"test-{table.id}"
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": key,
                                                     "AttributeType": "S"}])
        tables[table.id] = name
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name="test-bus")
    capture_url = sqs.create_queue(QueueName="capture")["QueueUrl"]
    dead_letter_url = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
    # without the model's delay: a test delivers the checks when it chooses
    outbox_url = sqs.create_queue(QueueName="outbox")["QueueUrl"]
    capture_arn = sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name="everything", EventBusName="test-bus",
                    EventPattern=json.dumps({"source": list(CHOREOGRAPHY.sources())}))
    events.put_targets(Rule="everything", EventBusName="test-bus",
                       Targets=[{"Id": "capture", "Arn": capture_arn}])
    key = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="card-token-key", SecretString=TEST_CARD_TOKEN_KEY)
    # Where the stack would put the deployed resources' names, these: every function's
    # variables, as the model declares them, so that any handler can be imported.
    queues = {ORDER_OUTBOX_QUEUE: outbox_url}
    secrets = {CARD_TOKEN_KEY: key["ARN"]}
    for name, value in choreography_environment(CHOREOGRAPHY, {
            EnvKind.TABLE_NAME: lambda variable: tables[variable.ref],
            EnvKind.QUEUE_URL: lambda variable: queues[variable.ref],
            EnvKind.SECRET_ARN: lambda variable: secrets[variable.ref],
            EnvKind.BUS_NAME: "test-bus",
            EnvKind.DEAD_LETTER_QUEUE_URL: dead_letter_url,
            EnvKind.IDEMPOTENCY_WINDOW: str(CHOREOGRAPHY.idempotency_window_seconds)}).items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()  # the secret belongs to this test's AWS
    return Aws(sqs=sqs, dynamodb=dynamodb, capture_url=capture_url,
               dead_letter_url=dead_letter_url, tables=tables, outbox_url=outbox_url)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    aws_environment(monkeypatch)
    with mock_aws():
        yield aws_create(monkeypatch)


@pytest.fixture
def aws_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The same AWS served by moto's server on a free port, which `AWS_ENDPOINT_URL` names to
    this process and to any process it starts."""
    aws_environment(monkeypatch)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    try:
        yield aws_create(monkeypatch)
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()
