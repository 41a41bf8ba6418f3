"""The embedded AWS: moto's server in a child process, so any AWS client can use it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import boto3
import requests
from botocore.config import Config

from local.config import ACCOUNT_ID, ENFORCEMENT_ENV, LocalConfig

ACCOUNT_HEADER = "x-moto-account-id"

if TYPE_CHECKING:
    from local.deploy import Deployment


class EmbeddedAwsError(RuntimeError):
    pass


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class EmbeddedAws:
    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        if port_in_use(self.config.host, self.config.aws_port):
            raise EmbeddedAwsError(
                f"port {self.config.aws_port} is in use: stop what listens there, or set "
                "CHOREO_AWS_PORT")
        # Two malloc arenas, not glibc's eight per core: the server's threads otherwise each
        # keep memory of their own that is rarely given back (~27 MiB at start, measured).
        env = {**os.environ, "MOTO_EVENTS_INVOKE_HTTP": "false", "MALLOC_ARENA_MAX": "2",
               ENFORCEMENT_ENV: "on" if self.config.enforcement else "off"}
        # Its output is the Lambda service's (what failed, what was retried): ours too.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.moto_server", "-H", self.config.host,
             "-p", str(self.config.aws_port)], env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedAwsError(f"moto server exited with {self.process.returncode}")
            try:
                requests.get(f"{self.config.aws_endpoint}/moto-api/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise EmbeddedAwsError(f"moto server did not answer within {timeout:.0f}s")

    def lambda_start(self, deployment: Deployment, timeout: float = 120.0) -> dict[str, Any]:
        """Start the Lambda service of the deployed stack (see `local.lambda_service`)."""
        response = requests.post(f"{self.config.aws_endpoint}/_local/lambda", timeout=timeout,
                                 json={"config": self.config.to_dict(),
                                       "deployment": deployment.to_dict()})
        if not response.ok:
            raise EmbeddedAwsError(f"the Lambda service did not start: {response.text[:500]}")
        started: dict[str, Any] = response.json()
        return started

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


# A client is shared by the runtime's threads (boto3 allows it), each of which may hold a
# connection in a long poll: the pool must outnumber them.
CLIENT_CONFIG = Config(max_pool_connections=64)


def client(config: LocalConfig, service: str, *, account: str = ACCOUNT_ID,
           region: str | None = None) -> Any:
    """A client of the embedded AWS, in `account` (moto serves every account, chosen by the
    `x-moto-account-id` header, or by an access key its IAM issued) and `region` (by
    default the configured one)."""
    factory: Any = boto3.client  # any service by name; callers know which they asked for
    made = factory(service, endpoint_url=config.aws_endpoint,
                   region_name=region or config.region,
                   aws_access_key_id="test", aws_secret_access_key="test", config=CLIENT_CONFIG)
    if account != ACCOUNT_ID:
        made.meta.events.register("before-sign.*.*", lambda request, **_: request.headers
                                  .__setitem__(ACCOUNT_HEADER, account))
    return made
