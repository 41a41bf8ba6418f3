"""The embedded AWS keeps DynamoDB items and CloudWatch Logs streams on disk once they are no
longer in use (local/moto_patches/history.py): what a user reads back is what was written,
changes made in place survive being written out, and memory holds only the recent ones."""

from __future__ import annotations

import copy
import gc
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import moto_patches
from local.moto_patches import history
from local.moto_patches.history import HistoryFile, SpilledMapping

REGION = "us-east-1"


@pytest.fixture
def mapping(tmp_path: Path) -> SpilledMapping:
    return SpilledMapping(threading.RLock(), file=HistoryFile(tmp_path), recent=2)


def test_what_is_no_longer_recent_is_written_out_and_read_back_equal(mapping: SpilledMapping):
    for n in range(10):
        mapping[f"k{n}"] = {"n": n, "payload": "x" * 100}

    assert mapping.file.size > 0
    assert len(mapping) == 10
    assert sorted(mapping) == sorted(f"k{n}" for n in range(10))
    assert all(mapping[f"k{n}"] == {"n": n, "payload": "x" * 100} for n in range(10))
    assert "k3" in mapping and "k10" not in mapping
    with pytest.raises(KeyError):
        mapping["k10"]


def test_a_change_made_in_place_survives_being_written_out(mapping: SpilledMapping):
    for n in range(5):
        mapping[f"k{n}"] = {"count": 0}
    for _ in range(3):
        for n in range(5):
            mapping[f"k{n}"]["count"] += 1  # got, changed in place, pushed out by the next

    assert [mapping[f"k{n}"]["count"] for n in range(5)] == [3] * 5


def test_a_value_read_but_not_changed_is_not_written_again(mapping: SpilledMapping):
    for n in range(5):
        mapping[f"k{n}"] = [n]
    for n in range(5):
        mapping[f"k{n}"]  # each written out once
    written = mapping.file.size
    for _ in range(3):
        for n in range(5):
            assert mapping[f"k{n}"] == [n]

    assert mapping.file.size == written


def test_looking_does_not_make_recent_and_does_not_keep(mapping: SpilledMapping):
    for n in range(5):
        mapping[f"k{n}"] = {"n": n}
    written = mapping.file.size

    assert mapping.peek("k0") == {"n": 0}
    assert mapping.peek("absent", "none") == "none"
    assert sorted(value["n"] for value in mapping.values()) == [0, 1, 2, 3, 4]
    assert dict(mapping.items())["k1"] == {"n": 1}
    assert len(mapping.values()) == 5
    assert mapping.file.size == written


def test_delete_and_a_default_for_a_missing_key(tmp_path: Path):
    partitions = SpilledMapping(threading.RLock(), file=HistoryFile(tmp_path), recent=1,
                                default_factory=dict)
    partitions["a"]["x"] = 1  # as `defaultdict(dict)` would
    partitions["b"]["y"] = 2
    assert partitions["a"] == {"x": 1}
    del partitions["a"]
    assert "a" not in partitions
    with pytest.raises(KeyError):
        del partitions["a"]
    assert partitions.pop("b") == {"y": 2}
    assert len(partitions) == 0


def test_a_deep_copy_is_independent_and_shares_what_was_written(mapping: SpilledMapping):
    for n in range(5):
        mapping[f"k{n}"] = {"n": n}
    written = mapping.file.size
    twin = copy.deepcopy(mapping)
    twin["k0"]["n"] = 100
    twin["k4"]["n"] = 104

    assert mapping["k0"] == {"n": 0} and mapping["k4"] == {"n": 4}
    assert twin["k0"] == {"n": 100} and twin["k4"] == {"n": 104}
    assert mapping.file.size >= written


class _Group:
    def __init__(self) -> None:
        self.name = "group"


class _Stream:
    def __init__(self, group: _Group) -> None:
        self.group = group
        self.events: list[str] = []


def test_the_owner_is_pickled_by_reference(tmp_path: Path):
    group = _Group()
    streams = SpilledMapping(threading.RLock(), file=HistoryFile(tmp_path), recent=1,
                             owner=group)
    streams["s1"] = _Stream(group)
    streams["s2"] = _Stream(group)
    streams["s1"].events.append("one")

    assert streams["s2"].group is group
    assert streams["s1"].group is group and streams["s1"].events == ["one"]


# --- moto, with every value but the last one used written out


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    moto_patches.apply()
    monkeypatch.setattr(history, "RECENT", 1)
    monkeypatch.setattr(history, "HISTORY", HistoryFile(tmp_path))
    with mock_aws():
        yield {service: boto3.client(service, region_name=REGION)
               for service in ("dynamodb", "logs", "events")}


def _table(dynamodb: Any, name: str, sort_key: str | None = None) -> str:
    keys = [("pk", "HASH"), *([(sort_key, "RANGE")] if sort_key else [])]
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys])
    return name


def test_items_updated_in_place_are_read_back_as_dynamodb_would(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb, "orders")
    for n in range(20):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"o{n}"}, "count": {"N": "0"},
                                                 "event": {"S": json.dumps({"n": n})}})
    for _ in range(3):
        for n in range(20):
            dynamodb.update_item(TableName=table, Key={"pk": {"S": f"o{n}"}},
                                 UpdateExpression="ADD #c :one",
                                 ExpressionAttributeNames={"#c": "count"},
                                 ExpressionAttributeValues={":one": {"N": "1"}})
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "o3"}},
                          ConditionExpression="attribute_not_exists(pk)")

    counts = {n: dynamodb.get_item(TableName=table, Key={"pk": {"S": f"o{n}"}})["Item"]
              for n in range(20)}
    assert {item["count"]["N"] for item in counts.values()} == {"3"}
    assert json.loads(counts[7]["event"]["S"]) == {"n": 7}
    assert dynamodb.describe_table(TableName=table)["Table"]["ItemCount"] == 20
    scanned = dynamodb.scan(TableName=table)["Items"]
    assert sorted(item["pk"]["S"] for item in scanned) == sorted(f"o{n}" for n in range(20))


def test_a_cancelled_transaction_leaves_every_item_as_it_was(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb, "stock")
    for sku in ("a", "b", "c"):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": sku}, "left": {"N": "1"}})

    def take(sku: str) -> dict[str, Any]:
        return {"Update": {"TableName": table, "Key": {"pk": {"S": sku}},
                           "UpdateExpression": "SET #l = #l - :one",
                           "ConditionExpression": "#l >= :one",
                           "ExpressionAttributeNames": {"#l": "left"},
                           "ExpressionAttributeValues": {":one": {"N": "1"}}}}

    dynamodb.transact_write_items(TransactItems=[take("a"), take("b")])
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[take("c"), take("a")])

    left = {sku: dynamodb.get_item(TableName=table, Key={"pk": {"S": sku}})["Item"]["left"]["N"]
            for sku in ("a", "b", "c")}
    assert left == {"a": "0", "b": "0", "c": "1"}


def test_a_query_reads_its_partition_in_sort_key_order(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    table = _table(dynamodb, "notifications", sort_key="id")
    for order in ("o1", "o2", "o3"):
        for event in ("e3", "e1", "e2"):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": order}, "id": {"S": event}})

    answer = dynamodb.query(TableName=table, KeyConditionExpression="pk = :o",
                            ExpressionAttributeValues={":o": {"S": "o2"}})
    backwards = dynamodb.query(TableName=table, KeyConditionExpression="pk = :o",
                               ExpressionAttributeValues={":o": {"S": "o2"}},
                               ScanIndexForward=False)
    none = dynamodb.query(TableName=table, KeyConditionExpression="pk = :o",
                          ExpressionAttributeValues={":o": {"S": "o9"}})

    assert [(item["pk"]["S"], item["id"]["S"]) for item in answer["Items"]] == [
        ("o2", "e1"), ("o2", "e2"), ("o2", "e3")]
    assert [item["id"]["S"] for item in backwards["Items"]] == ["e3", "e2", "e1"]
    assert none["Items"] == []
    assert dynamodb.describe_table(TableName=table)["Table"]["ItemCount"] == 9


def _records_expiring(dynamodb: Any, name: str, now: float, expired: list[bool]) -> str:
    """A table with TTL on `expiration` and one record for each of `expired`: a minute past
    its expiry if true, ten minutes before it otherwise."""
    table = _table(dynamodb, name)
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expiration"})
    for n, gone in enumerate(expired):
        dynamodb.put_item(TableName=table, Item={
            "pk": {"S": f"r{n}"}, "expiration": {"N": str(int(now + (-60 if gone else 600)))}})
    return table


def test_expired_items_on_disk_are_swept(aws: dict[str, Any]):
    dynamodb = aws["dynamodb"]
    now = time.time()
    table = _records_expiring(dynamodb, "idempotency", now, [n % 2 == 1 for n in range(10)])

    assert moto_patches.expire_ttl_items(now) == 5
    kept = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName=table)["Items"])
    assert kept == ["r0", "r2", "r4", "r6", "r8"]


def test_memory_holds_the_recent_items_not_the_history(aws: dict[str, Any]):
    from moto.dynamodb.models.dynamo_type import Item

    dynamodb = aws["dynamodb"]
    table = _table(dynamodb, "history")
    gc.collect()
    before = len(Item.instances_tracked)
    for n in range(300):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"o{n}"}, "body": {"S": "x" * 1000}})
    gc.collect()

    assert len(Item.instances_tracked) - before <= 2
    assert history.HISTORY.size > 300 * 1000
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "o150"}})["Item"]["body"]["S"] \
        == "x" * 1000


def test_log_events_written_out_are_found_and_appended_to(aws: dict[str, Any]):
    logs = aws["logs"]
    logs.create_log_group(logGroupName="g")
    now = int(time.time() * 1000)
    for n in range(12):
        logs.create_log_stream(logGroupName="g", logStreamName=f"s{n}")
        logs.put_log_events(logGroupName="g", logStreamName=f"s{n}", logEvents=[
            {"timestamp": now + n, "message": json.dumps({"n": n, "word": f"w{n}"})}])
    logs.put_log_events(logGroupName="g", logStreamName="s0", logEvents=[
        {"timestamp": now + 100, "message": "again"}])

    found = logs.filter_log_events(logGroupName="g")["events"]
    assert len(found) == 13
    assert [event["message"] for event in logs.get_log_events(
        logGroupName="g", logStreamName="s0", startFromHead=True)["events"]] == [
        json.dumps({"n": 0, "word": "w0"}), "again"]
    matched = logs.filter_log_events(logGroupName="g", filterPattern="w7")["events"]
    assert [event["logStreamName"] for event in matched] == ["s7"]
    streams = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert len(streams) == 12
    assert {stream["arn"].rsplit(":", 1)[-1] for stream in streams} == {
        f"s{n}" for n in range(12)}


def test_filter_log_events_pages_through_history_kept_on_disk(aws: dict[str, Any]):
    logs = aws["logs"]
    logs.create_log_group(logGroupName="g")
    now = int(time.time() * 1000)
    for n in range(8):
        logs.create_log_stream(logGroupName="g", logStreamName=f"s{n}")
        logs.put_log_events(logGroupName="g", logStreamName=f"s{n}", logEvents=[
            {"timestamp": now + n, "message": f"first {n}"},
            {"timestamp": now + 100 + n, "message": f"second {n}"}])

    def every_page(**request: Any) -> list[list[str]]:
        pages, token = [], None
        while True:
            answer = logs.filter_log_events(logGroupName="g", limit=3, **request,
                                            **({"nextToken": token} if token else {}))
            pages.append([event["message"] for event in answer["events"]])
            token = answer.get("nextToken")
            if not token:
                return pages

    pages = every_page(interleaved=True)
    assert [len(page) for page in pages] == [3, 3, 3, 3, 3, 1]
    assert [message for page in pages for message in page] == [
        *(f"first {n}" for n in range(8)), *(f"second {n}" for n in range(8))]
    chosen = [message for page in every_page(logStreamNames=["s2", "s5"], filterPattern="second")
              for message in page]
    assert chosen == ["second 2", "second 5"]
    assert logs.filter_log_events(logGroupName="g", nextToken="g@nowhere@0")["events"] == []


def test_the_sweep_reads_back_only_what_may_have_expired(aws: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch):
    dynamodb = aws["dynamodb"]
    now = time.time()
    table = _records_expiring(dynamodb, "records", now, [n < 5 for n in range(40)])
    reads = []
    loads = SpilledMapping._loads

    def counted(self: SpilledMapping, blob: bytes) -> Any:
        reads.append(blob)
        return loads(self, blob)

    monkeypatch.setattr(SpilledMapping, "_loads", counted)

    assert moto_patches.expire_ttl_items(now) == 5
    assert len(reads) <= 11  # each expired item read to check it and to delete it; none else
    assert dynamodb.describe_table(TableName=table)["Table"]["ItemCount"] == 35


def test_a_changed_ttl_attribute_is_swept_by_the_new_one(aws: dict[str, Any]):
    """Each note says when an item expires under the attribute in force when it was written
    out; after UpdateTimeToLive names another attribute, the sweep goes by the new one."""
    dynamodb = aws["dynamodb"]
    now = time.time()
    table = _records_expiring(dynamodb, "renamed", now, [False] * 6)
    for n in range(6):  # under `until`, the even ones are past
        dynamodb.update_item(TableName=table, Key={"pk": {"S": f"r{n}"}},
                             UpdateExpression="SET #u = :u",
                             ExpressionAttributeNames={"#u": "until"},
                             ExpressionAttributeValues={":u": {"N": str(int(now - 60 + 660 * (n % 2)))}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "last"}})  # the others go to disk
    assert moto_patches.expire_ttl_items(now) == 0  # none is past under `expiration`

    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "until"})

    assert moto_patches.expire_ttl_items(now) == 3
    kept = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName=table)["Items"])
    assert kept == ["last", "r1", "r3", "r5"]


def test_a_note_is_one_small_object_and_none_is_kept_for_nothing(tmp_path: Path):
    noted = SpilledMapping(threading.RLock(), file=HistoryFile(tmp_path), recent=1,
                           note=lambda value: value.get("expires"))
    noted["a"] = {"expires": 10.0}
    noted["b"] = {}
    noted["c"] = {"expires": 30.0}

    assert dict(noted.noted()) == {"a": 10.0, "b": None, "c": None}  # c is in memory
    assert len(noted._notes) == 1
