"""Every path by which the embedded AWS and the local runtime hand out an event gives it in
AWS's own shape, as a third party reads it: AWS Lambda Powertools' models of the events Lambda
receives from EventBridge, SQS and the HTTP API. Each event travels the real path: put on a
bus of the embedded AWS (with its patches) as the functions publish, routed by a rule, and
received as the runtime receives it; the HTTP API's is a real request to the local front."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser import envelopes, parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    EventBridgeModel,
    LambdaFunctionUrlModel,
    SqsModel,
)
from moto import mock_aws

from local import moto_patches
from local.config import ACCOUNT_ID, Chaos, ChaosControl
from local.event_sources import PollerStats, SqsMapping, SqsPoller
from local.http_front import ApiRoute, HttpFront
from local.in_process_sqs import InProcessSqs
from local.lambda_runtime import InvocationResult
from local.targets import (
    ApiDestinationCaller,
    ApiDestinationTap,
    AsyncInvoker,
    AsyncInvokeTap,
    TapStats,
)
from tests.support import TEST_VAULT as VAULT
from tests.support import aws_sample, wait_for
from workflow.domain.order import order_place
from workflow.envelope import Event, parse_cloudevent, put_events_entry

REGION = "us-east-1"
# What EventBridge writes in `time`: ISO 8601, UTC, to the second.
EVENTBRIDGE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    moto_patches.apply()


@dataclass
class Aws:
    events: Any
    sqs: Any
    logs: Any

    def queue(self, name: str, *, fifo: bool = False) -> tuple[str, str]:
        """(url, arn) of a new queue; a FIFO queue deduplicates by content, as EventBridge
        requires."""
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        return url, arn

    def route(self, bus: str, name: str, target: dict[str, Any]) -> None:
        """A rule on `bus` that sends every order event to `target`."""
        self.events.put_rule(Name=name, EventBusName=bus,
                             EventPattern=json.dumps({"source": ["order"]}))
        self.events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": name, **target}])

    def publish(self, event: Event, bus: str) -> None:
        """As the functions publish (functions/common/aws.py)."""
        answer = self.events.put_events(Entries=[put_events_entry(event, bus_name=bus)])
        assert answer["FailedEntryCount"] == 0


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        clients = Aws(*(boto3.client(service, region_name=REGION)
                        for service in ("events", "sqs", "logs")))
        for bus in ("global", "loyalty"):
            clients.events.create_event_bus(Name=bus)
        yield clients


def placed() -> Event:
    return order_place(vault=VAULT, order_id="ord-1", request={
        "customerId": "c-1", "items": [{"sku": "MUG-STONEWARE", "quantity": 1}],
        "card": {"number": "4242424242424242"}})


def assert_eventbridge_event(event: Any, carrying: Event) -> None:
    """`event` is an EventBridge event as AWS delivers one: Powertools reads it, it has the
    fields of AWS's sample and no others, and it carries `carrying` as its detail."""
    EventBridgeModel.model_validate(event)
    sample = aws_sample("eventBridgeEvent")
    assert set(event) == set(sample) - {"replay-name"}  # (only a replayed event names its replay)
    assert event["version"] == "0" and event["account"] == ACCOUNT_ID
    assert event["region"] == REGION and event["resources"] == []
    assert EVENTBRIDGE_TIME.fullmatch(event["time"]), event["time"]
    assert (event["source"], event["detail-type"]) == (carrying.source, carrying.type)
    assert parse_cloudevent(event["detail"]) == carrying


class Recorder:
    """A function: records every event it is handed, and answers `answer`."""

    def __init__(self, answer: Any = None) -> None:
        self.events: list[Any] = []
        self.answer = answer

    def invoke(self, event: Any) -> InvocationResult:
        self.events.append(event)
        return InvocationResult(f"request-{len(self.events)}", payload=self.answer)


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_a_queue_target_s_messages_reach_a_function_as_lambda_hands_sqs_records(aws: Aws, fifo: bool):
    suffix = ".fifo" if fifo else ""
    url, arn = aws.queue(f"Payment{suffix}", fifo=fifo)
    aws.route("global", "ToPayment", {"Arn": arn, **(
        {"SqsParameters": {"MessageGroupId": "partition-0"}} if fifo else {})})
    event = placed()
    aws.publish(event, "global")

    function = Recorder(answer={"batchItemFailures": []})
    mapping = SqsMapping(queue_url=url, queue_arn=arn, function_name="Payment", batch_size=10,
                         report_batch_item_failures=True)
    poller = SqsPoller(mapping=mapping, worker=function,  # type: ignore[arg-type]
                       sqs=InProcessSqs(account_id=ACCOUNT_ID, region=REGION), region=REGION,
                       stop=threading.Event(), chaos=ChaosControl(Chaos()), stats=PollerStats())
    assert poller.poll_once(wait_seconds=0) == 1

    [batch] = function.events
    records = SqsModel.model_validate(batch).Records
    assert [record.eventSourceARN for record in records] == [arn]
    assert [record.awsRegion for record in records] == [REGION]
    if fifo:
        attributes = records[0].attributes
        assert attributes.MessageGroupId == "partition-0"
        assert attributes.SequenceNumber and attributes.MessageDeduplicationId
    [delivered] = parse(event=batch, model=EventBridgeModel, envelope=envelopes.SqsEnvelope)
    assert delivered.account == ACCOUNT_ID
    assert_eventbridge_event(json.loads(batch["Records"][0]["body"]), carrying=event)


def test_a_log_group_target_logs_the_event_as_eventbridge_sends_it(aws: Aws):
    aws.logs.create_log_group(logGroupName="observability")
    aws.route("global", "ToLogs", {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:observability"})
    event = placed()
    aws.publish(event, "global")

    [logged] = aws.logs.filter_log_events(logGroupName="observability")["events"]
    assert isinstance(logged["timestamp"], int)  # milliseconds, whole
    assert_eventbridge_event(json.loads(logged["message"]), carrying=event)


def test_an_event_forwarded_to_another_bus_arrives_there_as_an_eventbridge_event(aws: Aws):
    url, arn = aws.queue("Loyalty")
    aws.route("global", "ToLoyaltyBus", {"Arn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/loyalty"})
    aws.route("loyalty", "ToLoyalty", {"Arn": arn})
    event = placed()
    aws.publish(event, "global")

    [message] = aws.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert_eventbridge_event(json.loads(message["Body"]), carrying=event)


def test_an_input_transformer_s_whole_event_is_the_event_as_eventbridge_sends_it(aws: Aws):
    """The observability queue's input (cdk/constructs/observability.py): the whole event,
    tagged with its bus."""
    url, arn = aws.queue("Observability")
    aws.route("global", "Observe", {"Arn": arn, "InputTransformer": {
        "InputPathsMap": {}, "InputTemplate": '{"bus": "global", "event": <aws.events.event.json>}'}})
    event = placed()
    aws.publish(event, "global")

    [message] = aws.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    observation = json.loads(message["Body"])
    assert observation["bus"] == "global"
    assert_eventbridge_event(observation["event"], carrying=event)


def tap(aws: Aws, name: str) -> str:
    """A rule's target re-pointed at a tap queue, as local/template.py does for a target moto
    cannot deliver."""
    url, arn = aws.queue(f"LocalTap{name}")
    aws.route("global", name, {"Arn": arn})
    return url


def test_a_direct_lambda_target_is_invoked_with_an_eventbridge_event(aws: Aws):
    url = tap(aws, "ToLoyaltyFunction")
    event = placed()
    aws.publish(event, "global")

    function, stop = Recorder(), threading.Event()
    invoker = AsyncInvoker(
        tap=AsyncInvokeTap(queue_url=url, function_name="Loyalty",
                           function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:Loyalty",
                           maximum_retry_attempts=2, on_failure_queue_url=None),
        worker=function, sqs=InProcessSqs(account_id=ACCOUNT_ID, region=REGION),  # type: ignore[arg-type]
        stop=stop, stats=TapStats())
    invoker.start()
    try:
        wait_for(lambda: function.events, 5, 0.02, "nothing reached the function")
    finally:
        stop.set()
        invoker.join(timeout=5)
    [invocation] = function.events
    assert_eventbridge_event(invocation, carrying=event)


class Endpoint(BaseHTTPRequestHandler):
    """The notification endpoint: keeps each request's headers and body, answers 202."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    Endpoint.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notifications"
    server.shutdown()
    server.server_close()


def test_an_api_destination_posts_the_cloudevent_the_input_path_selects(aws: Aws, endpoint: str):
    url = tap(aws, "ToNotifications")
    event = placed()
    aws.publish(event, "global")

    stop = threading.Event()
    # the headers as local/runtime.py reads them from the template: the target's header
    # parameters (cdk/constructs/routes.py NOTIFICATION_HEADERS), then the connection's key
    caller = ApiDestinationCaller(
        tap=ApiDestinationTap(queue_url=url, endpoint=endpoint, method="POST",
                              headers={"Content-Type": "application/cloudevents+json",
                                       "x-api-key": "secret"},
                              input_path="$.detail", maximum_retry_attempts=2,
                              dead_letter_queue_url=None, rule_arn="arn:rule", target_arn="arn:dest"),
        sqs=InProcessSqs(account_id=ACCOUNT_ID, region=REGION), stop=stop, stats=TapStats())
    caller.start()
    try:
        wait_for(lambda: Endpoint.received, 5, 0.02, "nothing reached the endpoint")
    finally:
        stop.set()
        caller.join(timeout=5)
    [(headers, body)] = Endpoint.received
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["x-api-key"] == "secret"
    assert parse_cloudevent(body) == event
    assert json.loads(body) == event.to_dict()  # the detail, whole: not the EventBridge event


def test_the_http_api_hands_its_function_a_payload_2_0_event():
    function = Recorder(answer={"statusCode": 200, "body": "{}"})
    front = HttpFront(host="127.0.0.1", port=0,
                      routes=[ApiRoute("POST", "/orders", "OrderApi"),
                              ApiRoute("GET", "/orders/{orderId}", "OrderApi")],
                      workers={"OrderApi": function},  # type: ignore[dict-item]
                      chaos=ChaosControl(Chaos()), stats=dict)
    front.start()
    try:
        base = f"http://127.0.0.1:{front.port}"
        assert requests.post(f"{base}/orders", json={"customerId": "c-1"}, timeout=5).ok
        # a repeated header, which only a lower-level client sends
        connection = http.client.HTTPConnection("127.0.0.1", front.port,
                                                timeout=5)
        connection.putrequest("GET", "/orders/ord-1?fields=status&fields=total")
        for name, value in (("Cookie", "a=1; b=2"), ("X-Forwarded-For", "198.51.100.1"),
                            ("X-Forwarded-For", "203.0.113.7")):
            connection.putheader(name, value)
        connection.endheaders()
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        front.stop()

    post, get = (APIGatewayProxyEventV2Model.model_validate(event) for event in function.events)
    assert post.routeKey == "POST /orders" and post.requestContext.http.method == "POST"
    assert json.loads(post.body) == {"customerId": "c-1"}  # type: ignore[arg-type]
    assert post.requestContext.accountId == ACCOUNT_ID and post.isBase64Encoded is False
    assert get.routeKey == "GET /orders/{orderId}" and get.pathParameters == {"orderId": "ord-1"}
    assert get.queryStringParameters == {"fields": "status,total"} and get.cookies == ["a=1", "b=2"]
    assert get.headers["x-forwarded-for"] == "198.51.100.1,203.0.113.7"
    assert get.body is None and get.requestContext.stage == "$default"


def test_a_function_url_hands_its_function_a_function_url_event():
    function = Recorder(answer={"statusCode": 202, "body": "{}"})
    front = HttpFront(host="127.0.0.1", port=0, routes=[],
                      function_urls={"/_lambda-url/Receiver/": "Receiver"},
                      workers={"Receiver": function},  # type: ignore[dict-item]
                      chaos=ChaosControl(Chaos()), stats=dict)
    front.start()
    try:
        base = f"http://127.0.0.1:{front.port}/_lambda-url/Receiver"
        assert requests.post(f"{base}/", data=b'{"a": 1}', timeout=5).status_code == 202
        assert requests.get(f"{base}/deeper/path?x=1", timeout=5).status_code == 202
        assert requests.get(f"{base}-not/", timeout=5).status_code == 404
    finally:
        front.stop()

    post, get = (LambdaFunctionUrlModel.model_validate(event) for event in function.events)
    assert post.rawPath == "/" and post.requestContext.http.method == "POST"
    assert post.routeKey == "$default" and post.requestContext.accountId == "anonymous"
    assert json.loads(post.body) == {"a": 1}  # type: ignore[arg-type]
    assert get.rawPath == "/deeper/path" and get.queryStringParameters == {"x": "1"}
