"""Lambda's SQS event source semantics, as the local runtime applies them."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from moto import mock_aws

from local.config import Chaos, ChaosControl
from local.event_sources import (
    Backlog,
    PollerStats,
    SqsMapping,
    SqsPoller,
    failed_message_ids,
    sqs_record,
)
from local.lambda_runtime import InvocationResult
from tests.support import aws_sample, eventually, wait_for

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


class RecordingWorker:
    """Stands in for a function: records the batches it is given, fails those it is told."""

    def __init__(self, fail_ids: set[str] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_ids = fail_ids or set()

    def invoke(self, event: dict) -> InvocationResult:
        ids = [record["messageId"] for record in event["Records"]]
        self.batches.append(ids)
        return InvocationResult("r", payload={"batchItemFailures": [
            {"itemIdentifier": i} for i in ids if i in self.fail_ids]})


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        yield sqs, url


def poller(sqs, url: str, worker: RecordingWorker, chaos: Chaos, retry_delay_seconds: int = 0):
    mapping = SqsMapping(queue_url=url, queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
                         function_name="f", batch_size=10, report_batch_item_failures=True)
    return SqsPoller(mapping=mapping, worker=worker, sqs=sqs, region="us-east-1",
                     stop=threading.Event(), chaos=ChaosControl(chaos), stats=PollerStats(),
                     retry_delay_seconds=retry_delay_seconds)


def visible(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_succeeded_records_are_deleted_and_failed_ones_stay(queue):
    sqs, url = queue
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    failing = next(m["MessageId"] for m in messages if m["Body"] == "b")
    worker = RecordingWorker(fail_ids={failing})
    assert poller(sqs, url, worker, Chaos()).deliver(messages) == [failing]
    in_flight = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]["ApproximateNumberOfMessagesNotVisible"])
    assert in_flight == 1  # the failed one waits out its visibility timeout; "a" is gone


def test_failed_records_come_back_after_the_local_retry_delay(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody="x")
    messages = sqs.receive_message(QueueUrl=url)["Messages"]
    worker = RecordingWorker(fail_ids={messages[0]["MessageId"]})
    poller(sqs, url, worker, Chaos(), retry_delay_seconds=1).deliver(messages)
    failed_at = time.monotonic()
    assert visible(sqs, url) == 0
    wait_for(lambda: visible(sqs, url) != 0, 10, 0.05, "the failed record visible again")
    back_after = time.monotonic() - failed_at
    assert visible(sqs, url) == 1
    assert 0.8 <= back_after < 5, back_after


def test_poison_records_never_reach_the_handler_until_switched_off(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    messages = sqs.receive_message(QueueUrl=url)["Messages"]
    worker = RecordingWorker()
    the_poller = poller(sqs, url, worker, Chaos(poison_rate=1.0))
    assert the_poller.deliver(messages) == [messages[0]["MessageId"]]
    assert worker.batches == []
    the_poller.control.chaos = Chaos()
    assert the_poller.deliver(messages) == []
    assert len(worker.batches) == 1


def test_duplicate_delivery_hands_the_same_batch_twice(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody="x")
    messages = sqs.receive_message(QueueUrl=url)["Messages"]
    worker = RecordingWorker()
    poller(sqs, url, worker, Chaos(duplicate_rate=1.0)).deliver(messages)
    assert worker.batches == [[messages[0]["MessageId"]]] * 2


def test_chaos_settings_are_checked():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Chaos.from_dict({"failure_rate": 2})
    with pytest.raises(ValueError, match="unknown"):
        Chaos.from_dict({"explode": 1})
    assert Chaos.from_dict({"poison_rate": "0.01"}).poison_rate == 0.01


def test_jitter_holds_deliveries_back_without_receiving_them_again(queue):
    sqs, url = queue
    for n in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    worker = RecordingWorker()
    the_poller = poller(sqs, url, worker, Chaos(jitter_seconds=1))

    def poll_once() -> list[str]:
        the_poller.poll_once(wait_seconds=0)
        return [i for batch in worker.batches for i in batch]

    delivered = eventually(poll_once, lambda ids: len(ids) >= 20, 5, 0,
                           "all 20 messages delivered through the jitter")
    assert len(delivered) == len(set(delivered)) == 20
    assert the_poller.stats.delayed_records > 0
    # a held message was received once: its receive count did not grow while it waited
    assert visible(sqs, url) == 0


def test_a_scale_out_poller_polls_only_while_the_queue_holds_more_than_a_batch(queue):
    sqs, url = queue
    backlog = Backlog()
    first, second = RecordingWorker(), RecordingWorker()
    mapping = SqsMapping(queue_url=url, queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
                         function_name="f", batch_size=2, report_batch_item_failures=True)
    stop = threading.Event()

    def make(worker: RecordingWorker, scale_out: bool) -> SqsPoller:
        return SqsPoller(mapping=mapping, worker=worker, sqs=sqs, region="us-east-1", stop=stop,
                         chaos=ChaosControl(Chaos()), stats=PollerStats(), backlog=backlog,
                         scale_out=scale_out)

    main, extra = make(first, False), make(second, True)
    extra.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="one")
        main.poll_once(wait_seconds=0)
        assert not backlog.full
        # one message: one poller does. The extra one has had its say once it has gone round
        # its loop twice since (the first pass may have begun before the receive above).
        seen = extra.rounds
        wait_for(lambda: extra.rounds >= seen + 2, 5, 0.01, "the extra poller looked twice")
        assert extra.receives == 0 and second.batches == []
        for n in range(9):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        main.poll_once(wait_seconds=0)
        wait_for(lambda: not visible(sqs, url), 5, 0.05, "the backlog drained")
        assert extra.receives and second.batches, "a full receive lets the second poller in"
        assert sum(len(batch) for batch in first.batches + second.batches) == 10
    finally:
        stop.set()
        extra.join(timeout=5)


def gathering_poller(sqs, url: str, worker: RecordingWorker, *, batch_size: int,
                     window: int) -> SqsPoller:
    mapping = SqsMapping(queue_url=url, queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
                         function_name="f", batch_size=batch_size,
                         report_batch_item_failures=True, batching_window_seconds=window)
    return SqsPoller(mapping=mapping, worker=worker, sqs=sqs, region="us-east-1",
                     stop=threading.Event(), chaos=ChaosControl(Chaos()), stats=PollerStats())


def test_a_batching_window_gathers_more_than_one_receive_into_one_batch(queue):
    """Lambda's poller gathers up to `BatchSize` records (10,000 from a standard queue) for
    up to `MaximumBatchingWindowInSeconds`, although SQS hands at most ten a receive."""
    sqs, url = queue
    for index in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    worker = RecordingWorker()

    delivered = gathering_poller(sqs, url, worker, batch_size=100, window=1).poll_once(0)

    assert delivered == 25 and [len(batch) for batch in worker.batches] == [25]
    assert visible(sqs, url) == 0


def test_records_that_arrive_during_the_window_join_the_batch(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody="first")
    worker = RecordingWorker()
    late = threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
    late.start()

    gathering_poller(sqs, url, worker, batch_size=100, window=2).poll_once(0)
    late.join()

    assert [len(batch) for batch in worker.batches] == [2]


def test_without_a_window_a_batch_is_one_receive(queue):
    sqs, url = queue
    for index in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    worker = RecordingWorker()

    gathering_poller(sqs, url, worker, batch_size=10, window=0).poll_once(0)

    assert [len(batch) for batch in worker.batches] == [10]
