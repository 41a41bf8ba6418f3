"""Card tokens: whoever sees a token (in an event, an API answer, a log line, the dashboard)
cannot tell the card number from it; whoever holds the key recognises a card."""

from __future__ import annotations

import hashlib

import pytest

from workflow.domain.order import _luhn_ok, order_place
from workflow.domain.payment import DECLINING_TEST_CARD, GOOD_TEST_CARD, CardVault

KEY = b"a-key-the-stack-generated-64-chars-long-".ljust(64, b"x")
BIN = "424242"  # public: it names the issuer
LAST4 = "4242"  # shown beside the token


def candidates() -> list[str]:
    """Every Luhn-valid number with the known BIN and last four digits: what an attacker
    who sees a token would try (about 100,000)."""
    found = []
    for middle in range(1_000_000):
        number = f"{BIN}{middle:06d}{LAST4}"
        if _luhn_ok(number):
            found.append(number)
    return found


def test_a_token_and_the_last_four_digits_do_not_give_the_number_back() -> None:
    vault = CardVault(KEY)
    placed = order_place(vault=vault, request={
        "customerId": "c-1", "items": [{"sku": "MUG-STONEWARE", "quantity": 1}],
        "card": {"number": GOOD_TEST_CARD}})
    method = placed.order["paymentMethod"]
    assert method["last4"] == LAST4 and GOOD_TEST_CARD not in placed.to_json()
    numbers = candidates()
    assert GOOD_TEST_CARD in numbers and len(numbers) > 90_000

    # an unkeyed hash of each candidate (what any observer can compute) matches none, and
    # neither does another key
    unkeyed = {"tok_" + hashlib.sha256(f"{salt}{n}".encode()).hexdigest()[:24]
               for n in numbers for salt in ("", "choreo-vault:")}
    other = CardVault(b"not-the-key".ljust(64, b"y"))
    assert method["token"] not in unkeyed
    assert not [n for n in numbers if other.token(n) == method["token"]]
    # only the key's holder recognises the card
    assert [n for n in numbers if vault.token(n) == method["token"]] == [GOOD_TEST_CARD]


def test_the_declining_card_is_recognised_by_its_token_under_the_key() -> None:
    vault = CardVault(KEY)
    assert vault.declines(vault.token(DECLINING_TEST_CARD))
    assert not vault.declines(vault.token(GOOD_TEST_CARD))
    assert not CardVault(b"another-key".ljust(64, b"z")).declines(vault.token(DECLINING_TEST_CARD))


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        CardVault(b"short")
