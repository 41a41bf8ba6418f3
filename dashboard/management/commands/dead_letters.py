"""List what sits in each dead-letter queue, and redrive it.

    python manage.py dead_letters                 # every DLQ: count, then each letter
    python manage.py dead_letters --queue Warehouse
    python manage.py dead_letters --redrive [--queue NAME] [--message-id ID ...]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import aws
from dashboard.failures.dead_letter_queues import (
    RedriveResult,
    dead_letter_queues,
    dead_letters_count,
    dead_letters_peek,
    dead_letters_redrive,
)
from workflow.model import Bus
from workflow.outputs import bus_name

PROGRESS_SECONDS = 2.0


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


class Command(BaseCommand):
    help = ("List the dead letters of every dead-letter queue (payload, reason, attempts,"
            " age), or redrive them.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", help="only this dead-letter queue (e.g. Warehouse, RuleTarget)")
        parser.add_argument("--redrive", action="store_true",
                            help="hand the dead letters back to where they failed")
        parser.add_argument("--message-id", action="append", dest="message_ids",
                            help="with --redrive: only these messages (repeatable)")
        parser.add_argument("--payload", action="store_true", help="print each message body too")

    def _progress(self) -> Callable[[RedriveResult], None]:
        """A line at most every few seconds while a redrive runs, inline (as the page's job
        does in the background, through the same `dead_letters_redrive`)."""
        last = time.monotonic()

        def report(result: RedriveResult) -> None:
            nonlocal last
            if time.monotonic() - last >= PROGRESS_SECONDS:
                last = time.monotonic()
                self.stdout.write(f"  {result.queue}: {result.redriven} moved so far")

        return report

    def handle(self, *args: Any, **options: Any) -> None:
        context = aws.current()
        outputs = context.outputs().values
        sqs = context.client("sqs")
        queues = dead_letter_queues(outputs)
        if options["queue"]:
            queues = [q for q in queues if q.name.lower() == options["queue"].lower()]
            if not queues:
                names = ", ".join(q.name for q in dead_letter_queues(outputs))
                raise CommandError(f"no dead-letter queue {options['queue']!r}; there are: {names}")
        if options["redrive"]:
            events = context.client("events")
            wanted = set(options["message_ids"]) if options["message_ids"] else None
            for queue in queues:
                result = dead_letters_redrive(sqs=sqs, events=events, queue=queue,
                                              global_bus_name=outputs[bus_name(Bus.GLOBAL)],
                                              message_ids=wanted, progress=self._progress())
                kept = f", {result.kept} kept (nothing to hand back)" if result.kept else ""
                failed = f", {result.failed} refused where they go back" if result.failed else ""
                self.stdout.write(f"{queue.name}: redrove {result.redriven}{kept}{failed}")
            return
        for queue in queues:
            count = dead_letters_count(sqs=sqs, queue=queue)
            self.stdout.write(self.style.MIGRATE_HEADING(f"{queue.name}  ({count} dead letters)"))
            for letter in dead_letters_peek(sqs=sqs, queue=queue) if count else []:
                self.stdout.write(
                    f"  {letter.message_id}  {letter.kind:<13} tried {letter.attempts or '?'}x  "
                    f"{_age(letter.age_seconds()):>5} ago  {letter.event_type or '-':<28} "
                    f"{letter.order_id or '-'}\n      reason: {letter.reason}")
                if options["payload"]:
                    self.stdout.write(f"      payload: {letter.body[:2000]}")
