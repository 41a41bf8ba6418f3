"""P5: what idempotency, validation and logging add per record, against the embedded AWS:
the payment consumer's full path for one record, against the same business action and
publish called directly. Runs on tables and a bus of its own, so nothing downstream reacts."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

from bench.common import Result, median, result
from local.embedded_aws import client
from local.system import LocalSystem
from workflow.domain.order import order_place
from workflow.domain.payment import CardVault
from workflow.envelope import Event, new_event
from workflow.model import CHOREOGRAPHY

# The benchmarks' card-token key (a deployment's is generated into Secrets Manager).
VAULT = CardVault(b"bench-card-token-key-" + b"0" * 16)

SAMPLES = int(os.environ.get("BENCH_RECORDS", "200"))


def _reserved() -> Event:
    placed = order_place(vault=VAULT, request={"customerId": "bench", "card": {"number": "4242424242424242"},
                                  "items": [{"sku": "MUG-STONEWARE", "quantity": 1}]})
    return new_event(type="warehouse.stock-reserved", cause=placed, data={
        "order": placed.order,
        "reservation": {"reservationId": "r", "reservedAt": "2026-01-01T00:00:00+00:00"}})


def run(system: LocalSystem) -> list[Result]:
    dynamodb, events = client(system.config, "dynamodb"), client(system.config, "events")
    suffix = uuid.uuid4().hex[:6]
    for name, key in ((f"bench-idem-{suffix}", "id"), (f"bench-pay-{suffix}", "pk")):
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}])
    events.create_event_bus(Name=f"bench-{suffix}")
    os.environ.update(system.config.client_environment())
    os.environ.update({"AWS_LAMBDA_FUNCTION_NAME": "bench", "POWERTOOLS_LOG_LEVEL": "INFO",
                       "POWERTOOLS_SERVICE_NAME": "payment"})
    # Powertools' logger writes to the stdout it finds at import: give it one that discards,
    # so logging is paid for but does not flood the table
    sink: Any = open(os.devnull, "w")  # noqa: SIM115 - the logger writes here for the whole run
    stdout, sys.stdout = sys.stdout, sink
    from functions.common.aws import DeadLetters, EventBridgePublisher
    from functions.common.consumer import EventConsumer
    from functions.payment.ledger import DynamoPayments
    from workflow.domain.payment import payment_take

    payments = DynamoPayments(table_name=f"bench-pay-{suffix}", client=dynamodb)
    publisher = EventBridgePublisher(bus_name=f"bench-{suffix}", client=events)
    consumer = EventConsumer(
        actions={"warehouse.stock-reserved": lambda e: payment_take(e, payments=payments, vault=VAULT)},
        publisher=publisher, idempotency_table=f"bench-idem-{suffix}",
        idempotency_window_seconds=CHOREOGRAPHY.idempotency_window_seconds,
        dead_letters=DeadLetters(queue_url="unused", function_name="bench"))

    def envelope(event: Event) -> str:
        return json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": event.type,
                           "source": event.source, "time": "2026-01-01T00:00:00Z",
                           "region": "us-east-1", "resources": [], "detail": event.to_dict()})

    full: list[float] = []
    bare: list[float] = []
    try:
        for _ in range(SAMPLES):
            body = envelope(_reserved())
            started = time.perf_counter()
            consumer.consume(body, source="bench")
            full.append((time.perf_counter() - started) * 1000)

            event = _reserved()
            started = time.perf_counter()
            publisher.publish([payment_take(event, payments=payments, vault=VAULT)])
            bare.append((time.perf_counter() - started) * 1000)
    finally:
        sys.stdout = stdout
    return [result("P5", "idempotency + validation + logging per record, added (p50)",
                   median(full) - median(bare), median(bare), "ms",
                   f"{SAMPLES} records; baseline = the action and its publish alone")]
