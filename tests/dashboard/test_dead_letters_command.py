"""`manage.py dead_letters` lists and redrives, against moto's SQS and EventBridge."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from dashboard import aws

EVENT = {"version": "0", "id": "e", "detail-type": "payment.taken", "source": "payment",
         "detail": {"type": "payment.taken", "subject": "ord-1", "id": "ce-1"}}


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        boto3.client("events", region_name="us-east-1").create_event_bus(Name="global")
        urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("Payment", "Payment-dlq")}
        aws.configure(region="us-east-1", stack_name="choreo", endpoint_url=None, outputs={
            "PaymentQueueUrl": urls["Payment"], "PaymentDeadLetterQueueUrl": urls["Payment-dlq"],
            "GlobalEventBusName": "global"})
        sqs.send_message(QueueUrl=urls["Payment-dlq"], MessageBody=json.dumps(EVENT),
                         MessageAttributes={"reason": {"DataType": "String",
                                                       "StringValue": "payment.taken data invalid"}})
        yield sqs, urls


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("dead_letters", *args, stdout=out)
    return out.getvalue()


def test_lists_each_dead_letter_with_its_reason(stack):
    listing = run()
    assert "Payment  (1 dead letters)" in listing
    assert "refused" in listing and "payment.taken data invalid" in listing and "ord-1" in listing


def test_redrive_hands_them_back_to_their_queue(stack):
    sqs, urls = stack
    assert "Payment: redrove 1" in run("--redrive")
    [back] = sqs.receive_message(QueueUrl=urls["Payment"])["Messages"]
    assert json.loads(back["Body"]) == EVENT
    assert "(0 dead letters)" in run()


def test_an_unknown_queue_is_a_clear_error(stack):
    with pytest.raises(CommandError, match="there are: Payment"):
        run("--queue", "Nope")
