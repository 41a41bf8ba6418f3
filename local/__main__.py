"""`python -m local up`: the whole system on one machine, offline.

The embedded AWS (moto's server, with the Lambda service moto lacks and the order API's HTTP
front), the CDK template deployed into it, and the dashboard; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from local.config import LocalConfig
from local.deploy import DeployError, Deployment, deploy
from local.embedded_aws import EmbeddedAws, EmbeddedAwsError, client, port_in_use

log = logging.getLogger("choreo.local")


def say(message: str) -> None:
    print(f"[choreo] {message}", flush=True)


@dataclass
class LocalSystem:
    config: LocalConfig
    aws: EmbeddedAws
    deployment: Deployment

    def stop(self) -> None:
        self.aws.stop()


def seed_inventory(config: LocalConfig, deployment: Deployment) -> int:
    from functions.warehouse.inventory import DynamoInventory

    inventory = DynamoInventory(table_name=deployment.outputs["InventoryTableName"],
                                client=client(config, "dynamodb"))
    return inventory.seed()


@contextmanager
def local_system(config: LocalConfig, *, dashboard: bool = False) -> Iterator[LocalSystem]:
    """Embedded AWS, deployed stack and running runtime; torn down on exit."""
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
        say(f"seeded inventory: {seed_inventory(config, deployment)} products stocked")
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


def banner(system: LocalSystem, dashboard_url: str | None) -> str:
    config = system.config
    lines = ["", "  choreo is up, offline.", ""]
    if dashboard_url:
        lines.append(f"  Dashboard          {dashboard_url}/")
    lines += [f"  Order API          {config.api_url}  (try: curl {config.api_url}/products)",
              f"  Embedded AWS       {config.aws_endpoint}  (region {config.region}, "
              "credentials test/test)",
              f"  Notifications      {config.notification_endpoint}",
              f"  Function logs      {config.cache_dir / 'logs'}/", "",
              f"  Stack {config.stack_name} outputs:"]
    width = max(len(key) for key in system.deployment.outputs)
    lines += [f"    {key:<{width}}  {value}"
              for key, value in sorted(system.deployment.outputs.items())]
    lines += ["", "  Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def up(config: LocalConfig, *, dashboard: bool) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with local_system(config, dashboard=dashboard) as system:
            if dashboard:
                from dashboard.serve import serve_dashboard

                serve_dashboard(config, system, stop, ready=lambda url: print(banner(system, url),
                                                                               flush=True))
            else:
                print(banner(system, None), flush=True)
                stop.wait()
            say("stopping")
    except (EmbeddedAwsError, DeployError) as error:
        say(f"error: {error}")
        return 1
    say("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="run everything locally (default: with dashboard)")
    up_parser.add_argument("--no-dashboard", action="store_true",
                           help="only the embedded AWS, the runtime and the order API")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[choreo] %(message)s")
    config = LocalConfig.from_environment()
    if args.command == "up":
        return up(config, dashboard=not args.no_dashboard)
    return 2


if __name__ == "__main__":
    sys.exit(main())
