"""How the local system and the dashboard are put together: the warehouse stocked through the
same code as `manage.py seed`, and the dashboard served against the stack the local system
deployed. Kept apart from the command line so that the benchmarks start the same system."""

from __future__ import annotations

import signal
import threading

from dashboard.orders.stock import stock_seed
from local.config import LocalConfig
from local.deploy import DeployError, Deployment
from local.embedded_aws import EmbeddedAwsError, client
from local.system import LocalSystem, local_system, say
from workflow.outputs import INVENTORY_TABLE_NAME, NOTIFICATION_ENDPOINT


def stock_seeded(config: LocalConfig, deployment: Deployment) -> str:
    """The seed step of `local_system`: a freshly deployed stack has an empty warehouse."""
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
    """Everything until SIGINT or SIGTERM; the exit status of the command."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with local_system(config, dashboard=dashboard, seed=stock_seeded) as system:
            if dashboard:
                # here, not at the top: `--no-dashboard` need not load the web server
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
