"""The choreography deployed across accounts and regions (`workflow.placement`): Loyalty in an
account of its own, an observability replica in another region. Each side's resource
policies, cross-boundary targets with their roles and dead-letter queues, and outputs,
asserted on the synthesized templates (with cdk-nag attached: an unacknowledged finding
fails the fixture)."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from typing import Any

import pytest

from cdk.app import build_app, synth_templates
from cdk.settings import SettingsError
from workflow import outputs
from workflow.model import CHOREOGRAPHY, Bus, Route, ToBus
from workflow.placement import HOME_ACCOUNT, HOME_REGION, REPLICA_REGION, SUBDOMAIN_ACCOUNTS

HOME, LOYALTY = "111111111111", "222222222222"
SETTINGS = {HOME_ACCOUNT: HOME, HOME_REGION: "us-east-1", SUBDOMAIN_ACCOUNTS: f"loyalty={LOYALTY}",
            REPLICA_REGION: "eu-west-1"}
LOYALTY_BUS_ARN = f"arn:aws:events:us-east-1:{LOYALTY}:event-bus/choreo-loyalty-loyalty"
GLOBAL_BUS_ARN = f"arn:aws:events:us-east-1:{HOME}:event-bus/choreo-global"
REPLICA_BUS_ARN = f"arn:aws:events:eu-west-1:{HOME}:event-bus/choreo-replica-global"
# The roles each side's forwards put events as, in the stacks deployed before the others.
HOME_TO_LOYALTY = f"arn:aws:iam::{HOME}:role/choreo-us-east-1-to-choreo-loyalty-loyalty"
LOYALTY_TO_HOME = f"arn:aws:iam::{LOYALTY}:role/choreo-loyalty-us-east-1-to-choreo-global"
LOYALTY_TO_REPLICA = \
    f"arn:aws:iam::{LOYALTY}:role/choreo-loyalty-us-east-1-to-choreo-replica-global"

Templates = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def templates() -> Templates:
    return synth_templates(SETTINGS, nag=True)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {logical_id: resource["Properties"] for logical_id, resource
            in template["Resources"].items() if resource["Type"] == kind}


def role_statements(templates: Templates, stack: str,
                    target: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of the policies attached to a rule target's role: one of its stack's, or
    (across accounts) one named in the stack of its stack's forwarding roles."""
    template = templates[stack]
    if isinstance(target["RoleArn"], str):
        template = templates[f"{stack}-forwarding"]
        name = target["RoleArn"].rsplit("/", 1)[-1]
        (role,) = [logical_id for logical_id, properties
                   in of_type(template, "AWS::IAM::Role").items()
                   if properties.get("RoleName") == name]
    else:
        role = target["RoleArn"]["Fn::GetAtt"][0]
    return [statement for policy in of_type(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Roles"]
            for statement in policy["PolicyDocument"]["Statement"]]


def test_with_no_settings_the_app_is_one_stack():
    assert list(synth_templates({}, nag=False)) == ["choreo"]


def test_loyalty_and_the_replica_get_stacks_of_their_own(templates: Templates):
    assert list(templates) == ["choreo-forwarding", "choreo-loyalty-forwarding", "choreo",
                               "choreo-loyalty", "choreo-replica"]
    home, loyalty, replica = (templates[name] for name in ("choreo", "choreo-loyalty",
                                                           "choreo-replica"))
    functions = {name: sorted(of_type(template, "AWS::Lambda::Function"))
                 for name, template in templates.items()}
    assert functions == {
        "choreo": ["NotificationReceiverFunction", "OrderApiFunction", "OrderEventsFunction",
                   "OrderRelayFunction", "PaymentFunction", "WarehouseFunction"],
        "choreo-loyalty": ["LoyaltyFunction"],
        "choreo-replica": [], "choreo-forwarding": [], "choreo-loyalty-forwarding": []}
    assert {bus["Name"] for bus in of_type(home, "AWS::Events::EventBus").values()} == {
        "choreo-global"}
    assert {bus["Name"] for bus in of_type(loyalty, "AWS::Events::EventBus").values()} == {
        "choreo-loyalty-loyalty"}
    assert {bus["Name"] for bus in of_type(replica, "AWS::Events::EventBus").values()} == {
        "choreo-replica-global"}
    # Loyalty keeps its own idempotency records in its own account
    assert {"IdempotencyTable", "LoyaltyTable"} <= set(of_type(loyalty, "AWS::DynamoDB::Table"))


def test_each_bus_lets_in_only_the_forwarding_role_and_only_the_events_it_forwards(
        templates: Templates):
    (home_policy,) = of_type(templates["choreo"], "AWS::Events::EventBusPolicy").values()
    assert home_policy["EventBusName"] == {"Ref": "GlobalEventBus"}
    assert home_policy["StatementId"] == f"FromAccount{LOYALTY}"
    assert home_policy["Statement"]["Principal"] == {"AWS": LOYALTY_TO_HOME}
    assert home_policy["Statement"]["Action"] == "events:PutEvents"
    assert home_policy["Statement"]["Condition"] == {"StringEquals": {
        "events:source": ["loyalty"], "events:detail-type": ["loyalty.points-awarded"]}}
    (loyalty_policy,) = of_type(templates["choreo-loyalty"], "AWS::Events::EventBusPolicy").values()
    assert loyalty_policy["EventBusName"] == {"Ref": "LoyaltyEventBus"}
    assert loyalty_policy["Statement"]["Principal"] == {"AWS": HOME_TO_LOYALTY}
    assert loyalty_policy["Statement"]["Condition"] == {"StringEquals": {
        "events:source": ["payment"], "events:detail-type": ["payment.taken"]}}
    # the replica is in the home account, but Loyalty's bus replicates what is published on
    # it (EventBridge routes no forwarded event to a third bus): only that role and event
    (replica_policy,) = of_type(templates["choreo-replica"], "AWS::Events::EventBusPolicy").values()
    assert replica_policy["Statement"]["Principal"] == {"AWS": LOYALTY_TO_REPLICA}
    assert replica_policy["Statement"]["Condition"] == {"StringEquals": {
        "events:source": ["loyalty"], "events:detail-type": ["loyalty.points-awarded"]}}


@pytest.mark.parametrize(("stack", "rule", "role"), [
    ("choreo", "PaymentTakenToLoyaltyBus", HOME_TO_LOYALTY),
    ("choreo-loyalty", "LoyaltyPointsAwardedToGlobalBus", LOYALTY_TO_HOME),
    ("choreo-loyalty", "ReplicateLoyaltyToObservabilityReplica", LOYALTY_TO_REPLICA),
])
def test_a_target_on_another_accounts_bus_puts_events_as_the_role_that_buss_policy_names(
        templates: Templates, stack: str, rule: str, role: str):
    (target,) = of_type(templates[stack], "AWS::Events::Rule")[rule]["Targets"]
    assert target["RoleArn"] == role
    roles = of_type(templates[f"{stack}-forwarding"], "AWS::IAM::Role").values()
    (made,) = [properties for properties in roles
               if properties["RoleName"] == role.rsplit("/", 1)[-1]]
    assert made["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"}}]


def test_the_forwarding_roles_are_deployed_before_any_policy_names_them():
    """IAM resolves a role a policy names when the policy is written: the stacks of the
    roles come first, and every other stack waits for them."""
    with tempfile.TemporaryDirectory(prefix="choreo-synth-") as outdir:
        assembly = build_app(SETTINGS, outdir=outdir, nag=False).synth()
        waits = {stack.stack_name: {dependency.id for dependency in stack.dependencies
                                    if not dependency.id.endswith(".assets")}
                 for stack in assembly.stacks}
    roles = {"choreo-forwarding", "choreo-loyalty-forwarding"}
    assert waits == {"choreo-forwarding": set(), "choreo-loyalty-forwarding": set(),
                     "choreo": roles, "choreo-loyalty": roles, "choreo-replica": roles}


@pytest.mark.parametrize(("stack", "rule", "other_bus"), [
    ("choreo", "PaymentTakenToLoyaltyBus", LOYALTY_BUS_ARN),
    ("choreo-loyalty", "LoyaltyPointsAwardedToGlobalBus", GLOBAL_BUS_ARN),
    ("choreo", "ReplicateToObservabilityReplica", REPLICA_BUS_ARN),
    ("choreo-loyalty", "ReplicateLoyaltyToObservabilityReplica", REPLICA_BUS_ARN),
])
def test_a_target_across_a_boundary_has_a_role_that_may_put_on_that_bus_alone_and_a_dlq(
        templates: Templates, stack: str, rule: str, other_bus: str):
    template = templates[stack]
    (target,) = of_type(template, "AWS::Events::Rule")[rule]["Targets"]
    assert target["Arn"] == other_bus
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleTargetDeadLetterQueue",
                                                                 "Arn"]}}
    assert role_statements(templates, stack, target) == [
        {"Action": "events:PutEvents", "Effect": "Allow", "Resource": other_bus}]


def test_every_event_reaches_the_replica_from_the_bus_it_was_published_on(templates: Templates):
    """No replication rule matches an event that reached its bus from another bus: that
    would be a third bus, which EventBridge refuses (THIRD_*_HOP_DETECTED)."""
    home = templates["choreo"]["Resources"]["ReplicateToObservabilityReplica"]["Properties"]
    loyalty = templates["choreo-loyalty"]["Resources"][
        "ReplicateLoyaltyToObservabilityReplica"]["Properties"]
    assert "loyalty" not in home["EventPattern"]["source"]
    assert "loyalty.points-awarded" not in home["EventPattern"]["detail-type"]
    assert loyalty["EventPattern"] == {"source": ["loyalty"],
                                       "detail-type": ["loyalty.points-awarded"]}
    replicated = {*home["EventPattern"]["detail-type"], *loyalty["EventPattern"]["detail-type"]}
    assert replicated == {event.name for event in CHOREOGRAPHY.events}


def test_the_replicas_dead_letter_queue_lets_eventbridge_in(templates: Templates):
    (policy,) = [resource["Properties"] for resource in
                 templates["choreo-replica"]["Resources"].values()
                 if resource["Type"] == "AWS::SQS::QueuePolicy"
                 and "RuleTargetDeadLetterQueue" in json.dumps(resource["Properties"]["Queues"])]
    (grant,) = [statement for statement in policy["PolicyDocument"]["Statement"]
                if statement["Effect"] == "Allow"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"}
    assert grant["Action"] == "sqs:SendMessage"


def test_the_replica_observes_its_bus_as_the_home_stack_does(templates: Templates):
    replica = templates["choreo-replica"]
    assert set(of_type(replica, "AWS::Events::Rule")) == {"ObserveGlobalBus"}
    assert (of_type(replica, "AWS::Events::Rule")["ObserveGlobalBus"]["EventPattern"]
            == of_type(templates["choreo"], "AWS::Events::Rule")["ObserveGlobalBus"]["EventPattern"]
            == {"source": [{"prefix": ""}]})
    assert {outputs.OBSERVABILITY_QUEUE_URL, outputs.OBSERVABILITY_LOG_GROUP_NAME,
            outputs.bus_arn(Bus.GLOBAL)} <= set(replica["Outputs"])


def test_each_stack_says_where_it_is_and_the_arns_of_its_buses(templates: Templates):
    home, loyalty = templates["choreo"]["Outputs"], templates["choreo-loyalty"]["Outputs"]
    assert home[outputs.bus_arn(Bus.GLOBAL)]["Value"] == {"Fn::GetAtt": ["GlobalEventBus", "Arn"]}
    assert loyalty[outputs.bus_arn(Bus.LOYALTY)]["Value"] == {
        "Fn::GetAtt": ["LoyaltyEventBus", "Arn"]}
    assert outputs.bus_arn(Bus.LOYALTY) not in home
    assert outputs.OBSERVABILITY_QUEUE_URL not in loyalty
    assert outputs.ACCOUNT in home and outputs.REGION in loyalty


def test_the_home_stack_observes_only_the_bus_it_holds(templates: Templates):
    assert set(of_type(templates["choreo"], "AWS::Events::Rule")) >= {"ObserveGlobalBus"}
    assert "ObserveLoyaltyBus" not in of_type(templates["choreo"], "AWS::Events::Rule")


def test_a_route_added_to_the_model_across_the_boundary_is_allowed_and_targeted():
    more = dataclasses.replace(CHOREOGRAPHY, routes=(
        *CHOREOGRAPHY.routes, Route("warehouse.order-shipped", Bus.GLOBAL, ToBus(Bus.LOYALTY))))
    templates = synth_templates(SETTINGS, nag=False, choreography=more)
    (policy,) = of_type(templates["choreo-loyalty"], "AWS::Events::EventBusPolicy").values()
    assert policy["Statement"]["Condition"] == {"StringEquals": {
        "events:source": ["payment", "warehouse"],
        "events:detail-type": ["payment.taken", "warehouse.order-shipped"]}}
    assert policy["Statement"]["Principal"] == {"AWS": HOME_TO_LOYALTY}
    rule = of_type(templates["choreo"], "AWS::Events::Rule")["WarehouseOrderShippedToLoyaltyBus"]
    assert rule["Targets"][0]["Arn"] == LOYALTY_BUS_ARN
    assert rule["Targets"][0]["RoleArn"] == HOME_TO_LOYALTY


@pytest.mark.parametrize(("settings", "message"), [
    ({SUBDOMAIN_ACCOUNTS: f"loyalty={LOYALTY}"}, "needs choreo:homeAccount and choreo:homeRegion"),
    ({**SETTINGS, SUBDOMAIN_ACCOUNTS: "loyalty=2222"}, "'2222' is not a 12-digit AWS account id"),
    ({**SETTINGS, SUBDOMAIN_ACCOUNTS: f"billing={LOYALTY}"}, "'billing' is not a subdomain"),
    ({**SETTINGS, REPLICA_REGION: "us-east-1"}, "is the home region"),
    ({**SETTINGS, REPLICA_REGION: "mars"}, "'mars' is not an AWS region name"),
    # the warehouse's queue is fed by rules on the global bus: it cannot leave on its own
    ({**SETTINGS, SUBDOMAIN_ACCOUNTS: f"warehouse={LOYALTY}"},
     "would deliver to the queue Warehouse"),
])
def test_settings_that_cannot_deploy_are_refused_by_name(settings: dict[str, str], message: str):
    with pytest.raises(SettingsError, match=message):
        synth_templates(settings, nag=False)
