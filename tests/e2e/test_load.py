"""The load generator against the running system: every order it places ends as its card
says, with the stock it tops up conserved."""

from __future__ import annotations

import pytest

from dashboard.load import LoadSettings, load_run
from tests.e2e.conftest import RunningSystem, inventory

pytestmark = pytest.mark.e2e

ORDERS = 30
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
