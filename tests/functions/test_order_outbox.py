"""Placing an order is crash-safe: whenever the order API dies, the order either completes (its
`order.placed` is published, that very event, same id) or never existed. The API runs in a
process of its own that dies between two steps (`crashing_order_api`); the relay then acts
on the check the API asked for, as SQS would deliver it once the API could no longer be
running: an order still `placed` then has its event published again, one that has ended
does not, and the orders a batch of checks names are read in one call."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from dashboard.orders.stock import stock_seed
from functions.common.aws import PublishFailed
from functions.order.orders import DynamoOrders
from tests.functions.conftest import Aws, FakeContext
from tests.functions.crashing_order_api import CRASHED
from tests.support import api_request, eventbridge_event, sqs_event
from workflow.envelope import Event, parse_cloudevent

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"customerId": "c-9", "items": [{"sku": "BISCUIT-TIN", "quantity": 1}],
         "card": {"number": "4242 4242 4242 4242"}}
OUTBOX_ARN = "arn:aws:sqs:us-east-1:123456789012:OrderOutbox"


def place_and_die(after: str) -> None:
    """Place `ORDER` with the order API in a process that dies once `after` is done."""
    result = subprocess.run([sys.executable, "-m", "tests.functions.crashing_order_api", after],
                            input=json.dumps(ORDER), capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == CRASHED, (result.stdout + result.stderr)[-3000:]


def orders_written(aws: Aws) -> list[dict[str, Any]]:
    return aws.dynamodb.scan(TableName=aws.tables["Orders"], ConsistentRead=True)["Items"]


def checks_deliver(aws: Aws) -> dict[str, Any]:
    """Hand the relay every check on the outbox queue, as the queue's event source would."""
    messages = aws.sqs.receive_message(QueueUrl=aws.outbox_url,
                                       MaxNumberOfMessages=10).get("Messages", [])
    assert messages, "no check was asked for"
    relay = aws.handler("functions.order.relay")
    response: dict[str, Any] = relay.lambda_handler(
        sqs_event(*(message["Body"] for message in messages), queue_arn=OUTBOX_ARN), FakeContext())
    for message in messages:
        aws.sqs.delete_message(QueueUrl=aws.outbox_url, ReceiptHandle=message["ReceiptHandle"])
    return response


def order_conclude(aws: Aws, order_id: str, status: str = "shipped") -> None:
    """End the order, as `OrderEvents` does once the chain its event started has run."""
    aws.dynamodb.update_item(TableName=aws.tables["Orders"], Key={"pk": {"S": f"ORDER#{order_id}"}},
                             UpdateExpression="SET #status = :to",
                             ExpressionAttributeNames={"#status": "status"},
                             ExpressionAttributeValues={":to": {"S": status}})


def dynamodb_calls(module: ModuleType) -> list[str]:
    """The DynamoDB operations a handler module's client makes from now on, in order."""
    calls: list[str] = []
    module.orders.records.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


def order_status(aws: Aws, order_id: str) -> int:
    api = aws.handler("functions.order.api")
    response = api.lambda_handler(api_request("GET", f"/orders/{order_id}"), FakeContext())
    return int(response["statusCode"])


def test_dying_before_the_write_leaves_an_order_that_never_existed(aws_server: Aws):
    place_and_die(after="asked")
    assert orders_written(aws_server) == []
    [check] = aws_server.sqs.receive_message(QueueUrl=aws_server.outbox_url,
                                             VisibilityTimeout=0)["Messages"]
    order_id = json.loads(check["Body"])["orderId"]

    assert checks_deliver(aws_server) == {"batchItemFailures": []}
    assert aws_server.published() == []
    assert orders_written(aws_server) == []
    assert order_status(aws_server, order_id) == 404


def test_dying_between_the_write_and_the_publish_has_the_relay_publish_that_very_event(
        aws_server: Aws):
    place_and_die(after="written")
    [record] = orders_written(aws_server)  # the order exists, placed ...
    written = parse_cloudevent(record["event"]["S"])
    assert aws_server.published() == []  # ... and nothing on the bus says so

    assert checks_deliver(aws_server) == {"batchItemFailures": []}
    [relayed] = aws_server.published()
    assert relayed.to_dict() == written.to_dict()
    assert order_status(aws_server, written.subject) == 200


def test_dying_after_the_publish_publishes_the_same_event_once_more_and_the_warehouse_absorbs_it(
        aws_server: Aws):
    """The check cannot tell this order from one whose event was lost: still `placed`, it has
    its event published again, and the warehouse takes that copy for what it is."""
    place_and_die(after="published")
    [first] = aws_server.published()
    [record] = orders_written(aws_server)
    assert record["status"] == {"S": "placed"}  # nothing has taken it further yet

    checks_deliver(aws_server)
    [again] = aws_server.published()
    assert again.id == first.id and again.to_dict() == first.to_dict()

    warehouse = aws_server.handler("functions.warehouse.handler")
    stock_seed(dynamodb=aws_server.dynamodb, table_name=aws_server.tables["Inventory"])
    warehouse.lambda_handler(sqs_event(json.dumps(eventbridge_event(first)),
                                       json.dumps(eventbridge_event(again)), fifo=True),
                             FakeContext())
    assert [event.type for event in aws_server.published()] == ["warehouse.stock-reserved"]


# --- the same steps failing with an error, in process -----------------------------------------

def place(api: ModuleType) -> dict[str, Any]:
    response: dict[str, Any] = api.lambda_handler(api_request("POST", "/orders", json.dumps(ORDER)),
                                                  FakeContext())
    return response


def publish_failing(reason: str) -> Callable[[list[Event]], None]:
    def publish(_events: list[Event]) -> None:
        raise PublishFailed(reason)
    return publish


def test_an_order_placed_asks_for_its_check_and_writes_nothing_after_its_publish(aws: Aws):
    api = aws.handler("functions.order.api")
    calls = dynamodb_calls(api)
    response = place(api)
    assert response["statusCode"] == 202
    order_id = json.loads(response["body"])["orderId"]
    [check] = aws.sqs.receive_message(QueueUrl=aws.outbox_url, VisibilityTimeout=0)["Messages"]
    assert json.loads(check["Body"]) == {"orderId": order_id}
    assert calls == ["PutItem"]  # the order and its event, and no mark that it was published
    [record] = orders_written(aws)
    assert record["status"] == {"S": "placed"} and "published" not in record
    [placed] = aws.published()
    assert placed.subject == order_id


@pytest.mark.parametrize("status", ["shipped", "rejected", "cancelled"])
def test_a_check_that_finds_its_order_ended_publishes_nothing(aws: Aws, status: str):
    """An order ends only on what the warehouse published, in reply to its `order.placed`:
    that event reached the bus."""
    order_id = json.loads(place(aws.handler("functions.order.api"))["body"])["orderId"]
    aws.published()
    order_conclude(aws, order_id, status)

    assert checks_deliver(aws) == {"batchItemFailures": []}
    assert aws.published() == []


def test_a_check_that_finds_its_order_still_placed_publishes_its_event_again_same_id(aws: Aws):
    """Published or not, an order still `placed` a minute on looks the same from here: its
    event goes out again, and consumers absorb the copy by its id."""
    order_id = json.loads(place(aws.handler("functions.order.api"))["body"])["orderId"]
    [first] = aws.published()

    assert checks_deliver(aws) == {"batchItemFailures": []}
    [again] = aws.published()
    assert again.subject == order_id and again.to_dict() == first.to_dict()


def test_the_relay_reads_the_orders_of_a_batch_of_checks_in_one_call(aws: Aws):
    api = aws.handler("functions.order.api")
    placed = [json.loads(place(api)["body"])["orderId"] for _ in range(3)]
    aws.published()
    order_conclude(aws, placed[0])
    never_written = json.dumps({"orderId": "never-written"})
    checks = [json.dumps({"orderId": order_id}) for order_id in placed]
    relay = aws.handler("functions.order.relay")
    calls = dynamodb_calls(relay)

    response = relay.lambda_handler(
        sqs_event(*checks, never_written, "not a check", checks[1], queue_arn=OUTBOX_ARN),
        FakeContext())
    assert response == {"batchItemFailures": []}
    assert calls == ["BatchGetItem"]
    # the two still placed, once each though one was checked twice in the batch
    assert sorted(event.subject for event in aws.published()) == sorted(placed[1:])
    [letter] = aws.dead_letters()
    assert letter["Body"] == "not a check"


def test_a_batch_of_checks_whose_orders_cannot_be_read_fails_whole_so_that_it_comes_back(
        aws: Aws, monkeypatch: pytest.MonkeyPatch):
    api = aws.handler("functions.order.api")
    monkeypatch.setattr(api.publisher, "publish", publish_failing("put_events failed"))
    place(api)
    relay = aws.handler("functions.order.relay")

    def unreadable(**_request: Any) -> dict[str, Any]:
        raise ConnectionError("DynamoDB is unreachable")

    monkeypatch.setattr(relay.orders.records.client, "batch_get_item", unreadable)
    [message] = aws.sqs.receive_message(QueueUrl=aws.outbox_url)["Messages"]
    with pytest.raises(ConnectionError):
        relay.lambda_handler(sqs_event(message["Body"], queue_arn=OUTBOX_ARN), FakeContext())
    assert aws.published() == []


class UnprocessedOnce:
    """A DynamoDB client whose first BatchGetItem leaves all but one key unprocessed."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        response: dict[str, Any] = self.client.batch_get_item(RequestItems=RequestItems)
        if len(self.requests) == 1:
            [(table, request)] = RequestItems.items()
            [(_, found)] = response["Responses"].items()
            response["Responses"][table] = found[:1]
            response["UnprocessedKeys"] = {table: {**request, "Keys": [
                key for key in request["Keys"] if key["pk"] != found[0]["pk"]]}}
        return response


def test_the_relay_asks_again_for_the_orders_dynamodb_left_unprocessed(
        aws: Aws, monkeypatch: pytest.MonkeyPatch):
    api = aws.handler("functions.order.api")
    monkeypatch.setattr(api.publisher, "publish", publish_failing("put_events failed"))
    placed = {json.loads(place(api)["body"])["orderId"] for _ in range(3)}
    client = UnprocessedOnce(aws.dynamodb)
    monkeypatch.setattr("functions.common.aws.time.sleep", lambda _seconds: None)

    found = DynamoOrders(table_name=aws.tables["Orders"], client=client).still_placed(placed)
    assert set(found) == placed and len(client.requests) == 2
    assert all(found[order_id].subject == order_id for order_id in placed)


def test_a_publish_that_fails_leaves_the_order_to_the_relay_rather_than_withdrawing_it(
        aws: Aws, monkeypatch: pytest.MonkeyPatch):
    """The bus may have taken an event whose publish reported a failure: withdrawing the
    order would leave that event an order that does not exist. The order is written, so it is
    accepted, and the relay publishes it."""
    api = aws.handler("functions.order.api")
    monkeypatch.setattr(api.publisher, "publish", publish_failing("put_events failed"))
    response = place(api)
    assert response["statusCode"] == 202
    order_id = json.loads(response["body"])["orderId"]
    assert aws.published() == []
    [record] = orders_written(aws)

    checks_deliver(aws)
    [relayed] = aws.published()
    assert relayed.subject == order_id
    assert relayed.id == parse_cloudevent(record["event"]["S"]).id


def test_an_order_whose_check_cannot_be_asked_for_is_not_accepted_and_not_written(
        aws: Aws, monkeypatch: pytest.MonkeyPatch):
    api = aws.handler("functions.order.api")

    def unreachable(_order_id: str) -> None:
        raise ConnectionError("SQS is unreachable")

    monkeypatch.setattr(api.checks, "request", unreachable)
    response = place(api)
    assert response["statusCode"] == 503
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert orders_written(aws) == []
    assert aws.published() == []


def test_a_check_that_names_no_order_is_dead_lettered_with_its_reason(aws: Aws):
    relay = aws.handler("functions.order.relay")
    response = relay.lambda_handler(sqs_event("not a check", queue_arn=OUTBOX_ARN), FakeContext())
    assert response == {"batchItemFailures": []}
    [letter] = aws.dead_letters()
    assert "orderId" in letter["MessageAttributes"]["reason"]["StringValue"]
    assert aws.published() == []


def test_a_relay_that_cannot_publish_fails_the_check_so_that_it_comes_back(
        aws: Aws, monkeypatch: pytest.MonkeyPatch):
    api = aws.handler("functions.order.api")
    monkeypatch.setattr(api.publisher, "publish", publish_failing("the bus is unavailable"))
    place(api)
    relay = aws.handler("functions.order.relay")
    monkeypatch.setattr(relay.publisher, "publish", publish_failing("it still is"))
    [message] = aws.sqs.receive_message(QueueUrl=aws.outbox_url)["Messages"]
    with pytest.raises(BatchProcessingError):  # every record failed: the batch fails
        relay.lambda_handler(sqs_event(message["Body"], queue_arn=OUTBOX_ARN), FakeContext())
    assert aws.published() == []
