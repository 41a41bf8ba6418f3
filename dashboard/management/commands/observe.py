"""Run the observability poller on its own: the production profile's one poller process,
broadcasting through the Redis channel layer to every ASGI process."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard import aws
from dashboard.live.broadcast import EventBroadcaster
from dashboard.readmodel.observability import ObservabilityPoller


class Command(BaseCommand):
    help = "Poll the observability queue: record, broadcast, delete."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wait", type=int, default=20, help="long-poll seconds (0-20)")
        parser.add_argument("--receivers", type=int, default=2, help="receives in flight")

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self.observe(wait=options["wait"], receivers=options["receivers"]))

    async def observe(self, *, wait: int, receivers: int) -> None:
        context = aws.current()
        queue_url = context.outputs().observability_queue_url
        poller = ObservabilityPoller(sqs=context.client("sqs"), queue_url=queue_url,
                                     broadcaster=EventBroadcaster(), wait_seconds=wait,
                                     receivers=receivers)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write(f"polling {queue_url} (Ctrl-C stops)")
        await poller.run(stop)
        stats = poller.stats
        self.stdout.write(f"stopped: {stats.messages} messages, {stats.new_sightings} new sightings, "
                          f"{stats.invalid} invalid, {stats.deleted} deleted, {stats.errors} errors")
