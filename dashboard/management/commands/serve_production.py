"""Serve the production profile: N ASGI workers on one address and one poller, supervised.

    CHOREO_PROFILE=production DJANGO_SECRET_KEY=... DATABASE_URL=postgres://... \\
        REDIS_URL=redis://... python manage.py serve_production --workers 4 --port 8000

It checks that the database, Redis and the stack answer, migrates the read model and replays
the log group into it (as `manage.py serve` does), then runs the web server and the poller
until Ctrl-C or SIGTERM (see dashboard/web/production.py).
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from dashboard import aws
from dashboard.management.stack import stack_errors
from dashboard.web.production import (
    Supervisor,
    address_in_use,
    answers,
    child_environment,
    database_problem,
    poller,
    redacted,
    redis_problem,
    web_server,
)
from dashboard.web.serve import prepare, say


def default_workers() -> int:
    """WEB_CONCURRENCY, as process managers and platforms set it, else one per CPU."""
    return int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)


class Command(BaseCommand):
    help = ("Serve the production profile: N ASGI workers sharing one address and one "
            "observability poller, restarted if it dies; Ctrl-C or SIGTERM stops them all.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help="ASGI worker processes (default: WEB_CONCURRENCY, else one per CPU)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-rebuild", action="store_true",
                            help="do not replay the log group at start")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port, workers = options["host"], options["port"], options["workers"]
        if not settings.PRODUCTION:
            raise CommandError(
                "serve_production serves the production profile: set CHOREO_PROFILE=production "
                "(with DJANGO_SECRET_KEY, DATABASE_URL and REDIS_URL); `manage.py serve` serves "
                "the local profile")
        if workers < 1:
            raise CommandError("--workers takes at least 1")
        if address_in_use(host, port):
            raise CommandError(f"something already listens on {host}:{port}: stop it, or give "
                               "another --port")
        try:
            self.prepare(rebuild=not options["no_rebuild"])
        except KeyboardInterrupt:  # a replay of a long history may take a while
            raise CommandError("interrupted before serving; nothing was started") from None
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        url = f"http://{host}:{port}/"
        supervisor = Supervisor([web_server(host=host, port=port, workers=workers), poller()],
                                say=say, env=child_environment())
        status = supervisor.run(stop, ready=lambda: answers(host, port), on_ready=lambda: say(
            f"serving on {url} with {workers} worker{'s' * (workers != 1)} and one poller "
            "(Ctrl-C stops)"))
        if status:
            raise CommandError("the web server stopped, and everything with it")
        say("stopped")

    def prepare(self, *, rebuild: bool) -> None:
        """Say what the dashboard runs against; refuse plainly what cannot be reached; then
        migrate the read model and replay the log group once for all processes."""
        try:
            context = aws.current()
        except aws.UnknownAws as error:
            raise CommandError(str(error)) from None
        say(f"production profile: database {settings.DATABASES['default']['NAME']}, Redis "
            f"{redacted(settings.REDIS_URL)} (prefix {settings.REDIS_PREFIX}), stack "
            f"{context.stack_name} at {context.endpoint_url or f'AWS {context.region}'}")
        for problem in (database_problem(), redis_problem()):
            if problem:
                raise CommandError(problem)
        with stack_errors(context):
            prepare(clear=False, rebuild=rebuild)
        # The children have connections of their own; this process only watches them.
        connections.close_all()
