"""C2: what enforcement costs the embedded AWS, per order.

The same load (BENCH_ENFORCEMENT_ORDERS orders, 400, closed loop at concurrency 16, the same
seeded plan) through a fresh system with enforcement off and with it on, in alternating
turns (BENCH_ENFORCEMENT_TURNS pairs, 2: one turn each mostly measures which went first).
The figure is the CPU time of the embedded AWS's process (moto's server with the Lambda
service's pollers inside it; the functions' own processes are apart) per order ended, from
/proc: on against off. Every order must end as its card says in every turn.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import requests

from bench.common import Result, free_port, result
from choreo.wiring import stock_seeded
from dashboard.loadtest.load import LoadSettings, load_run
from dashboard.loadtest.load_report import summary_lines
from local.config import LocalConfig
from local.system import local_system

ORDERS = int(os.environ.get("BENCH_ENFORCEMENT_ORDERS", "400"))
TURNS = int(os.environ.get("BENCH_ENFORCEMENT_TURNS", "2"))
CONCURRENCY = 16
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def turn(enforcement: bool) -> tuple[float, float, bool]:
    """(CPU ms of the embedded AWS per order, orders ended per second, every order as its
    card says) for one fresh system."""
    config = replace(LocalConfig.from_environment(), aws_port=free_port(), api_port=free_port(),
                     enforcement=enforcement)
    with local_system(config, seed=stock_seeded) as system:
        process = system.aws.process
        assert process is not None
        before = cpu_seconds(process.pid)
        summary = load_run(api_url=config.api_url, dynamodb=_dynamodb(config),
                           table_name=system.deployment.outputs["InventoryTableName"],
                           settings=LoadSettings(orders=ORDERS, concurrency=CONCURRENCY, seed=7))
        used = cpu_seconds(process.pid) - before
        if not summary.ok:
            for line in summary_lines(summary):
                print(f"    {line}", flush=True)
            refused = requests.get(f"{config.api_url}/_local/stats", timeout=10).json()[
                "refusedDeliveries"]
            print(f"    refused by the embedded AWS: {refused['count']}, dropped "
                  f"{refused['dropped']}; latest: {refused['latest'][-3:]}", flush=True)
    ended = summary.shipped + summary.rejected + summary.cancelled
    print(f"  enforcement {'on ' if enforcement else 'off'}: {used * 1000 / max(ended, 1):.1f} ms "
          f"of the embedded AWS's CPU per order, {summary.completion_rate:.1f} orders/s, "
          f"{'ok' if summary.ok else 'NOT OK'}", flush=True)
    return used * 1000 / max(ended, 1), summary.completion_rate, summary.ok


def _dynamodb(config: LocalConfig) -> object:
    from local.embedded_aws import client

    return client(config, "dynamodb")


def run() -> list[Result]:
    cost: dict[bool, list[float]] = {False: [], True: []}
    rate: dict[bool, list[float]] = {False: [], True: []}
    every_ok = True
    for _ in range(TURNS):
        for enforcement in (False, True):
            per_order, per_second, ok = turn(enforcement)
            cost[enforcement].append(per_order)
            rate[enforcement].append(per_second)
            every_ok = every_ok and ok
    note = f"{TURNS} alternating turns of {ORDERS} orders at concurrency {CONCURRENCY}" + \
        ("" if every_ok else "; SOME ORDERS DID NOT END AS THEIR CARD SAYS")
    return [
        result("C2", "embedded AWS CPU per order, enforcement on vs off",
               sum(cost[True]) / TURNS, sum(cost[False]) / TURNS, "ms", note),
        result("C2", "orders ended per second, enforcement on vs off",
               sum(rate[True]) / TURNS, sum(rate[False]) / TURNS, "orders/s", note),
    ]
