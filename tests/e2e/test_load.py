"""The load generator against the running system: every order it places ends as its card
says, with the stock it tops up conserved; and R7 of the targets, two thousand orders eight
at a time (CHOREO_LOAD_ORDERS per round, 1,000 by default: about six minutes)."""

from __future__ import annotations

import os

import pytest

from dashboard.loadtest.load import LoadSettings, load_run
from local.memory import tree_pss_mib
from tests.e2e.conftest import RunningSystem, dead_letters_total, inventory, runtime_stats

pytestmark = pytest.mark.e2e

ORDERS = 30
R7_ORDERS = int(os.environ.get("CHOREO_LOAD_ORDERS", "1000"))
R7_GROWTH = 1.15  # memory over the second round, against the first (M2 of the targets)
DECLINED_SHARE = 0.2
# the teapot is left alone, so that the reliability suite's short orders stay short
SKUS = ("TEA-EARL-GREY", "MUG-STONEWARE", "KETTLE-STEEL", "BISCUIT-TIN", "INFUSER-MESH")


def test_a_load_run_ends_every_order_as_its_card_says(running_system: RunningSystem) -> None:
    settings = LoadSettings(orders=ORDERS, concurrency=4, declined_share=DECLINED_SHARE, seed=5,
                            skus=SKUS, grace_seconds=120)

    summary = load_run(api_url=running_system.api, dynamodb=running_system.client("dynamodb"),
                       table_name=running_system.outputs["InventoryTableName"], settings=settings)

    print(f"\nload: {summary.to_dict()}")
    assert summary.placed == ORDERS and summary.errors == 0
    assert summary.lost == 0 and summary.unexpected == 0
    assert summary.shipped + summary.cancelled == summary.placed
    assert summary.cancelled == round(ORDERS * DECLINED_SHARE)
    assert summary.ok
    assert summary.latency_p50_ms is not None and summary.latency_p99_ms is not None
    assert 0 < summary.latency_p50_ms <= summary.latency_p99_ms
    assert summary.completion_rate > 0 and summary.placement_rate > 0
    stock = inventory(running_system)
    assert all(level["available"] + level["reserved"] + level["shipped"] == level["initial"]
               for level in stock.values()), stock


def test_orders_that_end_faster_than_they_may_be_asked_about_are_not_called_lost(
        running_system: RunningSystem) -> None:
    # One status request a second, a three-second grace: the asking falls behind the orders'
    # ends, as it does at twenty orders a second against the default ten asks. The last
    # call asks about each order once more instead of calling the unasked ones lost.
    settings = LoadSettings(orders=12, concurrency=4, declined_share=0, seed=6, skus=SKUS,
                            grace_seconds=3, poll_max_per_second=1)

    summary = load_run(api_url=running_system.api, dynamodb=running_system.client("dynamodb"),
                       table_name=running_system.outputs["InventoryTableName"], settings=settings)

    assert (summary.placed, summary.lost, summary.unexpected) == (12, 0, 0)
    assert summary.shipped == 12 and summary.ok


@pytest.mark.timeout(60 * 30)  # two thousand orders take minutes, not the suite's 5
def test_r7_two_rounds_at_concurrency_8_end_as_cards_and_stock_say(
        running_system: RunningSystem) -> None:
    table_name = running_system.outputs["InventoryTableName"]
    dead_letters_before = dead_letters_total(running_system)
    memory = [tree_pss_mib(running_system.pid)]
    for round_number in (1, 2):
        settings = LoadSettings(orders=R7_ORDERS, concurrency=8, declined_share=DECLINED_SHARE,
                                seed=70 + round_number, skus=SKUS, grace_seconds=300)
        summary = load_run(api_url=running_system.api, table_name=table_name,
                           dynamodb=running_system.client("dynamodb"), settings=settings)
        memory.append(tree_pss_mib(running_system.pid))
        print(f"\nR7 round {round_number}: {summary.to_dict()}; PSS {memory[-1]:.0f} MiB")
        assert summary.ok, summary
        assert summary.errors == 0

    functions = runtime_stats(running_system)["functions"]
    assert {name: stats["timeouts"] for name, stats in functions.items() if stats["timeouts"]} == {}
    assert dead_letters_total(running_system) == dead_letters_before
    stock = inventory(running_system)
    assert all(level["available"] + level["reserved"] + level["shipped"] == level["initial"]
               for level in stock.values()), stock
    print(f"R7 memory (PSS, MiB): start {memory[0]:.0f}, after each round "
          f"{memory[1]:.0f}, {memory[2]:.0f}")
    assert memory[2] <= memory[1] * R7_GROWTH
