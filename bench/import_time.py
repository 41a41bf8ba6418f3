"""P6: cold start, as the import time of each handler module, against a bare `import boto3`
(each the median of several fresh interpreters)."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.common import Result, p50_ms, result
from local.config import ROOT
from workflow.handler_env import LAMBDA_FUNCTION_NAME_ENV, EnvKind, choreography_environment
from workflow.model import CHOREOGRAPHY

RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "7"))
# Every function's variables, as the model declares them, so that any handler imports: only
# their being set matters here, not what they name.
ENV = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", LAMBDA_FUNCTION_NAME_ENV: "bench",
       **choreography_environment(CHOREOGRAPHY, {
           EnvKind.TABLE_NAME: "t", EnvKind.QUEUE_URL: "u", EnvKind.BUS_NAME: "b",
           EnvKind.DEAD_LETTER_QUEUE_URL: "u", EnvKind.SECRET_ARN: "arn:aws:secretsmanager:s",
           EnvKind.IDEMPOTENCY_WINDOW: str(CHOREOGRAPHY.idempotency_window_seconds)})}


def _import_ms(module: str) -> float:
    def interpreter(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, check=True)

    return p50_ms(lambda: interpreter(f"import {module}"), RUNS) - p50_ms(lambda: interpreter("pass"), RUNS)


def run() -> list[Result]:
    baseline = _import_ms("boto3")
    results = []
    for function in CHOREOGRAPHY.functions:
        module = function.handler.rpartition(".")[0]
        results.append(result("P6", f"import {module}", _import_ms(module), baseline, "ms",
                              "baseline = import boto3"))
    return results
