"""`/api/drift` against the model's stack deployed in the embedded AWS: clean as deployed,
then changed by hand through boto3 as an operator would, and with traffic the model does not
declare in the read model.

Only the stack's buses, queues and rules are deployed (what the drift check reads), from the
template the CDK app synthesizes, as the local runtime adapts it for moto; and each of its SQS
event source mappings, as the template declares it, to a stand-in function of its own."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache

from cdk.app import synth_template
from dashboard import aws
from dashboard.readmodel import services
from dashboard.readmodel.observations import observation_from_queue_body
from local.template import _refers_to, adapt_for_moto, dumps
from tests.dashboard import factories
from tests.dashboard.conftest import REGION, moto_client
from workflow.envelope import new_event, put_events_entry
from workflow.model import Bus

pytestmark = pytest.mark.django_db

KEPT = ("AWS::Events::EventBus", "AWS::Events::Rule", "AWS::SQS::Queue", "AWS::IAM::Role")


def rules_only(template: dict[str, Any], stack_name: str) -> dict[str, Any]:
    """The stack's buses (named after `stack_name`), queues, rules and the rules' roles, and
    its outputs about them."""
    resources = template["Resources"]
    dropped = {logical_id for logical_id, resource in resources.items()
               if resource["Type"] not in KEPT}
    while more := {logical_id for logical_id, resource in resources.items()
                   if logical_id not in dropped and _refers_to(resource, dropped)}:
        dropped |= more
    kept = {logical_id: resource for logical_id, resource in resources.items()
            if logical_id not in dropped}
    found = {"Resources": kept,
             "Outputs": {key: output for key, output in template.get("Outputs", {}).items()
                         if not _refers_to(output, dropped)}}
    # The template names the buses after the stack it was synthesized as.
    return json.loads(json.dumps(found).replace('"choreo-', f'"{stack_name}-'))


@pytest.fixture(scope="module")
def synthesized() -> dict[str, Any]:
    return synth_template(nag=False)


@pytest.fixture(scope="module")
def template(synthesized: dict[str, Any]) -> dict[str, Any]:
    adapted = adapt_for_moto(synthesized, api_url="http://127.0.0.1:9")
    return adapted.template


def mappings_as_declared(context: aws.AwsContext, synthesized: dict[str, Any]) -> None:
    """Each SQS event source mapping of the synthesized template, created as CloudFormation
    would, from its queue to a stand-in for its function (the stack's functions are not
    deployed here), and disabled, as the local runtime's adaptation makes them (moto's own
    mappings would take the queues' messages)."""
    queues = {resource["LogicalResourceId"]: resource["PhysicalResourceId"]
              for resource in context.client("cloudformation").list_stack_resources(
                  StackName=context.stack_name)["StackResourceSummaries"]
              if resource["ResourceType"] == "AWS::SQS::Queue"}
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    role = context.client("iam").create_role(
        RoleName=f"{context.stack_name}-stand-in", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_client = context.client("lambda")
    for resource in synthesized["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource["Properties"]
        queue_url = queues[properties["EventSourceArn"]["Fn::GetAtt"][0]]
        function = f"{context.stack_name}-{properties['FunctionName']['Ref']}"
        lambda_client.create_function(FunctionName=function, Runtime="python3.12", Role=role,
                                      Handler="handler.handler", Code={"ZipFile": code.getvalue()})
        lambda_client.create_event_source_mapping(
            EventSourceArn=context.client("sqs").get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
            FunctionName=function, Enabled=False, **{key: properties[key] for key in (
                "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes")
                if key in properties})


@pytest.fixture
def deployed(moto_endpoint: str, template: dict[str, Any],
             synthesized: dict[str, Any]) -> Iterator[aws.AwsContext]:
    stack_name = f"drift-{uuid.uuid4().hex[:8]}"
    cloudformation = moto_client(moto_endpoint, "cloudformation")
    cloudformation.create_stack(StackName=stack_name,
                                TemplateBody=dumps(rules_only(template, stack_name)))
    context = aws.configure(region=REGION, stack_name=stack_name, endpoint_url=moto_endpoint,
                            credentials={"aws_access_key_id": "test",
                                         "aws_secret_access_key": "test"})
    mappings_as_declared(context, synthesized)
    yield context
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9", outputs={})


def drift_now(client: Any) -> dict[str, Any]:
    """A fresh look: the deployed read is otherwise shared for a minute."""
    cache.clear()
    response = client.get("/api/drift")
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    return answer


def undeclared_observed(event_type: str, *, times: int) -> None:
    for index in range(times):
        placed = factories.placed(order_id=f"ord-drift-{index}")
        outer = factories.envelope(placed)
        outer["detail-type"] = event_type
        outer["detail"] = {**outer["detail"], "type": event_type}
        services.observation_record(observations=[observation_from_queue_body(
            json.dumps({"bus": "global", "event": outer}),
            observed_at=placed.time + timedelta(seconds=index), origin="live")])


def test_the_deployed_stack_is_clean_until_changed_by_hand(client, deployed) -> None:
    answer = drift_now(client)
    assert (answer["undeclaredRules"], answer["routes"], answer["undeclaredEventTypes"],
            answer["undeclaredSources"], answer["problems"]) == ([], [], [], [], [])
    assert answer["eventSourceMappings"] == [], answer["eventSourceMappings"]
    assert answer["clean"] and set(answer["buses"]) == {"global", "loyalty"}, answer["problems"]

    stack = deployed.outputs()
    events = deployed.client("events")
    sqs = deployed.client("sqs")
    global_bus = stack.bus_name(Bus.GLOBAL)
    audit_url = sqs.create_queue(QueueName=f"{deployed.stack_name}-audit")["QueueUrl"]
    audit_arn = sqs.get_queue_attributes(QueueUrl=audit_url,
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="audit-orders", EventBusName=global_bus,
                    EventPattern=json.dumps({"source": ["order"], "detail-type": ["order.placed"]}))
    events.put_targets(Rule="audit-orders", EventBusName=global_bus,
                       Targets=[{"Id": "audit", "Arn": audit_arn}])
    [by_hand] = drift_now(client)["undeclaredRules"]
    assert (by_hand["bus"], by_hand["name"], by_hand["pattern"]) == (
        "global", "audit-orders", {"source": ["order"], "detail-type": ["order.placed"]})
    assert [target["arn"] for target in by_hand["targets"]] == [audit_arn]
    noticed = by_hand["noticedAt"]
    assert noticed is not None and drift_now(client)["undeclaredRules"][0]["noticedAt"] == noticed

    [payment_rule] = [rule["Name"] for rule in events.list_rules(EventBusName=global_bus)["Rules"]
                      if "-WarehouseStockReservedToPayment-" in rule["Name"]]
    events.remove_targets(Rule=payment_rule, EventBusName=global_bus, Ids=["Target0"])
    [route] = drift_now(client)["routes"]
    assert (route["route"], route["rule"], route["problem"], route["deployedName"]) == (
        "WarehouseStockReservedToPayment", "WarehouseStockReservedToPayment", "changed",
        payment_rule)
    assert [d["kind"] for d in route["differences"]] == ["target-removed"]
    assert "queue:Payment" in route["differences"][0]["detail"]

    undeclared_observed("order.refunded", times=3)
    answer = drift_now(client)
    [seen] = answer["undeclaredEventTypes"]
    assert (seen["type"], seen["source"], seen["count"]) == ("order.refunded", "order", 3)
    assert seen["firstSeen"] < seen["lastSeen"]
    assert not answer["clean"]


def test_a_source_nobody_declared_is_observed_on_the_bus_and_reported(client, deployed) -> None:
    """Put on the deployed bus by a publisher the model does not know: the observing rule
    delivers it (it matches every event), the recording keeps a sighting, and drift reports
    the source with its types, how many, where and when. (On the loyalty bus: the global
    bus's observing rule also logs to a log group, which this deployment leaves out.)"""
    stack = deployed.outputs()
    kinds = ["invoice.sent", "invoice.sent", "invoice.voided"]
    deployed.client("events").put_events(Entries=[
        {"EventBusName": stack.bus_name(Bus.LOYALTY), "Source": "legacy.billing", "DetailType": kind,
         "Detail": json.dumps({"invoice": index})} for index, kind in enumerate(kinds)])
    messages = deployed.client("sqs").receive_message(
        QueueUrl=stack.observability_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == len(kinds)
    seen = factories.T0
    for index, message in enumerate(messages):
        services.observation_record(observations=[observation_from_queue_body(
            message["Body"], observed_at=seen + timedelta(seconds=index), origin="live")])

    answer = drift_now(client)
    [source] = answer["undeclaredSources"]
    assert (source["source"], source["count"], source["buses"]) == ("legacy.billing", 3, ["loyalty"])
    assert source["firstSeen"] < source["lastSeen"]
    assert [(kind["type"], kind["count"]) for kind in source["types"]] == [
        ("invoice.sent", 2), ("invoice.voided", 1)]
    assert answer["undeclaredEventTypes"] == [] and answer["count"] == 1 and not answer["clean"]
    assert client.get("/api/drift/count").json()["undeclaredSources"] == 1


def test_the_deployed_read_is_shared_for_a_minute(client, deployed) -> None:
    assert drift_now(client)["routes"] == []
    stack = deployed.outputs()
    events = deployed.client("events")
    loyalty_bus = stack.bus_name(Bus.LOYALTY)
    [rule] = [rule["Name"] for rule in events.list_rules(EventBusName=loyalty_bus)["Rules"]
              if "-PaymentTakenToLoyalty-" in rule["Name"]]
    events.remove_targets(Rule=rule, EventBusName=loyalty_bus, Ids=["Target0"])
    assert client.get("/api/drift").json()["routes"] == []
    assert [route["rule"] for route in drift_now(client)["routes"]] == ["PaymentTakenToLoyalty"]


def test_without_aws_the_answer_says_so(client, stack) -> None:
    response = client.get("/api/drift")
    assert response.status_code == 503
    assert "could not be read" in response.json()["problem"]


def test_in_production_it_needs_a_sign_in(client, stack, settings, django_user_model) -> None:
    from django.test import override_settings

    middleware = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    with override_settings(DASHBOARD_REQUIRE_LOGIN=True, MIDDLEWARE=middleware):
        assert client.get("/api/drift").status_code == 302



def badge_of(client: Any, path: str = "/stuck/") -> str:
    """The top bar's drift badge as a page renders it."""
    html = client.get(path).content.decode()
    start = html.index('<span class="nav-badge drift')
    return html[start:html.index("</span>", start) + len("</span>")]


def test_the_drift_page_and_the_top_bar_say_a_clean_deployment_matches(client, deployed) -> None:
    cache.clear()
    response = client.get("/drift/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-drift-clean" in html and "The deployment matches the model" in html
    assert 'href="/drift/" aria-current="page"' in html
    assert client.get("/api/drift/count").json()["total"] == 0
    badge = badge_of(client)
    assert "hidden" in badge and "data-counted" in badge and ">0</span>" in badge


def test_the_drift_page_lists_each_difference_with_its_evidence(client, deployed) -> None:
    events = deployed.client("events")
    global_bus = deployed.outputs().bus_name(Bus.GLOBAL)
    events.put_rule(Name="audit-orders", EventBusName=global_bus,
                    EventPattern=json.dumps({"source": ["order"], "detail-type": ["order.placed"]}))
    events.put_targets(Rule="audit-orders", EventBusName=global_bus,
                       Targets=[{"Id": "audit", "Arn": "arn:aws:sqs:us-east-1:123456789012:audit"}])
    [payment_rule] = [rule["Name"] for rule in events.list_rules(EventBusName=global_bus)["Rules"]
                      if "-WarehouseStockReservedToPayment-" in rule["Name"]]
    events.remove_targets(Rule=payment_rule, EventBusName=global_bus, Ids=["Target0"])
    undeclared_observed("order.refunded", times=2)
    services.observation_record(observations=[observation_from_queue_body(json.dumps(
        {"bus": "global", "event": {"id": "e-1", "source": "<b>legacy</b>", "detail-type": "invoice.sent",
                                    "account": "123456789012", "detail": {}}}),
        observed_at=factories.T0, origin="live")])
    cache.clear()

    html = client.get("/drift/").content.decode()
    assert "data-drift-clean" not in html
    assert 'data-undeclared-rule="audit-orders"' in html
    assert "arn:aws:sqs:us-east-1:123456789012:audit" in html
    assert "&quot;detail-type&quot;: [" in html  # the pattern, escaped
    assert 'data-drifted-route="WarehouseStockReservedToPayment" data-problem="changed"' in html
    assert 'data-difference="target-removed"' in html and payment_rule in html
    assert 'href="/routes/WarehouseStockReservedToPayment"' in html
    assert 'data-undeclared-type="order.refunded" data-source="order"' in html
    assert 'href="/search/?type=order.refunded&amp;source=order"' in html
    assert html.count("data-since") == 2  # since when each deployed difference has been seen
    assert 'data-undeclared-source="&lt;b&gt;legacy&lt;/b&gt;"' in html  # escaped, as all is
    assert 'data-source-type="invoice.sent"' in html and "<b>legacy" not in html

    counts = client.get("/api/drift/count").json()
    assert {key: counts[key] for key in ("total", "clean", "undeclaredRules", "routes",
                                         "undeclaredEventTypes", "undeclaredSources")} == {
        "total": 4, "clean": False, "undeclaredRules": 1, "routes": 1, "undeclaredEventTypes": 1,
        "undeclaredSources": 1}
    badge = badge_of(client)
    assert "hidden" not in badge and ">4</span>" in badge

    # the live graph marks what was judged, without judging again
    live = client.get("/").content.decode()
    assert '<g class="undeclared-rule" data-undeclared-rule="audit-orders" data-bus="global">' in live
    assert 'data-edge="WarehouseStockReservedToPayment"' in live and "data-drift-note" in live


def test_rendering_a_page_never_reads_aws_for_the_top_bar(client, stack, monkeypatch) -> None:
    from dashboard.insight import drift as drift_module

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a page render read the deployment")

    monkeypatch.setattr(drift_module, "deployed_read", refuse)
    badge = badge_of(client)
    assert "hidden" in badge and "data-counted" not in badge


def test_the_drift_page_without_aws_says_so(client, stack) -> None:
    response = client.get("/drift/")
    assert response.status_code == 503
    assert "the deployment could not be read" in response.content.decode()
    assert client.get("/api/drift").status_code == 503
    # the top bar's count is unknown, not an error of every page it sits on
    count = client.get("/api/drift/count")
    assert count.status_code == 200
    assert count.json()["total"] is None
    assert "the deployment could not be read" in count.json()["problem"]


def test_events_into_the_void_and_undeclared_links_are_reported_counted_and_drawn(
        client, deployed) -> None:
    """Put through EventBridge's API on the deployed loyalty bus, where no route takes
    warehouse.stock-reserved, and a payment.taken caused straight by an order.placed (the model
    has the warehouse react to that, not the payment): the observing rule delivers both to the
    observability queue, the recording keeps what differs, and drift names it."""
    placed, reserved, taken, *_ = factories.happy_path(order_id="ord-void")
    skipping = new_event(type="payment.taken", cause=placed, data=taken.data,
                         time=placed.time + timedelta(seconds=1))
    stack = deployed.outputs()
    deployed.client("events").put_events(Entries=[
        put_events_entry(event, bus_name=stack.bus_name(Bus.LOYALTY))
        for event in (placed, reserved, skipping)])
    messages = deployed.client("sqs").receive_message(
        QueueUrl=stack.observability_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 3
    for index, message in enumerate(messages):
        services.observation_record(observations=[observation_from_queue_body(
            message["Body"], observed_at=factories.T0 + timedelta(seconds=index), origin="live")])

    answer = drift_now(client)
    assert sorted((item["bus"], item["type"], item["source"], item["count"])
                  for item in answer["unroutedEvents"]) == [
        ("loyalty", "order.placed", "order", 1), ("loyalty", "warehouse.stock-reserved", "warehouse", 1)]
    assert all(item["latestOrderId"] == "ord-void" and item["firstSeen"] for item in answer["unroutedEvents"])
    [link] = answer["undeclaredLinks"]
    assert (link["causeType"], link["type"], link["source"], link["count"], link["latestEventId"]) == (
        "order.placed", "payment.taken", "payment", 1, skipping.id)
    assert link["expected"] == ["warehouse.stock-reserved", "warehouse.stock-unavailable"]
    assert answer["count"] == 3 and not answer["clean"]
    counts = client.get("/api/drift/count").json()
    assert (counts["total"], counts["unroutedEvents"], counts["undeclaredLinks"]) == (3, 2, 1)
    assert ">3</span>" in badge_of(client)

    html = client.get("/drift/").content.decode()
    assert 'data-unrouted="warehouse.stock-reserved" data-bus="loyalty" data-source="warehouse"' in html
    assert 'href="/search/?type=warehouse.stock-reserved&amp;source=warehouse"' in html
    assert 'data-undeclared-link="order.placed&gt;payment.taken"' in html
    assert 'href="/orders/ord-void" data-latest-link' in html

    live = client.get("/").content.decode()
    assert ('data-undeclared-link="order.placed&gt;payment.taken" data-from="function:OrderApi" '
            'data-to="function:Payment"') in live
    assert "order.placed → payment.taken is not in the model" in live


def test_the_traffics_drift_goes_when_its_events_age_out(client, deployed) -> None:
    reserved = factories.happy_path(order_id="ord-old")[1]
    services.observation_record(observations=[factories.observe(reserved, "loyalty")])
    assert [item["type"] for item in drift_now(client)["unroutedEvents"]] == ["warehouse.stock-reserved"]
    services.read_model_prune(before=factories.T0 + timedelta(days=1))
    answer = drift_now(client)
    assert answer["unroutedEvents"] == [] and answer["clean"]


def test_an_event_source_mapping_changed_by_hand_is_reported_until_put_back(client, deployed) -> None:
    """Through Lambda's API, as an operator would: the Payment queue's mapping loses
    ReportBatchItemFailures and takes batches of one, and another function starts consuming the
    Warehouse queue; put back, each is gone at the next read."""
    lambda_client = deployed.client("lambda")
    sqs = deployed.client("sqs")
    stack = deployed.outputs()

    def queue_arn(queue_id: str) -> str:
        url = stack.queue_url(queue_id)
        assert url is not None
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                   ["Attributes"]["QueueArn"])

    [payment] = lambda_client.list_event_source_mappings(
        EventSourceArn=queue_arn("Payment"))["EventSourceMappings"]
    lambda_client.update_event_source_mapping(UUID=payment["UUID"], BatchSize=1,
                                              FunctionResponseTypes=[])
    extra = lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn("Warehouse"), FunctionName=payment["FunctionArn"], Enabled=False)

    answer = drift_now(client)
    found = {(item["queue"], item["problem"]): item for item in answer["eventSourceMappings"]}
    assert set(found) == {("Payment", "changed"), ("Warehouse", "undeclared")}
    changed = found[("Payment", "changed")]
    assert [d["kind"] for d in changed["differences"]] == ["batch-size", "batch-item-failures"]
    assert changed["uuid"] == payment["UUID"] and changed["noticedAt"] is not None
    assert found[("Warehouse", "undeclared")]["uuid"] == extra["UUID"]
    assert answer["count"] == 2 and not answer["clean"]
    assert client.get("/api/drift/count").json()["eventSourceMappings"] == 2

    html = client.get("/drift/").content.decode()
    assert 'data-drifted-mapping="Payment" data-function="Payment" data-problem="changed"' in html
    assert 'data-difference="batch-item-failures"' in html
    live = client.get("/").content.decode()
    assert "the event source mapping of queue Payment to Payment is changed" in live

    lambda_client.update_event_source_mapping(UUID=payment["UUID"], BatchSize=10,
                                              FunctionResponseTypes=["ReportBatchItemFailures"])
    lambda_client.delete_event_source_mapping(UUID=extra["UUID"])
    answer = drift_now(client)
    assert answer["eventSourceMappings"] == [] and answer["clean"]
