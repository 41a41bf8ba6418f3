"""With `choreo:legacyConsumer` the stack adds the v1-only sales ledger, its translator and
their two rules pinned to versions of `order.placed`; without it, nothing changes. cdk-nag and
cfn-lint stay clean with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdk.app import STACK_NAME, build_app, synth_template
from tests.cdk.test_handler_env import handler_reads
from workflow.handler_env import EVENT_VERSIONS_ENV, LAMBDA_FUNCTION_NAME_ENV
from workflow.legacy import with_legacy_consumer
from workflow.model import CHOREOGRAPHY

SETTING = {"choreo:legacyConsumer": "true"}
Resources = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cdk.out")
    build_app(SETTING, outdir=str(directory), nag=True).synth()
    return directory


@pytest.fixture(scope="module")
def resources(outdir: Path) -> Resources:
    found: Resources = json.loads(
        (outdir / f"{STACK_NAME}.template.json").read_text())["Resources"]
    return found


def _of_type(resources: Resources, kind: str) -> Resources:
    return {key: value for key, value in resources.items() if value["Type"] == kind}


def test_the_pinned_rules_match_each_its_version(resources: Resources) -> None:
    rules = _of_type(resources, "AWS::Events::Rule")
    v1 = rules["OrderPlacedV1ToSalesLedger"]["Properties"]
    v2 = rules["OrderPlacedV2ToOrderPlacedV1Translator"]["Properties"]
    assert v1["EventPattern"] == {"source": ["order"], "detail-type": ["order.placed"],
                                  "detail": {"dataschema": ["urn:choreo:schema:order.placed:1"]}}
    assert v2["EventPattern"]["detail"] == {
        "dataschema": ["urn:choreo:schema:order.placed:2"]}
    # the rest of the choreography's routes of order.placed match every version
    others = [rule_id for rule_id, rule in rules.items()
              if rule["Properties"]["EventPattern"].get("detail-type") == ["order.placed"]
              and rule_id not in {"OrderPlacedV1ToSalesLedger",
                                  "OrderPlacedV2ToOrderPlacedV1Translator"}]
    assert others
    assert not any("dataschema" in rules[rule_id]["Properties"]["EventPattern"].get("detail", {})
                   for rule_id in others)


def test_the_translator_may_send_to_the_ledgers_queue(resources: Resources) -> None:
    functions = {props["Handler"]: props for resource in
                 _of_type(resources, "AWS::Lambda::Function").values()
                 for props in [resource["Properties"]] if "Handler" in props}
    translator = functions["functions.sales.translator.lambda_handler"]
    ledger = functions["functions.sales.ledger.lambda_handler"]
    assert translator["Environment"]["Variables"]["SALESLEDGER_QUEUE_URL"] == {
        "Ref": "SalesLedgerQueue"}
    assert "SALESLEDGER_TABLE_NAME" in ledger["Environment"]["Variables"]
    [policy] = [policy for policy_id, policy in _of_type(resources, "AWS::IAM::Policy").items()
                if "OrderPlacedV1Translator" in policy_id]
    sends = [statement for statement in policy["Properties"]["PolicyDocument"]["Statement"]
             if "sqs:SendMessage" in statement["Action"]]
    assert [statement["Resource"] for statement in sends] == [[
        {"Fn::GetAtt": ["OrderPlacedV1TranslatorFailureQueue", "Arn"]},
        {"Fn::GetAtt": ["SalesLedgerQueue", "Arn"]}]]


def test_every_variable_the_legacy_handlers_read_is_set(resources: Resources) -> None:
    read, _ = handler_reads()
    assert {"SALESLEDGER_TABLE_NAME", "SALESLEDGER_QUEUE_URL", "DEAD_LETTER_QUEUE_URL"} <= read
    # the versions are read with the model's as the fallback: set only when a deployment asks
    provided = {LAMBDA_FUNCTION_NAME_ENV, EVENT_VERSIONS_ENV}
    for function in _of_type(resources, "AWS::Lambda::Function").values():
        provided.update(function["Properties"]["Environment"]["Variables"])
    assert read <= provided, read - provided


def test_the_setting_adds_exactly_the_legacy_resources() -> None:
    default = synth_template(nag=False)["Resources"]
    with_it = synth_template(SETTING, nag=False)["Resources"]
    legacy = with_legacy_consumer(CHOREOGRAPHY)
    assert set(default) <= set(with_it)
    counted = {kind: len(_of_type(with_it, kind)) - len(_of_type(default, kind))
               for kind in ("AWS::Lambda::Function", "AWS::Events::Rule", "AWS::SQS::Queue",
                            "AWS::DynamoDB::Table")}
    # two functions; two rules; the ledger's queue, its DLQ and the translator's OnFailure
    # queue; the ledger's table
    assert counted == {"AWS::Lambda::Function": 2, "AWS::Events::Rule": 2,
                       "AWS::SQS::Queue": 3, "AWS::DynamoDB::Table": 1}
    assert len(legacy.routes) == len(CHOREOGRAPHY.routes) + 2


def test_cdk_nag_passes_with_the_legacy_consumer(outdir: Path) -> None:
    report = json.loads((outdir / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []


def test_cfn_lint_finds_no_errors_with_the_legacy_consumer(outdir: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "json",
         str(outdir / f"{STACK_NAME}.template.json")],
        capture_output=True, text=True, check=False)
    findings = json.loads(result.stdout or "[]")
    assert [f for f in findings if f["Level"] == "Error"] == [], result.stdout


def test_local_mode_takes_the_setting_from_its_environment(monkeypatch: pytest.MonkeyPatch):
    from local.config import LocalConfig
    from local.deploy import synth_context

    monkeypatch.delenv("CHOREO_LEGACY_CONSUMER", raising=False)
    assert "choreo:legacyConsumer" not in synth_context(LocalConfig.from_environment())
    monkeypatch.setenv("CHOREO_LEGACY_CONSUMER", "1")
    assert synth_context(LocalConfig.from_environment())["choreo:legacyConsumer"] == "true"
