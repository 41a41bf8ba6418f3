"""The reliability suite (R1 to R5 of the targets), bounded to run in CI: orders through the
running system under injected faults, asserting nothing is lost, nothing is applied twice,
stock is conserved and every order ends. Each test prints its counts.

The full-size runs (hundreds of orders) are the same code with a larger N:
`CHOREO_RELIABILITY_ORDERS=500 pytest tests/e2e/test_reliability.py -s`.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from dashboard.failures.dead_letter_queues import (
    dead_letter_queues,
    dead_letters_count,
    dead_letters_peek,
    dead_letters_redrive,
)
from tests.e2e.conftest import (
    RunningSystem,
    inventory,
    log_group_events,
    place,
    restock,
    runtime_stats,
    statuses,
    wait_all_terminal,
    wait_idle,
)
from tests.support import eventually, wait_for
from workflow.domain.loyalty import points_for
from workflow.products import PRODUCTS_BY_SKU

pytestmark = pytest.mark.e2e

ORDERS = int(os.environ.get("CHOREO_RELIABILITY_ORDERS", "24"))
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
TERMINAL = {"shipped", "rejected", "cancelled"}
# what the orders of the suite buy; the teapot is left alone, so that R3's short orders stay short
VOLUME_SKUS = ["INFUSER-MESH", "TEA-EARL-GREY", "BISCUIT-TIN", "MUG-STONEWARE"]
ONE_PER_ORDER = ("order.placed", "warehouse.stock-reserved", "warehouse.stock-unavailable",
                 "payment.taken", "payment.declined", "loyalty.points-awarded",
                 "warehouse.order-shipped", "warehouse.stock-released", "order.rejected",
                 "order.cancelled")


@pytest.fixture(autouse=True)
def shelves_stocked(running_system: RunningSystem) -> None:
    """Enough stock that the orders of any run size mostly ship: running out is R3's job."""
    restock(running_system, VOLUME_SKUS, ORDERS)


def place_many(system: RunningSystem, requests_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place orders four at a time; every request is answered 202."""
    def one(request: dict[str, Any]) -> dict[str, Any]:
        response = place(system, request["items"], card=request["card"],
                         customer=request["customer"])
        assert response.status_code == 202, response.text
        return {**request, **response.json()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, requests_))


def events_by_order(system: RunningSystem, order_ids: set[str]) -> dict[str, Counter[str]]:
    """How many distinct CloudEvents of each type each order produced."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for event in log_group_events(system):
        if event.get("subject") in order_ids:
            counts[event["subject"]][event["type"]] += 1
    return counts


def assert_conserved(stock: dict[str, dict[str, int]]) -> None:
    for sku, level in stock.items():
        assert level["available"] + level["reserved"] + level["shipped"] == level["initial"], sku
        assert min(level.values()) >= 0, sku


def assert_each_effect_once(system: RunningSystem, placed: list[dict[str, Any]],
                            final: dict[str, str | None]) -> dict[str, Counter[str]]:
    counts = events_by_order(system, set(final))
    for order in placed:
        order_id = order["orderId"]
        seen = counts[order_id]
        doubled = {t: n for t, n in seen.items() if t in ONE_PER_ORDER and n > 1}
        assert not doubled, f"{order_id} has {doubled}"
        status = final[order_id]
        if status == "shipped":
            assert seen["warehouse.order-shipped"] == 1 and seen["payment.taken"] == 1
        elif status == "cancelled":
            assert seen["payment.declined"] == 1 and seen["warehouse.stock-released"] == 1
            assert seen["payment.taken"] == 0
        elif status == "rejected":
            assert seen["warehouse.stock-unavailable"] == 1
            assert seen["warehouse.stock-reserved"] == 0
    return counts


def settle(system: RunningSystem, order_ids: list[str], quiet_seconds: float = 6,
           limit: float = 120) -> dict[str, str | None]:
    """Statuses once nothing has changed for a while (some orders may be stuck on purpose)."""
    deadline = time.monotonic() + limit
    last, quiet_since = statuses(system, order_ids), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1)
        current = statuses(system, order_ids)
        if all(s in TERMINAL for s in current.values()):
            return current
        if current != last:
            last, quiet_since = current, time.monotonic()
        elif time.monotonic() - quiet_since > quiet_seconds:
            return current
    return last


def loyalty_points(system: RunningSystem, customer: str) -> int:
    item = system.client("dynamodb").get_item(
        TableName=system.outputs["LoyaltyTableName"], Key={"pk": {"S": f"CUSTOMER#{customer}"}},
        ConsistentRead=True).get("Item")
    return int(item["points"]["N"]) if item else 0


def test_r1_duplicate_storm_applies_every_effect_once(running_system: RunningSystem,
                                                      chaos: Any) -> None:
    customer = f"r1-{uuid.uuid4().hex[:8]}"
    chaos(duplicate_rate=1.0)
    stats_before = runtime_stats(running_system)
    placed = place_many(running_system, [
        {"customer": customer, "card": GOOD_CARD,
         "items": [{"sku": ("INFUSER-MESH", "TEA-EARL-GREY")[n % 2], "quantity": 1}]}
        for n in range(ORDERS)])
    order_ids = [order["orderId"] for order in placed]
    final = wait_all_terminal(running_system, order_ids)
    assert all(status in TERMINAL for status in final.values()), final

    # then every CloudEvent of these orders is put on the bus again, identical
    events = [e for e in log_group_events(running_system) if e.get("subject") in final]
    stock_before_reputs = inventory(running_system)
    points_before_reputs = loyalty_points(running_system, customer)
    bus = running_system.client("events")
    for start in range(0, len(events), 10):
        bus.put_events(Entries=[{"EventBusName": running_system.outputs["GlobalEventBusName"],
                                 "Source": event["source"], "DetailType": event["type"],
                                 "Detail": json.dumps(event)} for event in events[start:start + 10]])
    wait_idle(running_system)  # every consumer has seen the re-puts, and what they caused

    stats = runtime_stats(running_system)
    duplicates = stats["sqs"]["injectedDuplicates"] - stats_before["sqs"]["injectedDuplicates"]
    print(f"\nR1: {len(placed)} orders, {len(events)} events re-put, {duplicates} batches "
          f"delivered twice, statuses {Counter(final.values())}")
    assert duplicates > 0
    assert inventory(running_system) == stock_before_reputs
    assert statuses(running_system, order_ids) == final
    counts = assert_each_effect_once(running_system, placed, final)
    shipped = [o for o in placed if final[o["orderId"]] == "shipped"]
    earned = sum(points_for(PRODUCTS_BY_SKU[o["items"][0]["sku"]].unit_price.amount)
                 for o in shipped)
    assert loyalty_points(running_system, customer) == points_before_reputs == earned
    assert sum(sum(c.values()) for c in counts.values()) == len(events)
    assert_conserved(inventory(running_system))


def test_r2_crash_storm_every_order_ends_and_poison_is_redriven(running_system: RunningSystem,
                                                                chaos: Any) -> None:
    chaos(failure_rate=0.2, poison_rate=0.05)
    stats_before = runtime_stats(running_system)
    placed = place_many(running_system, [
        {"customer": f"r2-{n}", "card": GOOD_CARD,
         "items": [{"sku": "INFUSER-MESH", "quantity": 1}]} for n in range(ORDERS)])
    order_ids = [order["orderId"] for order in placed]
    settled = settle(running_system, order_ids)
    stats = runtime_stats(running_system)
    faults = stats["sqs"]["injectedFailures"] - stats_before["sqs"]["injectedFailures"]
    poisoned = stats["sqs"]["poisonedRecords"] - stats_before["sqs"]["poisonedRecords"]
    sqs = running_system.client("sqs")
    queues = dead_letter_queues(running_system.outputs)
    dead = {queue.name: dead_letters_count(sqs=sqs, queue=queue) for queue in queues}
    stuck = [order_id for order_id, status in settled.items() if status not in TERMINAL]
    print(f"\nR2: {len(placed)} orders, {faults} invocations failed on purpose, {poisoned} poison "
          f"deliveries, dead letters {dead}, stuck before redrive {len(stuck)}")
    assert faults > 0 and poisoned > 0
    assert sum(dead.values()) > 0, "poisoned messages should sit in a dead-letter queue"

    # the fix is deployed (poison off); redrive completes the stuck orders
    chaos(failure_rate=0, poison_rate=0)
    events = running_system.client("events")
    redriven = sum(dead_letters_redrive(sqs=sqs, events=events, queue=queue,
                                        global_bus_name=running_system.outputs["GlobalEventBusName"]
                                        ).redriven for queue in queues)
    final = wait_all_terminal(running_system, order_ids)
    print(f"R2: redriven {redriven}; statuses {Counter(final.values())}")
    assert all(status in TERMINAL for status in final.values()), final
    assert_each_effect_once(running_system, placed, final)
    assert_conserved(inventory(running_system))


def test_r3_failure_paths_conserve_stock_and_compensate(running_system: RunningSystem) -> None:
    rng = random.Random(3)
    requests_ = []
    for n in range(ORDERS):
        kind = rng.choice(["good", "good", "declined", "short"])
        items = [{"sku": "TEAPOT-CAST", "quantity": 11}] if kind == "short" else \
            [{"sku": rng.choice(["BISCUIT-TIN", "MUG-STONEWARE"]), "quantity": 1}]
        requests_.append({"customer": f"r3-{n}", "kind": kind, "items": items,
                          "card": DECLINED_CARD if kind == "declined" else GOOD_CARD})
    placed = place_many(running_system, requests_)
    final = wait_all_terminal(running_system, [o["orderId"] for o in placed])
    print(f"\nR3: {Counter(o['kind'] for o in placed)} → {Counter(final.values())}")
    payments = running_system.client("dynamodb")
    for order in placed:
        status = final[order["orderId"]]
        if order["kind"] == "short":
            assert status == "rejected"
        elif order["kind"] == "declined":
            assert status in {"cancelled", "rejected"}  # rejected only if stock ran out first
            charge = payments.get_item(TableName=running_system.outputs["PaymentsTableName"],
                                       Key={"pk": {"S": f"PAYMENT#{order['orderId']}"}})
            if status == "cancelled":
                assert charge["Item"]["outcome"]["S"] == "payment.declined"
        else:
            assert status in {"shipped", "rejected"}
    assert_each_effect_once(running_system, placed, final)
    assert_conserved(inventory(running_system))


def test_r4_reordering_reaches_the_same_terminal_states(running_system: RunningSystem,
                                                        chaos: Any) -> None:
    chaos(jitter_seconds=3)
    placed = place_many(running_system, [
        {"customer": f"r4-{n}", "card": DECLINED_CARD if n % 3 == 0 else GOOD_CARD,
         "items": [{"sku": "BISCUIT-TIN", "quantity": 1}]} for n in range(ORDERS // 2)])
    final = wait_all_terminal(running_system, [o["orderId"] for o in placed])
    delayed = runtime_stats(running_system)["sqs"]["delayedRecords"]
    print(f"\nR4: {len(placed)} orders, {delayed} deliveries held back, {Counter(final.values())}")
    assert delayed > 0
    for order in placed:
        expected = "cancelled" if order["card"] == DECLINED_CARD else "shipped"
        assert final[order["orderId"]] in {expected, "rejected"}
    assert_each_effect_once(running_system, placed, final)
    assert_conserved(inventory(running_system))


def test_r5_malformed_events_are_dead_lettered_while_good_orders_ship(
        running_system: RunningSystem) -> None:
    bus = running_system.client("events")
    global_bus = running_system.outputs["GlobalEventBusName"]
    garbage = [{"not": "a cloudevent"}, {"specversion": "1.0", "id": "x", "type": "order.placed"},
               {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "order",
                "type": "order.placed", "time": "2026-01-01T00:00:00Z", "subject": "o",
                "dataschema": "urn:choreo:schema:order.placed:1", "correlationid": "c",
                "data": {"order": {"orderId": "o"}}}]
    bus.put_events(Entries=[{"EventBusName": global_bus, "Source": "order",
                             "DetailType": "order.placed", "Detail": json.dumps(body)}
                            for body in garbage])
    response = place(running_system, [{"sku": "INFUSER-MESH", "quantity": 1}])
    good = response.json()["orderId"]
    final = wait_all_terminal(running_system, [good], seconds=60)
    assert final[good] in {"shipped", "rejected"}

    sqs = running_system.client("sqs")
    [warehouse_dlq] = [q for q in dead_letter_queues(running_system.outputs) if q.name == "Warehouse"]
    reasons: list[str] = eventually(
        lambda: [letter.reason for letter in dead_letters_peek(sqs=sqs, queue=warehouse_dlq)
                 if letter.kind == "refused"],
        lambda reasons: len(reasons) >= len(garbage), 30, 0.5,
        f"the {len(garbage)} malformed events dead-lettered as refused")
    print(f"\nR5: {len(garbage)} malformed events → dead-lettered with reasons {reasons}")
    assert len(reasons) >= len(garbage)
    assert any("lacks" in reason for reason in reasons)
    assert any("data invalid" in reason for reason in reasons)


def test_r5_bad_requests_publish_nothing(running_system: RunningSystem) -> None:
    before = sum(1 for e in log_group_events(running_system) if e["type"] == "order.placed")
    bad_bodies = ["{", "[]", json.dumps({"customerId": "x"}), "x" * 20_000,
                  json.dumps({"customerId": "x", "items": [{"sku": "NOPE", "quantity": 1}],
                              "card": {"number": GOOD_CARD}}),
                  json.dumps({"customerId": "x", "items": [{"sku": "INFUSER-MESH", "quantity": 0}],
                              "card": {"number": GOOD_CARD}})]
    for body in bad_bodies:
        response = requests.post(f"{running_system.api}/orders", data=body, timeout=10,
                                 headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, body[:40]
        assert response.headers["content-type"] == "application/problem+json"
    # a good order after the bad ones: once its event is in the log group, so would theirs be
    good = place(running_system, [{"sku": "INFUSER-MESH", "quantity": 1}]).json()["orderId"]
    wait_for(lambda: log_group_events(running_system, f'"{good}"'), 30, 0.2,
             "the good order's event in the log group")
    after = sum(1 for e in log_group_events(running_system) if e["type"] == "order.placed")
    assert after == before + 1
