"""Forget what is past the retention period, batch by batch, with progress."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.readmodel import services

PROGRESS_EVERY_SECONDS = 1.0


class Command(BaseCommand):
    help = ("Prune observed events older than the retention period (DASHBOARD_RETENTION_DAYS), "
            "and the orders left without any.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int,
                            help="keep the last N days instead of DASHBOARD_RETENTION_DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options.get("days")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        before = datetime.now(UTC) - timedelta(days=days) if days else services.retention_horizon()
        if before is None:
            self.stdout.write("nothing to prune: DASHBOARD_RETENTION_DAYS is 0 (keep everything)")
            return
        self.stdout.write(f"pruning what was observed before {before:%Y-%m-%d %H:%M:%S} UTC")
        events = orders = 0
        last = time.monotonic()
        while True:
            # One batch at a time: each is a short transaction, so the poller and the pages
            # go on meanwhile.
            result = services.read_model_prune(before=before, max_batches=1)
            events, orders = events + result.events, orders + result.orders
            if result.done:
                break
            if time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
                last = time.monotonic()
                self.stdout.write(f"{events} events and {orders} orders pruned")
        self.stdout.write(f"done: {events} events and {orders} orders pruned")
