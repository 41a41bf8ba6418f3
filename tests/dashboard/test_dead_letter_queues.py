"""Listing and redriving dead letters against moto's SQS and EventBridge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dashboard.failures.dead_letter_queues import (
    dead_letter_queues,
    dead_letters_count,
    dead_letters_peek,
    dead_letters_redrive,
)

EVENT = {"version": "0", "id": "e", "detail-type": "payment.taken", "source": "payment",
         "detail": {"type": "payment.taken", "subject": "ord-1", "id": "ce-1"}}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        events.create_event_bus(Name="global")
        urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"]
                for name in ("Payment", "Payment-dlq", "rule-dlq", "capture")}
        capture_arn = sqs.get_queue_attributes(QueueUrl=urls["capture"],
                                               AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName="global", EventPattern='{"source": ["payment"]}')
        events.put_targets(Rule="all", EventBusName="global",
                           Targets=[{"Id": "c", "Arn": capture_arn}])
        outputs = {"PaymentQueueUrl": urls["Payment"], "PaymentDeadLetterQueueUrl": urls["Payment-dlq"],
                   "RuleTargetDeadLetterQueueUrl": urls["rule-dlq"], "GlobalEventBusName": "global"}
        yield {"sqs": sqs, "events": events, "urls": urls, "outputs": outputs}


def test_dead_letter_queues_are_found_from_the_outputs(aws):
    queues = {queue.name: queue for queue in dead_letter_queues(aws["outputs"])}
    assert set(queues) == {"Payment", "RuleTarget"}
    assert queues["Payment"].source_queue_url == aws["urls"]["Payment"]
    assert queues["RuleTarget"].source_queue_url is None


def test_peeking_leaves_the_dead_letters_in_place(aws):
    sqs = aws["sqs"]
    sqs.send_message(QueueUrl=aws["urls"]["Payment-dlq"], MessageBody=json.dumps(EVENT))
    [queue] = [q for q in dead_letter_queues(aws["outputs"]) if q.name == "Payment"]
    [letter] = dead_letters_peek(sqs=sqs, queue=queue)
    assert letter.event_type == "payment.taken"
    assert dead_letters_count(sqs=sqs, queue=queue) == 1
    assert len(dead_letters_peek(sqs=sqs, queue=queue)) == 1


def test_a_queue_dead_letter_goes_back_to_its_queue(aws):
    sqs = aws["sqs"]
    sqs.send_message(QueueUrl=aws["urls"]["Payment-dlq"], MessageBody=json.dumps(EVENT))
    [queue] = [q for q in dead_letter_queues(aws["outputs"]) if q.name == "Payment"]
    result = dead_letters_redrive(sqs=sqs, events=aws["events"], queue=queue,
                                  global_bus_name="global")
    assert (result.redriven, result.kept) == (1, 0)
    [back] = sqs.receive_message(QueueUrl=aws["urls"]["Payment"])["Messages"]
    assert json.loads(back["Body"]) == EVENT
    assert dead_letters_count(sqs=sqs, queue=queue) == 0


def test_an_undelivered_event_is_published_again_and_garbage_is_kept(aws):
    sqs = aws["sqs"]
    sqs.send_message(QueueUrl=aws["urls"]["rule-dlq"], MessageBody=json.dumps(EVENT))
    sqs.send_message(QueueUrl=aws["urls"]["rule-dlq"], MessageBody="not an event")
    [queue] = [q for q in dead_letter_queues(aws["outputs"]) if q.name == "RuleTarget"]
    result = dead_letters_redrive(sqs=sqs, events=aws["events"], queue=queue,
                                  global_bus_name="global")
    assert (result.redriven, result.kept) == (1, 1)
    [published] = sqs.receive_message(QueueUrl=aws["urls"]["capture"])["Messages"]
    assert json.loads(published["Body"])["detail"] == EVENT["detail"]
    assert dead_letters_count(sqs=sqs, queue=queue) == 1


def test_a_fifo_dead_letter_queue_is_redriven_whole_not_ten_at_a_time(aws):
    # GIVEN more dead letters in one message group than one receive returns: a FIFO queue
    # hands out nothing more of a group while some of it is in flight
    sqs = aws["sqs"]
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    source = sqs.create_queue(QueueName="Warehouse.fifo", Attributes=fifo)["QueueUrl"]
    dead = sqs.create_queue(QueueName="Warehouse-dlq.fifo", Attributes=fifo)["QueueUrl"]
    for number in range(25):
        sqs.send_message(QueueUrl=dead, MessageBody=json.dumps({**EVENT, "id": f"e{number}"}),
                         MessageGroupId="warehouse-events")
    [queue] = dead_letter_queues({"WarehouseQueueUrl": source, "WarehouseDeadLetterQueueUrl": dead})

    result = dead_letters_redrive(sqs=sqs, events=aws["events"], queue=queue,
                                  global_bus_name="global")

    assert (result.redriven, result.kept) == (25, 0)
    assert dead_letters_count(sqs=sqs, queue=queue) == 0
    back = [json.loads(m["Body"])["id"] for _ in range(3) for m in sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])]
    assert back[:10] == [f"e{number}" for number in range(10)]  # in their order


def test_redriving_one_message_leaves_the_others_visible(aws):
    sqs = aws["sqs"]
    for number in range(3):
        sqs.send_message(QueueUrl=aws["urls"]["Payment-dlq"],
                         MessageBody=json.dumps({**EVENT, "id": f"e{number}"}))
    [queue] = [q for q in dead_letter_queues(aws["outputs"]) if q.name == "Payment"]
    letters = dead_letters_peek(sqs=sqs, queue=queue)
    chosen = letters[1]

    result = dead_letters_redrive(sqs=sqs, events=aws["events"], queue=queue,
                                  global_bus_name="global", message_ids={chosen.message_id})

    assert (result.redriven, result.kept) == (1, 0)
    left = {letter.message_id for letter in dead_letters_peek(sqs=sqs, queue=queue)}
    assert left == {letter.message_id for letter in letters} - {chosen.message_id}
    [back] = sqs.receive_message(QueueUrl=aws["urls"]["Payment"])["Messages"]
    assert back["Body"] == chosen.body


def calls_counted(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.*.*",
                                lambda model, **_: calls.append(model.name))
    return calls


def test_a_redrive_moves_in_batch_calls_and_reports_progress_per_batch(aws):
    sqs = aws["sqs"]
    for number in range(25):
        sqs.send_message(QueueUrl=aws["urls"]["Payment-dlq"],
                         MessageBody=json.dumps({**EVENT, "id": f"e{number}"}))
    [queue] = [q for q in dead_letter_queues(aws["outputs"]) if q.name == "Payment"]
    calls = calls_counted(sqs)
    progress = []

    result = dead_letters_redrive(sqs=sqs, events=aws["events"], queue=queue,
                                  global_bus_name="global", progress=progress.append)

    assert (result.redriven, result.kept, result.failed) == (25, 0, 0)
    assert "SendMessage" not in calls and "DeleteMessage" not in calls
    assert calls.count("SendMessageBatch") == calls.count("DeleteMessageBatch") == 3
    assert [p.redriven for p in progress] == [10, 20, 25]
    assert dead_letters_count(sqs=sqs, queue=queue) == 0


def test_events_refused_by_the_bus_are_counted_and_left_in_place(aws):
    sqs = aws["sqs"]
    for number in range(3):
        sqs.send_message(QueueUrl=aws["urls"]["rule-dlq"],
                         MessageBody=json.dumps({**EVENT, "id": f"e{number}"}))
    [queue] = [q for q in dead_letter_queues(aws["outputs"]) if q.name == "RuleTarget"]

    class ThrottledBus:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"FailedEntryCount": len(Entries), "Entries": [
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
                for _ in Entries]}

    result = dead_letters_redrive(sqs=sqs, events=ThrottledBus(), queue=queue,
                                  global_bus_name="global")

    assert (result.redriven, result.kept, result.failed) == (0, 0, 3)
    assert dead_letters_count(sqs=sqs, queue=queue) == 3
    assert len(sqs.receive_message(QueueUrl=aws["urls"]["rule-dlq"], MaxNumberOfMessages=10,
                                   VisibilityTimeout=0)["Messages"]) == 3  # visible again


def test_a_redrive_receives_no_more_than_its_limit(aws):
    sqs = aws["sqs"]
    for number in range(25):
        sqs.send_message(QueueUrl=aws["urls"]["Payment-dlq"],
                         MessageBody=json.dumps({**EVENT, "id": f"e{number}"}))
    [queue] = [q for q in dead_letter_queues(aws["outputs"]) if q.name == "Payment"]

    result = dead_letters_redrive(sqs=sqs, events=aws["events"], queue=queue,
                                  global_bus_name="global", message_ids={"not-there"}, limit=10)

    assert result.redriven == 0
    assert dead_letters_count(sqs=sqs, queue=queue) == 25
