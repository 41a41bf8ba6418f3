"""Serve the dashboard (ASGI server, and the poller unless another process runs it)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.web.serve import prepare, serve


class Command(BaseCommand):
    help = "Serve the dashboard against the stack the environment names."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-poll", action="store_true",
                            help="another process runs `manage.py observe`")
        parser.add_argument("--no-rebuild", action="store_true",
                            help="do not replay the log group at start")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        prepare(clear=False, rebuild=not options["no_rebuild"])
        serve(host=options["host"], port=options["port"], stop=stop,
              ready=lambda url: self.stdout.write(f"dashboard on {url}/ (Ctrl-C stops)"),
              poll=not options["no_poll"])
