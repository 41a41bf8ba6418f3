"""The handlers' environment is one contract, declared in the model (`workflow.handler_env`):
the stack writes it and nothing more, whatever the deployment's settings, and the handlers
read nothing else, by no name of their own."""

from __future__ import annotations

import ast
import contextlib
import importlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from cdk.app import synth_templates
from workflow.deployment import EVENT_VERSIONS, LEGACY_CONSUMER, NOTIFICATION_ENDPOINT
from workflow.handler_env import (
    EVENT_VERSIONS_ENV,
    LAMBDA_FUNCTION_NAME_ENV,
    handler_environments,
    queue_env_var,
    secret_env_var,
    table_env_var,
)
from workflow.legacy import with_legacy_consumer
from workflow.model import CHOREOGRAPHY
from workflow.placement import HOME_ACCOUNT, HOME_REGION, REPLICA_REGION, SUBDOMAIN_ACCOUNTS

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
# Every function any deployment may have: the choreography's, the receiver, the legacy consumer.
EVERY_FUNCTION = handler_environments(with_legacy_consumer(CHOREOGRAPHY))

# A variable read by a name spelled in the handler's source, rather than made by the model.
LITERAL_READ = re.compile(r"""(?:\benv|\bgetenv|\benviron\.get|\benviron\.pop)\(\s*(["'])(\w+)\1"""
                          r"""|\benviron\[\s*(["'])(\w+)\3\s*\]""")
RESOURCE_NAME = re.compile(r"(_TABLE_NAME|_QUEUE_URL|_ARN|EVENT_BUS_NAME)$")

# What the stack gives every function on purpose beside the model's declaration: Powertools'
# settings (cdk/constructs/subdomain.py), which the handlers never read themselves.
STACK_ADDED = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"}
# Deployments whose functions, or whose functions' environments, differ.
SETTINGS = {
    "default": {},
    "legacy consumer": {LEGACY_CONSUMER: "true"},
    "event versions": {EVENT_VERSIONS: "order.placed=2"},
    "an endpoint of its own": {NOTIFICATION_ENDPOINT: "https://notifications.example.com/hook"},
    "across accounts": {HOME_ACCOUNT: "111111111111", HOME_REGION: "us-east-1",
                        SUBDOMAIN_ACCOUNTS: "loyalty=222222222222", REPLICA_REGION: "eu-west-1",
                        LEGACY_CONSUMER: "true"},
}


@pytest.mark.parametrize("settings", SETTINGS.values(), ids=list(SETTINGS))
def test_every_function_s_environment_is_what_the_model_declares(settings: dict[str, str]):
    deployed: set[str] = set()
    optional_set: set[str] = set()
    for stack, template in synth_templates(settings, nag=False).items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            function_id = logical_id.removesuffix("Function")
            assert function_id in EVERY_FUNCTION, f"{stack}: {logical_id} has no declared environment"
            variables = set(resource["Properties"]["Environment"]["Variables"])
            assert variables >= STACK_ADDED, (stack, function_id)
            required = {v.name for v in EVERY_FUNCTION[function_id] if not v.optional}
            optional = {v.name for v in EVERY_FUNCTION[function_id] if v.optional}
            assert variables - STACK_ADDED - optional == required, (stack, function_id)
            optional_set |= variables & optional
            deployed.add(function_id)
    assert {function.id for function in CHOREOGRAPHY.functions} <= deployed
    assert optional_set == ({EVENT_VERSIONS_ENV} if EVENT_VERSIONS in settings else set())

# How the handlers ask for what the stack gave them (functions/common/aws.py), and the
# variable each question reads.
READERS = {"table_name_of": table_env_var, "queue_url_of": queue_env_var,
           "secret": secret_env_var, "env": str}


def literal_reads(source: str) -> set[str]:
    return {match.group(2) or match.group(4) for match in LITERAL_READ.finditer(source)}


def test_the_literal_check_finds_each_way_of_reading():
    assert literal_reads("""env("ORDERS_TABLE_NAME"); os.environ['X_QUEUE_URL']
        os.environ.get("EVENT_BUS_NAME"); os.getenv('K_SECRET_ARN')""") == {
        "ORDERS_TABLE_NAME", "X_QUEUE_URL", "EVENT_BUS_NAME", "K_SECRET_ARN"}


def test_no_handler_spells_the_name_of_a_resource_s_variable():
    spelled = {f"{module.relative_to(FUNCTIONS)}: {name}"
               for module in FUNCTIONS.rglob("*.py")
               for name in literal_reads(module.read_text()) if RESOURCE_NAME.search(name)}
    assert not spelled, "read them through functions.common.aws, by the model's ids"


def _evaluate(node: ast.expr, namespace: dict[str, Any]) -> Any:
    return eval(compile(ast.Expression(node), "<handler>", "eval"), {"__builtins__": {}}, namespace)


def _namespace(tree: ast.Module) -> dict[str, Any]:
    """What a module's top level names from the model: the names it imports from `workflow`,
    and the constants it derives from them."""
    namespace: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workflow"):
            module = importlib.import_module(str(node.module))
            namespace.update({alias.asname or alias.name: getattr(module, alias.name)
                              for alias in node.names})
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(target := node.targets[0], ast.Name):
            # not a constant of the model's (a client, a logger) if it names anything else
            with contextlib.suppress(Exception):
                namespace[target.id] = _evaluate(node.value, namespace)
    return namespace


def handler_reads(modules: Iterable[Path] | None = None) -> tuple[set[str], set[str]]:
    """The variables the handlers' modules (all of them, unless named) read, each resolved
    through the model, and where a read's name could not be resolved."""
    read: set[str] = set()
    unresolved: set[str] = set()
    for module in FUNCTIONS.rglob("*.py") if modules is None else modules:
        tree = ast.parse(module.read_text())
        namespace = _namespace(tree)
        for node in ast.walk(tree):
            argument: ast.expr | None = None
            if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
                argument, name_of = node.slice, str
            elif isinstance(node, ast.Call):
                called = node.func.id if isinstance(node.func, ast.Name) else \
                    "env" if ast.unparse(node.func).endswith("environ.get") else ""
                if called not in READERS or not node.args:
                    continue
                argument, name_of = node.args[0], READERS[called]
            if argument is None:
                continue
            try:
                read.add(name_of(_evaluate(argument, namespace)))
            except Exception:
                unresolved.add(f"{module.relative_to(FUNCTIONS)}:{node.lineno}")
    return read, unresolved


def test_every_variable_a_handler_reads_is_declared_and_every_declared_one_is_read():
    read, unresolved = handler_reads()
    # only the readers themselves, which make the name from what they are asked
    assert {place.partition(":")[0] for place in unresolved} == {"common/aws.py"}, unresolved
    assert {"ORDERS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "IDEMPOTENCY_WINDOW_SECONDS",
            "EVENT_BUS_NAME", "EVENT_VERSIONS", "DEAD_LETTER_QUEUE_URL", "ORDEROUTBOX_QUEUE_URL",
            "CARD_TOKEN_KEY_SECRET_ARN", "NOTIFICATIONS_TABLE_NAME", "SALESLEDGER_QUEUE_URL"} <= read
    declared = {variable.name for variables in EVERY_FUNCTION.values() for variable in variables}
    assert read - {LAMBDA_FUNCTION_NAME_ENV} <= declared, read - declared
    assert declared <= read, declared - read
