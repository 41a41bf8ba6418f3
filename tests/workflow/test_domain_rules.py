"""The warehouse, payment and loyalty rules on their own, through in-memory ports that keep
the ports' promise (each effect once per order, the recorded event returned when asked
again): what each rule decides, what its events carry, and that each event is caused by the
one before it in the same correlation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from tests.support import TEST_VAULT as VAULT
from workflow.catalogue import validate_data
from workflow.domain.loyalty import points_award
from workflow.domain.order import order_place
from workflow.domain.payment import DECLINING_TEST_CARD, GOOD_TEST_CARD, payment_take
from workflow.domain.warehouse import order_ship, stock_release, stock_reserve
from workflow.envelope import Event
from workflow.ports import Line, PreconditionNotMet, Shortage


class Shelves:
    """Stock per SKU; one reservation per order, shipped or released once."""

    def __init__(self, **stock: int) -> None:
        self.available = dict(stock)
        self.reserved: dict[str, list[Line]] = {}
        self.outcomes: dict[tuple[str, str], Event] = {}

    def reserve(self, *, order_id: str, lines: Sequence[Line], reserved: Event,
                unavailable: Callable[[Sequence[Shortage]], Event]) -> Event:
        if (order_id, "reserve") in self.outcomes:
            return self.outcomes[order_id, "reserve"]
        shortages = [Shortage(line.sku, line.quantity, self.available.get(line.sku, 0))
                     for line in lines if self.available.get(line.sku, 0) < line.quantity]
        if not shortages:
            for line in lines:
                self.available[line.sku] -= line.quantity
            self.reserved[order_id] = list(lines)
        outcome = unavailable(shortages) if shortages else reserved
        self.outcomes[order_id, "reserve"] = outcome
        return outcome

    def _settle(self, order_id: str, kind: str, event: Event, *, give_back: bool) -> Event:
        if (order_id, kind) in self.outcomes:
            return self.outcomes[order_id, kind]
        if order_id not in self.reserved:
            raise PreconditionNotMet(f"nothing reserved for {order_id}")
        for line in self.reserved.pop(order_id):
            self.available[line.sku] += line.quantity if give_back else 0
        self.outcomes[order_id, kind] = event
        return event

    def ship(self, *, order_id: str, shipped: Event) -> Event:
        return self._settle(order_id, "ship", shipped, give_back=False)

    def release(self, *, order_id: str, released: Event) -> Event:
        return self._settle(order_id, "release", released, give_back=True)


class Once:
    """Payments and the loyalty ledger: the first outcome per order is the outcome."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Event] = {}
        self.points: dict[str, int] = {}

    def charge_once(self, *, order_id: str, outcome: Event) -> Event:
        return self.outcomes.setdefault(order_id, outcome)

    def award_once(self, *, order_id: str, customer_id: str, points: int,
                   awarded: Event) -> Event:
        if order_id not in self.outcomes:
            self.points[customer_id] = self.points.get(customer_id, 0) + points
        return self.outcomes.setdefault(order_id, awarded)


def placed(card: str = GOOD_TEST_CARD, **items: int) -> Event:
    return order_place(vault=VAULT, request={"customerId": "c-7", "card": {"number": card},
                                "items": [{"sku": sku.replace("_", "-"), "quantity": quantity}
                                          for sku, quantity in (items or {"MUG_STONEWARE": 2}).items()]})


def assert_follows(event: Event, cause: Event) -> None:
    assert event.causation_id == cause.id and event.correlation_id == cause.correlation_id
    assert event.subject == cause.subject
    validate_data(event.type, event.data)  # raises if the event breaks its schema


def test_reserve_takes_every_line_or_none_and_says_what_was_short():
    shelves = Shelves(**{"MUG-STONEWARE": 5, "KETTLE-STEEL": 1})
    enough = placed(MUG_STONEWARE=2)
    short = placed(MUG_STONEWARE=2, KETTLE_STEEL=3)

    reserved = stock_reserve(enough, inventory=shelves)
    unavailable = stock_reserve(short, inventory=shelves)

    assert reserved.type == "warehouse.stock-reserved"
    assert_follows(reserved, enough)
    assert unavailable.type == "warehouse.stock-unavailable"
    assert_follows(unavailable, short)
    assert unavailable.data["unavailable"]["shortages"] == [
        {"sku": "KETTLE-STEEL", "requested": 3, "available": 1}]
    assert shelves.available == {"MUG-STONEWARE": 3, "KETTLE-STEEL": 1}  # the mugs of the short order stayed
    assert stock_reserve(enough, inventory=shelves).id == reserved.id  # asked again: the same event


def test_payment_is_taken_for_the_order_total_and_the_test_card_declines():
    shelves, payments = Shelves(**{"MUG-STONEWARE": 9}), Once()
    good = stock_reserve(placed(), inventory=shelves)
    bad = stock_reserve(placed(card=DECLINING_TEST_CARD), inventory=shelves)

    taken = payment_take(good, payments=payments, vault=VAULT)
    declined = payment_take(bad, payments=payments, vault=VAULT)

    assert taken.type == "payment.taken"
    assert_follows(taken, good)
    assert taken.data["payment"]["amount"] == good.order["total"]
    assert declined.type == "payment.declined"
    assert_follows(declined, bad)
    assert declined.data["decline"]["reason"] == "card declined"
    assert payment_take(good, payments=payments, vault=VAULT).id == taken.id


def test_points_are_one_per_whole_unit_paid_awarded_once():
    ledger = Once()
    taken = payment_take(stock_reserve(placed(MUG_STONEWARE=3), inventory=Shelves(
        **{"MUG-STONEWARE": 3})), payments=Once(), vault=VAULT)
    paid = taken.data["payment"]["amount"]["amount"]

    awarded = points_award(taken, ledger=ledger)
    again = points_award(taken, ledger=ledger)

    assert awarded.type == "loyalty.points-awarded"
    assert_follows(awarded, taken)
    assert awarded.data["points"]["points"] == paid // 100
    assert again.id == awarded.id and ledger.points == {"c-7": paid // 100}


def test_ship_and_release_settle_a_reservation_and_wait_for_one():
    shelves = Shelves(**{"MUG-STONEWARE": 4})
    paid_for, declined_card = placed(MUG_STONEWARE=2), placed(DECLINING_TEST_CARD, MUG_STONEWARE=2)
    awarded = points_award(payment_take(stock_reserve(paid_for, inventory=shelves),
                                        payments=Once(), vault=VAULT), ledger=Once())
    declined = payment_take(stock_reserve(declined_card, inventory=shelves), payments=Once(),
                            vault=VAULT)
    assert shelves.available == {"MUG-STONEWARE": 0}

    shipped = order_ship(awarded, inventory=shelves)
    released = stock_release(declined, inventory=shelves)

    assert shipped.type == "warehouse.order-shipped"
    assert_follows(shipped, awarded)
    assert released.type == "warehouse.stock-released"
    assert_follows(released, declined)
    assert shelves.available == {"MUG-STONEWARE": 2}  # two shipped, two back on the shelf
    with pytest.raises(PreconditionNotMet):
        order_ship(awarded, inventory=Shelves())  # before any reservation: retried later

