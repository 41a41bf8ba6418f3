"""The Lambda service's SQS client answers as boto3's does, from moto's backend directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.in_process_sqs import InProcessSqs

VOLATILE = {"MessageId", "ReceiptHandle"}
VOLATILE_ATTRIBUTES = {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SequenceNumber"}


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    attributes = {name: value for name, value in message["Attributes"].items()
                  if name not in VOLATILE_ATTRIBUTES}
    return {**{key: value for key, value in message.items() if key not in VOLATILE},
            "Attributes": attributes}


@pytest.mark.parametrize("fifo", [False, True])
def test_a_received_message_has_boto3_s_shape_and_values(sqs: Any, fifo: bool):
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    suffix = ".fifo" if fifo else ""
    urls = [sqs.create_queue(QueueName=f"{name}{suffix}", Attributes=attributes)["QueueUrl"]
            for name in ("through-boto3", "in-process")]
    for url in urls:
        sqs.send_message(QueueUrl=url, MessageBody='{"x": 1}', **(
            {"MessageGroupId": "g"} if fifo else {}), MessageAttributes={
            "reason": {"DataType": "String", "StringValue": "why"}})
    [via_boto3] = sqs.receive_message(QueueUrl=urls[0], AttributeNames=["All"],
                                      MessageAttributeNames=["All"])["Messages"]
    [in_process] = InProcessSqs(account_id="123456789012", region="us-east-1").receive_message(
        QueueUrl=urls[1], MaxNumberOfMessages=10, WaitTimeSeconds=0,
        AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    assert comparable(in_process) == comparable(via_boto3)
    assert in_process["Attributes"]["ApproximateReceiveCount"] == "1"
    assert ("MessageGroupId" in in_process["Attributes"]) == fifo


def test_deletes_visibility_and_sends_reach_the_same_queues(sqs: Any):
    client = InProcessSqs(account_id="123456789012", region="us-east-1")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    assert client.get_queue_url(QueueName="q")["QueueUrl"].endswith("/123456789012/q")
    client.send_message(QueueUrl=url, MessageBody="one", MessageAttributes={
        "reason": {"DataType": "String", "StringValue": "r"}})
    client.send_message(QueueUrl=url, MessageBody="two")
    messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                      WaitTimeSeconds=0)["Messages"]
    assert sorted(m["Body"] for m in messages) == ["one", "two"]
    one = next(m for m in messages if m["Body"] == "one")
    two = next(m for m in messages if m["Body"] == "two")
    assert one["MessageAttributes"]["reason"]["StringValue"] == "r"
    answer = client.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "0", "ReceiptHandle": one["ReceiptHandle"]}])
    assert answer == {"Successful": [{"Id": "0"}], "Failed": []}
    client.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "0", "ReceiptHandle": two["ReceiptHandle"], "VisibilityTimeout": 0}])
    [again] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert again["Body"] == "two" and again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_the_longest_wait_counts_only_messages_waiting_to_be_received(sqs: Any):
    client = InProcessSqs(account_id="123456789012", region="us-east-1")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    assert client.longest_wait(url) == 0
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    [message] = client.backend.get_queue("q")._messages
    message.sent_timestamp -= 3000  # sent three seconds ago, not received yet
    assert 2.9 < client.longest_wait(url) < 4
    sqs.receive_message(QueueUrl=url)  # in flight now: a function has it
    assert client.longest_wait(url) == 0 and client.depth(url) == 1


def test_a_message_the_queue_holds_back_is_not_yet_work_to_do(sqs: Any):
    """A queue's delay, as the template declares it, holds a message back from the Lambda
    service; until then it is neither backlog nor behind."""
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName="s", TemplateBody=json.dumps({"Resources": {
        "Checks": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "checks",
                                                             "DelaySeconds": 60}}}}))
    client = InProcessSqs(account_id="123456789012", region="us-east-1")
    url = client.get_queue_url(QueueName="checks")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="check later")
    assert client.receive_message(QueueUrl=url, WaitTimeSeconds=0) == {}
    assert client.depth(url) == 0 and client.longest_wait(url) == 0
    [message] = client.backend.get_queue("checks")._messages
    # the minute has passed (a second ago): it has waited a second, not the minute
    message.sent_timestamp -= 61_000
    message.delayed_until -= 61_000
    assert client.depth(url) == 1
    assert 0.9 < client.longest_wait(url) < 2
    [received] = client.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert received["Body"] == "check later"
    assert client.depth(url) == 1  # in flight: a function has it
