"""The running system, started as a user starts it (`python -m choreo up`), on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from dashboard.failures.dead_letter_queues import dead_letter_queues, dead_letters_count
from tests.support import eventually, wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningSystem:
    aws_endpoint: str
    dashboard_url: str
    outputs: dict[str, str]
    log_path: Path
    pid: int
    """of `choreo up`, whose process tree is the whole system"""

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.aws_endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    @property
    def api(self) -> str:
        return self.outputs["OrderApiUrl"].rstrip("/")


def _wait_ready(process: subprocess.Popen[bytes], aws_endpoint: str, log_path: Path,
                seconds: float) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation", endpoint_url=aws_endpoint,
                                  region_name="us-east-1", aws_access_key_id="test",
                                  aws_secret_access_key="test")

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"choreo up exited {process.returncode}:\n{log_path.read_text()[-3000:]}")
        return "choreo is up" in log_path.read_text()

    try:
        wait_for(up, seconds, 0.5, "choreo up to say it is up")
    except AssertionError as error:
        raise RuntimeError(f"{error}:\n{log_path.read_text()[-3000:]}") from None
    stack = cloudformation.describe_stacks(StackName="choreo")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.fixture(scope="session")
def running_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    yield from system_started(tmp_path_factory)


def system_started(tmp_path_factory: pytest.TempPathFactory,
                   settings: dict[str, str] | None = None) -> Iterator[RunningSystem]:
    """`choreo up` on free ports, with `settings` added to its environment, until stopped."""
    ports = {"CHOREO_AWS_PORT": free_port(), "CHOREO_API_PORT": free_port(),
             "CHOREO_DASHBOARD_PORT": free_port()}
    log_path = tmp_path_factory.mktemp("local-up") / "up.log"
    env = {**os.environ, **{key: str(value) for key, value in ports.items()},
           "PYTHONUNBUFFERED": "1", **(settings or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "choreo", "up", "--no-dashboard"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    aws_endpoint = f"http://127.0.0.1:{ports['CHOREO_AWS_PORT']}"
    try:
        outputs = _wait_ready(process, aws_endpoint, log_path, seconds=240)
        yield RunningSystem(aws_endpoint=aws_endpoint,
                            dashboard_url=f"http://127.0.0.1:{ports['CHOREO_DASHBOARD_PORT']}",
                            outputs=outputs, log_path=log_path, pid=process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def api(method: str, url: str, **kwargs: Any) -> requests.Response:
    """A call to the order API as a polite client makes it: a 429 (the stage's throttle) or a
    503 (the functions are behind) is tried again after its Retry-After."""
    for _ in range(30):
        response = requests.request(method, url, timeout=10, **kwargs)
        if response.status_code not in (429, 503) or "Retry-After" not in response.headers:
            return response
        time.sleep(float(response.headers["Retry-After"]))
    return response


def place(system: RunningSystem, items: list[dict[str, Any]],
          card: str = "4242 4242 4242 4242", customer: str = "e2e-customer") -> requests.Response:
    return api("POST", f"{system.api}/orders",
               json={"customerId": customer, "items": items, "card": {"number": card}})


def wait_status(system: RunningSystem, order_id: str, want: set[str],
                seconds: float = 60) -> str | None:
    """The order's status once it is one of `want`, or the last one seen after `seconds`: not
    a failure, since some tests assert that an order did not get that far."""
    deadline = time.monotonic() + seconds
    status = None
    while time.monotonic() < deadline:
        response = api("GET", f"{system.api}/orders/{order_id}")
        status = response.json().get("status") if response.ok else None
        if status in want:
            return status
        time.sleep(0.1)
    return status


def chaos_set(system: RunningSystem, **knobs: float) -> dict[str, float]:
    response = requests.put(f"{system.api}/_local/chaos", json=knobs, timeout=10)
    response.raise_for_status()
    settings: dict[str, float] = response.json()
    return settings


@pytest.fixture
def chaos(running_system: RunningSystem) -> Iterator[Any]:
    """Switch chaos knobs for one test; everything is switched off again after it."""
    yield lambda **knobs: chaos_set(running_system, **knobs)
    chaos_set(running_system, duplicate_rate=0, failure_rate=0, jitter_seconds=0, poison_rate=0)


def runtime_stats(system: RunningSystem) -> dict[str, Any]:
    stats: dict[str, Any] = requests.get(f"{system.api}/_local/stats", timeout=10).json()
    return stats


def inventory(system: RunningSystem) -> dict[str, dict[str, int]]:
    """Stock per product, read straight from the warehouse's table."""
    dynamodb = system.client("dynamodb")
    stock: dict[str, dict[str, int]] = {}
    for page in dynamodb.get_paginator("scan").paginate(
            TableName=system.outputs["InventoryTableName"], ConsistentRead=True):
        for item in page["Items"]:
            if item["pk"]["S"].startswith("PRODUCT#"):
                stock[item["sku"]["S"]] = {name: int(item[name]["N"]) for name in
                                           ("available", "reserved", "shipped", "initial")}
    return stock


def statuses(system: RunningSystem, order_ids: list[str]) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for order_id in order_ids:
        response = api("GET", f"{system.api}/orders/{order_id}")
        result[order_id] = response.json().get("status") if response.ok else None
    return result


def wait_all_terminal(system: RunningSystem, order_ids: list[str],
                      seconds: float = 120) -> dict[str, str | None]:
    """The orders' statuses once all are terminal, or as they are after `seconds`: each
    test asserts on them what it expects."""
    deadline = time.monotonic() + seconds
    while True:
        current = statuses(system, order_ids)
        if all(s in {"shipped", "rejected", "cancelled"} for s in current.values()) \
                or time.monotonic() > deadline:
            return current
        time.sleep(0.5)


def log_group_events(system: RunningSystem, filter_pattern: str = "") -> list[dict[str, Any]]:
    """Every CloudEvent in the observability log group (optionally, matching a term pattern),
    once per CloudEvent id."""
    logs = system.client("logs")
    kwargs: dict[str, Any] = {"logGroupName": system.outputs["ObservabilityLogGroupName"]}
    if filter_pattern:
        kwargs["filterPattern"] = filter_pattern
    events: dict[str, dict[str, Any]] = {}
    while True:
        page = logs.filter_log_events(**kwargs)
        for record in page["events"]:
            detail = json.loads(record["message"]).get("detail")
            # the log group keeps whatever was put on the bus, hand-made garbage of other
            # tests on the same system included: a CloudEvent has these four at least
            if isinstance(detail, dict) and all(isinstance(detail.get(attribute), str) for attribute
                                                in ("specversion", "id", "source", "type")):
                events.setdefault(detail["id"], detail)
        if not page.get("nextToken"):
            return list(events.values())
        kwargs["nextToken"] = page["nextToken"]


def log_group_trace(system: RunningSystem, correlation_id: str) -> list[dict[str, Any]]:
    """Every CloudEvent of one correlation, found by a term pattern as on AWS."""
    return [event for event in log_group_events(system, f'"{correlation_id}"')
            if event.get("correlationid") == correlation_id]


def restock(system: RunningSystem, skus: list[str], units: int) -> None:
    """Put more units on the shelf: the initial count moves with them, so stock stays
    conserved (available + reserved + shipped = initial)."""
    dynamodb = system.client("dynamodb")
    for sku in skus:
        dynamodb.update_item(TableName=system.outputs["InventoryTableName"],
                             Key={"pk": {"S": f"PRODUCT#{sku}"}},
                             UpdateExpression="SET available = available + :n, initial = initial + :n",
                             ExpressionAttributeValues={":n": {"N": str(units)}})


def dead_letters_total(system: RunningSystem) -> int:
    """Messages in all the stack's dead-letter queues."""
    sqs = system.client("sqs")
    return sum(dead_letters_count(sqs=sqs, queue=queue)
               for queue in dead_letter_queues(system.outputs))


def wait_idle(system: RunningSystem, seconds: float = 60) -> None:
    """Until the functions have nothing left to do: no message waiting for one or being
    worked on, twice in a row half a second apart (a handler that publishes enqueues the
    next message before its own is deleted)."""
    readings: list[Any] = []

    def last_two_backlogs() -> list[Any]:
        readings[:] = [*readings[-1:], runtime_stats(system)["backlog"]]
        return readings

    eventually(last_two_backlogs, lambda backlogs: backlogs == [0, 0], seconds, 0.5,
               "the functions idle: no backlog twice in a row")
