"""Rebuild the read model from the observability log group, with progress."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard import aws
from dashboard.readmodel.history import RebuildProgress, history_rebuild, replay_since, replay_start_ms

PROGRESS_EVERY_SECONDS = 1.0


class Command(BaseCommand):
    help = ("Replay CloudWatch Logs into the read model from shortly before its newest event "
            "(idempotent: safe to run again).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clear", action="store_true", help="forget the read model first")
        parser.add_argument("--correlation-id", help="only the events of one order's correlation")
        parser.add_argument("--since-minutes", type=int, help="only events of the last N minutes")
        parser.add_argument("--full", action="store_true",
                            help="replay everything kept, not only what came since the newest "
                                 "event in the read model")

    def handle(self, *args: Any, **options: Any) -> None:
        context = aws.current()
        log_group = context.outputs().observability_log_group_name
        # A term pattern works on CloudWatch Logs and the embedded AWS alike.
        pattern = f'"{options["correlation_id"]}"' if options.get("correlation_id") else None
        # One correlation's events may be anywhere in what is kept: its replay is a full one.
        full = options["full"] or options["clear"] or bool(pattern)
        start = int((time.time() - options["since_minutes"] * 60) * 1000) \
            if options.get("since_minutes") else replay_start_ms(full=full)
        last = 0.0
        self.stdout.write(f"rebuilding from {log_group} {replay_since(start)}"
                          f"{' (cleared first)' if options['clear'] else ''}")

        def report(progress: RebuildProgress) -> None:
            nonlocal last
            if progress.finished or time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
                last = time.monotonic()
                self.stdout.write(("done: " if progress.finished else "") + progress.line())

        history_rebuild(logs=context.client("logs"), log_group_name=log_group,
                        filter_pattern=pattern, start_time_ms=start, progress=report,
                        clear=options["clear"])
