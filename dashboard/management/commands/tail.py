"""Print the observability queue as readable CloudEvents, like the original polling worker."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard import aws
from dashboard.models import Origin
from dashboard.readmodel.observations import Observation, observation_from_queue_body

SUMMARY_WIDTH = 110


def money(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("amount"), int):
        major, minor = divmod(value["amount"], 100)
        return f"{major}.{minor:02d} {value.get('currency', '')}".strip()
    return ""


def summarize(data: Any) -> str:
    """A one-line digest of an event's data: the order, then each step's own result."""
    if not isinstance(data, dict):
        return ""
    parts = []
    order = data.get("order")
    if isinstance(order, dict):
        lines = order.get("lines") or []
        parts.append(f"{len(lines)} line{'s' if len(lines) != 1 else ''} {money(order.get('total'))}".strip())
    for key, value in data.items():
        if key == "order":
            continue
        text = json.dumps(value, separators=(",", ":"), default=str)
        parts.append(f"{key}={text[:60]}{'…' if len(text) > 60 else ''}")
    summary = "; ".join(parts)
    return summary if len(summary) <= SUMMARY_WIDTH else summary[:SUMMARY_WIDTH - 1] + "…"


def readable(observation: Observation) -> str:
    when = observation.time.strftime("%H:%M:%S.%f")[:-3] if observation.time else "--:--:--.---"
    if not observation.valid:
        return f"{when}  {observation.bus:<8} INVALID {observation.type or '?'}  " \
               f"{observation.event_id}  {observation.invalid_reason}"
    correlation = observation.correlation_id[:8]
    return (f"{when}  {observation.bus:<8} {observation.type:<28} {observation.order_id:<18} "
            f"corr {correlation}  {summarize(observation.data)}")


class Command(BaseCommand):
    help = "Tail the observability queue, printing each CloudEvent on one line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-delete", action="store_true",
                            help="leave messages on the queue (they return after the visibility timeout)")
        parser.add_argument("--wait", type=int, default=20, help="long-poll seconds (0-20)")
        parser.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
        parser.add_argument("--json", action="store_true", help="print each CloudEvent as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        context = aws.current()
        sqs = context.client("sqs")
        queue_url = context.outputs().observability_queue_url
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        self.stderr.write(f"tailing {queue_url}{' (not deleting)' if options['no_delete'] else ''}")
        printed: set[tuple[str, str]] = set()
        shown = 0
        while not stopping and (not options["count"] or shown < options["count"]):
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=options["wait"])
            messages = answer.get("Messages", [])
            now = datetime.now(UTC)
            for message in messages:
                observation = observation_from_queue_body(message["Body"], observed_at=now,
                                                          origin=Origin.LIVE)
                key = (observation.event_id, observation.bus)
                if key in printed:
                    continue
                printed.add(key)
                shown += 1
                self.stdout.write(json.dumps(observation.cloudevent) if options["json"]
                                  else readable(observation))
            if messages and not options["no_delete"]:
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(messages)])
