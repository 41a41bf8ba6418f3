"""The code stays as clean as the day it was written: ruff and mypy with the project's own
configuration, and the dependency rules between the model and its adapters."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["workflow", "functions", "cdk", "local", "dashboard", "choreo", "bench"]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_is_clean() -> None:
    result = run("mypy", *PACKAGES)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_dependency_rules_hold() -> None:
    """The contracts in pyproject.toml: the model imports no adapter, and functions, cdk,
    local and dashboard do not import each other (the `choreo` package composes the last two),
    and none of them imports `choreo`."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


OUTPUT_KEY = re.compile(r"[A-Z][A-Za-z]*(QueueUrl|FunctionName|TableName|EventBusName|ApiUrl|"
                        r"LogGroupName)|NotificationEndpoint")
OUTPUT_SUFFIX = re.compile(r"(QueueUrl|FunctionName|TableName|EventBusName|Url|LogGroupName)$")


def test_stack_output_keys_are_named_in_one_place() -> None:
    """A stack output key is written only in workflow/outputs.py: a key spelled anywhere else
    (whole, or as an f-string's suffix) is a fact that can drift from the stack."""
    offenders = []
    for package in ("workflow", "functions", "cdk", "local", "dashboard", "choreo"):
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "workflow" / "outputs.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and OUTPUT_KEY.fullmatch(node.value):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
                elif isinstance(node, ast.JoinedStr) and node.values \
                        and isinstance(last := node.values[-1], ast.Constant) \
                        and isinstance(node.values[0], ast.FormattedValue) \
                        and OUTPUT_SUFFIX.search(str(last.value)):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} f-string "
                                     f"ending {last.value!r}")
    assert offenders == []
