"""A consumer that reads `order.placed` version 1 only keeps working while the producer
switches to version 2: with `CHOREO_LEGACY_CONSUMER=1` the sales ledger (fed by a rule pinned to
version 1, and by the translator for version 2) counts every order placed before and after
the switch, once, at what the order paid."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import (
    RunningSystem,
    log_group_events,
    place,
    restock,
    system_started,
    wait_all_terminal,
)
from tests.support import eventually
from workflow.products import PRODUCTS_BY_SKU

pytestmark = pytest.mark.e2e

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
SKUS = ["BISCUIT-TIN", "MUG-STONEWARE"]
ORDERS = 24
SWITCH_AFTER = 10


@pytest.fixture(scope="module")
def legacy_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    yield from system_started(tmp_path_factory, {"CHOREO_LEGACY_CONSUMER": "1"})


def _function(system: RunningSystem, handler: str) -> dict[str, Any]:
    functions = system.client("lambda").list_functions()["Functions"]
    [found] = [f for f in functions if f["Handler"] == handler]
    return found


def _ledger(system: RunningSystem) -> dict[str, dict[str, Any]]:
    ledger = _function(system, "functions.sales.ledger.lambda_handler")
    table = ledger["Environment"]["Variables"]["SALESLEDGER_TABLE_NAME"]
    dynamodb = system.client("dynamodb")
    records: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            records[item["pk"]["S"]] = {key: next(iter(value.values()))
                                        for key, value in item.items()}
    return records


def _wait_counted(system: RunningSystem, orders: int, seconds: float = 60) -> dict[str, Any]:
    return eventually(lambda: _ledger(system),
                      lambda records: sum(key.startswith("ORDER#") for key in records) >= orders,
                      seconds, 0.5, f"the ledger counting {orders} orders")


def test_the_v1_only_ledger_counts_every_order_through_the_switch(legacy_system: RunningSystem):
    system = legacy_system
    restock(system, SKUS, ORDERS)
    api = _function(system, "functions.order.api.lambda_handler")
    lambda_client = system.client("lambda")
    requests_ = [{"customer": f"l-{n}-{time.time_ns()}", "sku": SKUS[n % 2],
                  "quantity": 1 + n % 3, "card": DECLINED_CARD if n % 5 == 0 else GOOD_CARD}
                 for n in range(ORDERS)]
    placed: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one(request: dict[str, Any]) -> None:
        response = place(system, [{"sku": request["sku"], "quantity": request["quantity"]}],
                         card=request["card"], customer=request["customer"])
        assert response.status_code == 202, response.text
        with lock:
            placed.append({**request, **response.json()})
            if len(placed) == SWITCH_AFTER:
                variables = api.get("Environment", {}).get("Variables", {})
                lambda_client.update_function_configuration(
                    FunctionName=api["FunctionName"], Environment={"Variables": {
                        **variables, "EVENT_VERSIONS": "order.placed=2"}})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, requests_))
    final = wait_all_terminal(system, [order["orderId"] for order in placed])
    records = _wait_counted(system, ORDERS)
    published = {event["subject"]: event for event in log_group_events(system)
                 if event["type"] == "order.placed"}
    versions = Counter(published[o["orderId"]]["dataschema"][-1] for o in placed)
    print(f"\nversions: {versions}, ends: {Counter(final.values())}")

    # orders of both versions went through the switch
    assert set(versions) == {"1", "2"}
    # each order counted once, at what it paid, under the CloudEvent its producer published
    counted = {key.removeprefix("ORDER#"): record for key, record in records.items()
               if key.startswith("ORDER#")}
    assert set(counted) == {order["orderId"] for order in placed}
    expected: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"amount": 0, "orders": 0})
    for order in placed:
        price = PRODUCTS_BY_SKU[order["sku"]].unit_price
        paid = price.amount * order["quantity"]
        event = published[order["orderId"]]
        record = counted[order["orderId"]]
        assert (int(record["amount"]), record["currency"]) == (paid, price.currency), order
        assert record["eventId"] == event["id"], order
        day = expected[(event["time"][:10], price.currency)]
        day["amount"] += paid
        day["orders"] += 1
    days = {tuple(key.split("#")[1:]): {"amount": int(record["amount"]),
                                        "orders": int(record["orders"])}
            for key, record in records.items() if key.startswith("DAY#")}
    assert days == dict(expected)
    assert sum(day["orders"] for day in days.values()) == ORDERS
