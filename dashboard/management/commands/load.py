"""Generate load: orders through the order API, followed to their end, with a summary.

    python manage.py load --orders 1000 [--rate 20] [--concurrency 8] [--declined-share 0.1]
                          [--grace 120] [--seed 7] [--sku SKU ...] [--json load.json]

Exits non-zero when an order was lost, ended otherwise than its card says, or could not be
placed.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from dashboard import aws
from dashboard.loadtest.load import LoadFailed, LoadSettings, load_run
from dashboard.loadtest.load_report import LoadProgress, progress_line, summary_lines
from dashboard.management.stack import stack_errors
from dashboard.orders.order_api import OrderApiError

PLAIN_PROGRESS_EVERY_SECONDS = 5.0


class ProgressDisplay:
    """One line redrawn in place on a terminal; a plain line every few seconds otherwise
    (a log file or CI keeps each)."""

    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = stream
        self.terminal = stream.isatty()
        self.shown_at = -math.inf

    def __call__(self, progress: LoadProgress) -> None:
        if self.terminal:
            width = shutil.get_terminal_size().columns - 1
            self.stream.write(f"\r\x1b[K{progress_line(progress, width=width)}",
                              ending="\n" if progress.done else "")
            self.stream.flush()
        elif progress.done or progress.elapsed_seconds - self.shown_at >= PLAIN_PROGRESS_EVERY_SECONDS:
            self.stream.write(progress_line(progress))
            self.shown_at = progress.elapsed_seconds


class Command(BaseCommand):
    help = ("Place N orders through the order API (1-2 random catalogue lines each, the "
            "declining card for a share of them), keep stock topped up, follow every order to "
            "its end and print a summary.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, required=True, metavar="N", help="orders to place")
        parser.add_argument("--rate", type=float, metavar="R",
                            help="start R orders a second (open loop); default: closed loop")
        parser.add_argument("--concurrency", type=int, default=8, metavar="C",
                            help="most requests to place orders in flight (default 8)")
        parser.add_argument("--declined-share", type=float, default=0.1, metavar="S",
                            help="share of orders paid with the declining card (default 0.1)")
        parser.add_argument("--grace", type=float, default=120.0, metavar="SECONDS",
                            help="after the last placement, how long orders have to end (default 120)")
        parser.add_argument("--seed", type=int, metavar="RNG_SEED", help="seed of the random plan")
        parser.add_argument("--sku", action="append", dest="skus", metavar="SKU",
                            help="order only this product (repeatable; default: the whole catalogue)")
        parser.add_argument("--json", type=Path, metavar="PATH", help="write the summary as JSON too")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            settings = LoadSettings(orders=options["orders"], rate=options["rate"],
                                    concurrency=options["concurrency"],
                                    declined_share=options["declined_share"],
                                    grace_seconds=options["grace"], seed=options["seed"],
                                    skus=tuple(options["skus"] or ()))
        except ValueError as error:
            raise CommandError(str(error)) from None
        context = aws.current()
        with stack_errors(context):
            outputs = context.outputs()
            api_url, table_name = outputs.order_api_url, outputs.inventory_table_name
            dynamodb = context.client("dynamodb")
        mode = f"{settings.rate:g}/s open loop" if settings.rate else "closed loop"
        self.stdout.write(f"placing {settings.orders} orders at {api_url} ({mode}, concurrency "
                          f"{settings.concurrency}, {settings.declined_share:.0%} declined)")
        try:
            with stack_errors(context):
                summary = load_run(api_url=api_url, dynamodb=dynamodb, table_name=table_name,
                                   settings=settings, progress=ProgressDisplay(self.stdout))
        except OrderApiError as error:
            raise CommandError(f"the order API at {api_url} answered {error}") from None
        except (LoadFailed, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write("\n".join(summary_lines(summary)))
        if options["json"]:
            options["json"].write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
            self.stdout.write(f"summary written to {options['json']}")
        if not summary.ok:
            raise CommandError(f"{summary.lost} lost, {summary.unexpected} unexpected, "
                               f"{summary.requested - summary.placed} not placed")
