"""What fails on AWS fails here: a permission taken away through AWS's own API, against the
running system, has the outcome AWS documents — and putting it back, then redriving, lets
the order complete. Each test restores what it took away.

- EventBridge → SQS needs the queue policy's Allow for `events.amazonaws.com` (EventBridge
  User Guide, *Using resource-based policies for EventBridge*, Amazon SQS permissions);
  a delivery refused for want of permission is not retried and goes to the rule target's
  dead-letter queue with `ERROR_CODE` `NO_PERMISSIONS` (*Using dead-letter queues to process
  undelivered events*).
- A function's call is evaluated against its execution role (Lambda Developer Guide,
  *Lambda execution role*); `PutEvents` without `events:PutEvents` on the bus is refused with
  `AccessDeniedException` (EventBridge User Guide, *Using identity-based policies*).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dashboard.failures.dead_letter_queues import dead_letter_queues, dead_letters_redrive
from tests.e2e.conftest import RunningSystem, log_group_trace, place, runtime_stats, wait_status
from tests.support import eventually
from workflow.model import Bus
from workflow.outputs import (
    NOTIFICATION_ENDPOINT,
    RULE_TARGET,
    bus_name,
    dead_letter_queue_url,
    function_name,
    queue_url,
)

pytestmark = pytest.mark.e2e

MUG = [{"sku": "MUG-STONEWARE", "quantity": 1}]


def dead_letters_of(system: RunningSystem, queue: str, correlation_id: str) -> list[dict[str, Any]]:
    """The dead letters of one order in a queue, left where they are."""
    sqs = system.client("sqs")
    found = []
    for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                       VisibilityTimeout=0, MessageAttributeNames=["All"]
                                       ).get("Messages", []):
        if correlation_id in message["Body"]:
            found.append(message)
    return found


@pytest.fixture
def payment_queue_policy(running_system: RunningSystem) -> Iterator[tuple[str, dict[str, Any]]]:
    sqs = running_system.client("sqs")
    url = running_system.outputs[queue_url("Payment")]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])
    yield url, policy
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})


def test_without_the_payment_queues_allow_an_order_is_not_paid_and_its_event_is_dead_lettered(
        running_system: RunningSystem, payment_queue_policy: tuple[str, dict[str, Any]]):
    url, policy = payment_queue_policy
    sqs = running_system.client("sqs")
    # GIVEN the Payment queue's policy without its Allow for EventBridge (the TLS Deny stays)
    denies = [statement for statement in policy["Statement"] if statement["Effect"] == "Deny"]
    assert len(denies) < len(policy["Statement"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(
        {**policy, "Statement": denies})})
    # WHEN an order is placed
    placed = place(running_system, MUG, customer="enforcement-sqs").json()
    # THEN its stock-reserved event sits in the rule target dead-letter queue, refused
    rule_dlq = running_system.outputs[dead_letter_queue_url(RULE_TARGET)]
    (letter,) = eventually(lambda: dead_letters_of(running_system, rule_dlq,
                                                   placed["correlationId"]),
                           timeout=30, interval=0.25,
                           message="the refused stock-reserved event in the rule target's dead-letter queue")
    attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["TARGET_ARN"].endswith(":" + url.rsplit("/", 1)[1])
    assert json.loads(letter["Body"])["detail-type"] == "warehouse.stock-reserved"
    assert "does not allow EventBridge sqs:SendMessage" in attributes["ERROR_MESSAGE"]
    # ... it was never paid, and the refusal is on record with the order's correlation id
    assert wait_status(running_system, placed["orderId"], {"shipped"}, seconds=3) == "placed"
    assert not [event for event in log_group_trace(running_system, placed["correlationId"])
                if event["type"] == "payment.taken"]
    refusals = runtime_stats(running_system)["refusedDeliveries"]["latest"]
    assert any(refusal.get("correlationid") == placed["correlationId"]
               and refusal["code"] == "NO_PERMISSIONS" for refusal in refusals)
    # WHEN the Allow is put back and the dead letter redriven, THEN the order completes
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    (queue,) = [queue for queue in dead_letter_queues(running_system.outputs)
                if queue.url == rule_dlq]
    dead_letters_redrive(sqs=sqs, events=running_system.client("events"), queue=queue,
                         global_bus_name=running_system.outputs[bus_name(Bus.GLOBAL)],
                         message_ids={letter["MessageId"]})
    assert wait_status(running_system, placed["orderId"], {"shipped"}) == "shipped"


@pytest.fixture
def warehouse_role(running_system: RunningSystem) -> Iterator[tuple[str, str, dict[str, Any]]]:
    lambda_client = running_system.client("lambda")
    iam = running_system.client("iam")
    role_arn = lambda_client.get_function_configuration(
        FunctionName=running_system.outputs[function_name("Warehouse")])["Role"]
    role = role_arn.rsplit("/", 1)[1]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    yield role, policy_name, document
    iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(document))


def test_without_put_events_on_the_warehouse_role_a_new_order_is_never_reserved(
        running_system: RunningSystem, warehouse_role: tuple[str, str, dict[str, Any]]):
    role, policy_name, document = warehouse_role
    iam = running_system.client("iam")
    # GIVEN the Warehouse role without its events:PutEvents statement
    kept = [statement for statement in document["Statement"]
            if "events:PutEvents" not in json.dumps(statement.get("Action"))]
    assert len(kept) == len(document["Statement"]) - 1
    iam.put_role_policy(RoleName=role, PolicyName=policy_name,
                        PolicyDocument=json.dumps({**document, "Statement": kept}))
    # WHEN an order is placed
    placed = place(running_system, MUG, customer="enforcement-iam").json()
    # THEN the warehouse's PutEvents is refused, as AWS refuses it, and says why
    refusal = eventually(lambda: next(
        (refusal for refusal in runtime_stats(running_system)["refusedDeliveries"]["latest"]
         if refusal.get("correlationid") == placed["correlationId"]), None),
        timeout=30, interval=0.25, message="the warehouse's refused PutEvents in the runtime's stats")
    assert refusal is not None
    assert (refusal["kind"], refusal["action"]) == ("call", "events:PutEvents")
    assert f"assumed-role/{role}/" in refusal["principal"]
    assert "because no identity-based policy allows the events:PutEvents action" \
        in refusal["reason"]
    # ... and the order is never reserved: no stock-reserved event, still placed
    assert wait_status(running_system, placed["orderId"], {"shipped"}, seconds=5) == "placed"
    assert [event["type"] for event in log_group_trace(running_system,
                                                       placed["correlationId"])] == ["order.placed"]
    # WHEN the statement is put back, THEN the order completes (retried, or redriven from the
    # Warehouse queue's dead-letter queue if its retries ran out meanwhile)
    iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    if wait_status(running_system, placed["orderId"], {"shipped"}, seconds=10) != "shipped":
        (queue,) = [queue for queue in dead_letter_queues(running_system.outputs)
                    if queue.source_queue_url == running_system.outputs[queue_url("Warehouse")]]
        dead_letters_redrive(sqs=running_system.client("sqs"),
                             events=running_system.client("events"), queue=queue,
                             global_bus_name=running_system.outputs[bus_name(Bus.GLOBAL)])
    assert wait_status(running_system, placed["orderId"], {"shipped"}) == "shipped"


def test_a_function_url_without_its_permission_answers_forbidden(running_system: RunningSystem):
    """A function URL with `AuthType NONE` needs `lambda:InvokeFunctionUrl` for anyone in
    the function's resource policy (Lambda Developer Guide, *Control access to Lambda
    function URLs*); without it Lambda answers 403 before the function runs."""
    lambda_client = running_system.client("lambda")
    receiver = running_system.outputs[function_name("NotificationReceiver")]
    endpoint = running_system.outputs[NOTIFICATION_ENDPOINT]
    # GIVEN the receiver reached through its URL, without the key: the function itself answers
    assert requests.post(endpoint, json={}, timeout=10).status_code == 401
    (statement,) = [statement for statement in json.loads(lambda_client.get_policy(
        FunctionName=receiver)["Policy"])["Statement"]
        if statement["Action"] == "lambda:InvokeFunctionUrl"]
    # WHEN the URL's permission is removed through the Lambda API
    lambda_client.remove_permission(FunctionName=receiver, StatementId=statement["Sid"])
    try:
        # THEN Lambda refuses the call before the function runs
        forbidden = requests.post(endpoint, json={}, timeout=10)
        assert (forbidden.status_code, forbidden.json()) == (403, {"Message": "Forbidden"})
    finally:
        lambda_client.add_permission(FunctionName=receiver, StatementId=statement["Sid"],
                                     Action="lambda:InvokeFunctionUrl", Principal="*",
                                     FunctionUrlAuthType="NONE")
    assert requests.post(endpoint, json={}, timeout=10).status_code == 401


def test_without_its_permission_for_eventbridge_loyalty_is_not_invoked_and_the_event_is_dead_lettered(
        running_system: RunningSystem):
    """EventBridge → Lambda needs the function's resource policy to allow
    `lambda:InvokeFunction` for `events.amazonaws.com` and the rule (EventBridge User Guide,
    *Using resource-based policies*, AWS Lambda permissions)."""
    lambda_client = running_system.client("lambda")
    loyalty = running_system.outputs[function_name("Loyalty")]
    (statement,) = [statement for statement in json.loads(lambda_client.get_policy(
        FunctionName=loyalty)["Policy"])["Statement"]
        if statement.get("Principal") == {"Service": "events.amazonaws.com"}]
    function_arn = lambda_client.get_function_configuration(FunctionName=loyalty)["FunctionArn"]
    # GIVEN Loyalty's permission for EventBridge removed through the Lambda API
    lambda_client.remove_permission(FunctionName=loyalty, StatementId=statement["Sid"])
    try:
        placed = place(running_system, MUG, customer="enforcement-lambda").json()
        # THEN its payment.taken is dead-lettered, refused, naming the function as its target
        rule_dlq = running_system.outputs[dead_letter_queue_url(RULE_TARGET)]
        (letter,) = eventually(lambda: dead_letters_of(running_system, rule_dlq,
                                                       placed["correlationId"]),
                               timeout=30, interval=0.25,
                               message="the refused payment.taken in the rule target's dead-letter queue")
        attributes = {name: value["StringValue"]
                      for name, value in letter["MessageAttributes"].items()}
        assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
        assert attributes["TARGET_ARN"] == function_arn
        assert json.loads(letter["Body"])["detail-type"] == "payment.taken"
        assert wait_status(running_system, placed["orderId"], {"shipped"}, seconds=3) == "placed"
    finally:
        source_arn = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        lambda_client.add_permission(FunctionName=loyalty, StatementId=statement["Sid"],
                                     Action="lambda:InvokeFunction",
                                     Principal="events.amazonaws.com", SourceArn=source_arn)
    # WHEN the dead letter is redriven with the permission back, THEN the order ships
    (queue,) = [queue for queue in dead_letter_queues(running_system.outputs)
                if queue.url == rule_dlq]
    dead_letters_redrive(sqs=running_system.client("sqs"), events=running_system.client("events"),
                         queue=queue, global_bus_name=running_system.outputs[bus_name(Bus.GLOBAL)],
                         message_ids={letter["MessageId"]})
    assert wait_status(running_system, placed["orderId"], {"shipped"}) == "shipped"
