"""What AWS would refuse or regret, checked on the template offline: names that collide
between stacks, policies past their size limits, permissions wider than the code needs.

The stack here is synthesized under the longest name the settings allow, so that every
length checked is the worst a deployment can meet.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk.app import synth_template
from cdk.stack import IDEMPOTENCY_ACTIONS, LEDGER_ACTIONS, RELAY_ACTIONS
from workflow.deployment import physical_names, stack_name_problems
from workflow.handler_env import secret_env_var
from workflow.model import CARD_TOKEN_KEY, CHOREOGRAPHY, IDEMPOTENCY_TABLE

Resources = dict[str, dict[str, Any]]

# The longest stack name the settings accept (the longest queue name then fills SQS's 80).
LONGEST_STACK_NAME = "c" + "x" * 60
# Worst cases of what CloudFormation fills in at deploy time: the longest partition, a region
# name longer than any there is, a 12-digit account, and names CloudFormation generates at
# their longest (64 characters for a rule, 80 for a queue).
PARTITION = "aws-us-gov"
REGION = "xx-xxxxxxxxxxxx-9"
ACCOUNT = "999999999999"
GENERATED_RULE_NAME = "r" * 64
GENERATED_QUEUE_NAME = "q" * 80
# SQS's limits on a queue policy.
MAX_STATEMENTS = 20
MAX_POLICY_BYTES = 8192
# Properties that carry a physical name, by resource type.
NAME_PROPERTIES = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::EventBus": "Name",
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::Logs::ResourcePolicy": "PolicyName",
}


@pytest.fixture(scope="module")
def resources() -> Resources:
    assert stack_name_problems(LONGEST_STACK_NAME) == []
    assert stack_name_problems(LONGEST_STACK_NAME + "x")  # one more is refused
    found: Resources = synth_template({"choreo:stackName": LONGEST_STACK_NAME},
                                      nag=False)["Resources"]
    return found


def of_type(resources: Resources, kind: str) -> Resources:
    return {logical_id: resource for logical_id, resource in resources.items()
            if resource["Type"] == kind}


def resolved(value: Any, resources: Resources) -> Any:
    """`value` as CloudFormation would render it in the worst case."""
    if isinstance(value, list):
        return [resolved(item, resources) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                  "AWS::URLSuffix": "amazonaws.com"}
        if value["Ref"] in pseudo:
            return pseudo[value["Ref"]]
        resource = resources[value["Ref"]]
        if resource["Type"] == "AWS::Events::EventBus":
            return resource["Properties"]["Name"]
        if resource["Type"] == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue_name(resource)}"
        raise AssertionError(f"no worst case for a Ref to {resource['Type']}")
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        resource = resources[logical_id]
        if resource["Type"] == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{queue_name(resource)}"
        if resource["Type"] == "AWS::Events::Rule" and attribute == "Arn":
            bus = resolved(resource["Properties"].get("EventBusName", "default"), resources)
            return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{bus}/{GENERATED_RULE_NAME}"
        raise AssertionError(f"no worst case for {resource['Type']}.{attribute}")
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolved(part, resources) for part in parts)
    return {key: resolved(item, resources) for key, item in value.items()}


def queue_name(resource: dict[str, Any]) -> str:
    return str(resource["Properties"].get("QueueName", GENERATED_QUEUE_NAME))


def test_every_queue_policy_fits_sqs_limits_with_the_longest_names(resources: Resources) -> None:
    policies = of_type(resources, "AWS::SQS::QueuePolicy")
    assert policies
    policed = [queue["Ref"] for policy in policies.values()
               for queue in policy["Properties"]["Queues"]]
    assert len(policed) == len(set(policed)), "a queue with two policies"
    for logical_id, policy in policies.items():
        document = resolved(policy["Properties"]["PolicyDocument"], resources)
        size = len(json.dumps(document, separators=(",", ":")).encode())
        assert len(document["Statement"]) <= MAX_STATEMENTS, logical_id
        assert size <= MAX_POLICY_BYTES, f"{logical_id}: {size} bytes"
        # one statement per principal and purpose, however many rules
        purposes = [(json.dumps(s["Principal"], sort_keys=True), json.dumps(s["Action"]),
                     s["Effect"]) for s in document["Statement"]]
        assert len(purposes) == len(set(purposes)), logical_id


def test_every_physical_name_carries_the_stack_name(resources: Resources) -> None:
    named = {logical_id: resource["Properties"][NAME_PROPERTIES[resource["Type"]]]
             for logical_id, resource in resources.items()
             if NAME_PROPERTIES.get(resource["Type"]) in resource.get("Properties", {})}
    assert {of_kind for of_kind in NAME_PROPERTIES} == \
        {resources[logical_id]["Type"] for logical_id in named}
    for logical_id, name in named.items():
        assert isinstance(name, str) and name.startswith(f"{LONGEST_STACK_NAME}-"), logical_id
    # nothing else takes a name of its own (CloudFormation names it after the stack)
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        for key in ("FunctionName", "TableName", "RoleName", "LogGroupName", "Name"):
            if isinstance(properties.get(key), str) and resource["Type"] not in NAME_PROPERTIES:
                pytest.fail(f"{logical_id} has a fixed {key}")


def test_two_stacks_share_no_name() -> None:
    dev, prod = physical_names("choreo-dev"), physical_names("choreo-prod")
    for kind in dev:
        assert not set(dev[kind]) & set(prod[kind]), kind


def role_statements(resources: Resources, role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if role_id in [role["Ref"] for role in policy["Properties"]["Roles"]]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def function_role(resources: Resources, function_id: str) -> str:
    role = resources[f"{function_id}Function"]["Properties"]["Role"]
    return str(role["Fn::GetAtt"][0])


def test_each_function_may_put_only_its_own_subdomains_events(resources: Resources) -> None:
    for function in CHOREOGRAPHY.functions:
        puts = [s for s in role_statements(resources, function_role(resources, function.id))
                if "events:PutEvents" in json.dumps(s["Action"])]
        if function.publishes_to is None:
            assert puts == [], function.id
            continue
        (put,) = puts
        assert put["Condition"] == {"StringEquals": {"events:source": [function.subdomain.value]}}
        assert put["Resource"] == {"Fn::GetAtt": [
            f"{function.publishes_to.value.title()}EventBus", "Arn"]}


def test_each_function_gets_only_the_table_actions_its_code_uses(resources: Resources) -> None:
    """A relay only reads, a batch of checks' records in one call; everything else reads and
    writes one record at a time."""
    never = {"dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:*"}
    for function in CHOREOGRAPHY.functions:
        granted: dict[str, set[str]] = {}
        for statement in role_statements(resources, function_role(resources, function.id)):
            actions = statement["Action"] if isinstance(statement["Action"], list) \
                else [statement["Action"]]
            if not any(action.startswith("dynamodb:") for action in actions):
                continue
            tables = statement["Resource"] if isinstance(statement["Resource"], list) \
                else [statement["Resource"]]
            for table in tables:
                if isinstance(table, dict) and "Fn::GetAtt" in table:
                    granted.setdefault(table["Fn::GetAtt"][0], set()).update(actions)
        assert set(granted) == {f"{table}Table" for table in function.tables}, function.id
        for table in function.tables:
            actions = granted[f"{table}Table"]
            assert not actions & never, (function.id, table)
            expected = IDEMPOTENCY_ACTIONS if table == IDEMPOTENCY_TABLE \
                else RELAY_ACTIONS if function.relay_for is not None else LEDGER_ACTIONS
            assert actions == set(expected), (function.id, table)
    assert set(RELAY_ACTIONS) == {"dynamodb:BatchGetItem"}
    assert "dynamodb:BatchGetItem" not in LEDGER_ACTIONS + IDEMPOTENCY_ACTIONS


def test_only_who_places_orders_and_takes_payments_reads_the_card_token_key(
        resources: Resources) -> None:
    (secret_id,) = of_type(resources, "AWS::SecretsManager::Secret").keys() - {"NotificationApiKey"}
    readers = set()
    for function in CHOREOGRAPHY.functions:
        variables = resources[f"{function.id}Function"]["Properties"]["Environment"]["Variables"]
        statements = role_statements(resources, function_role(resources, function.id))
        reads = any(statement["Resource"] == {"Ref": secret_id} for statement in statements)
        if secret_env_var(CARD_TOKEN_KEY) in variables or reads:
            assert variables[secret_env_var(CARD_TOKEN_KEY)] == {"Ref": secret_id}
            assert reads
            readers.add(function.id)
    assert readers == {"OrderApi", "Payment"}
    generator = resources[secret_id]["Properties"]["GenerateSecretString"]
    assert generator["PasswordLength"] >= 32 and "SecretString" not in resources[secret_id]["Properties"]


def test_each_function_may_send_only_to_its_dead_letter_queue_and_its_outbox(
        resources: Resources) -> None:
    """The order API asks its relay to check each order; no other function sends to a queue
    but to dead-letter what it refuses."""
    dead_letter_queue_of = {queue.consumer: f"{queue.id}DeadLetterQueue"
                            for queue in CHOREOGRAPHY.queues}
    dead_letter_queue_of.update({function_id: f"{function_id}FailureQueue"
                                 for function_id in CHOREOGRAPHY.direct_targets()})
    for function in CHOREOGRAPHY.functions:
        sends = set()
        for statement in role_statements(resources, function_role(resources, function.id)):
            actions = statement["Action"] if isinstance(statement["Action"], list) \
                else [statement["Action"]]
            if "sqs:SendMessage" in actions:
                sends.add(statement["Resource"]["Fn::GetAtt"][0])
        expected = {f"{queue.id}Queue" for queue in CHOREOGRAPHY.outbox_queues(function.id)}
        if function.id in dead_letter_queue_of:
            expected.add(dead_letter_queue_of[function.id])
        assert sends == expected, function.id
    assert CHOREOGRAPHY.outbox_queues("OrderApi")
