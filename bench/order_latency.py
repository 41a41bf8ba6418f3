"""P1: one order from `POST /orders` to its `warehouse.order-shipped` observed, sequentially,
against the embedded default; baseline: five bare moto hops (`put_events` → long-polled
`receive_message` on an empty queue) measured in the same run."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from typing import Any

import requests

from bench.common import Result, bare_route, median, percentile, result
from local.embedded_aws import client
from local.system import LocalSystem
from workflow.model import CHOREOGRAPHY

ORDERS = int(os.environ.get("BENCH_ORDERS", "200"))
HOPS = len(CHOREOGRAPHY.happy_path)


def bare_hops(system: LocalSystem, samples: int = 100) -> list[float]:
    events, sqs = client(system.config, "events"), client(system.config, "sqs")
    bus, queue_url = bare_route(events, sqs, "bench")
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        events.put_events(Entries=[{"EventBusName": bus, "Source": "bench", "DetailType": "hop",
                                    "Detail": "{}"}])
        messages: list[dict[str, Any]] = []
        while not messages:
            messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages", [])
        timings.append((time.perf_counter() - started) * 1000)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return timings


class Observer(threading.Thread):
    """Drains the observability queue (as the dashboard's poller would, keeping it short) and
    notes when each correlation's events were observed."""

    def __init__(self, system: LocalSystem) -> None:
        super().__init__(daemon=True)
        self.sqs = client(system.config, "sqs")
        self.queue_url = system.deployment.outputs["ObservabilityQueueUrl"]
        self.seen: dict[str, dict[str, tuple[float, dict[str, Any]]]] = {}
        self.condition = threading.Condition()
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=1).get("Messages", [])
            now = time.perf_counter()
            for message in messages:
                cloudevent = json.loads(message["Body"])["event"]["detail"]
                with self.condition:
                    self.seen.setdefault(cloudevent.get("correlationid", ""), {}).setdefault(
                        cloudevent.get("type", ""), (now, cloudevent))
                    self.condition.notify_all()
            if messages:
                self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)])

    def wait_for(self, correlation_id: str, event_type: str, timeout: float = 30) -> float:
        with self.condition:
            self.condition.wait_for(
                lambda: event_type in self.seen.get(correlation_id, {}), timeout=timeout)
            return self.seen[correlation_id][event_type][0]


def _time(cloudevent: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(cloudevent["time"].replace("Z", "+00:00"))


def run(system: LocalSystem) -> list[Result]:
    baseline = [5 * t for t in bare_hops(system)]
    observer = Observer(system)
    observer.start()
    api = system.config.api_url
    session = requests.Session()
    totals: list[float] = []
    hops: dict[str, list[float]] = {event: [] for event in CHOREOGRAPHY.happy_path[1:]}
    for n in range(ORDERS + 5):  # the first five warm the functions up and are not counted
        started = time.perf_counter()
        response = session.post(f"{api}/orders", timeout=10, json={
            "customerId": f"bench-{n}", "items": [{"sku": "INFUSER-MESH", "quantity": 1}],
            "card": {"number": "4242 4242 4242 4242"}})
        if response.status_code != 202:
            raise RuntimeError(f"order not accepted: {response.text}")
        correlation_id = response.json()["correlationId"]
        shipped_at = observer.wait_for(correlation_id, "warehouse.order-shipped")
        if n < 5:
            continue
        totals.append((shipped_at - started) * 1000)
        seen = observer.seen[correlation_id]
        for cause, effect in zip(CHOREOGRAPHY.happy_path, CHOREOGRAPHY.happy_path[1:], strict=False):
            if cause in seen and effect in seen:
                hops[effect].append((_time(seen[effect][1]) - _time(seen[cause][1])).total_seconds()
                                    * 1000)
        _restock_if_low(system, n)
    observer.stopping = True
    results = [
        result("P1", "order placed to shipped observed, p50", median(totals), median(baseline), "ms",
               f"{len(totals)} sequential orders; baseline = 5 bare put_events→receive hops"),
        result("P1", "order placed to shipped observed, p99", percentile(totals, 99),
               percentile(baseline, 99), "ms"),
    ]
    for event, values in hops.items():
        results.append(result("P1", f"hop to {event}, p50 (queue wait + handler + publish)",
                              median(values), median(baseline) / 5, "ms"))
    stats = requests.get(f"{system.config.api_url}/_local/stats", timeout=10).json()
    for name, function in stats["functions"].items():
        if function["invocations"]:
            results.append(result("P1", f"invocation of {name.split('-')[1]}, mean",
                                  function["meanDurationMs"], None, "ms"))
    return results


def _restock_if_low(system: LocalSystem, n: int) -> None:
    """Two hundred orders need more infusers than the seed stocks: top the shelf up (the
    initial count moves with it, so stock stays conserved)."""
    if n % 40:
        return
    dynamodb = client(system.config, "dynamodb")
    table = system.deployment.outputs["InventoryTableName"]
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "PRODUCT#INFUSER-MESH"}},
                         UpdateExpression="SET available = available + :n, initial = initial + :n",
                         ExpressionAttributeValues={":n": {"N": "50"}})
