"""Lambda's SQS event source semantics, as the local runtime applies them."""

from __future__ import annotations

import pytest

from local.event_sources import failed_message_ids, sqs_record
from local.lambda_runtime import InvocationResult
from tests.support import aws_sample

IDS = ["a", "b", "c"]


def test_a_function_error_fails_the_whole_batch():
    result = InvocationResult("r", error={"errorType": "Boom", "errorMessage": "boom"})
    assert failed_message_ids(result, IDS, report_batch_item_failures=True) == IDS


def test_reported_item_failures_fail_just_those():
    result = InvocationResult("r", payload={"batchItemFailures": [{"itemIdentifier": "b"}]})
    assert failed_message_ids(result, IDS, report_batch_item_failures=True) == ["b"]


def test_item_failures_are_ignored_unless_the_mapping_reports_them():
    result = InvocationResult("r", payload={"batchItemFailures": [{"itemIdentifier": "b"}]})
    assert failed_message_ids(result, IDS, report_batch_item_failures=False) == []


@pytest.mark.parametrize("failures", [[{"itemIdentifier": "zzz"}], [{"itemIdentifier": None}],
                                      ["b"]])
def test_an_invalid_failure_response_fails_the_batch(failures):
    result = InvocationResult("r", payload={"batchItemFailures": failures})
    assert failed_message_ids(result, IDS, report_batch_item_failures=True) == IDS


def test_records_have_the_shape_of_aws_samples():
    sample = aws_sample("sqsEvent")["Records"][0]
    message = {"MessageId": "m-1", "ReceiptHandle": "rh", "Body": "{}", "MD5OfBody": "md5",
               "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1",
                              "SenderId": "s", "ApproximateFirstReceiveTimestamp": "2",
                              "MessageGroupId": "g", "SequenceNumber": "7"},
               "MessageAttributes": {"reason": {"DataType": "String", "StringValue": "x"}}}
    record = sqs_record(message, queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
                        region="us-east-1")
    assert set(sample) <= set(record)
    assert set(sample["attributes"]) <= set(record["attributes"])
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["messageAttributes"]["reason"]["stringValue"] == "x"
    assert set(sample["messageAttributes"]["testAttr"]) <= set(record["messageAttributes"]["reason"])
