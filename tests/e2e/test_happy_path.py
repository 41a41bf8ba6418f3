"""One order through the happy path, driven over HTTP and read back from the embedded AWS,
as any client would."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.e2e.conftest import RunningSystem, api, log_group_trace, place, wait_status
from tests.support import eventually
from workflow.model import CHOREOGRAPHY
from workflow.outputs import (
    NOTIFICATION_API_KEY_SECRET_ARN,
    NOTIFICATION_ENDPOINT,
    NOTIFICATIONS_TABLE_NAME,
)

pytestmark = pytest.mark.e2e
CHAIN = list(CHOREOGRAPHY.happy_path)


def test_an_order_ships_and_its_five_cloudevents_are_in_the_log_group(
        running_system: RunningSystem) -> None:
    products = api("GET", f"{running_system.api}/products").json()["products"]
    response = place(running_system, [{"sku": products[0]["sku"], "quantity": 1}])
    assert response.status_code == 202
    accepted = response.json()

    assert wait_status(running_system, accepted["orderId"], {"shipped", "rejected",
                                                             "cancelled"}) == "shipped"

    events = eventually(lambda: log_group_trace(running_system, accepted["correlationId"]),
                        lambda events: {event["type"] for event in events} >= set(CHAIN), 10, 0.2,
                        "every event of the chain in the log group")
    by_type = {event["type"]: event for event in events}
    assert sorted(by_type) == sorted(CHAIN)
    for event in events:
        JSONFormat().read(CloudEvent, json.dumps(event).encode())  # valid CloudEvents 1.0
        assert event["dataschema"]
        assert event["subject"] == accepted["orderId"]
    assert "causationid" not in by_type["order.placed"]
    for cause, effect in itertools.pairwise(CHAIN):
        assert by_type[effect]["causationid"] == by_type[cause]["id"], f"{effect} after {cause}"


def test_the_shipping_notification_reaches_the_endpoint_with_the_cloudevent(
        running_system: RunningSystem) -> None:
    """The API destination signs each call with the key the stack generated into Secrets
    Manager; the stack's own receiver checks it and keeps what it receives, by order."""
    response = place(running_system, [{"sku": "TEA-EARL-GREY", "quantity": 1}])
    order_id = response.json()["orderId"]
    assert wait_status(running_system, order_id, {"shipped"}) == "shipped"
    dynamodb = running_system.client("dynamodb")
    items: list[dict[str, Any]] = eventually(
        lambda: dynamodb.query(
            TableName=running_system.outputs[NOTIFICATIONS_TABLE_NAME],
            KeyConditionExpression="subject = :order",
            ExpressionAttributeValues={":order": {"S": order_id}})["Items"],
        timeout=10, interval=0.1, message="the shipping notification kept by the receiver")
    [item] = items
    assert item["contentType"]["S"] == "application/cloudevents+json"
    assert json.loads(item["event"]["S"])["type"] == "warehouse.order-shipped"


def test_the_notification_endpoint_refuses_a_wrong_key_and_a_malformed_body(
        running_system: RunningSystem) -> None:
    endpoint = running_system.outputs[NOTIFICATION_ENDPOINT]
    key = running_system.client("secretsmanager").get_secret_value(
        SecretId=running_system.outputs[NOTIFICATION_API_KEY_SECRET_ARN])["SecretString"]
    headers = {"content-type": "application/cloudevents+json"}
    wrong = requests.post(endpoint, data=b"{}", headers={**headers, "x-api-key": "wrong"},
                          timeout=10)
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    malformed = requests.post(endpoint, data=b'{"not": "a cloudevent"}',
                              headers={**headers, "x-api-key": key}, timeout=10)
    assert malformed.status_code == 400 and "lacks" in malformed.json()["detail"]


def test_a_raw_put_events_reaches_the_observability_queue(running_system: RunningSystem) -> None:
    marker = f"raw-{uuid.uuid4()}"
    running_system.client("events").put_events(Entries=[{
        "EventBusName": running_system.outputs["GlobalEventBusName"], "Source": "order",
        "DetailType": "order.placed", "Detail": json.dumps({"marker": marker})}])
    sqs = running_system.client("sqs")
    queue_url = running_system.outputs["ObservabilityQueueUrl"]

    def marked() -> list[dict[str, Any]]:
        return [json.loads(message["Body"])
                for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=1).get("Messages", [])
                if marker in message["Body"]]

    seen = eventually(marked, timeout=10, interval=0,
                      message="the raw event in the observability queue")
    assert seen, "the raw event did not reach the observability queue"
    assert seen[0]["bus"] == "global"
    assert seen[0]["event"]["detail"] == {"marker": marker}


def test_the_aws_cli_sees_the_same_system(running_system: RunningSystem) -> None:
    cli = Path(sys.executable).with_name("aws")
    result = subprocess.run([str(cli), "--endpoint-url", running_system.aws_endpoint,
                             "events", "list-rules", "--event-bus-name",
                             running_system.outputs["GlobalEventBusName"], "--output", "json"],
                            capture_output=True, text=True, timeout=60,
                            env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                                 "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["Rules"]) >= len(CHOREOGRAPHY.routes_on(
        CHOREOGRAPHY.routes[0].bus))
