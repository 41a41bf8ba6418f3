"""Lambda emulation without Docker: each function runs in its own worker process.

A worker is an execution environment: it gets the function's environment as deployed, imports
the handler once (a cold start), then serves invocations one at a time with a real context
object and the function's timeout. A timed-out or crashed worker is replaced, as Lambda does.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


class LambdaContext:
    """The context object Lambda hands to a handler."""

    def __init__(self, spec: FunctionSpec, request_id: str, deadline: float) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = spec.log_group_name
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _worker_main(spec: FunctionSpec, connection: Connection, extra_env: dict[str, str]) -> None:
    log_dir = extra_env.get("CHOREO_LOG_DIR")
    if log_dir:  # the function's own log stream, like its CloudWatch log group
        os.makedirs(log_dir, exist_ok=True)
        sys.stdout = sys.stderr = open(  # noqa: SIM115 - lives as long as the worker
            os.path.join(log_dir, f"{spec.name}.log"), "a", buffering=1)
    os.environ.update(extra_env)
    os.environ.update(spec.environment)
    os.environ.update({
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
        "_HANDLER": spec.handler,
    })
    module_name, _, attribute = spec.handler.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as error:  # an init error fails every invocation, as on Lambda
        init_error = _error_payload(error, "Runtime.ImportModuleError")
        while True:
            message = connection.recv()
            if message is None:
                return
            connection.send(("error", init_error))
    while True:
        message = connection.recv()
        if message is None:
            return
        event, request_id, deadline = message
        context = LambdaContext(spec, request_id, deadline)
        try:
            result = handler(event, context)
        except Exception as error:
            # as Lambda does, an unhandled error is written to the function's log
            print(f"[ERROR] {type(error).__name__}: {error}\n"
                  + "".join(traceback.format_exception(error)), flush=True)
            connection.send(("error", _error_payload(error)))
        else:
            connection.send(("ok", result))
        sys.stdout.flush()


def _error_payload(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {"errorType": error_type or type(error).__name__, "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error)[-6:]}


class FunctionWorker:
    """One execution environment for one function; invocations are serialised (reserved
    concurrency of one, which keeps the local machine's two cores for the rest)."""

    def __init__(self, spec: FunctionSpec, extra_env: dict[str, str]) -> None:
        self.spec = spec
        self.extra_env = extra_env
        self.lock = threading.Lock()
        self.process: multiprocessing.process.BaseProcess | None = None
        self.connection: Connection | None = None
        self.cold_starts = 0
        self.invocations = 0
        self.duration_ms_total = 0.0

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.process = context.Process(target=_worker_main, name=f"lambda:{self.spec.name}",
                                       args=(self.spec, child, self.extra_env), daemon=True)
        self.process.start()
        self.connection = parent
        self.cold_starts += 1
        return parent

    def warm(self) -> None:
        """Start the execution environment now (its cold start) rather than on first use."""
        with self.lock:
            if self.process is None or not self.process.is_alive():
                self._start()

    def _discard(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.process = None
        self.connection = None

    def invoke(self, event: Any) -> InvocationResult:
        request_id = str(uuid.uuid4())
        with self.lock:
            self.invocations += 1
            alive = self.process is not None and self.process.is_alive()
            connection = self.connection if alive and self.connection else self._start()
            started = time.perf_counter()
            deadline = time.time() + self.spec.timeout_seconds
            connection.send((event, request_id, deadline))
            # the first invocation also pays for the import: Lambda's init phase has its own
            # budget (10 s), so the wait is the function timeout plus that
            budget = self.spec.timeout_seconds + (10 if self.invocations == 1 else 0)
            try:
                ready = connection.poll(budget)
                outcome, payload = connection.recv() if ready else ("timeout", None)
            except (EOFError, OSError):
                outcome, payload = "crash", None
            duration_ms = (time.perf_counter() - started) * 1000
            self.duration_ms_total += duration_ms
            if outcome == "ok":
                return InvocationResult(request_id, payload=payload, duration_ms=duration_ms)
            if outcome == "error":
                return InvocationResult(request_id, error=payload, duration_ms=duration_ms)
            self._discard()
            message = (f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
                       if outcome == "timeout" else "Runtime exited without providing a reason")
            return InvocationResult(request_id, duration_ms=duration_ms, error={
                "errorType": "Sandbox.Timedout" if outcome == "timeout" else "Runtime.ExitError",
                "errorMessage": message})

    def stop(self) -> None:
        with self.lock:
            if self.connection is not None:
                with contextlib.suppress(OSError):
                    self.connection.send(None)
            if self.process is not None:
                self.process.join(timeout=2)
            self._discard()

