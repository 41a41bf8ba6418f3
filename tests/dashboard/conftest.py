"""Fixtures: the embedded AWS (moto's server on a free port), a stand-in order API, the
dashboard pointed at them, and a fresh channel layer per test; for the browser suites, the
dashboard served with a few orders, dead letters of every kind, and headless Chromium."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from channels.layers import channel_layers
from django.core.cache import cache

from dashboard import aws
from dashboard.readmodel import services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.browser import chromium, dashboard_served
from tests.dashboard import factories
from workflow.model import CHOREOGRAPHY
from workflow.outputs import NOTIFICATIONS_TABLE_NAME

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """Each test gets its own in-memory layer (and so its own event loop's queues)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Nothing a test cached (a look at a dead-letter queue, failed sign-ins) reaches the next:
    queues of the same name have the same URL in every test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def moto_client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


@dataclass
class StubOrderApi:
    """What the order API answers, as far as the dashboard cares."""

    url: str
    orders: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    """each POST's Idempotency-Key header, or None"""
    products: list[dict[str, Any]] = field(default_factory=lambda: [
        {"sku": "MUG-STONEWARE", "name": "Stoneware mug",
         "unitPrice": {"amount": 1200, "currency": "GBP"}, "currency": "GBP"},
        {"sku": "TEA-EARL-GREY", "name": "Earl Grey <tea>, 250 g",
         "unitPrice": {"amount": 650, "currency": "GBP"}, "currency": "GBP"}])
    chaos: dict[str, float] | None = None
    """The local runtime's knobs; None stands for an order API without them (not local mode)."""
    stats: dict[str, Any] = field(default_factory=dict)
    chaos_puts: list[dict[str, Any]] = field(default_factory=list)

    def with_chaos(self) -> StubOrderApi:
        self.chaos = {"duplicate_rate": 0.0, "failure_rate": 0.0, "jitter_seconds": 0.0,
                      "poison_rate": 0.0}
        self.stats = {"sqs": {"batches": 40, "records": 120, "failedRecords": 9,
                              "injectedFailures": 7, "injectedDuplicates": 3,
                              "poisonedRecords": 2, "delayedRecords": 11},
                      "asyncInvocations": {"invocations": 12, "retries": 4, "sentToOnFailure": 1}}
        return self

    def chaos_refusal(self, knobs: dict[str, Any]) -> str | None:
        """What the local runtime says of knobs it refuses (see local.config.Chaos)."""
        unknown = set(knobs) - set(self.chaos or {})
        if unknown:
            return f"unknown chaos settings: {sorted(unknown)}"
        for name, value in knobs.items():
            limit = 30.0 if name == "jitter_seconds" else 1.0
            if not 0.0 <= float(value) <= limit:
                return f"{name} must be between 0 and {limit:g}"
        return None


def _problem(errors: list[dict[str, str]]) -> tuple[int, dict[str, Any]]:
    return 400, {"title": "Invalid order", "status": 400, "detail": "the order has problems",
                 "errors": errors}


@pytest.fixture
def order_api() -> Iterator[StubOrderApi]:
    port = free_port()
    stub = StubOrderApi(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/products":
                self._send(200, {"products": stub.products})
            elif url.path == "/_local/chaos" and stub.chaos is not None:
                self._send(200, stub.chaos)
            elif url.path == "/_local/stats" and stub.chaos is not None:
                self._send(200, {**stub.stats, "chaos": stub.chaos})
            else:
                self._send(404, {"message": "Not Found"})

        def do_PUT(self) -> None:
            if urlsplit(self.path).path != "/_local/chaos" or stub.chaos is None:
                self._send(404, {"message": "Not Found"})
                return
            knobs = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.chaos_puts.append(knobs)
            refusal = stub.chaos_refusal(knobs)
            if refusal:
                self._send(400, {"title": "Invalid chaos settings", "status": 400, "detail": refusal},
                           "application/problem+json")
                return
            stub.chaos = {**stub.chaos, **{name: float(value) for name, value in knobs.items()}}
            self._send(200, stub.chaos)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            errors = []
            if not body.get("customerId"):
                errors.append({"field": "customerId", "message": "is required, as a non-empty string"})
            if not body.get("items"):
                errors.append({"field": "items", "message": "must be a non-empty list"})
            for index, item in enumerate(body.get("items", [])):
                if item["quantity"] > 100:
                    errors.append({"field": f"items[{index}].quantity",
                                   "message": "must be between 1 and 100"})
            if body.get("card", {}).get("number", "").replace(" ", "") == "1234":
                errors.append({"field": "card.number", "message": "is not a valid card number"})
            if errors:
                status, problem = _problem(errors)
                self._send(status, problem, "application/problem+json")
                return
            stub.orders.append(body)
            stub.keys.append(self.headers.get("Idempotency-Key"))
            order_id = f"ord-{uuid.uuid4().hex[:12]}"
            self._send(202, {"orderId": order_id, "correlationId": str(uuid.uuid4()),
                             "status": "placed", "links": {"self": f"/orders/{order_id}"}})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()


@pytest.fixture
def stack(order_api: StubOrderApi) -> Iterator[aws.AwsContext]:
    """The dashboard pointed at a stack whose outputs name the stand-in order API (and an AWS
    endpoint nobody listens on: tests that need AWS use `moto_stack`)."""
    context = aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                            outputs={"OrderApiUrl": order_api.url,
                                     "GlobalEventBusName": "choreo-global",
                                     "LoyaltyEventBusName": "choreo-loyalty",
                                     "WarehouseFunctionName": "choreo-WarehouseFunction-1A2B"},
                            credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    yield context
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9", outputs={})


@dataclass
class MotoStack:
    context: aws.AwsContext
    queue_url: str
    log_group_name: str
    sqs: Any
    logs: Any
    dynamodb: Any
    notifications_table: str


@pytest.fixture
def moto_stack(moto_endpoint: str, order_api: StubOrderApi) -> Iterator[MotoStack]:
    """An observability queue and log group in the embedded AWS, named by stack outputs."""
    suffix = uuid.uuid4().hex[:8]
    sqs = moto_client(moto_endpoint, "sqs")
    logs = moto_client(moto_endpoint, "logs")
    queue_url = sqs.create_queue(QueueName=f"observability-{suffix}")["QueueUrl"]
    log_group = f"/choreo/events-{suffix}"
    logs.create_log_group(logGroupName=log_group)
    dynamodb = moto_client(moto_endpoint, "dynamodb")
    table = CHOREOGRAPHY.notification_receiver.table
    notifications_table = f"notifications-{suffix}"
    dynamodb.create_table(
        TableName=notifications_table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": table.partition_key, "KeyType": "HASH"},
                   {"AttributeName": str(table.sort_key), "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": table.partition_key, "AttributeType": "S"},
                              {"AttributeName": str(table.sort_key), "AttributeType": "S"}])
    context = aws.configure(region=REGION, stack_name="choreo", endpoint_url=moto_endpoint,
                            outputs={"ObservabilityQueueUrl": queue_url,
                                     "ObservabilityLogGroupName": log_group,
                                     "OrderApiUrl": order_api.url,
                                     NOTIFICATIONS_TABLE_NAME: notifications_table},
                            credentials={"aws_access_key_id": "test",
                                         "aws_secret_access_key": "test"})
    yield MotoStack(context=context, queue_url=queue_url, log_group_name=log_group, sqs=sqs,
                    logs=logs, dynamodb=dynamodb, notifications_table=notifications_table)
    sqs.delete_queue(QueueUrl=queue_url)
    logs.delete_log_group(logGroupName=log_group)
    dynamodb.delete_table(TableName=notifications_table)
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9", outputs={})


def _send(sqs: Any, queue_url: str, body: object, group: str | None = None, **attributes: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody=body if isinstance(body, str) else json.dumps(body),
                     MessageAttributes={name: {"DataType": "String", "StringValue": value}
                                        for name, value in attributes.items()},
                     **({"MessageGroupId": group} if group else {}))


@pytest.fixture
def failures(moto_stack: MotoStack, order_api: StubOrderApi) -> Iterator[dict[str, str]]:
    """Dead letters of every kind in the embedded AWS's dead-letter queues, invalid events in
    the read model, and chaos knobs on the stand-in order API."""
    sqs = moto_stack.sqs
    suffix = moto_stack.queue_url.rsplit("-", 1)[-1]
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    urls = {}
    for name in ("Warehouse", "WarehouseDlq", "Payment", "PaymentDlq", "Order", "OrderDlq",
                 "RuleTargetDlq", "ObservabilityDlq", "LoyaltyFailure"):
        is_fifo = name.startswith("Warehouse")
        urls[name] = sqs.create_queue(QueueName=f"{name}-{suffix}{'.fifo' if is_fifo else ''}",
                                      Attributes=fifo if is_fifo else {})["QueueUrl"]
    outputs = {**moto_stack.context.outputs().values, "GlobalEventBusName": "choreo-global",
               "LoyaltyFailureQueueUrl": urls["LoyaltyFailure"]}
    for name in ("Warehouse", "Payment", "Order"):
        outputs[f"{name}QueueUrl"] = urls[name]
    for name in ("Warehouse", "Payment", "Order", "RuleTarget", "Observability"):
        outputs[f"{name}DeadLetterQueueUrl"] = urls[f"{name}Dlq"]
    aws.configure(region=REGION, stack_name="choreo", endpoint_url=moto_stack.context.endpoint_url,
                  outputs=outputs,
                  credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})

    order = factories.happy_path(order_id="ord-dead")
    _send(sqs, urls["WarehouseDlq"], factories.envelope(order[0]), group="warehouse-events")
    _send(sqs, urls["PaymentDlq"], factories.schema_failing(order[1]),
          reason="warehouse.stock-reserved: 'reservation' is a required property")
    _send(sqs, urls["PaymentDlq"], "<script>alert(1)</script>",
          reason="not JSON: Expecting value: line 1 column 1")
    _send(sqs, urls["RuleTargetDlq"], factories.envelope(order[4]), ERROR_CODE="HTTP_500",
          ERROR_MESSAGE="the notification endpoint answered 500",
          RULE_ARN="arn:aws:events:us-east-1:123456789012:rule/choreo-global/shipped")
    _send(sqs, urls["LoyaltyFailure"], {
        "version": "1.0", "timestamp": datetime.now(UTC).isoformat(),
        "requestContext": {"requestId": "r-1", "condition": "RetriesExhausted",
                           "approximateInvokeCount": 3,
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:choreo-Loyalty"},
        "requestPayload": factories.envelope(order[2]),
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorType": "RuntimeError", "errorMessage": "chaos: injected failure"}})

    now = datetime.now(UTC)
    schema_failing = factories.schema_failing(factories.placed(order_id="ord-bad"))
    not_a_cloudevent = {"bus": "global", "event": {"detail": "<b>not a CloudEvent</b>"}}
    services.observation_record(observations=[
        observation_from_queue_body(factories.queue_body(schema_failing), observed_at=now, origin="live"),
        observation_from_queue_body(json.dumps(not_a_cloudevent), observed_at=now, origin="live")])
    chaos = order_api.with_chaos().chaos
    assert chaos is not None
    chaos.update(failure_rate=0.1, jitter_seconds=1.0)
    yield urls
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def dashboard_url(moto_stack: MotoStack) -> Iterator[str]:
    """The dashboard served against the embedded AWS, its read model holding a few orders: one
    shipped (its customer a script tag), one declined, one short of stock, one in flight."""
    later = factories.T0 + timedelta(seconds=2)
    paths = [factories.happy_path(order_id="ord-happy-1", customer_id="<script>alert(1)</script>"),
             factories.declined_path(order_id="ord-declined", at=later),
             factories.rejected_path(order_id="ord-short", at=later + timedelta(seconds=1)),
             factories.happy_path(order_id="ord-inflight", at=later + timedelta(seconds=2))[:3]]
    services.observation_record(observations=[o for p in paths for o in factories.sightings_of(p)])
    with dashboard_served() as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium, a fresh one for each test."""
    with chromium() as launched:
        yield launched
