"""R6: the dashboard killed mid-stream and started again misses no event: what it never saw
live, it rebuilds from the CloudWatch log group.

A module of its own, so that no other dashboard polls the observability queue meanwhile
(one poller per queue, as in the production profile)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import RunningSystem, log_group_events, place, wait_idle, wait_status
from tests.e2e.test_dashboard import start_dashboard, stop_dashboard
from tests.support import eventually

pytestmark = pytest.mark.e2e


def test_r6_a_dashboard_restarted_mid_stream_misses_no_event(
        running_system: RunningSystem, tmp_path: Path) -> None:
    first = start_dashboard(running_system, tmp_path / "read-model.sqlite3", tmp_path / "serve.log")
    order_ids: list[str] = []
    stop_placing = threading.Event()

    def keep_placing() -> None:
        while not stop_placing.is_set():
            response = place(running_system, [{"sku": "TEA-EARL-GREY", "quantity": 1}],
                             customer="r6-customer")
            order_ids.append(response.json()["orderId"])
            time.sleep(0.3)

    placer = threading.Thread(target=keep_placing)
    placer.start()
    time.sleep(4)
    stop_dashboard(first, signal.SIGKILL)  # mid-stream, no goodbye
    time.sleep(3)  # orders keep flowing while it is down
    second = start_dashboard(running_system, first.database, tmp_path / "serve.log",
                             port=first.port)
    stop_placing.set()
    placer.join()
    try:
        for order_id in order_ids:
            wait_status(running_system, order_id, {"shipped", "rejected", "cancelled"})
        wait_idle(running_system)  # the last events are on their way to the poller
        expected: dict[str, set[str]] = {order_id: set() for order_id in order_ids}
        for event in log_group_events(running_system):
            if event.get("subject") in expected:
                expected[event["subject"]].add(event["id"])

        def missing_now() -> dict[str, set[str]]:
            missing = {}
            for order_id, event_ids in expected.items():
                response = requests.get(f"{second.url}/api/orders/{order_id}", timeout=10)
                shown = {item["event"]["id"] for item in response.json()["events"]} \
                    if response.ok else set()
                if event_ids - shown:
                    missing[order_id] = event_ids - shown
            return missing

        missing = eventually(missing_now, lambda missing: not missing, 30, 0.5,
                             "every published event on the restarted dashboard's traces")
        print(f"\nR6: {len(order_ids)} orders, {sum(map(len, expected.values()))} events; "
              f"dashboard killed and restarted; missing {sum(map(len, missing.values()))}")
        assert len(order_ids) >= 5
        assert missing == {}
    finally:
        stop_dashboard(second)
