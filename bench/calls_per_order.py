"""C1: the AWS calls one order costs, by service and operation, counted by the embedded AWS.

BENCH_CALLS_ORDERS orders (200) through a fresh system at concurrency 4, the load generator
asking for each order's status as any client would; the calls are the difference of the
embedded AWS's call ledger (`/_local/stats` `awsCalls`) before and after, divided by the
orders ended. Public calls are the ones a client pays for on AWS — the functions', the
dashboard's and the load generator's (through the order API); internal ones are what AWS's
own pollers do inside AWS (SQS event source mappings, the taps that stand for EventBridge's
Lambda and API destination targets), which no client pays for. docs/benchmarks.md says what
each call is for.
"""

from __future__ import annotations

import os
import re
from typing import Any

import requests

from bench.common import Result, result, running_system
from dashboard.loadtest.load import LoadSettings, load_run

ORDERS = int(os.environ.get("BENCH_CALLS_ORDERS", "200"))
CONCURRENCY = 4


def _ledger(api_url: str) -> dict[str, dict[str, int]]:
    stats: dict[str, Any] = requests.get(f"{api_url}/_local/stats", timeout=10).json()
    ledger: dict[str, dict[str, int]] = stats["awsCalls"]
    return ledger


def _grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after
            if after[name] > before.get(name, 0)}


def _function(role: str) -> str:
    """A function's name from its role's (`choreo-WarehouseWarehouseFunctionRole…-ABC`)."""
    match = re.search(r"([A-Z][A-Za-z]*?Function)Role", role)
    return match.group(1) if match else role


def run() -> list[Result]:
    from local.embedded_aws import client

    print(f"C1: AWS calls of {ORDERS} orders, by operation ...", flush=True)
    with running_system() as system:
        config = system.config
        before = _ledger(config.api_url)
        summary = load_run(api_url=config.api_url, dynamodb=client(config, "dynamodb"),
                           table_name=system.deployment.outputs["InventoryTableName"],
                           settings=LoadSettings(orders=ORDERS, concurrency=CONCURRENCY, seed=7))
        after = _ledger(config.api_url)
    ended = max(1, summary.shipped + summary.rejected + summary.cancelled)
    note = f"{ORDERS} orders at concurrency {CONCURRENCY}" + \
        ("" if summary.ok else "; SOME ORDERS DID NOT END AS THEIR CARD SAYS")
    results: list[Result] = []
    for kind in ("public", "internal"):
        grown = _grown(before[kind], after[kind])
        for operation, count in sorted(grown.items(), key=lambda item: -item[1]):
            if count / ended >= 0.01:
                results.append(result("C1", f"{kind} {operation} per order", count / ended,
                                      None, "calls", note))
        results.append(result("C1", f"{kind} calls per order, in all",
                              sum(grown.values()) / ended, None, "calls", note))
    by_function: dict[str, float] = {}
    for name, count in _grown(before["byCaller"], after["byCaller"]).items():
        role, operation = name.split("/", 1)
        key = f"{_function(role)} {operation}"
        by_function[key] = by_function.get(key, 0) + count / ended
    print("  public calls per order, by function:", flush=True)
    for key, per_order in sorted(by_function.items()):
        print(f"    {per_order:6.2f}  {key}", flush=True)
    return results
