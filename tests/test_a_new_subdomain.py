"""The model is the one place a choreography is written: a subdomain added to a copy of it,
with a handler and no other edit, is deployed, routed to, run, drawn and watched.

The copy adds an Audit subdomain whose function consumes `order.placed` and `order.cancelled`
from a queue of its own. From that copy alone: the CDK app synthesizes the queue, its
dead-letter queue, the rules and the event source mapping; the embedded AWS, deployed with
it, routes a published `order.placed` to the Audit queue and the local Lambda service runs
the handler on it; the dashboard's graph draws the new subdomain without overlaps and the
Failures page's list has its dead-letter queue; and the README's diagram has it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from cdk.app import STACK_NAME, build_app
from dashboard.failures.dead_letter_queues import dead_letter_queues
from dashboard.live.graph import graph_build
from local.config import LocalConfig
from local.deploy import Deployment, assembly_deploy
from local.embedded_aws import EmbeddedAws, client
from tests.dashboard.test_graph import _assert_nothing_overlaps
from tests.e2e.conftest import free_port
from tests.support import TEST_VAULT as VAULT
from tests.support import wait_for
from workflow import outputs
from workflow.diagram import mermaid
from workflow.domain.order import order_place
from workflow.domain.payment import GOOD_TEST_CARD
from workflow.envelope import put_events_entry
from workflow.model import CHOREOGRAPHY, Bus, Function, Queue, Route, ToQueue


class Subdomains(StrEnum):
    """The model's subdomains and one more (an enum cannot be extended; members of both
    compare and hash as their values)."""

    ORDER = "order"
    WAREHOUSE = "warehouse"
    PAYMENT = "payment"
    LOYALTY = "loyalty"
    AUDIT = "audit"


AUDIT = "Audit"
WITH_AUDIT = replace(
    CHOREOGRAPHY,
    functions=(*CHOREOGRAPHY.functions, Function(
        AUDIT, Subdomains.AUDIT, handler="tests.fixtures.audit_handler.lambda_handler",  # type: ignore[arg-type]
        summary="Keeps an audit trail of orders placed and cancelled.")),
    queues=(*CHOREOGRAPHY.queues, Queue(AUDIT, Subdomains.AUDIT, consumer=AUDIT)),  # type: ignore[arg-type]
    routes=(*CHOREOGRAPHY.routes, Route("order.placed", Bus.GLOBAL, ToQueue(AUDIT)),
            Route("order.cancelled", Bus.GLOBAL, ToQueue(AUDIT))),
)


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    build_app(outdir=str(outdir), nag=True, choreography=WITH_AUDIT).synth()
    return outdir


@pytest.fixture(scope="module")
def template(assembly: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((assembly / f"{STACK_NAME}.template.json").read_text())
    return found


@pytest.fixture(scope="module")
def deployed(assembly: Path, tmp_path_factory: pytest.TempPathFactory,
             ) -> Iterator[tuple[LocalConfig, Deployment]]:
    config = dataclasses.replace(LocalConfig.from_environment(), aws_port=free_port(),
                                 api_port=free_port(), cache_dir=tmp_path_factory.mktemp("cache"))
    aws = EmbeddedAws(config)
    aws.start()
    try:
        deployment = assembly_deploy(config, assembly, progress=lambda _: None)
        aws.lambda_start(deployment)
        yield config, deployment
    finally:
        aws.stop()


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {logical_id: resource for logical_id, resource in template["Resources"].items()
            if resource["Type"] == kind}


def test_the_stack_has_its_queue_dead_letter_queue_rules_and_mapping(template):
    queues = of_type(template, "AWS::SQS::Queue")
    assert {"AuditQueue", "AuditDeadLetterQueue"} <= set(queues)
    assert queues["AuditQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]}
    rules = [rule["Properties"] for rule in of_type(template, "AWS::Events::Rule").values()
             if any(target["Arn"] == {"Fn::GetAtt": ["AuditQueue", "Arn"]}
                    for target in rule["Properties"].get("Targets", []))]
    assert sorted(rule["EventPattern"]["detail-type"][0] for rule in rules) == [
        "order.cancelled", "order.placed"]
    [mapping] = [m["Properties"] for m in of_type(template, "AWS::Lambda::EventSourceMapping").values()
                 if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["AuditQueue", "Arn"]}]
    assert mapping["FunctionName"] == {"Ref": "AuditFunction"}
    assert {outputs.queue_url(AUDIT), outputs.dead_letter_queue_url(AUDIT),
            outputs.function_name(AUDIT)} <= set(template["Outputs"])


def test_the_local_system_routes_an_order_placed_to_it_and_runs_the_handler(deployed):
    config, deployment = deployed
    placed = order_place(vault=VAULT, request={"customerId": "audit", "card": {"number": GOOD_TEST_CARD},
                                  "items": [{"sku": "MUG-STONEWARE", "quantity": 1}]})
    bus = deployment.outputs[outputs.bus_name(Bus.GLOBAL)]
    answer = client(config, "events").put_events(Entries=[put_events_entry(placed, bus_name=bus)])
    assert answer["FailedEntryCount"] == 0

    log = config.cache_dir / "logs" / f"{deployment.physical_ids['AuditFunction']}.log"
    wait_for(lambda: log.exists() and f"audited order.placed {placed.subject}" in log.read_text(),
             60, 0.2, f"the Audit function to log that it audited {placed.subject}")
    assert log.exists(), f"the Audit function never ran (no {log})"
    assert f"audited order.placed {placed.subject}" in log.read_text()


def test_the_dashboard_draws_it_and_lists_its_dead_letter_queue(deployed):
    _, deployment = deployed
    graph = graph_build(WITH_AUDIT, deployment.outputs)
    assert graph.node("function:Audit").area == "audit"
    assert deployment.outputs[outputs.queue_url(AUDIT)].endswith(f"/{graph.node('queue:Audit').deployed}")
    assert {"OrderPlacedToAudit", "OrderCancelledToAudit"} <= {edge.id for edge in graph.edges}
    _assert_nothing_overlaps(graph)

    listed = {queue.name: queue for queue in dead_letter_queues(deployment.outputs, WITH_AUDIT)}
    assert listed[AUDIT].url == deployment.outputs[outputs.dead_letter_queue_url(AUDIT)]
    assert listed[AUDIT].source_queue_url == deployment.outputs[outputs.queue_url(AUDIT)]
    assert "Audit function" in listed[AUDIT].purpose


def test_the_readme_diagram_has_it():
    diagram = mermaid(WITH_AUDIT)
    audit = diagram.split('subgraph audit["Audit"]')[1].split("end")[0]
    assert 'AuditQueue[["Audit"]] --> Audit' in audit
    assert "-- order.placed --> AuditQueue" in diagram.replace('"', "")
