"""`python -m choreo up`: the whole system on one machine, offline.

It starts the embedded AWS with the stack deployed (local/system.py), stocks the warehouse
through the same code as `manage.py seed`, and serves the dashboard against the stack;
Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import logging
import sys

from choreo.wiring import up
from local.config import LocalConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m choreo", description=__doc__)
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
