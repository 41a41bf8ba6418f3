"""The producer of `order.placed` moves from version 1 to version 2 while orders flow: its
setting is changed through the Lambda API (no deploy), orders placed before the change publish
version 1 and those after it version 2, both are in flight at once, and every order ends as its
card and stock say: none lost, none applied twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import (
    RunningSystem,
    inventory,
    log_group_events,
    place,
    restock,
    wait_all_terminal,
)
from tests.e2e.test_reliability import assert_conserved, assert_each_effect_once, loyalty_points
from workflow.domain.loyalty import points_for
from workflow.products import PRODUCTS_BY_SKU

pytestmark = pytest.mark.e2e

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
SKUS = ["BISCUIT-TIN", "MUG-STONEWARE"]
ORDERS = 40
SWITCH_AFTER = 16


def _order_api(system: RunningSystem) -> dict[str, Any]:
    functions = system.client("lambda").list_functions()["Functions"]
    [api] = [f for f in functions if f["Handler"] == "functions.order.api.lambda_handler"]
    return api


def test_the_producer_switches_version_with_orders_flowing(running_system: RunningSystem):
    restock(running_system, SKUS, ORDERS)
    before = inventory(running_system)
    api = _order_api(running_system)
    lambda_client = running_system.client("lambda")
    requests_ = [{"customer": f"v-{n}-{time.time_ns()}", "sku": SKUS[n % 2],
                  "quantity": 1 + n % 3, "card": DECLINED_CARD if n % 5 == 0 else GOOD_CARD}
                 for n in range(ORDERS)]
    placed: list[dict[str, Any]] = []
    lock = threading.Lock()
    switched = threading.Event()

    def one(request: dict[str, Any]) -> None:
        after_switch = switched.is_set()  # read before the order is sent
        response = place(running_system, [{"sku": request["sku"],
                                           "quantity": request["quantity"]}],
                         card=request["card"], customer=request["customer"])
        assert response.status_code == 202, response.text
        with lock:
            placed.append({**request, **response.json(), "after_switch": after_switch,
                           "before_switch": not switched.is_set()})
            if len(placed) == SWITCH_AFTER:
                variables = api.get("Environment", {}).get("Variables", {})
                lambda_client.update_function_configuration(
                    FunctionName=api["FunctionName"], Environment={"Variables": {
                        **variables, "EVENT_VERSIONS": "order.placed=2"}})
                switched.set()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, requests_))

    final = wait_all_terminal(running_system, [order["orderId"] for order in placed])
    # the log group keeps every event the system saw, this test's and earlier tests' (some of
    # them hostile, with no subject): only this test's orders are looked at
    ours = {order["orderId"] for order in placed}
    events = [event for event in log_group_events(running_system) if event.get("subject") in ours]
    placed_versions = {event["subject"]: event["dataschema"] for event in events
                       if event["type"] == "order.placed"}
    print(f"\nversions: {Counter(placed_versions[o['orderId']] for o in placed)}, "
          f"ends: {Counter(final.values())}")

    # every order ends as its card says: none lost, none stuck
    for order in placed:
        expected = "cancelled" if order["card"] == DECLINED_CARD else "shipped"
        assert final[order["orderId"]] == expected, order
    # each in the version its producer was set to when it was placed
    for order in placed:
        version = placed_versions[order["orderId"]]
        if order["before_switch"]:
            assert version.endswith(":1"), order
        if order["after_switch"]:
            assert version.endswith(":2"), order
    assert {v[-1] for v in placed_versions.values() if v} >= {"1", "2"}
    # both versions in flight at once: a version 2 order was placed before the last version 1
    # order had ended
    times = {(event["subject"], event["type"]): event["time"] for event in events}
    ends = ("warehouse.order-shipped", "order.cancelled")
    last_v1_end = max(times[(o["orderId"], t)] for o in placed for t in ends
                      if placed_versions[o["orderId"]].endswith(":1") and (o["orderId"], t) in times)
    first_v2_placed = min(times[(o["orderId"], "order.placed")] for o in placed
                          if placed_versions[o["orderId"]].endswith(":2"))
    assert first_v2_placed < last_v1_end
    # none applied twice; stock moved exactly by what shipped; points as paid
    assert_each_effect_once(running_system, placed, final)
    after = inventory(running_system)
    assert_conserved(after)
    for sku in SKUS:
        shipped = sum(o["quantity"] for o in placed
                      if o["sku"] == sku and final[o["orderId"]] == "shipped")
        assert after[sku]["shipped"] - before[sku]["shipped"] == shipped, sku
        assert after[sku]["reserved"] == before[sku]["reserved"], sku
    for order in placed:
        paid = PRODUCTS_BY_SKU[order["sku"]].unit_price.amount * order["quantity"]
        expected_points = points_for(paid) if final[order["orderId"]] == "shipped" else 0
        assert loyalty_points(running_system, order["customer"]) == expected_points, order
