"""The running system, started as a user starts it (`python -m local up`), on free ports."""

from __future__ import annotations

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
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local up exited {process.returncode}:\n{log_path.read_text()[-3000:]}")
        if "choreo is up" in log_path.read_text():
            stack = cloudformation.describe_stacks(StackName="choreo")["Stacks"][0]
            return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        time.sleep(0.5)
    raise RuntimeError(f"local up not ready in {seconds:.0f}s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def running_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    ports = {"CHOREO_AWS_PORT": free_port(), "CHOREO_API_PORT": free_port(),
             "CHOREO_DASHBOARD_PORT": free_port()}
    log_path = tmp_path_factory.mktemp("local-up") / "up.log"
    env = {**os.environ, **{key: str(value) for key, value in ports.items()},
           "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "local", "up", "--no-dashboard"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    aws_endpoint = f"http://127.0.0.1:{ports['CHOREO_AWS_PORT']}"
    try:
        outputs = _wait_ready(process, aws_endpoint, log_path, seconds=240)
        yield RunningSystem(aws_endpoint=aws_endpoint,
                            dashboard_url=f"http://127.0.0.1:{ports['CHOREO_DASHBOARD_PORT']}",
                            outputs=outputs, log_path=log_path)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def place(system: RunningSystem, items: list[dict[str, Any]],
          card: str = "4242 4242 4242 4242", customer: str = "e2e-customer") -> requests.Response:
    return requests.post(f"{system.api}/orders", timeout=10,
                         json={"customerId": customer, "items": items, "card": {"number": card}})


def wait_status(system: RunningSystem, order_id: str, want: set[str],
                seconds: float = 60) -> str | None:
    deadline = time.monotonic() + seconds
    status = None
    while time.monotonic() < deadline:
        response = requests.get(f"{system.api}/orders/{order_id}", timeout=10)
        status = response.json().get("status") if response.ok else None
        if status in want:
            return status
        time.sleep(0.1)
    return status
