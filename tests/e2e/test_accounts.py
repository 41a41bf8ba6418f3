"""The local system with the Loyalty subdomain in an account of its own and the observability
replicated to another region: Loyalty's bus, function and tables deployed in its account,
the payments forwarded to it across accounts and its points back, the bus policies deciding.
Orders still ship (and still get cancelled); the envelopes keep the account each event was
published in; the replica's log group has every event; and an event from an account the
home bus no longer lets in is refused, and kept as a dead letter that says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import (
    ROOT,
    RunningSystem,
    _wait_ready,
    api,
    free_port,
    place,
    runtime_stats,
    wait_status,
)
from tests.support import eventually
from workflow import outputs
from workflow.model import Bus

pytestmark = pytest.mark.e2e

HOME, LOYALTY = "123456789012", "222222222222"
REPLICA_REGION = "eu-west-1"
DECLINED_CARD = "4000 0000 0000 0002"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    ports = {"CHOREO_AWS_PORT": free_port(), "CHOREO_API_PORT": free_port(),
             "CHOREO_DASHBOARD_PORT": free_port()}
    log_path = tmp_path_factory.mktemp("local-up-accounts") / "up.log"
    env = {**os.environ, **{key: str(value) for key, value in ports.items()},
           "PYTHONUNBUFFERED": "1", "CHOREO_SUBDOMAIN_ACCOUNTS": f"loyalty={LOYALTY}",
           "CHOREO_REPLICA_REGION": REPLICA_REGION}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "choreo", "up", "--no-dashboard"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    aws_endpoint = f"http://127.0.0.1:{ports['CHOREO_AWS_PORT']}"
    try:
        found = _wait_ready(process, aws_endpoint, log_path, seconds=300)
        yield RunningSystem(aws_endpoint=aws_endpoint, dashboard_url="", outputs=found,
                            log_path=log_path, pid=process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def loyalty_client(system: RunningSystem, service: str) -> Any:
    made = system.client(service)
    made.meta.events.register("before-sign.*.*", lambda request, **_: request.headers
                              .__setitem__("x-moto-account-id", LOYALTY))
    return made


def loyalty_outputs(system: RunningSystem) -> dict[str, str]:
    cloudformation = loyalty_client(system, "cloudformation")
    stack = cloudformation.describe_stacks(StackName="choreo-loyalty")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def replica_outputs(system: RunningSystem) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation", endpoint_url=system.aws_endpoint,
                                  region_name=REPLICA_REGION, aws_access_key_id="test",
                                  aws_secret_access_key="test")
    stack = cloudformation.describe_stacks(StackName="choreo-replica")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def logged_envelopes(system: RunningSystem, correlation_id: str,
                     region: str = "us-east-1") -> list[dict[str, Any]]:
    """The events of one order as a log group kept them, envelope and all: the home stack's,
    or (in the replica's region) the replica's."""
    logs = boto3.client("logs", endpoint_url=system.aws_endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")
    where = system.outputs if region == "us-east-1" else replica_outputs(system)
    found = []
    for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=where[outputs.OBSERVABILITY_LOG_GROUP_NAME],
            filterPattern=f'"{correlation_id}"'):
        found += [json.loads(event["message"]) for event in page["events"]]
    return [event for event in found if event["detail"].get("correlationid") == correlation_id]


def first_sku(system: RunningSystem) -> str:
    return str(api("GET", f"{system.api}/products").json()["products"][0]["sku"])


def test_loyalty_is_deployed_in_its_own_account_and_not_in_the_home_one(system: RunningSystem):
    loyalty = loyalty_outputs(system)
    assert loyalty[outputs.ACCOUNT] == LOYALTY
    assert f":{LOYALTY}:event-bus/choreo-loyalty-loyalty" in loyalty[outputs.bus_arn(Bus.LOYALTY)]
    assert outputs.function_name("Loyalty") not in system.outputs
    assert system.outputs[outputs.ACCOUNT] == HOME
    functions = loyalty_client(system, "lambda").list_functions()["Functions"]
    assert [function["FunctionName"] for function in functions] == [
        loyalty[outputs.function_name("Loyalty")]]


def test_an_order_ships_across_the_two_accounts_and_each_event_keeps_its_account(
        system: RunningSystem):
    response = place(system, [{"sku": first_sku(system), "quantity": 1}])
    assert response.status_code == 202
    order = response.json()
    assert wait_status(system, order["orderId"], {"shipped", "rejected", "cancelled"}) == "shipped"
    envelopes = eventually(lambda: logged_envelopes(system, order["correlationId"]),
                           lambda envelopes: len(envelopes) >= 5, 10, 0.2,
                           "the order's five events in the home account's log group")
    accounts = {event["detail-type"]: event["account"] for event in envelopes}
    assert accounts == {"order.placed": HOME, "warehouse.stock-reserved": HOME,
                        "payment.taken": HOME, "loyalty.points-awarded": LOYALTY,
                        "warehouse.order-shipped": HOME}
    assert {event["region"] for event in envelopes} == {"us-east-1"}
    # the points are in the loyalty account's table, and only there
    table = loyalty_outputs(system)[outputs.table_name("Loyalty")]
    items = loyalty_client(system, "dynamodb").scan(TableName=table)["Items"]
    assert any(order["orderId"] in json.dumps(item) for item in items)


def test_the_replica_in_another_region_keeps_every_event_of_an_order_as_it_was_published(
        system: RunningSystem):
    assert replica_outputs(system)[outputs.REGION] == REPLICA_REGION
    response = place(system, [{"sku": first_sku(system), "quantity": 1}])
    order = response.json()
    assert wait_status(system, order["orderId"], {"shipped", "rejected", "cancelled"}) == "shipped"
    replicated = eventually(
        lambda: logged_envelopes(system, order["correlationId"], region=REPLICA_REGION),
        lambda replicated: len(replicated) >= 5, 10, 0.2,
        "the order's five events in the replica region's log group")
    home = logged_envelopes(system, order["correlationId"])
    assert sorted(event["detail"]["id"] for event in replicated) == sorted(
        event["detail"]["id"] for event in home)
    assert {(event["detail-type"], event["account"], event["region"]) for event in replicated} == {
        (event["detail-type"], event["account"], event["region"]) for event in home}


def test_a_declined_card_still_cancels_the_order(system: RunningSystem):
    response = place(system, [{"sku": first_sku(system), "quantity": 1}], card=DECLINED_CARD)
    assert response.status_code == 202
    assert wait_status(system, response.json()["orderId"],
                       {"shipped", "rejected", "cancelled"}) == "cancelled"


def test_points_from_an_account_the_home_bus_no_longer_lets_in_are_refused_and_dead_lettered(
        system: RunningSystem):
    events = system.client("events")
    bus = system.outputs[outputs.bus_name(Bus.GLOBAL)]
    statement = f"FromAccount{LOYALTY}"
    policy = events.describe_event_bus(Name=bus)["Policy"]
    assert statement in policy
    events.remove_permission(EventBusName=bus, StatementId=statement)
    sqs = loyalty_client(system, "sqs")
    dead_letters = loyalty_outputs(system)[outputs.dead_letter_queue_url(outputs.RULE_TARGET)]
    try:
        response = place(system, [{"sku": first_sku(system), "quantity": 1}])
        order = response.json()
        refused: list[dict[str, Any]] = eventually(
            lambda: sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10,
                                        MessageAttributeNames=["All"]).get("Messages", []),
            timeout=60, interval=0.2,
            message="the refused points event in the loyalty account's dead-letter queue")
        (message,) = refused
        attributes = {name: value["StringValue"]
                      for name, value in message["MessageAttributes"].items()}
        assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
        assert f":{HOME}:event-bus/{bus}" in attributes["TARGET_ARN"]
        event = json.loads(message["Body"])
        assert (event["detail-type"], event["account"]) == ("loyalty.points-awarded", LOYALTY)
        assert event["detail"]["subject"] == order["orderId"]
        # the order waits for the points that never arrived: it is not shipped
        assert wait_status(system, order["orderId"], {"shipped"}, seconds=3) == "placed"
        # and the embedded AWS says so, where the dashboard reads the runtime's counts
        refusals = runtime_stats(system)["refusedDeliveries"]
        assert refusals["count"] >= 1
        latest = refusals["latest"][-1]
        assert (latest["detail-type"], latest["account"]) == ("loyalty.points-awarded", LOYALTY)
        assert f"does not allow account {LOYALTY}" in latest["reason"]
    finally:
        events.put_permission(EventBusName=bus, Policy=policy)
