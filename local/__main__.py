"""`python -m local up`: the whole system on one machine, offline.

The one place where the local system and the dashboard meet: it starts the embedded AWS with
the stack deployed (local/system.py), stocks the warehouse through the same code as
`manage.py seed`, and serves the dashboard against the stack; Ctrl-C stops everything.
Neither `local` nor `dashboard` imports the other anywhere else.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from local.config import LocalConfig
from local.deploy import DeployError, Deployment
from local.embedded_aws import EmbeddedAwsError, client
from local.system import LocalSystem, local_system, say
from workflow.outputs import INVENTORY_TABLE_NAME, NOTIFICATION_ENDPOINT


def stock_seeded(config: LocalConfig, deployment: Deployment) -> str:
    from dashboard.orders.stock import stock_seed

    seeded = stock_seed(dynamodb=client(config, "dynamodb"),
                        table_name=deployment.outputs[INVENTORY_TABLE_NAME])
    return f"seeded inventory: {seeded} products stocked"


def banner(system: LocalSystem, dashboard_url: str | None) -> str:
    config = system.config
    lines = ["", "  choreo is up, offline.", ""]
    if dashboard_url:
        lines.append(f"  Dashboard          {dashboard_url}/")
    lines += [f"  Order API          {config.api_url}  (try: curl {config.api_url}/products)",
              f"  Embedded AWS       {config.aws_endpoint}  (region {config.region}, "
              "credentials test/test)",
              f"  Notifications      {system.deployment.outputs.get(NOTIFICATION_ENDPOINT, '-')}",
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
        with local_system(config, dashboard=dashboard, seed=stock_seeded) as system:
            if dashboard:
                from dashboard.web.serve import serve_dashboard

                serve_dashboard(
                    host=config.host, port=config.dashboard_port, cache_dir=config.cache_dir,
                    region=config.region, stack_name=config.stack_name,
                    endpoint_url=config.aws_endpoint, outputs=system.deployment.outputs,
                    stop=stop, ready=lambda url: print(banner(system, url), flush=True))
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
