"""The whole system as `make up` starts it (`python -m choreo up`: the embedded AWS with its
Lambda service, and the dashboard), on free ports and in a cache directory of its own, for
the figures that concern all of it: memory, sustained rate, soak."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from bench.common import free_port
from local.config import ROOT
from local.memory import tree_pss_mib


@dataclass
class FullSystem:
    pid: int
    aws_endpoint: str
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        factory: Any = boto3.client
        return factory(service, endpoint_url=self.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")

    @property
    def api_url(self) -> str:
        return self.outputs["OrderApiUrl"].rstrip("/")

    def pss_mib(self) -> float:
        """Proportional set size of every process the system started, in MiB: shared pages
        counted once in all, as the machine pays for them."""
        return tree_pss_mib(self.pid)


@contextmanager
def full_system(ready_seconds: float = 300) -> Iterator[FullSystem]:
    ports = {"CHOREO_AWS_PORT": free_port(), "CHOREO_API_PORT": free_port(),
             "CHOREO_DASHBOARD_PORT": free_port()}
    with tempfile.TemporaryDirectory(prefix="choreo-bench-") as cache:
        env = {**os.environ, **{key: str(port) for key, port in ports.items()},
               "CHOREO_CACHE_DIR": cache, "PYTHONUNBUFFERED": "1"}
        log_path = Path(cache) / "up.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "choreo", "up"], cwd=ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        aws_endpoint = f"http://127.0.0.1:{ports['CHOREO_AWS_PORT']}"
        try:
            deadline = time.monotonic() + ready_seconds
            while "choreo is up" not in log_path.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"choreo up did not come up:\n"
                                       f"{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.5)
            system = FullSystem(pid=process.pid, aws_endpoint=aws_endpoint, outputs={})
            stack = system.client("cloudformation").describe_stacks(StackName="choreo")
            system.outputs = {o["OutputKey"]: o["OutputValue"]
                              for o in stack["Stacks"][0].get("Outputs", [])}
            yield system
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
