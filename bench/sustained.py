"""M1, M2 and P2: the whole system as `make up` starts it, under the load generator.

One system, one run, in this order:

- M1: the memory (PSS) of every process the system started, right after start-up (the
  baseline) and after 1,000 orders at concurrency 8 through the HTTP API (BENCH_M_ORDERS).
- M2: the same after a further 1,000, against M1's figure.
- P2: orders at a steady open-loop rate (BENCH_SUSTAINED_RATE, 10/s: the targets' bar) for
  BENCH_SUSTAINED_ORDERS (10,000: 17 minutes, so the ten-minute figure and the soak are one
  run); the rate achieved, p99 place-to-terminal, lost orders, the deepest backlog sampled,
  dead letters and failed batches; and the soak: p50 of the last thousand orders against
  the first thousand's, and the memory at the end against the memory once the first
  thousand had ended (in the note, against the memory before the soak). The baseline is the
  substrate's ceiling: moto's own closed-loop `put_events` → SQS receive and delete, eight
  at a time, in the same embedded AWS before any order, as events per second; P2's ratio is
  orders/s times events per order against it.

Set BENCH_SUSTAINED_ORDERS=0 to leave P2 out (M1 and M2 take about six minutes).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from bench.common import Result, bare_route, result
from bench.full_system import FullSystem, full_system
from dashboard.loadtest.load import LoadSettings, load_run
from dashboard.loadtest.load_report import LoadProgress, LoadSummary, progress_line, summary_lines
from workflow.model import CHOREOGRAPHY

M_ORDERS = int(os.environ.get("BENCH_M_ORDERS", "1000"))
SUSTAINED_ORDERS = int(os.environ.get("BENCH_SUSTAINED_ORDERS", "10000"))
SUSTAINED_RATE = float(os.environ.get("BENCH_SUSTAINED_RATE", "10"))
CEILING_SECONDS = float(os.environ.get("BENCH_CEILING_SECONDS", "20"))
CEILING_CONCURRENCY = 8
EVENTS_PER_ORDER = len(CHOREOGRAPHY.happy_path)
SOAK_FIRST = min(1000, SUSTAINED_ORDERS // 2)
"""the soak's memory bar is against the system after its first thousand orders, as its p50
bar is against theirs (the last thousand's)"""
DETAIL = os.environ.get("BENCH_DETAIL", "")
"""a file to write each run's full summary to, as JSON"""


def substrate_ceiling(system: FullSystem, seconds: float = CEILING_SECONDS) -> float:
    """Events per second through moto alone: `put_events` to a bus whose rule targets a
    queue, then receive and delete, CEILING_CONCURRENCY loops at once."""
    events, sqs = system.client("events"), system.client("sqs")
    name, queue_url = bare_route(events, sqs, "bench-ceiling")
    counts = [0] * CEILING_CONCURRENCY
    deadline = time.monotonic() + seconds

    def loop(slot: int) -> None:
        events_client, sqs_client = system.client("events"), system.client("sqs")
        detail = json.dumps({"data": {"orderId": str(uuid.uuid4()), "lines": [1, 2, 3]}})
        while time.monotonic() < deadline:
            events_client.put_events(Entries=[{"EventBusName": name, "Source": "bench",
                                               "DetailType": "hop", "Detail": detail}])
            messages = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1,
                                                  WaitTimeSeconds=1).get("Messages", [])
            for message in messages:
                sqs_client.delete_message(QueueUrl=queue_url,
                                          ReceiptHandle=message["ReceiptHandle"])
                counts[slot] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(slot,)) for slot in range(CEILING_CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


class _Watch:
    """Progress on one line, the deepest backlog the runtime reported while it ran, and the
    system's memory once the first `memory_after` orders had ended."""

    def __init__(self, system: FullSystem, label: str, memory_after: int = 0) -> None:
        self.system = system
        self.stats_url = f"{system.api_url}/_local/stats"
        self.label = label
        self.deepest_backlog = 0
        self.last_sample = 0.0
        self.last_print = 0.0
        self.memory_after = memory_after
        self.memory_then: float | None = None

    def __call__(self, progress: LoadProgress) -> None:
        now = time.monotonic()
        if self.memory_after and self.memory_then is None and progress.terminal >= self.memory_after:
            self.memory_then = self.system.pss_mib()
            print(f"  {self.label}: {self.memory_then:.0f} MiB after its first "
                  f"{self.memory_after} orders", flush=True)
        if now - self.last_sample >= 5 or progress.done:
            self.last_sample = now
            try:
                backlog = int(requests.get(self.stats_url, timeout=10).json()["backlog"])
                self.deepest_backlog = max(self.deepest_backlog, backlog)
            except (requests.RequestException, KeyError, ValueError):
                pass
        if now - self.last_print >= 30 or progress.done:
            self.last_print = now
            print(f"  {self.label}: {progress_line(progress)}", flush=True)


def _run(system: FullSystem, label: str, settings: LoadSettings,
         detail: Callable[[str, LoadSummary], None],
         memory_after: int = 0) -> tuple[LoadSummary, _Watch]:
    watch = _Watch(system, label, memory_after)
    summary = load_run(api_url=system.api_url, dynamodb=system.client("dynamodb"),
                       table_name=system.outputs["InventoryTableName"], settings=settings,
                       progress=watch)
    for line in summary_lines(summary):
        print(f"    {line}", flush=True)
    detail(label, summary)
    return summary, watch


def _stats(system: FullSystem) -> dict[str, Any]:
    stats: dict[str, Any] = requests.get(f"{system.api_url}/_local/stats", timeout=10).json()
    return stats


def dead_letters(system: FullSystem) -> int:
    sqs = system.client("sqs")
    urls = [url for url in sqs.list_queues().get("QueueUrls", [])
            if "dlq" in url.lower() or "deadletter" in url.lower()]
    return sum(int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
        for url in urls)


def _unexpected(summary: LoadSummary) -> int:
    return summary.lost + summary.unexpected


def run() -> list[Result]:
    details: dict[str, Any] = {}

    def detail(label: str, summary: LoadSummary) -> None:
        details[label] = summary.to_dict()
        if DETAIL:
            with open(DETAIL, "w") as out:
                json.dump(details, out, indent=2)

    results: list[Result] = []
    with full_system() as system:
        ceiling = substrate_ceiling(system) if SUSTAINED_ORDERS else None
        at_start = system.pss_mib()
        print(f"  up: {at_start:.0f} MiB (PSS, every process)", flush=True)
        first, _ = _run(system, "M1", LoadSettings(orders=M_ORDERS, concurrency=8, seed=1),
                        detail)
        after_first = system.pss_mib()
        print(f"  after {M_ORDERS}: {after_first:.0f} MiB", flush=True)
        second, _ = _run(system, "M2", LoadSettings(orders=M_ORDERS, concurrency=8, seed=2),
                         detail)
        after_second = system.pss_mib()
        print(f"  after {2 * M_ORDERS}: {after_second:.0f} MiB", flush=True)
        r7_note = (f"lost or unexpected {_unexpected(first)} + {_unexpected(second)}; "
                   f"{first.completion_rate} and {second.completion_rate} orders/s")
        results += [
            result("M1", f"system PSS after {M_ORDERS} orders at concurrency 8", after_first,
                   at_start, "MiB", r7_note),
            result("M2", f"system PSS after a further {M_ORDERS}", after_second, after_first,
                   "MiB"),
        ]
        if SUSTAINED_ORDERS and ceiling:
            settings = LoadSettings(orders=SUSTAINED_ORDERS, rate=SUSTAINED_RATE,
                                    concurrency=32, seed=3, grace_seconds=300)
            failed_before = _stats(system)["sqs"]["failedRecords"]
            soak, watch = _run(system, "P2", settings, detail, memory_after=SOAK_FIRST)
            failed = _stats(system)["sqs"]["failedRecords"] - failed_before
            at_end = system.pss_mib()
            note = (f"{soak.placed} placed at {SUSTAINED_RATE:g}/s over "
                    f"{soak.elapsed_seconds / 60:.0f} min; lost {soak.lost}, unexpected "
                    f"{soak.unexpected}; deepest backlog {watch.deepest_backlog}; "
                    f"dead letters {dead_letters(system)}; failed records {failed}")
            # the soak's first thousand, unless it never ended that many (then before it)
            baseline, since = ((watch.memory_then, f"after its first {SOAK_FIRST}")
                               if watch.memory_then is not None else (after_second, "before it"))
            results += [
                result("P2", "sustained events/s (orders/s x events/order)",
                       soak.completion_rate * EVENTS_PER_ORDER, ceiling, "events/s", note),
                result("P2", "sustained orders/s, zero loss", soak.completion_rate, None,
                       "orders/s"),
                result("P2", "p99 place-to-terminal at the sustained rate", soak.latency_p99_ms or 0,
                       None, "ms"),
                result("P2", f"soak p50, last {min(1000, soak.placed // 2)} orders vs first",
                       soak.p50_last_ms or 0, soak.p50_first_ms, "ms"),
                result("P2", f"soak: system PSS at the end vs {since}", at_end, baseline, "MiB",
                       f"{at_end / after_second:.2f} x the {after_second:.0f} MiB before the soak"),
            ]
    return results
