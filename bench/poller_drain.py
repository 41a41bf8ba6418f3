"""P3c: how fast the dashboard's poller drains the observability queue, against moto's raw
receive and batch delete by as many loops, in the same embedded AWS and the same run.

The queue is filled with BENCH_DRAIN_MESSAGES (20,000) orders' sightings as the observability
queue carries them; the poller records each in the read model (SQLite, as the embedded
default has it) and deletes it, with its own number of receives in flight and no broadcaster
(fan-out is P3a/P3b's). The baseline receives ten at a time and deletes them in one call,
no more.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
import uuid
from typing import Any

from bench.common import Result, result
from bench.dashboard_data import embedded_aws, orders_for, read_model_ready, sightings
from local.embedded_aws import client

MESSAGES = int(os.environ.get("BENCH_DRAIN_MESSAGES", "20000"))


def _filled(sqs: Any, bodies: list[str]) -> str:
    queue_url: str = sqs.create_queue(QueueName=f"bench-drain-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(index), "MessageBody": body}
            for index, body in enumerate(bodies[start:start + 10])])
    return queue_url


def raw_drain(sqs_for: Any, queue_url: str, total: int, loops: int) -> float:
    """Messages per second: `loops` threads of receive-ten and delete-batch until `total`."""
    drained = itertools.count(1)
    done = threading.Event()

    def loop() -> None:
        sqs = sqs_for()
        while not done.is_set():
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
            if messages:
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(messages)])
            for _ in messages:
                if next(drained) >= total:
                    done.set()

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - started)


def poller_drain(sqs: Any, queue_url: str, total: int) -> tuple[float, int]:
    """Messages per second through the dashboard's poller, and its receives in flight."""
    from dashboard.readmodel.observability import ObservabilityPoller

    poller = ObservabilityPoller(sqs=sqs, queue_url=queue_url, broadcaster=None, wait_seconds=1)

    async def drain() -> float:
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(poller.run(stop))
        while poller.stats.deleted < total:
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
        stop.set()
        await task
        return seconds

    return total / asyncio.run(drain()), poller.receivers


def run() -> list[Result]:
    read_model_ready()
    bodies = [json.dumps(sighting.queue_body)
              for sighting in itertools.islice(sightings(orders_for(MESSAGES) + 1), MESSAGES)]
    with embedded_aws() as config:
        sqs = client(config, "sqs")
        print(f"P3c: {MESSAGES} messages, filling ...", flush=True)
        poller_queue = _filled(sqs, bodies)
        rate, receivers = poller_drain(sqs, poller_queue, MESSAGES)
        print(f"  poller: {rate:.0f} messages/s", flush=True)
        raw_queue = _filled(sqs, bodies)
        baseline = raw_drain(lambda: client(config, "sqs"), raw_queue, MESSAGES, receivers)
        print(f"  raw receive + batch delete: {baseline:.0f} messages/s", flush=True)
    return [result("P3c", "poller drain, recorded in the read model", rate, baseline,
                   "messages/s", f"{MESSAGES} messages, {receivers} receives in flight; "
                   "baseline = raw receive + batch delete, as many loops")]
