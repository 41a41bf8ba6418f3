"""Each handler fed with AWS's own event shapes, applying its effect once and publishing the
next event of the choreography."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import HealthCheck, given, settings

from dashboard.orders.stock import stock_seed
from tests.functions.conftest import Aws, FakeContext
from tests.hostile import hostile_cloudevents
from tests.support import TEST_VAULT as VAULT
from tests.support import api_request, eventbridge_event, sqs_event
from workflow.domain.order import order_place
from workflow.envelope import MAX_JSON_DEPTH, Event, new_event, parse_eventbridge
from workflow.handler_env import EVENT_VERSIONS_ENV
from workflow.model import CHOREOGRAPHY, ORDER_API
from workflow.money import decimal_text
from workflow.products import PRODUCTS
from workflow.versions import read_as, written_as

CARD = "4242 4242 4242 4242"
NOW = "2026-01-02T03:04:05+00:00"


def placed(*, quantity: int = 2, card: str = CARD, sku: str = "MUG-STONEWARE") -> Event:
    return order_place(vault=VAULT, request={
        "customerId": "c-1", "items": [{"sku": sku, "quantity": quantity}], "card": {"number": card}})


def body(event: Event) -> str:
    return json.dumps(eventbridge_event(event))


def warehouse_stock(aws: Aws, sku: str) -> dict[str, int]:
    item = aws.dynamodb.get_item(TableName=aws.tables["Inventory"],
                                 Key={"pk": {"S": f"PRODUCT#{sku}"}})["Item"]
    return {name: int(item[name]["N"]) for name in ("available", "reserved", "shipped")}


@pytest.fixture
def warehouse(aws: Aws):
    module = aws.handler("functions.warehouse.handler")
    stock_seed(dynamodb=aws.dynamodb, table_name=aws.tables["Inventory"])
    return module


def test_warehouse_reserves_stock_and_announces_it(aws: Aws, warehouse):
    order = placed(quantity=2)
    before = warehouse_stock(aws, "MUG-STONEWARE")

    response = warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())

    assert response == {"batchItemFailures": []}
    [reserved] = aws.published()
    assert reserved.type == "warehouse.stock-reserved"
    assert reserved.causation_id == order.id
    assert reserved.correlation_id == order.correlation_id
    after = warehouse_stock(aws, "MUG-STONEWARE")
    assert after["available"] == before["available"] - 2
    assert after["reserved"] == 2


def test_the_same_event_twice_reserves_once_and_publishes_one_outcome(aws: Aws, warehouse):
    """The second delivery publishes the recorded outcome again, under the same event id: a
    crash between recording and publishing must lose nothing, and consumers apply an id once."""
    order = placed(quantity=1)
    warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    [first] = aws.published()
    warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    [again] = aws.published()
    assert first.type == "warehouse.stock-reserved"
    assert again.to_dict() == first.to_dict()
    assert warehouse_stock(aws, "MUG-STONEWARE")["reserved"] == 1


def put_events_calls(monkeypatch: pytest.MonkeyPatch, consumer: Any) -> list[int]:
    """The number of entries of each `PutEvents` the consumer's publisher makes."""
    calls: list[int] = []
    client = consumer.publisher.client
    put_events = client.put_events

    def counted(**request: Any) -> Any:
        calls.append(len(request["Entries"]))
        return put_events(**request)

    monkeypatch.setattr(client, "put_events", counted)
    return calls


def test_a_batch_publishes_what_its_records_decided_in_one_call(aws: Aws, warehouse, monkeypatch):
    orders = [placed(quantity=1) for _ in range(3)]
    calls = put_events_calls(monkeypatch, warehouse.consumer)
    response = warehouse.lambda_handler(sqs_event(*map(body, orders), fifo=True), FakeContext())
    assert response == {"batchItemFailures": []}
    assert calls == [3]
    assert sorted(e.causation_id for e in aws.published()) == sorted(o.id for o in orders)


def test_a_record_that_fails_publishes_nothing_and_those_before_it_are_published(
        aws: Aws, warehouse, monkeypatch):
    good = placed(quantity=1)
    never_reserved = placed()
    early = new_event(type="loyalty.points-awarded", cause=never_reserved, data={
        "order": never_reserved.order, "reservation": {"reservationId": "r", "reservedAt": NOW},
        "payment": {"paymentId": "p", "amount": never_reserved.order["total"], "takenAt": NOW},
        "points": {"points": 24, "awardedAt": NOW}})  # shipping what was never reserved: retried
    later = placed(quantity=1)
    calls = put_events_calls(monkeypatch, warehouse.consumer)
    response = warehouse.lambda_handler(sqs_event(body(good), body(early), body(later), fifo=True),
                                        FakeContext())
    # a FIFO batch stops at its first failure: the records after it are given back unworked
    assert len(response["batchItemFailures"]) == 2
    assert calls == [1]
    [reserved] = aws.published()
    assert reserved.causation_id == good.id


def test_when_publishing_fails_the_batch_fails_and_its_redelivery_publishes_the_outcome(
        aws: Aws, warehouse, monkeypatch):
    order = placed(quantity=1)
    client = warehouse.consumer.publisher.client

    def unavailable(**_request: Any) -> Any:
        raise RuntimeError("EventBridge is unavailable")

    monkeypatch.setattr(client, "put_events", unavailable)
    with pytest.raises(RuntimeError, match="unavailable"):
        warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    assert aws.published() == []
    monkeypatch.undo()
    warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    [reserved] = aws.published()
    assert reserved.type == "warehouse.stock-reserved"
    assert warehouse_stock(aws, "MUG-STONEWARE")["reserved"] == 1


def test_two_different_events_for_one_order_reserve_once(aws: Aws, warehouse):
    """A re-placed copy with a new CloudEvent id is still the same order: one reservation,
    and the recorded outcome (same event id) is published again."""
    order = placed(quantity=1)
    copy = Event(**{**order.__dict__, "id": "another-id"})
    warehouse.lambda_handler(sqs_event(body(order), body(copy), fifo=True), FakeContext())
    published = aws.published()
    assert {e.id for e in published} == {published[0].id}
    assert warehouse_stock(aws, "MUG-STONEWARE")["reserved"] == 1


def test_short_stock_reserves_nothing_and_says_what_is_short(aws: Aws, warehouse):
    order = order_place(vault=VAULT, request={"customerId": "c-1", "card": {"number": CARD}, "items": [
        {"sku": "MUG-STONEWARE", "quantity": 1}, {"sku": "TEAPOT-CAST", "quantity": 11}]})
    warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    [unavailable] = aws.published()
    assert unavailable.type == "warehouse.stock-unavailable"
    assert unavailable.data["unavailable"]["shortages"] == [
        {"sku": "TEAPOT-CAST", "requested": 11, "available": 10}]
    assert warehouse_stock(aws, "MUG-STONEWARE")["reserved"] == 0


def test_shipping_before_reserving_is_retried_not_applied(aws: Aws, warehouse):
    order = placed()
    awarded = new_event(type="loyalty.points-awarded", cause=order, data={
        "order": order.order, "reservation": {"reservationId": "r", "reservedAt": NOW},
        "payment": {"paymentId": "p", "amount": order.order["total"], "takenAt": NOW},
        "points": {"points": 24, "awardedAt": NOW}})
    # a batch whose every record failed fails as a whole: Lambda leaves it all on the queue
    with pytest.raises(BatchProcessingError, match="no reservation yet"):
        warehouse.lambda_handler(sqs_event(body(awarded), fifo=True), FakeContext())
    assert aws.published() == []

    # once the reservation exists, the same delivery ships
    warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    warehouse.lambda_handler(sqs_event(body(awarded), fifo=True), FakeContext())
    assert [e.type for e in aws.published()] == ["warehouse.stock-reserved",
                                                 "warehouse.order-shipped"]
    assert warehouse_stock(aws, "MUG-STONEWARE") == {
        "available": 23, "reserved": 0, "shipped": 2}


def points_awarded(order: Event, order_data: dict | None = None) -> Event:
    return new_event(type="loyalty.points-awarded", cause=order, data={
        "order": order_data or order.order,
        "reservation": {"reservationId": "r", "reservedAt": NOW},
        "payment": {"paymentId": "p", "amount": order.order["total"], "takenAt": NOW},
        "points": {"points": 24, "awardedAt": NOW}})


def test_shipping_moves_the_units_reserved_whatever_lines_the_event_claims(aws: Aws, warehouse):
    order = placed(quantity=2)
    warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    claimed = {**order.order, "lines": [{**order.order["lines"][0], "quantity": 7}]}
    warehouse.lambda_handler(sqs_event(body(points_awarded(order, claimed)), fifo=True),
                             FakeContext())
    assert warehouse_stock(aws, "MUG-STONEWARE") == {"available": 23, "reserved": 0, "shipped": 2}


def test_a_reservation_kept_without_its_lines_digest_still_ships(aws: Aws, warehouse):
    order = placed(quantity=2)
    warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())
    aws.dynamodb.update_item(TableName=aws.tables["Inventory"],
                             Key={"pk": {"S": f"RESERVATION#{order.subject}"}},
                             UpdateExpression="REMOVE linesDigest")
    for _ in range(2):  # and asked again, ships once
        warehouse.lambda_handler(sqs_event(body(points_awarded(order)), fifo=True), FakeContext())
    shipped = [e for e in aws.published() if e.type == "warehouse.order-shipped"]
    assert len(shipped) == 2 and len({e.id for e in shipped}) == 1
    assert warehouse_stock(aws, "MUG-STONEWARE") == {"available": 23, "reserved": 0, "shipped": 2}


def test_a_message_that_is_not_a_cloudevent_goes_to_the_dead_letter_queue(aws: Aws, warehouse):
    response = warehouse.lambda_handler(
        sqs_event("Test message.", body(placed()), fifo=True), FakeContext())
    assert response == {"batchItemFailures": []}
    [dead] = aws.dead_letters()
    assert dead["Body"] == "Test message."
    assert "not JSON" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert [e.type for e in aws.published()] == ["warehouse.stock-reserved"]


@pytest.mark.parametrize("dataschema", ["urn:choreo:schema:order.placed:1\u00b2", 1,
                                        ["urn:choreo:schema:order.placed:1"]])
def test_an_event_naming_no_published_schema_is_dead_lettered_at_once_and_its_batch_goes_on(
        aws: Aws, warehouse, dataschema):
    malformed = eventbridge_event(placed(quantity=1))
    malformed["detail"]["dataschema"] = dataschema

    response = warehouse.lambda_handler(
        sqs_event(json.dumps(malformed), body(placed(quantity=2)), fifo=True), FakeContext())

    assert response == {"batchItemFailures": []}  # not retried: it can never succeed
    [dead] = aws.dead_letters()
    assert "dataschema" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert [e.type for e in aws.published()] == ["warehouse.stock-reserved"]
    assert warehouse_stock(aws, "MUG-STONEWARE")["reserved"] == 2


def test_an_event_that_fails_to_be_read_in_an_unforeseen_way_is_dead_lettered_at_once(
        aws: Aws, warehouse, monkeypatch, caplog):
    """Reading an event is pure work on what it holds: if it raises, it will raise on every
    delivery, so it is no reason to fail the records after it (a FIFO batch fails them all)."""
    from functions.common import consumer

    def parse_or_crash(body):
        if "ord-crashing" in str(body):
            raise RecursionError("maximum recursion depth exceeded")
        return parse_eventbridge(body)

    monkeypatch.setattr(consumer, "parse_eventbridge", parse_or_crash)
    crashing = placed(quantity=1)
    crashing = Event(**{**crashing.__dict__, "subject": "ord-crashing"})

    response = warehouse.lambda_handler(
        sqs_event(body(crashing), body(placed(quantity=2)), fifo=True), FakeContext())

    assert response == {"batchItemFailures": []}
    [dead] = aws.dead_letters()
    assert dead["Body"] == body(crashing)
    reason = dead["MessageAttributes"]["reason"]["StringValue"]
    assert reason == "unreadable: RecursionError: maximum recursion depth exceeded"
    assert [e.type for e in aws.published()] == ["warehouse.stock-reserved"]
    # logged with where it failed
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RecursionError]


FUZZED = placed(quantity=1)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cloudevent=hostile_cloudevents(FUZZED.to_dict()))
def test_no_cloudevent_whatever_its_attributes_hold_fails_the_records_delivered_with_it(
        aws: Aws, warehouse, cloudevent):
    """Any JSON value in any attribute, delivered in a FIFO batch ahead of a good event: the
    batch reports no failure (the event is refused or, if it is valid after all, handled) and
    the good event is handled."""
    hostile = {**eventbridge_event(FUZZED), "detail": cloudevent}
    good = placed(quantity=1)

    response = warehouse.lambda_handler(
        sqs_event(json.dumps(hostile), body(good), fifo=True), FakeContext())

    assert response == {"batchItemFailures": []}
    assert good.id in {event.causation_id for event in aws.published()}


def reserved_event(order: Event) -> Event:
    return new_event(type="warehouse.stock-reserved", cause=order, data={
        "order": order.order, "reservation": {"reservationId": "r", "reservedAt": NOW}})


def test_payment_is_taken_once(aws: Aws):
    payment = aws.handler("functions.payment.handler")
    reserved = reserved_event(placed())
    payment.lambda_handler(sqs_event(body(reserved), body(reserved)), FakeContext())
    [taken] = aws.published()
    assert taken.type == "payment.taken"
    assert taken.data["payment"]["amount"] == reserved.order["total"]


def test_the_declining_test_card_is_declined(aws: Aws):
    payment = aws.handler("functions.payment.handler")
    payment.lambda_handler(sqs_event(body(reserved_event(placed(card="4000 0000 0000 0002")))),
                           FakeContext())
    [declined] = aws.published()
    assert declined.type == "payment.declined"
    assert declined.data["decline"]["reason"] == "card declined"


def test_loyalty_takes_an_eventbridge_event_directly(aws: Aws):
    loyalty = aws.handler("functions.loyalty.handler")
    order = placed(quantity=3)  # 3 x 12.00 GBP
    taken = new_event(type="payment.taken", cause=order, data={
        "order": order.order, "reservation": {"reservationId": "r", "reservedAt": NOW},
        "payment": {"paymentId": "p", "amount": order.order["total"], "takenAt": NOW}})
    loyalty.lambda_handler(eventbridge_event(taken), FakeContext())
    loyalty.lambda_handler(eventbridge_event(taken), FakeContext())
    awarded, again = aws.published()  # the recorded outcome, published again under its id
    assert again.to_dict() == awarded.to_dict()
    assert awarded.type == "loyalty.points-awarded"
    assert awarded.data["points"]["points"] == 36
    assert loyalty.ledger.balance("c-1") == 36


def test_the_order_api_places_an_order_and_reports_its_status(aws: Aws):
    api = aws.handler("functions.order.api")
    request = {"customerId": "c-9", "items": [{"sku": "BISCUIT-TIN", "quantity": 1}],
               "card": {"number": CARD}}
    response = api.lambda_handler(api_request("POST", "/orders", json.dumps(request)),
                                  FakeContext())
    assert response["statusCode"] == 202
    accepted = json.loads(response["body"])
    [placed_event] = aws.published()
    assert placed_event.type == "order.placed"
    assert placed_event.subject == accepted["orderId"]
    assert placed_event.correlation_id == accepted["correlationId"]

    status = api.lambda_handler(api_request("GET", f"/orders/{accepted['orderId']}"),
                                FakeContext())
    assert json.loads(status["body"])["status"] == "placed"


@pytest.mark.parametrize("raw, status, field", [
    ("{not json", 400, None),
    (json.dumps({"customerId": "c", "items": [{"sku": "NOPE", "quantity": 1}],
                 "card": {"number": CARD}}), 422, "items[0].sku"),
    (json.dumps({"customerId": "c", "items": [{"sku": "BISCUIT-TIN", "quantity": -1}],
                 "card": {"number": CARD}}), 422, "items[0].quantity"),
    ("x" * 20_000, 413, None),
    (b"\xff\xfe\x00", 400, None),  # found by fuzzing: not UTF-8 was a 500
])
def test_bad_orders_get_problem_details_and_publish_nothing(aws: Aws, raw, status, field):
    api = aws.handler("functions.order.api")
    response = api.lambda_handler(api_request("POST", "/orders", raw), FakeContext())
    assert response["statusCode"] == status
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = json.loads(response["body"])
    assert problem["status"] == status
    if field:
        assert field in {error["field"] for error in problem["errors"]}
    assert aws.published() == []


def test_a_body_nested_too_deeply_is_a_bad_request_and_publishes_nothing(aws: Aws):
    """~15 KB of `[` once made the JSON parser recurse until the interpreter gave up: a 500."""
    api = aws.handler("functions.order.api")
    response = api.lambda_handler(api_request("POST", "/orders", "[" * 15_000), FakeContext())
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = json.loads(response["body"])
    assert problem["status"] == 400 and "nested too deeply" in problem["detail"]
    assert aws.published() == []


def nested(depth: int) -> object:
    """A JSON value of exactly `depth` levels of arrays and objects."""
    value: object = {}
    for level in range(depth - 1):
        value = [value] if level % 2 else {"a": value}
    return value


def test_an_order_is_nested_as_deeply_as_it_likes_up_to_the_limit(aws: Aws):
    api = aws.handler("functions.order.api")
    order = {"customerId": "c-9", "items": [{"sku": "BISCUIT-TIN", "quantity": 1}],
             "card": {"number": CARD}}
    # the order object is the first level; brackets in a string are text, escaped quote or not
    deepest = json.dumps({**order, "note": nested(MAX_JSON_DEPTH - 1),
                          "remark": '[{"' * 40})
    too_deep = json.dumps({**order, "note": nested(MAX_JSON_DEPTH)})
    assert api.lambda_handler(api_request("POST", "/orders", deepest),
                              FakeContext())["statusCode"] == 202
    assert api.lambda_handler(api_request("POST", "/orders", too_deep),
                              FakeContext())["statusCode"] == 400
    assert [event.type for event in aws.published()] == ["order.placed"]


ORDER_BODY = json.dumps({"customerId": "c-9", "items": [{"sku": "BISCUIT-TIN", "quantity": 1}],
                         "card": {"number": CARD}})


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON ;charset=\"utf-8\"",
    "application/vnd.choreo.order+json"])
def test_a_json_media_type_is_accepted(aws: Aws, content_type):
    api = aws.handler("functions.order.api")
    response = api.lambda_handler(api_request("POST", "/orders", ORDER_BODY,
                                              content_type=content_type), FakeContext())
    assert response["statusCode"] == 202


@pytest.mark.parametrize("content_type", [
    # what a cross-site HTML form can send without asking first, dressed up or not
    "text/plain;json", "text/plain", "text/plain; charset=json", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=json",
    # near misses
    "text/json", "application/jsonp", "application/json-seq", "application/+json", "json", "",
    # none at all: what a cross-site `fetch` of an untyped Blob, or a beacon, sends
    None])
def test_anything_but_a_json_media_type_is_unsupported(aws: Aws, content_type):
    api = aws.handler("functions.order.api")
    response = api.lambda_handler(api_request("POST", "/orders", ORDER_BODY,
                                              content_type=content_type), FakeContext())
    assert response["statusCode"] == 415
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert aws.published() == []


def test_order_events_conclude_the_order_once(aws: Aws):
    api = aws.handler("functions.order.api")
    order_events = aws.handler("functions.order.events")
    order = placed()
    api.orders.add(order)
    shipped = new_event(type="warehouse.order-shipped", cause=order, data={
        "order": order.order, "reservation": {"reservationId": "r", "reservedAt": NOW},
        "payment": {"paymentId": "p", "amount": order.order["total"], "takenAt": NOW},
        "points": {"points": 1, "awardedAt": NOW},
        "shipping": {"shipmentId": "s", "shippedAt": datetime.now(UTC).isoformat()}})
    order_events.lambda_handler(sqs_event(body(shipped), body(shipped)), FakeContext())
    assert api.orders.get(order.subject)["status"] == "shipped"
    assert aws.published() == []


@pytest.mark.parametrize("function", [f for f in CHOREOGRAPHY.functions
                                      if CHOREOGRAPHY.consumed_by(f.id)], ids=lambda f: f.id)
def test_each_consumer_handles_exactly_what_the_model_routes_to_it(aws: Aws, function):
    """One model, every reader: a route added without its handler fails here."""
    module = aws.handler(function.handler.rpartition(".")[0])
    assert set(module.consumer.actions) == set(CHOREOGRAPHY.consumed_by(function.id))


def test_an_event_routed_without_an_action_or_an_action_for_no_route_fails_the_import():
    from functions.common.consumer import routed_actions

    with pytest.raises(LookupError, match=r"with no action: \['payment.taken'\]"):
        routed_actions("Loyalty", {})
    with pytest.raises(LookupError, match=r"not routed to it: \['order.placed'\]"):
        routed_actions("Loyalty", {"payment.taken": print, "order.placed": print})
    assert list(routed_actions("Loyalty", {"payment.taken": print})) == ["payment.taken"]


def test_a_transaction_that_conflicts_with_another_write_is_retried_not_taken_for_short_stock():
    from botocore.exceptions import ClientError

    from functions.common.aws import EffectRecords, TransactionConflict

    class ConflictingClient:
        def transact_write_items(self, **_kwargs: object) -> None:
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                               "CancellationReasons": [{"Code": "None"},
                                                       {"Code": "TransactionConflict"}]},
                              "TransactWriteItems")

    records = EffectRecords(table_name="t", client=ConflictingClient())
    order = placed()
    with pytest.raises(TransactionConflict):
        records.once("RESERVATION#x", order, [records.update("PRODUCT#y", "SET a = :a", {":a": 1})],
                     on_conflict=lambda codes: pytest.fail(f"taken for a shortage: {codes}"))


def test_the_order_api_answers_exactly_the_model_s_routes_and_documents_them(aws: Aws):
    api = aws.handler("functions.order.api")
    routes = CHOREOGRAPHY.http_api(ORDER_API).routes
    assert set(api.HANDLERS) == {route.key for route in routes}
    document = json.loads(api.lambda_handler(api_request("GET", "/openapi.json"),
                                             FakeContext())["body"])
    documented = {f"{method.upper()} {path}" for path, operations in document["paths"].items()
                  for method in operations}
    assert documented == {route.key for route in routes}
    for route in routes:
        path = route.path.replace("{orderId}", "ord-nope")
        answer = api.lambda_handler(api_request(route.method, path, "{}"), FakeContext())
        assert json.loads(answer["body"]).get("title") != "Not found", route.key


def test_the_order_api_publishes_the_version_its_setting_names(aws: Aws, monkeypatch):
    api = aws.handler("functions.order.api")
    request = {"customerId": "c-9", "items": [{"sku": "BISCUIT-TIN", "quantity": 2}],
               "card": {"number": CARD}}
    price = next(p.unit_price for p in PRODUCTS if p.sku == "BISCUIT-TIN")

    first = api.lambda_handler(api_request("POST", "/orders", json.dumps(request)), FakeContext())
    monkeypatch.setenv(EVENT_VERSIONS_ENV, "order.placed=2")  # no redeploy: read on each order
    second = api.lambda_handler(api_request("POST", "/orders", json.dumps(request)), FakeContext())

    assert (first["statusCode"], second["statusCode"]) == (202, 202)
    version_1, version_2 = aws.published()
    assert version_1.dataschema == "urn:choreo:schema:order.placed:1"
    assert version_1.order["total"] == {"amount": price.amount * 2, "currency": price.currency}
    assert version_2.dataschema == "urn:choreo:schema:order.placed:2"
    assert version_2.order["total"] == {"value": decimal_text(price * 2),
                                        "currency": price.currency}
    # the order's status reads the same order, whichever version it was placed with
    order_id = json.loads(second["body"])["orderId"]
    status = json.loads(api.lambda_handler(api_request("GET", f"/orders/{order_id}"),
                                           FakeContext())["body"])
    assert status["order"]["total"] == version_1.order["total"]


def test_the_warehouse_reserves_for_an_order_placed_in_version_2(aws: Aws, warehouse):
    order = written_as(placed(quantity=3), 2)
    assert order.dataschema == "urn:choreo:schema:order.placed:2"

    response = warehouse.lambda_handler(sqs_event(body(order), fifo=True), FakeContext())

    assert response == {"batchItemFailures": []}
    [reserved] = aws.published()
    assert reserved.type == "warehouse.stock-reserved" and reserved.causation_id == order.id
    # what it carries forward is the order in the version every later event carries
    assert reserved.order["total"] == read_as(order).order["total"]
    assert warehouse_stock(aws, "MUG-STONEWARE")["reserved"] == 3
