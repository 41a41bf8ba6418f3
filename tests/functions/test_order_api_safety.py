"""The order API's answers to a retrying client and to a curious one: an `Idempotency-Key`
makes a retry place one order, and an order's status never hands out its card's token."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from functions.order.idempotency import InvalidKey, key_parse
from tests.functions.conftest import Aws, FakeContext
from tests.support import api_request

CARD = "4242 4242 4242 4242"
REQUEST = {"customerId": "c-9", "items": [{"sku": "BISCUIT-TIN", "quantity": 1}],
           "card": {"number": CARD}}


@pytest.fixture
def api(aws: Aws):
    return aws.handler("functions.order.api")


def post(api: Any, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    headers = {} if key is None else {"Idempotency-Key": key}
    return api.lambda_handler(api_request("POST", "/orders", json.dumps(body), headers=headers),
                              FakeContext())


def orders_in(aws: Aws) -> list[dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=aws.tables["Orders"])["Items"]
    return [item for item in items if item["pk"]["S"].startswith("ORDER#")]


def test_without_a_key_each_post_places_an_order(aws: Aws, api):
    first, second = post(api, REQUEST), post(api, REQUEST)
    assert json.loads(first["body"])["orderId"] != json.loads(second["body"])["orderId"]
    assert len(orders_in(aws)) == 2


def test_the_same_key_and_request_twice_places_one_order_and_answers_it_again(aws: Aws, api):
    key = f'"{uuid.uuid4()}"'
    first = post(api, REQUEST, key)
    again = post(api, REQUEST, key)

    assert (first["statusCode"], again["statusCode"]) == (202, 202)
    assert json.loads(again["body"]) == json.loads(first["body"])
    assert again["headers"]["Location"] == first["headers"]["Location"]
    assert again["headers"].get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first["headers"]
    assert len(orders_in(aws)) == 1
    assert [event.type for event in aws.published()] == ["order.placed"]


def test_a_retry_after_a_crash_past_the_write_finds_the_order_placed(aws: Aws, api):
    """The ambiguous case: the order was written, then the invocation died (the client saw a
    5xx). The retry with the same key answers that order; the outbox publishes its event."""
    key = str(uuid.uuid4())

    def die(_placed: Any) -> None:
        raise SystemExit("the execution environment went away")

    publish, api.placed_publish = api.placed_publish, die
    try:
        with pytest.raises(SystemExit):
            post(api, REQUEST, key)
    finally:
        api.placed_publish = publish

    retried = post(api, REQUEST, key)

    assert retried["statusCode"] == 202
    [order] = orders_in(aws)
    assert json.loads(retried["body"])["orderId"] == order["orderId"]["S"]


def test_the_same_key_with_another_request_is_422_and_places_nothing(aws: Aws, api):
    key = str(uuid.uuid4())
    post(api, REQUEST, key)
    other = post(api, {**REQUEST, "items": [{"sku": "BISCUIT-TIN", "quantity": 2}]}, key)
    other_card = post(api, {**REQUEST, "card": {"number": "4000 0000 0000 0002"}}, key)

    for answer in (other, other_card):
        assert answer["statusCode"] == 422
        assert json.loads(answer["body"])["title"] == "Idempotency-Key reused"
    assert len(orders_in(aws)) == 1


def test_two_keys_place_two_orders(aws: Aws, api):
    post(api, REQUEST, str(uuid.uuid4()))
    post(api, REQUEST, str(uuid.uuid4()))
    assert len(orders_in(aws)) == 2


@pytest.mark.parametrize("header", ['"unterminated', '""', "two words", "caf\u00e9",
                                    "x" * 256, '"' + "x" * 256 + '"', '"a\\b"'])
def test_a_malformed_key_is_400_and_places_nothing(aws: Aws, api, header):
    answer = post(api, REQUEST, header)
    assert answer["statusCode"] == 400
    assert "Idempotency-Key" in json.loads(answer["body"])["detail"]
    assert orders_in(aws) == []


def test_keys_read_as_structured_field_strings():
    assert key_parse('"8e03978e-40d5-43e8-bc93-6894a57f9324"') == \
        "8e03978e-40d5-43e8-bc93-6894a57f9324"
    assert key_parse('"a \\"quoted\\" key"') == 'a "quoted" key'
    assert key_parse("bare-token_1") == "bare-token_1"
    with pytest.raises(InvalidKey):
        key_parse("")


def test_an_orders_status_carries_no_card_token(aws: Aws, api):
    """The token is an HMAC of the card number that `POST /orders` computes for any number:
    handed out beside the order, it lets anyone test candidate numbers for a card."""
    order_id = json.loads(post(api, REQUEST)["body"])["orderId"]
    [placed] = aws.published()
    token = placed.order["paymentMethod"]["token"]

    answer = api.lambda_handler(api_request("GET", f"/orders/{order_id}"), FakeContext())

    assert answer["statusCode"] == 200
    assert token not in answer["body"]
    assert json.loads(answer["body"])["order"]["paymentMethod"] == {"last4": "4242"}
