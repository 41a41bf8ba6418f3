from __future__ import annotations

import pytest

from tests.support import TEST_VAULT as VAULT
from workflow.domain.order import InvalidOrder, order_place
from workflow.domain.payment import DECLINING_TEST_CARD
from workflow.products import PRODUCTS_BY_SKU


def request(**overrides):
    body = {"customerId": "c-1", "items": [{"sku": "KETTLE-STEEL", "quantity": 3}],
            "card": {"number": "4242424242424242"}}
    body.update(overrides)
    return body


def fields(error: InvalidOrder) -> set[str]:
    return {problem.field for problem in error.problems}


def test_prices_come_from_the_catalogue_in_minor_units():
    order = order_place(vault=VAULT, request=request(items=[
        {"sku": "KETTLE-STEEL", "quantity": 3, "unitPrice": 1}])).order
    unit = PRODUCTS_BY_SKU["KETTLE-STEEL"].unit_price.amount
    assert order["lines"][0]["unitPrice"] == {"amount": unit, "currency": "GBP"}
    assert order["total"] == {"amount": 3 * unit, "currency": "GBP"}


def test_the_card_number_never_travels_in_the_event():
    event = order_place(vault=VAULT, request=request(card={"number": "4000 0000 0000 0002"}))
    assert "4000000000000002" not in event.to_json()
    assert event.order["paymentMethod"] == {"token": VAULT.token(DECLINING_TEST_CARD),
                                                 "last4": "0002"}


def test_lines_of_the_same_sku_are_merged():
    order = order_place(vault=VAULT, request=request(items=[{"sku": "MUG-STONEWARE", "quantity": 1},
                                               {"sku": "MUG-STONEWARE", "quantity": 2}])).order
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [("MUG-STONEWARE", 3)]


@pytest.mark.parametrize("overrides, field", [
    ({"customerId": ""}, "customerId"),
    ({"customerId": 7}, "customerId"),
    ({"items": []}, "items"),
    ({"items": [{"sku": "NOPE", "quantity": 1}]}, "items[0].sku"),
    ({"items": [{"sku": "MUG-STONEWARE", "quantity": 0}]}, "items[0].quantity"),
    ({"items": [{"sku": "MUG-STONEWARE", "quantity": -2}]}, "items[0].quantity"),
    ({"items": [{"sku": "MUG-STONEWARE", "quantity": "2"}]}, "items[0].quantity"),
    ({"items": [{"sku": "MUG-STONEWARE", "quantity": True}]}, "items[0].quantity"),
    ({"items": [{"sku": "MUG-STONEWARE", "quantity": 101}]}, "items[0].quantity"),
    ({"card": {"number": "4242424242424241"}}, "card.number"),
    # digits to str.isdigit() that are no card's: a superscript two, Arabic-Indic digits
    ({"card": {"number": "424242424242424\u00b2"}}, "card.number"),
    ({"card": {"number": "\u0664\u0662" * 8}}, "card.number"),
    ({"card": "4242424242424242"}, "card"),
])
def test_bad_requests_name_the_field(overrides, field):
    with pytest.raises(InvalidOrder) as raised:
        order_place(vault=VAULT, request=request(**overrides))
    assert field in fields(raised.value)


def test_a_quantity_of_one_hundred_is_allowed():
    order = order_place(vault=VAULT, request=request(items=[{"sku": "INFUSER-MESH", "quantity": 100}])).order
    assert order["lines"][0]["quantity"] == 100


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidOrder):
        order_place(vault=VAULT, request=["not", "an", "order"])


@pytest.mark.parametrize("customer", ["\ud800bad", "tab\there", "new\nline"])
def test_a_customer_id_must_be_printable_unicode(customer):
    """Found by fuzzing: a lone surrogate was accepted, then no table could store it."""
    with pytest.raises(InvalidOrder) as raised:
        order_place(vault=VAULT, request=request(customerId=customer))
    assert fields(raised.value) == {"customerId"}
