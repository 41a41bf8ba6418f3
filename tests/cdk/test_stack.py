"""The synthesized stack, asserted property by property against the choreography model.

Synth takes seconds, so the app is synthesized once per module, with cdk-nag attached: if
any finding were unacknowledged, the fixture itself would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from cdk.app import STACK_NAME, build_app, synth_template
from cdk.settings import SettingsError
from tests.cdk.test_handler_env import handler_reads
from workflow import outputs
from workflow.handler_env import (
    EVENT_VERSIONS_ENV,
    IDEMPOTENCY_WINDOW_ENV,
    LAMBDA_FUNCTION_NAME_ENV,
    EnvKind,
    handler_environment,
)
from workflow.model import (
    CHOREOGRAPHY,
    Bus,
    ToBus,
    ToFunction,
    ToNotification,
    ToQueue,
)

Resources = dict[str, dict[str, Any]]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ONE_MONTH_DAYS = 30


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cdk.out")
    build_app(outdir=str(directory), nag=True).synth()
    return directory


@pytest.fixture(scope="module")
def template_json(outdir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    return document


@pytest.fixture(scope="module")
def template(template_json: dict[str, Any]) -> Template:
    return Template.from_json(template_json)


@pytest.fixture(scope="module")
def resources(template_json: dict[str, Any]) -> Resources:
    found: Resources = template_json["Resources"]
    return found


def of_type(resources: Resources, kind: str) -> Resources:
    return {logical_id: resource for logical_id, resource in resources.items()
            if resource["Type"] == kind}


def ref(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` points at; None for anything else."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def rule_targets(resources: Resources) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, rule in of_type(resources, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            yield logical_id, target


def policy_statements(resources: Resources) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        documents = [properties.get("PolicyDocument")]
        documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        for document in documents:
            if isinstance(document, dict) and "Fn::Join" in document:
                # A document rendered as a string, with references joined into it.
                parts = document["Fn::Join"][1]
                document = json.loads("".join(p if isinstance(p, str) else "ref" for p in parts))
            if isinstance(document, dict):
                for statement in document["Statement"]:
                    yield logical_id, statement


# --- cdk-nag and cfn-lint ------------------------------------------------------------------

def test_cdk_nag_passes_with_every_finding_acknowledged_for_a_reason(outdir: Path) -> None:
    report = json.loads((outdir / "validation-report.json").read_text())
    (nag,) = [plugin for plugin in report["pluginReports"] if plugin["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    for acknowledged in nag["suppressedViolations"]:
        assert len(acknowledged["reason"]) > 40, acknowledged["ruleName"]


def test_cfn_lint_finds_no_errors(outdir: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "json",
         str(outdir / f"{STACK_NAME}.template.json")],
        capture_output=True, text=True, check=False)
    findings = json.loads(result.stdout or "[]")
    # Warnings are tolerated: W3005 flags the DependsOn CDK adds from a function to its role,
    # which is redundant with the role's GetAtt but harmless.
    errors = [finding for finding in findings if finding["Level"] == "Error"]
    assert errors == [], result.stdout


# --- what the model declares, counted -----------------------------------------------------

def test_resource_counts_follow_the_model(template: Template) -> None:
    failure_queues = len(CHOREOGRAPHY.direct_targets())
    template.resource_count_is("AWS::Events::EventBus", len(Bus))
    rules = sum(len(CHOREOGRAPHY.rules_of(route)) for route in CHOREOGRAPHY.routes)
    template.resource_count_is("AWS::Events::Rule", rules + len(CHOREOGRAPHY.observed_buses))
    # each model queue and its DLQ, the observability queue and its DLQ, the rule-target DLQ,
    # and one OnFailure queue per directly invoked function
    template.resource_count_is("AWS::SQS::Queue", 2 * len(CHOREOGRAPHY.queues) + 3 + failure_queues)
    # the model's functions, and the notification receiver
    template.resource_count_is("AWS::Lambda::Function", len(CHOREOGRAPHY.functions) + 1)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", len(CHOREOGRAPHY.queues))
    template.resource_count_is("AWS::Lambda::EventInvokeConfig", failure_queues)
    template.resource_count_is("AWS::DynamoDB::Table", len(CHOREOGRAPHY.tables) + 1)
    template.resource_count_is("AWS::ApiGatewayV2::Route",
                               sum(len(api.routes) for api in CHOREOGRAPHY.http_apis))


def test_there_are_no_custom_resources(resources: Resources) -> None:
    kinds = {resource["Type"] for resource in resources.values()}
    assert not {kind for kind in kinds
                if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"}


# --- rules ----------------------------------------------------------------------------------

def test_every_route_is_a_rule_matching_exactly_its_source_and_detail_type(
        resources: Resources) -> None:
    for route in CHOREOGRAPHY.routes:
        producer = CHOREOGRAPHY.event(route.event).producer.value
        for route_rule in CHOREOGRAPHY.rules_of(route):
            rule = resources[route_rule.rule_id]["Properties"]
            pattern = dict(rule["EventPattern"])
            pattern.pop("detail", None)  # a partition's, asserted below
            assert pattern == {"source": [producer], "detail-type": [route.event]}
            assert ref(rule["EventBusName"]) == f"{route.bus.value.title()}EventBus"
            assert len(rule["Targets"]) == 1


def test_a_route_to_the_fifo_queue_is_a_rule_per_partition_each_in_its_own_group(
        resources: Resources) -> None:
    (route,) = [r for r in CHOREOGRAPHY.routes if r.event == "order.placed"]
    partitions = CHOREOGRAPHY.partition_keys()
    groups = []
    for partition in partitions:
        rule = resources[f"OrderPlacedToWarehousePartition{partition}"]["Properties"]
        assert rule["EventPattern"]["detail"] == {"partitionkey": [partition]}
        (target,) = rule["Targets"]
        assert ref(target["Arn"]) == "WarehouseQueue"
        groups.append(target["SqsParameters"]["MessageGroupId"])
    assert groups == [f"warehouse-{partition}" for partition in partitions]
    # the events that name no partition of ours still reach the warehouse, which
    # dead-letters what it cannot use
    rule = resources["OrderPlacedToWarehouseUnpartitioned"]["Properties"]
    assert rule["EventPattern"]["detail"] == {"$or": [
        {"partitionkey": [{"exists": False}]},
        {"partitionkey": [{"anything-but": list(partitions)}]}]}
    assert rule["Targets"][0]["SqsParameters"]["MessageGroupId"] == "warehouse-unpartitioned"
    assert resources["WarehouseQueue"]["Properties"]["QueueName"] == "choreo-Warehouse.fifo"
    assert len(CHOREOGRAPHY.rules_of(route)) == len(partitions) + 1


def test_queue_targets_reach_their_model_queue(resources: Resources) -> None:
    for route in CHOREOGRAPHY.routes:
        if isinstance(route.target, ToQueue):
            for route_rule in CHOREOGRAPHY.rules_of(route):
                (target,) = resources[route_rule.rule_id]["Properties"]["Targets"]
                assert ref(target["Arn"]) == f"{route.target.queue}Queue"
                group = target.get("SqsParameters", {}).get("MessageGroupId")
                assert group == route_rule.message_group_id
                assert (group is None) == (not CHOREOGRAPHY.queue(route.target.queue).fifo)


def test_payment_taken_crosses_to_the_loyalty_bus_and_points_come_back(
        template: Template) -> None:
    for event, source, from_bus, to_bus in (
            ("payment.taken", "payment", "GlobalEventBus", "LoyaltyEventBus"),
            ("loyalty.points-awarded", "loyalty", "LoyaltyEventBus", "GlobalEventBus")):
        template.has_resource_properties("AWS::Events::Rule", {
            "EventBusName": {"Ref": from_bus},
            "EventPattern": {"source": [source], "detail-type": [event]},
            "Targets": [Match.object_like({
                "Arn": {"Fn::GetAtt": [to_bus, "Arn"]},
                "RoleArn": Match.any_value(),
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["RuleTargetDeadLetterQueue", "Arn"]}},
            })],
        })


def test_every_rule_target_has_a_dead_letter_queue_and_all_but_buses_a_retry_policy(
        resources: Resources) -> None:
    bus_ids = set(of_type(resources, "AWS::Events::EventBus"))
    targets = list(rule_targets(resources))
    assert targets
    for rule_id, target in targets:
        assert ref(target["DeadLetterConfig"]["Arn"]) == "RuleTargetDeadLetterQueue", rule_id
        if ref(target["Arn"]) in bus_ids:
            # EventBridge accepts no retry policy on an event-bus target.
            assert "RetryPolicy" not in target
        else:
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, rule_id
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 60, rule_id


def queue_policy(resources: Resources, queue_id: str) -> list[dict[str, Any]]:
    (policy,) = [resource["Properties"] for resource in
                 of_type(resources, "AWS::SQS::QueuePolicy").values()
                 if [ref(queue) for queue in resource["Properties"]["Queues"]] == [queue_id]]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def rule_arn_patterns(statement: dict[str, Any]) -> list[str]:
    """The rule ARNs an `ArnLike aws:SourceArn` condition admits, with the partition, region
    and account left as they are written (`${AWS::...}`)."""
    patterns = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    rendered = []
    for pattern in patterns:
        parts = pattern["Fn::Join"][1]
        rendered.append("".join(part if isinstance(part, str) else
                                f"${{{part.get('Ref') or ref(part)}}}" for part in parts))
    return rendered


def test_queues_accept_the_rules_of_their_buses_in_one_statement_however_many_rules(
        resources: Resources) -> None:
    """SQS caps a queue policy at 20 statements and 8 KB: one statement per rule (what CDK's
    targets write) would not survive a few more routes or partitions."""
    rule_count = len(of_type(resources, "AWS::Events::Rule"))
    assert rule_count > 20
    every_bus = {f"${{{bus.value.title()}EventBus}}" for bus in Bus}
    (grant,) = [s for s in queue_policy(resources, "RuleTargetDeadLetterQueue")
                if s["Effect"] == "Allow"]
    assert grant["Action"] == "sqs:SendMessage"
    assert grant["Principal"] == {"Service": "events.amazonaws.com"}
    assert {pattern.split(":rule/")[1].removesuffix("/*")
            for pattern in rule_arn_patterns(grant)} == every_bus
    for queue in CHOREOGRAPHY.queues:
        grants = [s for s in queue_policy(resources, f"{queue.id}Queue") if s["Effect"] == "Allow"]
        buses = {f"${{{route.bus.value.title()}EventBus}}" for route in CHOREOGRAPHY.routes
                 if isinstance(route.target, ToQueue) and route.target.queue == queue.id}
        if not buses:  # no rule delivers to it (the outbox's checks): no rule may
            assert grants == [], queue.id
            continue
        (grant,) = grants
        assert {pattern.split(":rule/")[1].removesuffix("/*")
                for pattern in rule_arn_patterns(grant)} == buses, queue.id


# --- the loyalty function, invoked directly -------------------------------------------------

def test_the_loyalty_function_is_a_direct_target_with_retries_and_an_on_failure_queue(
        template: Template) -> None:
    (route,) = [r for r in CHOREOGRAPHY.routes if isinstance(r.target, ToFunction)]
    assert isinstance(route.target, ToFunction)
    template.has_resource_properties("AWS::Events::Rule", {
        "EventBusName": {"Ref": "LoyaltyEventBus"},
        "EventPattern": {"source": ["payment"], "detail-type": ["payment.taken"]},
        "Targets": [Match.object_like({
            "Arn": {"Fn::GetAtt": ["LoyaltyFunction", "Arn"]},
            "RetryPolicy": Match.any_value(),
            "DeadLetterConfig": Match.any_value(),
        })],
    })
    template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "FunctionName": {"Ref": "LoyaltyFunction"},
        "MaximumRetryAttempts": route.target.retry_attempts,
        "MaximumEventAgeInSeconds": route.target.max_event_age_seconds,
        "DestinationConfig": {"OnFailure": {
            "Destination": {"Fn::GetAtt": ["LoyaltyFailureQueue", "Arn"]}}},
    })
    template.has_resource_properties("AWS::Lambda::Permission", {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": ["LoyaltyFunction", "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [route.rule_id, "Arn"]},
    })


# --- queues -----------------------------------------------------------------------------------

def test_every_queue_is_encrypted_and_tls_only(resources: Resources) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    tls_only: set[str | None] = set()
    for policy in of_type(resources, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if (statement["Effect"] == "Deny"
                    and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}):
                tls_only.update(ref(queue) for queue in policy["Properties"]["Queues"])
    for logical_id, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id
    assert tls_only == set(queues)


def test_every_queue_has_a_dead_letter_queue_or_is_one(resources: Resources) -> None:
    named_as_dead_letter_queue = {ref(target["DeadLetterConfig"]["Arn"])
                                  for _, target in rule_targets(resources)}
    for config in of_type(resources, "AWS::Lambda::EventInvokeConfig").values():
        named_as_dead_letter_queue.add(
            ref(config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]))
    queues = of_type(resources, "AWS::SQS::Queue")
    for queue in queues.values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            named_as_dead_letter_queue.add(ref(redrive["deadLetterTargetArn"]))
    for logical_id, queue in queues.items():
        assert ("RedrivePolicy" in queue["Properties"]
                or logical_id in named_as_dead_letter_queue), logical_id


def test_model_queues_redrive_and_outlast_their_consumer(resources: Resources) -> None:
    for model_queue in CHOREOGRAPHY.queues:
        queue = resources[f"{model_queue.id}Queue"]["Properties"]
        dead_letter_queue = resources[f"{model_queue.id}DeadLetterQueue"]["Properties"]
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [f"{model_queue.id}DeadLetterQueue", "Arn"]},
            "maxReceiveCount": model_queue.max_receive_count}
        consumer = CHOREOGRAPHY.function(model_queue.consumer)
        # AWS's guidance for SQS event sources: six times the function's timeout, plus the
        # mapping's MaximumBatchingWindowInSeconds.
        assert queue["VisibilityTimeout"] == \
            6 * consumer.timeout_seconds + model_queue.batching_window_seconds
        assert queue.get("FifoQueue", False) == model_queue.fifo
        assert dead_letter_queue.get("FifoQueue", False) == model_queue.fifo
        assert queue.get("DelaySeconds", 0) == model_queue.delay_seconds
        if model_queue.fifo:
            assert queue["QueueName"] == f"{STACK_NAME}-{model_queue.id}.fifo"
            assert queue["ContentBasedDeduplication"] is True
            assert dead_letter_queue["QueueName"].endswith(".fifo")


# --- functions --------------------------------------------------------------------------------

def test_event_source_mappings_report_batch_item_failures_with_the_model_batch_size(
        resources: Resources) -> None:
    mappings = {(ref(mapping["Properties"]["EventSourceArn"]),
                 ref(mapping["Properties"]["FunctionName"])): mapping["Properties"]
                for mapping in of_type(resources, "AWS::Lambda::EventSourceMapping").values()}
    assert len(mappings) == len(CHOREOGRAPHY.queues)
    for queue in CHOREOGRAPHY.queues:
        mapping = mappings[(f"{queue.id}Queue", f"{queue.consumer}Function")]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == queue.batch_size
        # none on a FIFO queue, which Lambda refuses
        assert mapping.get("MaximumBatchingWindowInSeconds", 0) == queue.batching_window_seconds


def test_functions_run_the_model_handlers_with_their_environment(resources: Resources) -> None:
    dead_letter_queue_of = {queue.consumer: f"{queue.id}DeadLetterQueue"
                            for queue in CHOREOGRAPHY.queues}
    dead_letter_queue_of.update({function_id: f"{function_id}FailureQueue"
                                 for function_id in CHOREOGRAPHY.direct_targets()})
    # what each kind of variable the model declares names in the template
    deployed = {
        EnvKind.TABLE_NAME: lambda variable: {"Ref": f"{variable.ref}Table"},
        EnvKind.QUEUE_URL: lambda variable: {"Ref": f"{variable.ref}Queue"},
        EnvKind.SECRET_ARN: lambda variable: {"Ref": f"{variable.ref}Secret"},
        EnvKind.BUS_NAME: lambda variable: {"Ref": f"{variable.ref.title()}EventBus"},
        EnvKind.DEAD_LETTER_QUEUE_URL: lambda variable: {
            "Ref": dead_letter_queue_of[variable.ref]},
        EnvKind.IDEMPOTENCY_WINDOW: lambda variable: str(
            CHOREOGRAPHY.idempotency_window_seconds),
    }
    for function in CHOREOGRAPHY.functions:
        properties = resources[f"{function.id}Function"]["Properties"]
        assert properties["Handler"] == function.handler
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["x86_64"]
        assert properties["Timeout"] == function.timeout_seconds
        assert properties["MemorySize"] == function.memory_mb
        assert len(properties["Layers"]) == 1
        environment = properties["Environment"]["Variables"]
        expected: dict[str, Any] = {"POWERTOOLS_SERVICE_NAME": function.subdomain.value,
                                    "POWERTOOLS_LOG_LEVEL": "INFO"}
        expected.update({variable.name: deployed[variable.kind](variable)
                         for variable in handler_environment(CHOREOGRAPHY, function)
                         if not variable.optional})
        assert environment == expected, function.id


def test_every_variable_a_handler_reads_is_set(resources: Resources) -> None:
    # functions/sales is deployed with choreo:legacyConsumer only: tests/cdk/test_legacy_consumer.py
    read, _ = handler_reads(module for module in (PROJECT_ROOT / "functions").rglob("*.py")
                            if module.parent.name != "sales")
    assert {"ORDERS_TABLE_NAME", "EVENT_BUS_NAME", "DEAD_LETTER_QUEUE_URL",
            IDEMPOTENCY_WINDOW_ENV} <= read
    # the versions are read with the model's as the fallback: set only when a deployment asks
    provided = {LAMBDA_FUNCTION_NAME_ENV, EVENT_VERSIONS_ENV}
    for function in of_type(resources, "AWS::Lambda::Function").values():
        provided.update(function["Properties"]["Environment"]["Variables"])
    assert read <= provided, read - provided


def test_every_log_group_keeps_a_month_and_every_function_logs_to_its_own(
        resources: Resources) -> None:
    log_groups = of_type(resources, "AWS::Logs::LogGroup")
    for logical_id, log_group in log_groups.items():
        assert log_group["Properties"]["RetentionInDays"] == ONE_MONTH_DAYS, logical_id
    targets = [ref(function["Properties"]["LoggingConfig"]["LogGroup"])
               for function in of_type(resources, "AWS::Lambda::Function").values()]
    assert len(set(targets)) == len(targets)
    assert set(targets) <= set(log_groups)


def test_the_lambda_code_holds_only_the_handlers_packages(
        outdir: Path, resources: Resources) -> None:
    (key,) = {function["Properties"]["Code"]["S3Key"]
              for function in of_type(resources, "AWS::Lambda::Function").values()}
    code = outdir / f"asset.{key.removesuffix('.zip')}"
    assert sorted(path.name for path in code.iterdir()) == ["functions", "workflow"]
    assert (code / "functions" / "warehouse" / "handler.py").is_file()
    assert not list(code.rglob("__pycache__"))


def test_the_dependency_layer_holds_the_handlers_packages_by_default(
        outdir: Path, resources: Resources) -> None:
    (layer,) = of_type(resources, "AWS::Lambda::LayerVersion").values()
    content = outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    packages = {path.name for path in (content / "python").iterdir()}
    assert {"aws_lambda_powertools", "cloudevents", "fastjsonschema"} <= packages


def test_only_local_mode_may_leave_the_layer_empty() -> None:
    with pytest.raises(SettingsError, match="choreo:bundle=false"):
        build_app({"choreo:bundle": "false"}, nag=False)
    with tempfile.TemporaryDirectory() as directory:
        assembly = build_app({"choreo:bundle": "false", "choreo:local": "true"},
                             outdir=directory, nag=False).synth()
        (stack,) = assembly.stacks
        (layer,) = of_type(stack.template["Resources"], "AWS::Lambda::LayerVersion").values()
        key = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
        content = Path(directory) / f"asset.{key}"
        assert [path.name for path in content.iterdir()] == ["README.md"]


# --- least privilege --------------------------------------------------------------------------

def test_no_allow_statement_grants_a_wildcard_action(resources: Resources) -> None:
    statements = list(policy_statements(resources))
    assert statements
    for logical_id, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action != "*" and not action.endswith(":*"), (logical_id, action)


def test_no_role_carries_a_managed_policy(resources: Resources) -> None:
    for logical_id, role in of_type(resources, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], logical_id


# --- tables -----------------------------------------------------------------------------------

def test_tables_follow_the_model(resources: Resources) -> None:
    for table in CHOREOGRAPHY.tables:
        properties = resources[f"{table.id}Table"]["Properties"]
        key = table.partition_key
        assert properties["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True}
        if table.ttl_attribute:
            assert properties["TimeToLiveSpecification"] == {
                "AttributeName": table.ttl_attribute, "Enabled": True}


def test_the_idempotency_table_is_keyed_on_id_and_expires_records(template: Template) -> None:
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
    })


# --- the order API ----------------------------------------------------------------------------

def test_the_order_api_serves_the_model_routes_and_logs_access(
        template: Template, resources: Resources) -> None:
    (api,) = CHOREOGRAPHY.http_apis
    route_keys = {route["Properties"]["RouteKey"]
                  for route in of_type(resources, "AWS::ApiGatewayV2::Route").values()}
    assert route_keys == {f"{route.method} {route.path}" for route in api.routes}
    assert {"GET /products", "POST /orders", "GET /orders/{orderId}",
            "GET /openapi.json"} <= route_keys
    template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": "$default", "AutoDeploy": True,
        "AccessLogSettings": {"DestinationArn": Match.any_value(),
                              "Format": Match.string_like_regexp(r"\$context\.requestId")},
    })


# --- notifications ----------------------------------------------------------------------------

def test_notifications_post_the_cloudevent_through_an_api_key_connection(
        template: Template, resources: Resources) -> None:
    (connection,) = of_type(resources, "AWS::Events::Connection").values()
    properties = connection["Properties"]
    assert properties["AuthorizationType"] == "API_KEY"
    key_auth = properties["AuthParameters"]["ApiKeyAuthParameters"]
    assert key_auth["ApiKeyName"] == "x-api-key"
    # never the key itself: a reference CloudFormation resolves at deploy time
    assert key_auth["ApiKeyValue"] == {"Fn::Join": ["", [
        "{{resolve:secretsmanager:", {"Ref": "NotificationApiKey"}, ":SecretString:::}}"]]}
    template.has_resource_properties("AWS::SecretsManager::Secret", {
        "GenerateSecretString": Match.object_like({"ExcludePunctuation": True,
                                                   "PasswordLength": 48})})
    template.has_resource_properties("AWS::Events::ApiDestination", {
        "HttpMethod": "POST",
        "InvocationEndpoint": {"Fn::GetAtt": ["NotificationReceiverEndpoint", "FunctionUrl"]},
    })
    (destination,) = of_type(resources, "AWS::Events::ApiDestination")
    notified = set()
    for route in CHOREOGRAPHY.routes:
        if isinstance(route.target, ToNotification):
            (target,) = resources[route.rule_id]["Properties"]["Targets"]
            assert ref(target["Arn"]) == destination
            assert target["HttpParameters"] == {
                "HeaderParameters": {"Content-Type": "application/cloudevents+json"}}
            assert target["InputPath"] == "$.detail"
            notified.add(route.event)
    assert notified == {"order.rejected", "order.cancelled", "warehouse.order-shipped"}


def test_with_no_endpoint_named_the_stack_receives_its_own_notifications(
        resources: Resources) -> None:
    receiver = CHOREOGRAPHY.notification_receiver
    url = resources[f"{receiver.function}Endpoint"]["Properties"]
    # public HTTPS, as API destinations require; the function checks the key itself
    assert url == {"AuthType": "NONE",
                   "TargetFunctionArn": {"Fn::GetAtt": [f"{receiver.function}Function", "Arn"]}}
    # since October 2025 a public function URL needs both permissions
    permissions = {(p["Properties"]["Action"], p["Properties"].get("FunctionUrlAuthType"),
                    p["Properties"].get("InvokedViaFunctionUrl"))
                   for p in of_type(resources, "AWS::Lambda::Permission").values()
                   if p["Properties"]["Principal"] == "*"
                   and ref(p["Properties"]["FunctionName"]) == f"{receiver.function}Function"}
    assert permissions == {("lambda:InvokeFunctionUrl", "NONE", None),
                           ("lambda:InvokeFunction", None, True)}
    function = resources[f"{receiver.function}Function"]["Properties"]
    assert function["Handler"] == receiver.handler
    variables = function["Environment"]["Variables"]
    assert variables["NOTIFICATION_API_KEY_SECRET_ARN"] == {"Ref": "NotificationApiKey"}
    assert ref(variables["NOTIFICATIONS_TABLE_NAME"]) == f"{receiver.table.id}Table"
    table = resources[f"{receiver.table.id}Table"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "subject", "KeyType": "HASH"},
                                  {"AttributeName": "id", "KeyType": "RANGE"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_the_entry_point_synthesizes_where_the_cdk_cli_says_with_its_context(
        tmp_path: Path) -> None:
    # GIVEN the CDK CLI's way of running the app: CDK_OUTDIR and `-c key=value`
    environment = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    # WHEN the app runs as cdk.json says
    result = subprocess.run(
        [sys.executable, "-m", "cdk.app", "--no-nag",
         "-c", "choreo:notificationEndpoint=https://example.com/entry"],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=False)
    # THEN the assembly is where the CLI looks, built with that context
    assert result.returncode == 0, result.stderr[-2000:]
    template = json.loads((tmp_path / f"{STACK_NAME}.template.json").read_text())
    assert template["Outputs"]["NotificationEndpoint"]["Value"] == "https://example.com/entry"


def test_notification_settings_come_from_context() -> None:
    template = synth_template({"choreo:notificationEndpoint": "https://example.com/hooks",
                               "choreo:notificationApiKeySecretName": "choreo/notifications"},
                              nag=False)
    resources = template["Resources"]
    (connection,) = of_type(resources, "AWS::Events::Connection").values()
    (destination,) = of_type(resources, "AWS::Events::ApiDestination").values()
    api_key = connection["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyValue"]
    assert "{{resolve:secretsmanager:" in json.dumps(api_key)
    assert "choreo/notifications" in json.dumps(api_key)
    assert destination["Properties"]["InvocationEndpoint"] == "https://example.com/hooks"
    assert template["Outputs"]["NotificationEndpoint"]["Value"] == "https://example.com/hooks"
    # an endpoint of one's own needs no receiver, and a named secret no generated one
    assert not of_type(resources, "AWS::Lambda::Url")
    assert "NotificationApiKey" not in resources


@pytest.mark.parametrize("context, named", [
    ({"choreo:notificationEndpoint": "http://example.com/hooks"}, "choreo:notificationEndpoint"),
    ({"choreo:notificationEndpoint": "example.com"}, "choreo:notificationEndpoint"),
    ({"choreo:notificationApiKey": "my-key"}, "choreo:notificationApiKey"),
    ({"choreo:bundle": "false"}, "choreo:bundle"),
    ({"choreo:stackName": "choreo_dev"}, "choreo:stackName"),
    ({"choreo:stackName": "c" * 62}, "choreo:stackName"),
])
def test_settings_that_cannot_deploy_stop_the_synth_naming_the_setting(
        context: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        build_app(context, nag=False)


def test_the_cli_entry_point_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cdk.app", "--no-nag",
         "-c", "choreo:notificationEndpoint=http://127.0.0.1:4567/notifications"],
        cwd=PROJECT_ROOT, env={**os.environ, "CDK_OUTDIR": str(tmp_path)},
        capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "choreo:notificationEndpoint" in result.stderr and "https://" in result.stderr
    assert "Traceback" not in result.stderr


# --- observability ----------------------------------------------------------------------------

def test_every_observed_bus_sends_every_event_to_the_observability_queue(
        resources: Resources) -> None:
    """Every event, not only the model's sources': one from a source nobody declared is what
    the dashboard's drift reports."""
    for bus in CHOREOGRAPHY.observed_buses:
        rule = resources[f"Observe{bus.value.title()}Bus"]["Properties"]
        assert ref(rule["EventBusName"]) == f"{bus.value.title()}EventBus"
        assert rule["EventPattern"] == {"source": [{"prefix": ""}]}
        (queue_target,) = [t for t in rule["Targets"] if ref(t["Arn"]) == "ObservabilityQueue"]
        assert queue_target["InputTransformer"] == {
            "InputPathsMap": {},
            "InputTemplate": f'{{"bus": "{bus.value}", "event": <aws.events.event.json>}}'}


def test_the_global_bus_alone_is_logged_raw_to_the_observability_log_group(
        resources: Resources) -> None:
    logged = {}
    for bus in CHOREOGRAPHY.observed_buses:
        rule = resources[f"Observe{bus.value.title()}Bus"]["Properties"]
        logged[bus] = [t for t in rule["Targets"] if "ObservabilityLogGroup" in json.dumps(t["Arn"])]
    assert logged[Bus.LOYALTY] == []
    (target,) = logged[Bus.GLOBAL]
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    assert ":log-group:" in json.dumps(target["Arn"])


def test_the_log_group_resource_policy_lets_eventbridge_write(resources: Resources) -> None:
    (policy,) = of_type(resources, "AWS::Logs::ResourcePolicy").values()
    document = json.dumps(policy["Properties"]["PolicyDocument"])
    for expected in ("events.amazonaws.com", "delivery.logs.amazonaws.com",
                     "logs:CreateLogStream", "logs:PutLogEvents", "ObservabilityLogGroup"):
        assert expected in document
    # only the rule that logs may put events, not any rule of any account ...
    put = '"Action":"logs:PutLogEvents","Condition":{"ArnEquals":{"aws:SourceArn":"'
    rule = {"Fn::GetAtt": [f"Observe{CHOREOGRAPHY.logged_bus.value.title()}Bus", "Arn"]}
    parts = policy["Properties"]["PolicyDocument"]["Fn::Join"][1]
    (at,) = [index for index, part in enumerate(parts)
             if isinstance(part, str) and part.endswith(put)]
    assert parts[at + 1] == rule
    # ... while creating the stream, which EventBridge asks for without the rule's ARN
    # (docs/decisions.md, "The Logs resource policy"), is not conditioned on it
    create = next(part for part in parts if isinstance(part, str)
                  and '"Action":"logs:CreateLogStream"' in part)
    assert "aws:SourceArn" not in create.split('"Action":"logs:CreateLogStream"')[1] \
        .split('"Action"')[0]


def test_the_observability_queue_accepts_only_the_observing_rules(resources: Resources) -> None:
    (grant,) = [statement for statement in queue_policy(resources, "ObservabilityQueue")
                if statement["Effect"] == "Allow"]
    allowed = {ref(rule) for rule in grant["Condition"]["ArnEquals"]["aws:SourceArn"]}
    assert allowed == {f"Observe{bus.value.title()}Bus" for bus in CHOREOGRAPHY.observed_buses}


# --- outputs ----------------------------------------------------------------------------------

def test_outputs_name_everything_a_client_needs(template_json: dict[str, Any]) -> None:
    outputs = set(template_json["Outputs"])
    required = {"GlobalEventBusName", "LoyaltyEventBusName", "ObservabilityQueueUrl",
                "ObservabilityLogGroupName", "OrderApiUrl", "ObservabilityDeadLetterQueueUrl",
                "LoyaltyFailureQueueUrl", "RuleTargetDeadLetterQueueUrl", "NotificationEndpoint",
                "WarehouseQueueUrl", "WarehouseDeadLetterQueueUrl"}
    required |= {f"{queue.id}QueueUrl" for queue in CHOREOGRAPHY.queues}
    required |= {f"{queue.id}DeadLetterQueueUrl" for queue in CHOREOGRAPHY.queues}
    required |= {f"{function.id}FunctionName" for function in CHOREOGRAPHY.functions}
    required |= {f"{table.id}TableName" for table in CHOREOGRAPHY.tables}
    assert required <= outputs, required - outputs
    assert template_json["Outputs"]["OrderApiUrl"]["Value"] == {
        "Fn::GetAtt": ["OrderHttpApi", "ApiEndpoint"]}


def test_every_cross_bus_route_is_in_the_template(resources: Resources) -> None:
    forwards = {(route.bus, route.target.bus) for route in CHOREOGRAPHY.routes
                if isinstance(route.target, ToBus)}
    assert forwards == {(Bus.GLOBAL, Bus.LOYALTY), (Bus.LOYALTY, Bus.GLOBAL)}
    for route in CHOREOGRAPHY.routes:
        if isinstance(route.target, ToBus):
            (target,) = resources[route.rule_id]["Properties"]["Targets"]
            assert ref(target["Arn"]) == f"{route.target.bus.value.title()}EventBus"


def test_every_output_is_one_the_naming_module_names(template_json: dict[str, Any]) -> None:
    """Clients find resources by these keys alone (workflow/outputs.py): the stack writes
    exactly them, and each dead-letter queue's description is its purpose on the Failures
    page."""
    model = CHOREOGRAPHY
    expected = {
        outputs.OBSERVABILITY_QUEUE_URL, outputs.OBSERVABILITY_LOG_GROUP_NAME,
        outputs.NOTIFICATION_ENDPOINT, outputs.NOTIFICATION_API_KEY_SECRET_ARN,
        outputs.NOTIFICATIONS_TABLE_NAME,
        outputs.function_name(model.notification_receiver.function),
        *(outputs.bus_name(bus) for bus in Bus),
        *(outputs.queue_url(queue.id) for queue in model.queues),
        *(dead_letters.key for dead_letters in outputs.dead_letter_outputs(model)),
        *(outputs.function_name(function.id) for function in model.functions),
        *(outputs.table_name(table.id) for table in model.tables),
        *(outputs.http_api_url(api) for api in model.http_apis),
    }
    written = template_json["Outputs"]
    assert set(written) == expected
    assert outputs.ORDER_API_URL in written and outputs.INVENTORY_TABLE_NAME in written
    for dead_letters in outputs.dead_letter_outputs(model):
        assert written[dead_letters.key]["Description"].lower() == dead_letters.purpose.lower()

