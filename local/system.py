"""The local system: the embedded AWS (moto's server, with the Lambda service moto lacks and
the order API's HTTP front) with the CDK template deployed into it, as one context manager.
`python -m choreo up` (the composition root, choreo/) adds stock and the dashboard."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from local.config import LocalConfig
from local.deploy import Deployment, deploy
from local.embedded_aws import EmbeddedAws, EmbeddedAwsError, port_in_use


def say(message: str) -> None:
    print(f"[choreo] {message}", flush=True)


@dataclass
class LocalSystem:
    config: LocalConfig
    aws: EmbeddedAws
    deployment: Deployment

    def stop(self) -> None:
        self.aws.stop()


@contextmanager
def local_system(config: LocalConfig, *, dashboard: bool = False,
                 seed: Callable[[LocalConfig, Deployment], str] | None = None,
                 ) -> Iterator[LocalSystem]:
    """Embedded AWS, deployed stack and running Lambda service; torn down on exit.
    `dashboard` checks its port is free too; `seed` puts data into the stack before the
    functions start, and says what it did."""
    ports = [(config.api_port, "CHOREO_API_PORT")]
    if dashboard:
        ports.append((config.dashboard_port, "CHOREO_DASHBOARD_PORT"))
    for port, what in ports:
        if port_in_use(config.host, port):
            raise EmbeddedAwsError(f"port {port} is in use: stop what listens there, or set {what}")
    aws = EmbeddedAws(config)
    started = time.monotonic()
    say(f"starting the embedded AWS on {config.aws_endpoint}")
    aws.start()
    try:
        deployment = deploy(config, progress=say)
        if seed is not None:
            say(seed(config, deployment))
        running = aws.lambda_start(deployment)
        say(f"Lambda service up: {running['functions']} functions, "
            f"{running['mappings']} queue event sources, "
            f"{running['asyncTargets']} async targets, "
            f"{running['apiDestinations']} API destinations "
            f"({time.monotonic() - started:.1f}s since start)")
        if config.chaos.active:
            say(f"CHAOS: {config.chaos}")
        yield LocalSystem(config=config, aws=aws, deployment=deployment)
    finally:
        aws.stop()
