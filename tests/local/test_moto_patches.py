"""The embedded AWS's patches to moto: each still applies to the moto we run; those for load
change no answer — only what it costs, or which races it can lose — and those for shape make
a delivery what AWS delivers."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jsonpath_ng.ext
import moto
import moto.backends
import pytest
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.events.utils import EventTemplateParser
from moto.sqs.models import Queue, sqs_backends

from local import hooks, moto_patches
from workflow.rules import observation_event_pattern

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    moto_patches.apply()


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {service: boto3.client(service, region_name=REGION)
               for service in ("sqs", "dynamodb")}


def test_patches_refuse_a_moto_they_were_not_written_against(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(moto_patches.MotoVersionMismatch, match=r"moto 5\.2\.5"):
        moto_patches.apply()


def test_input_transformers_parse_their_paths_with_the_memoised_parser():
    event = {"id": "e", "detail": {"id": "ce"}, "detail-type": "t", "source": "s", "time": 0.0,
             "region": "r", "resources": [], "account": "a", "ingestion-time": 0.0}
    hits = jsonpath_ng.ext.parse.cache_info().hits
    for _ in range(2):
        EventTemplateParser.parse(input_template='{"id": "<ce>"}',
                                  input_paths_map={"ce": "$.detail.id"}, event=event)
    assert jsonpath_ng.ext.parse.cache_info().hits > hits


def test_jsonpath_parsing_is_memoised_and_still_correct():
    first = jsonpath_ng.ext.parse("$.detail.id")
    assert jsonpath_ng.ext.parse("$.detail.id") is first
    event = {"id": "e", "detail": {"id": "ce"}, "detail-type": "t", "source": "s", "time": "0",
             "region": "r", "resources": [], "account": "a", "ingestion-time": "0"}
    parsed = EventTemplateParser.parse(
        input_template='{"bus": "global", "event": <aws.events.event.json>}',
        input_paths_map={}, event=event)
    assert parsed["bus"] == "global" and parsed["event"]["detail"] == {"id": "ce"}


def test_backend_lookup_lists_moto_s_services_once():
    modules = moto.backends.list_of_moto_modules()
    assert {"sqs", "dynamodb", "events", "logs", "cloudformation"} <= set(modules)
    assert moto.backends.list_of_moto_modules() is modules


def test_queue_attributes_answer_as_before(aws: dict[str, Any]):
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName="q.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true",
        "VisibilityTimeout": "30"})["QueueUrl"]
    for body in ("a", "a", "b", "c"):  # the second "a" is deduplicated by content
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in received] == ["a"]

    everything = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert everything["ApproximateNumberOfMessages"] == "2"
    assert everything["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert everything["ApproximateNumberOfMessagesDelayed"] == "0"
    assert everything["ContentBasedDeduplication"] == "true"
    assert everything["FifoQueue"] == "true"
    assert everything["VisibilityTimeout"] == "30"
    assert "Policy" not in everything and "KmsMasterKeyId" not in everything
    some = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "QueueArn"])["Attributes"]
    assert some == {"ApproximateNumberOfMessages": "2",
                    "QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo"}


def test_every_message_of_a_fifo_queue_has_a_growing_sequence_number(aws: dict[str, Any]):
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName="q.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    sent = [sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")["SequenceNumber"]
            for body in ("a", "b")]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   AttributeNames=["SequenceNumber"])["Messages"]
    assert [m["Attributes"]["SequenceNumber"] for m in received] == sent
    assert all(len(number) == 20 for number in sent) and int(sent[0]) < int(sent[1])
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    assert "SequenceNumber" not in sqs.send_message(QueueUrl=plain, MessageBody="a")


def test_a_redrive_policy_reads_as_json(aws: dict[str, Any]):
    sqs = aws["sqs"]
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="q", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})["QueueUrl"]
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    assert json.loads(policy["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 3


def test_reading_one_attribute_does_not_walk_the_queue(aws: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch):
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    for index in range(50):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    walked = []
    monkeypatch.setattr(Queue, "messages", property(lambda self: walked.append(1) or []))
    queue = sqs_backends[ACCOUNT][REGION].get_queue("deep")
    assert queue.attributes["VisibilityTimeout"] == 30
    sqs.send_message(QueueUrl=url, MessageBody="one more")
    assert walked == []


def test_messages_past_their_retention_are_not_delivered(aws: dict[str, Any]):
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    backend = sqs_backends[ACCOUNT][REGION]
    [message] = backend.get_queue("short")._messages
    assert backend.is_message_valid_based_on_retention_period("short", message)
    message.sent_timestamp -= 61_000
    assert not backend.is_message_valid_based_on_retention_period("short", message)


def test_deleting_twice_succeeds_and_remembers_only_recent_handles(aws: dict[str, Any]):
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    recent = moto_patches.RecentSet(limit=3)
    recent.update(["a", "b"])
    recent.update(["c", "d"])
    assert "a" not in recent and all(h in recent for h in "bcd") and len(recent) == 3


def test_deleted_handles_survive_concurrent_deletes():
    """The server deletes from one queue on several threads at once (two pollers' batches)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        recent = moto_patches.RecentSet(limit=50)
        failures: list[BaseException] = []

        def delete(thread: int) -> None:
            try:
                for number in range(5000):
                    recent.update([f"{thread}-{number}"])
            except BaseException as error:  # the race shows as RuntimeError
                failures.append(error)

        threads = [threading.Thread(target=delete, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == [] and len(recent) == 50


def _table(dynamodb: Any, name: str = "t") -> str:
    dynamodb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    return name


def test_item_writes_hold_the_lock(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch):
    held = []
    original = Table.put_item

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        held.append(moto_patches.DYNAMODB_LOCK._is_owned())  # type: ignore[attr-defined]
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Table, "put_item", put_item)
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}}])
    assert held == [True, True]


def test_concurrent_conditional_creates_admit_exactly_one(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb)
    backend = dynamodb_backends[ACCOUNT][REGION]
    winners: list[int] = []

    def create(worker: int) -> None:
        for key in range(100):
            try:
                backend.put_item(table, {"pk": {"S": str(key)}, "by": {"N": str(worker)}},
                                 condition_expression="attribute_not_exists(pk)")
            except Exception:
                continue
            winners.append(key)

    threads = [threading.Thread(target=create, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(winners) == list(range(100))


def test_a_cancelled_transaction_restores_what_it_touched_without_copying_tables(
        aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch):
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb)
    for index in range(200):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"other{index}"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "stock"}, "n": {"N": "5"}})
    monkeypatch.setattr(Table, "__deepcopy__", lambda self, memo: pytest.fail("table copied"),
                        raising=False)

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "stock"}},
                        "UpdateExpression": "SET n = n - :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "other3"}, "x": {"S": "y"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    def get(key: str) -> Any:
        return dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}).get("Item")

    assert get("stock") == {"pk": {"S": "stock"}, "n": {"N": "5"}}
    assert get("new") is None
    assert get("other3") == {"pk": {"S": "other3"}}
    assert dynamodb.scan(TableName=table, Select="COUNT")["Count"] == 201

    dynamodb.transact_write_items(TransactItems=[
        {"Update": {"TableName": table, "Key": {"pk": {"S": "stock"}},
                    "UpdateExpression": "SET n = n - :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    assert get("stock")["n"] == {"N": "4"} and get("new") is not None


def test_expired_items_are_swept_from_tables_with_ttl(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    with_ttl, without_ttl = _table(dynamodb, "with-ttl"), _table(dynamodb, "without-ttl")
    dynamodb.update_time_to_live(TableName=with_ttl, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expiration"})
    now = time.time()
    for table in (with_ttl, without_ttl):
        for key, expiration in (("past", now - 10), ("future", now + 3600), ("none", None),
                                ("text", "soon")):
            item: dict[str, Any] = {"pk": {"S": key}}
            if isinstance(expiration, float):
                item["expiration"] = {"N": str(int(expiration))}
            elif expiration is not None:
                item["expiration"] = {"S": expiration}
            dynamodb.put_item(TableName=table, Item=item)

    assert moto_patches.expire_ttl_items(now) == 1

    def keys(table: str) -> set[str]:
        return {item["pk"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}

    assert keys(with_ttl) == {"future", "none", "text"}
    assert keys(without_ttl) == {"past", "future", "none", "text"}


def test_the_sweep_reads_a_large_table_with_a_sort_key_in_slices(aws: dict[str, Any],
                                                                  monkeypatch: pytest.MonkeyPatch):
    """Every expired item goes, in a table with a sort key too, and the lock is let go between
    slices: no other call waits for a walk of the whole table."""
    from local.moto_patches import dynamodb as patched

    dynamodb = aws["dynamodb"]
    dynamodb.create_table(
        TableName="sorted", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    dynamodb.update_time_to_live(TableName="sorted", TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expiration"})
    now = time.time()
    for number in range(25):
        expiration = now - 10 if number % 2 else now + 3600
        dynamodb.put_item(TableName="sorted", Item={
            "pk": {"S": f"order-{number % 5}"}, "sk": {"S": f"line-{number}"},
            "expiration": {"N": str(int(expiration))}})
    monkeypatch.setattr(patched, "SWEEP_SLICE", 4)
    taken = []
    lock = patched.DYNAMODB_LOCK

    class Counting:
        def __enter__(self) -> None:
            taken.append(1)
            lock.acquire()

        def __exit__(self, *exc: Any) -> None:
            lock.release()

    monkeypatch.setattr(patched, "DYNAMODB_LOCK", Counting())

    assert moto_patches.expire_ttl_items(now) == 12
    remaining = dynamodb.scan(TableName="sorted")["Items"]
    assert sorted(int(item["sk"]["S"].split("-")[1]) for item in remaining) == list(range(0, 25, 2))
    assert len(taken) >= 1 + 25 // 4  # the keys once, then a slice at a time


def test_receipt_handles_are_long_random_letters(aws: dict[str, Any]):
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    handles = {sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"] for _ in range(3)}
    assert len(handles) == 3
    assert all(len(handle) == 185 and handle.isalpha() and handle.islower() for handle in handles)


def test_filtering_attributes_on_receive_leaves_the_stored_message_whole(aws: dict[str, Any]):
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
        "reason": {"DataType": "String", "StringValue": "r"},
        "source": {"DataType": "String", "StringValue": "s"}})
    [some] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["reason"])["Messages"]
    assert set(some["MessageAttributes"]) == {"reason"}
    [every] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert set(every["MessageAttributes"]) == {"reason", "source"}


def test_each_event_reaches_the_rules_it_matches_and_no_others():
    with mock_aws():
        events, sqs = (boto3.client(s, region_name=REGION) for s in ("events", "sqs"))
        events.create_event_bus(Name="bus")
        urls = {}
        for partition in ("0", "1", "none"):
            urls[partition] = sqs.create_queue(QueueName=f"q{partition}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=urls[partition],
                                           AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            detail = ({"partitionkey": [partition]} if partition != "none" else
                      {"$or": [{"partitionkey": [{"exists": False}]},
                               {"partitionkey": [{"anything-but": ["0", "1"]}]}]})
            events.put_rule(Name=f"r{partition}", EventBusName="bus", EventPattern=json.dumps(
                {"source": ["order"], "detail-type": ["order.placed"], "detail": detail}))
            events.put_targets(Rule=f"r{partition}", EventBusName="bus",
                               Targets=[{"Id": "t", "Arn": arn}])
        details = [{"partitionkey": "1", "n": 1}, {"partitionkey": "0", "n": 2}, {"n": 3},
                   {"partitionkey": "7", "n": 4}, {"partitionkey": "1", "n": 5}]
        events.put_events(Entries=[{"EventBusName": "bus", "Source": "order",
                                    "DetailType": "order.placed", "Detail": json.dumps(d)}
                                   for d in details])

        def received(partition: str) -> list[int]:
            messages = sqs.receive_message(QueueUrl=urls[partition],
                                           MaxNumberOfMessages=10).get("Messages", [])
            return sorted(json.loads(m["Body"])["detail"]["n"] for m in messages)

        assert received("0") == [2]
        assert received("1") == [1, 5]
        assert received("none") == [3, 4]


def queue_behind_a_rule() -> tuple[Any, Any, str]:
    """Clients of the mocked AWS, and a queue every `order` event on the default bus reaches
    by a rule with no transformer."""
    events, sqs = (boto3.client(s, region_name=REGION) for s in ("events", "sqs"))
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["order"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "t", "Arn": arn}])
    return events, sqs, url


def test_delivered_events_carry_a_fresh_envelope_each():
    with mock_aws():
        events, sqs, url = queue_behind_a_rule()
        events.put_events(Entries=[{"Source": "order", "DetailType": "t", "Detail": json.dumps({"n": n}),
                                    "Resources": [f"r{n}"]} for n in range(2)])
        bodies = [json.loads(m["Body"]) for m in
                  sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
        assert sorted(b["detail"]["n"] for b in bodies) == [0, 1]
        for body in bodies:
            assert body["resources"] == [f"r{body['detail']['n']}"]
            assert body["region"] == REGION
            assert body["time"].startswith(time.strftime("%Y-"))
        assert moto_patches.BASE_EVENT_MESSAGE["resources"] == []
        assert moto_patches.BASE_EVENT_MESSAGE["detail"] == {}


def test_a_target_without_a_transformer_is_handed_the_whole_event():
    with mock_aws():
        events, sqs, url = queue_behind_a_rule()
        events.put_events(Entries=[{"Source": "order", "DetailType": 'the "quoted" type',
                                    "Detail": json.dumps({"n": 1})}])
        [message] = sqs.receive_message(QueueUrl=url)["Messages"]
        body = json.loads(message["Body"])
        assert list(body) == list(moto_patches.EVENT_FIELDS)
        assert body["account"] == ACCOUNT and body["detail-type"] == 'the "quoted" type'
        assert body["version"] == "0" and body["detail"] == {"n": 1}


def test_a_log_group_target_stamps_its_log_events_in_whole_milliseconds():
    with mock_aws():
        events, logs = (boto3.client(s, region_name=REGION) for s in ("events", "logs"))
        logs.create_log_group(logGroupName="history")
        events.put_rule(Name="all", EventPattern=json.dumps({"source": ["order"]}))
        events.put_targets(Rule="all", Targets=[
            {"Id": "t", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:history"}])
        before = int(time.time() * 1000)
        events.put_events(Entries=[{"Source": "order", "DetailType": "t", "Detail": "{}"}])
        [logged] = logs.filter_log_events(logGroupName="history")["events"]
        assert isinstance(logged["timestamp"], int)
        assert before <= logged["timestamp"] <= time.time() * 1000


def test_a_transformer_s_whole_event_is_the_event_as_delivered():
    event = {"version": "0", "id": "e", "detail-type": "t", "source": "s", "account": ACCOUNT,
             "time": 1513968228.25, "region": REGION, "resources": [], "detail": {"n": 1},
             "ingestion-time": 1513968228.5}
    parsed = EventTemplateParser.parse(
        input_template='{"at": <at>, "event": <aws.events.event.json>}',
        input_paths_map={"at": "$.time"}, event=event)
    assert list(parsed["event"]) == list(moto_patches.EVENT_FIELDS)
    assert parsed["event"]["time"] == "2017-12-22T18:43:48Z"
    assert parsed["at"] == 1513968228.25  # input paths read moto's copy, as its targets expect


def test_a_condition_is_evaluated_with_each_request_s_values(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb)
    condition = "attribute_not_exists(pk) OR #n < :limit"
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "k"}, "n": {"N": "5"}})
    for limit, succeeds in (("3", False), ("9", True), ("4", False)):
        request = {"TableName": table, "Item": {"pk": {"S": "k"}, "n": {"N": "5"}},
                   "ConditionExpression": condition, "ExpressionAttributeNames": {"#n": "n"},
                   "ExpressionAttributeValues": {":limit": {"N": limit}}}
        if succeeds:
            dynamodb.put_item(**request)
        else:
            with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
                dynamodb.put_item(**request)
    for _ in range(2):  # a malformed expression is refused every time, not remembered
        with pytest.raises((ValueError, dynamodb.exceptions.ClientError)):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": "x"}},
                              ConditionExpression="attribute_not_exists(pk) OR ??")


def test_an_update_expression_is_parsed_once_and_still_checked_as_dynamodb_checks_it(
        aws: dict[str, Any]):
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    dynamodb = aws["dynamodb"]
    table = _table(dynamodb)
    expression = "SET #a = :a, #b = :b ADD #n :one"
    assert UpdateExpressionParser.make(expression) is UpdateExpressionParser.make(expression)

    def update(names: dict[str, str], key: str = "k") -> dict[str, Any]:
        return dynamodb.update_item(
            TableName=table, Key={"pk": {"S": key}}, UpdateExpression=expression,
            ExpressionAttributeNames=names, ReturnValues="ALL_NEW",
            ExpressionAttributeValues={":a": {"S": "x"}, ":b": {"S": "y"}, ":one": {"N": "1"}})

    names = {"#a": "a", "#b": "b", "#n": "n"}
    for count in (1, 2):  # each request's values and item are read anew
        assert update(names)["Attributes"]["n"] == {"N": str(count)}
    # the same text, with names that make its paths overlap or name the key, is refused
    # every time, as DynamoDB refuses it
    for _ in range(2):
        with pytest.raises(dynamodb.exceptions.ClientError, match=r"overlap|[Dd]uplicate"):
            update({"#a": "a", "#b": "a", "#n": "n"})
        with pytest.raises(dynamodb.exceptions.ClientError, match="key"):
            update({"#a": "pk", "#b": "b", "#n": "n"})
    with pytest.raises(dynamodb.exceptions.ClientError, match="SET"):
        for _ in range(2):  # two SET clauses, the second time too
            dynamodb.update_item(TableName=table, Key={"pk": {"S": "k"}},
                                 UpdateExpression="SET a = :a SET b = :a",
                                 ExpressionAttributeValues={":a": {"S": "x"}})
    for _ in range(2):  # a malformed expression is refused every time, not remembered
        with pytest.raises(dynamodb.exceptions.ClientError):
            dynamodb.update_item(TableName=table, Key={"pk": {"S": "k"}},
                                 UpdateExpression="SET a = = :a",
                                 ExpressionAttributeValues={":a": {"S": "x"}})


def test_deleted_messages_and_overwritten_items_are_not_kept(aws: dict[str, Any]):
    import gc

    from moto.dynamodb.models.dynamo_type import Item
    from moto.sqs.models import Message

    sqs, dynamodb = aws["sqs"], aws["dynamodb"]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    table = _table(dynamodb)
    gc.collect()
    messages_before, items_before = len(Message.instances_tracked), len(Item.instances_tracked)
    for n in range(50):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "same"}, "n": {"N": str(n)}})
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    gc.collect()
    # forty messages still queued, one item: what exists is what is kept
    assert len(Message.instances_tracked) - messages_before == 40
    assert len(Item.instances_tracked) - items_before <= 2


def test_a_function_configuration_update_is_told_to_the_runtime():
    told: list[tuple[str, dict[str, str], dict[str, str]]] = []
    hooks.CONFIGURATION_LISTENERS.append(lambda *update: told.append(update))
    try:
        with mock_aws():
            iam = boto3.client("iam", region_name=REGION)
            role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            lambda_client = boto3.client("lambda", region_name=REGION)
            lambda_client.create_function(
                FunctionName="api", Runtime="python3.12", Role=role, Handler="h.h",
                Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
                Environment={"Variables": {"EVENT_BUS_NAME": "b"}})
            lambda_client.update_function_configuration(FunctionName="api", Environment={
                "Variables": {"EVENT_BUS_NAME": "b", "EVENT_VERSIONS": "order.placed=2"}})
            lambda_client.update_function_configuration(FunctionName="api", Timeout=9)
    finally:
        hooks.CONFIGURATION_LISTENERS.clear()

    assert told == [("api", {"EVENT_BUS_NAME": "b"},
                     {"EVENT_BUS_NAME": "b", "EVENT_VERSIONS": "order.placed=2"})]


def _fifo_with_a_group_in_flight(aws: dict[str, Any]) -> tuple[str, Queue, str]:
    url = aws["sqs"].create_queue(QueueName="blocked.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for index in range(50):
        aws["sqs"].send_message(QueueUrl=url, MessageBody=f"m{index}", MessageGroupId="g")
    [held] = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    queue = sqs_backends[ACCOUNT][REGION].get_queue("blocked.fifo")
    return url, queue, held["ReceiptHandle"]


def test_a_long_poll_of_a_fifo_queue_whose_groups_are_in_flight_waits_instead_of_spinning(
        aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch):
    """Every visible message belongs to a group another consumer holds: moto's receive used
    to rescan the queue without pause for the whole wait (hundreds of thousands of times a
    second of it), which took a third of the embedded AWS once two pollers shared a queue."""
    url, queue, _ = _fifo_with_a_group_in_flight(aws)
    scans = 0
    messages = Queue.messages

    def counted(self: Queue) -> list[Any]:
        nonlocal scans
        scans += 1
        return messages.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(Queue, "messages", property(counted))
    started = time.monotonic()
    answer = aws["sqs"].receive_message(QueueUrl=url, WaitTimeSeconds=1)

    assert "Messages" not in answer  # the group is still in flight: nothing to deliver
    assert time.monotonic() - started >= 0.9  # it did wait, as a long poll does
    assert scans < 100, f"{scans} scans of the queue in one second of waiting"
    del queue


def test_a_waiting_receive_gets_a_group_as_soon_as_it_is_released(aws: dict[str, Any]):
    url, _queue, held = _fifo_with_a_group_in_flight(aws)
    received: list[float] = []

    def receive() -> None:
        started = time.monotonic()
        answer = aws["sqs"].receive_message(QueueUrl=url, WaitTimeSeconds=5)
        if answer.get("Messages"):
            received.append(time.monotonic() - started)

    waiter = threading.Thread(target=receive)
    waiter.start()
    time.sleep(0.3)
    aws["sqs"].delete_message(QueueUrl=url, ReceiptHandle=held)
    waiter.join(timeout=6)

    assert received and received[0] < 1.0  # the release woke it; it did not wait out the poll


def test_the_call_ledger_counts_each_call_by_service_and_operation(aws: dict[str, Any]):
    before = hooks.CALLS.snapshot()["public"]
    url = aws["sqs"].create_queue(QueueName="counted")["QueueUrl"]
    aws["sqs"].send_message(QueueUrl=url, MessageBody="x")
    aws["sqs"].send_message(QueueUrl=url, MessageBody="y")
    after = hooks.CALLS.snapshot()["public"]

    def grew(name: str) -> int:
        return after.get(name, 0) - before.get(name, 0)

    assert (grew("sqs:CreateQueue"), grew("sqs:SendMessage")) == (1, 2)


def test_the_observing_pattern_matches_every_event_as_eventbridge_does():
    """`{"source": [{"prefix": ""}]}` (workflow.rules.observation_event_pattern) matches every
    event put on the bus, whatever its source, type or detail, as EventBridge's prefix matching
    does: a source nobody declared reaches observability too. moto needs no patch for it."""
    pattern = json.dumps(observation_event_pattern())
    with mock_aws():
        events, sqs = (boto3.client(s, region_name=REGION) for s in ("events", "sqs"))
        events.create_event_bus(Name="bus")
        url = sqs.create_queue(QueueName="observed")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="observe", EventBusName="bus", EventPattern=pattern)
        events.put_targets(Rule="observe", EventBusName="bus", Targets=[{
            "Id": "t", "Arn": arn, "InputTransformer": {
                "InputPathsMap": {},
                "InputTemplate": '{"bus": "global", "event": <aws.events.event.json>}'}}])
        sent = [("order", "order.placed", {"n": 0}), ("legacy.billing", "invoice.sent", {"n": 1}),
                ("x", 'a "quoted" type', {"n": 2}), ("order", "order.refunded", {"n": 3}),
                ("com.example.other", "t", {})]
        events.put_events(Entries=[{"EventBusName": "bus", "Source": source, "DetailType": kind,
                                    "Detail": json.dumps(detail)} for source, kind, detail in sent])
        bodies = [json.loads(m["Body"]) for m in
                  sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
        assert sorted((b["event"]["source"], b["event"]["detail-type"], b["event"]["detail"])
                      for b in bodies) == sorted(sent)
        assert {b["bus"] for b in bodies} == {"global"}


def test_item_answers_written_as_they_stand_read_as_moto_s_own(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb)
    item = {"pk": {"S": "a"}, "n": {"N": "1.5"}, "b": {"B": b"\x00\xffbytes"},
            "m": {"M": {"l": {"L": [{"S": "x"}, {"BOOL": True}, {"NULL": True}]}}},
            "ss": {"SS": ["p", "q"]}}
    dynamodb.put_item(TableName=table, Item=item)
    # a binary value takes moto's own walk, and comes back as the bytes it was
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == item
    plain = {key: value for key, value in item.items() if key != "b"}
    dynamodb.put_item(TableName=table, Item=plain)
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == plain
    old = dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"] == plain
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "none"}})
    new = dynamodb.update_item(TableName=table, Key={"pk": {"S": "a"}},
                               UpdateExpression="SET n = :n", ReturnValues="ALL_NEW",
                               ExpressionAttributeValues={":n": {"N": "2"}},
                               ReturnConsumedCapacity="TOTAL")
    assert new["Attributes"] == {"pk": {"S": "a"}, "n": {"N": "2"}}
    assert new["ConsumedCapacity"]["TableName"] == table
    # an answer with a timestamp is still written by moto's walk
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["CreationDateTime"].year >= 2026


def test_ec2_reads_a_region_s_instance_type_offerings_when_they_are_asked_for():
    """EC2 still answers which instance types a region's zones offer, from moto's own data,
    but reads no region's file before it is asked (40 MiB kept for a service nobody called)."""
    from moto.ec2.models import instance_types
    from moto.utilities.utils import load_resource

    offerings: Any = instance_types.INSTANCE_TYPE_OFFERINGS["availability-zone"]
    assert "eu-west-3" in offerings and len(offerings) > 20
    assert not dict.__contains__(offerings, "eu-west-3"), "read before it was asked for"
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-west-3")
        answered = ec2.describe_instance_type_offerings(
            LocationType="availability-zone")["InstanceTypeOfferings"]
    on_disk = load_resource(f"ec2/resources/instance_type_offerings/availability-zone/"
                            f"{offerings.files['eu-west-3']}")
    assert {(o["InstanceType"], o["Location"]) for o in answered} == \
        {(o["InstanceType"], o["Location"]) for o in on_disk}
    assert {o["LocationType"] for o in answered} == {"availability-zone"}
