"""Lambda emulation without Docker: each execution environment is a worker process.

An execution environment gets the function's environment as deployed, imports the handler
once (a cold start), then serves one invocation at a time with a real context object and the
function's timeout; a timed-out or crashed one is replaced, as Lambda does. A function has as
many environments as it has invocations in flight, up to its concurrency (Lambda scales out
the same way; here the ceiling is a local setting sized for a laptop), and they are created
only when an invocation finds every existing one busy.

Environments are forked from one template process (Python's forkserver) that has already
imported what every handler imports — boto3 with the service models the handlers use,
Powertools, the core — so a cold start pays only for the handler's own module, and the
environments share those pages rather than each holding a copy (`local.lambda_preload`).
"""

from __future__ import annotations

import contextlib
import dataclasses
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

# Lambda's init phase has a budget of its own: the first invocation of an environment may
# take this much longer than the function's timeout.
INIT_BUDGET_SECONDS = 10

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["local.lambda_preload"])


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    role_arn: str = ""  # its execution role

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


class ExecutionEnvironment:
    """One worker process of a function: one invocation at a time."""

    def __init__(self, spec: FunctionSpec, extra_env: dict[str, str]) -> None:
        self.spec = spec
        self.extra_env = extra_env
        self.process: multiprocessing.process.BaseProcess | None = None
        self.connection: Connection | None = None
        self.initialised = False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def start(self) -> None:
        parent, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_worker_main, name=f"lambda:{self.spec.name}",
                                        args=(self.spec, child, self.extra_env), daemon=True)
        self.process.start()
        child.close()
        self.connection = parent
        self.initialised = False

    def invoke(self, event: Any, request_id: str) -> tuple[str, Any]:
        """Run one invocation: ("ok" | "error", payload), or ("timeout" | "crash", None), after
        which the environment is gone."""
        connection = self.connection
        assert connection is not None
        deadline = time.time() + self.spec.timeout_seconds
        budget = self.spec.timeout_seconds + (0 if self.initialised else INIT_BUDGET_SECONDS)
        try:
            connection.send((event, request_id, deadline))
            ready = connection.poll(budget)
            outcome, payload = connection.recv() if ready else ("timeout", None)
        except (EOFError, OSError):
            outcome, payload = "crash", None
        if outcome in ("ok", "error"):
            self.initialised = True
        else:
            self.discard()
        return outcome, payload

    def discard(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        if self.connection is not None:
            self.connection.close()
        self.process = None
        self.connection = None

    def stop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError):
                self.connection.send(None)
        if self.process is not None:
            self.process.join(timeout=2)
        self.discard()


class FunctionWorker:
    """A function's execution environments: an invocation takes an idle one, or starts one
    while there are fewer than `concurrency`, or waits for one to be free."""

    def __init__(self, spec: FunctionSpec, extra_env: dict[str, str], *,
                 concurrency: int = 1) -> None:
        if concurrency < 1:
            raise ValueError("a function needs a concurrency of at least one")
        self.spec = spec
        self.extra_env = extra_env
        self.concurrency = concurrency
        self._idle: list[ExecutionEnvironment] = []
        self._environments = 0
        self._in_flight = 0
        self._available = threading.Condition()
        self._stopped = False
        self.cold_starts = 0
        self.invocations = 0
        self.errors = 0
        self.timeouts = 0
        self.duration_ms_total = 0.0
        self.peak_concurrency = 0

    @property
    def environments(self) -> int:
        return self._environments

    def _acquire(self) -> ExecutionEnvironment:
        with self._available:
            while True:
                if self._stopped:
                    raise RuntimeError(f"{self.spec.name} is stopped")
                if self._idle:
                    environment = self._idle.pop()  # the most recently used: it is warm
                    break
                if self._environments < self.concurrency:
                    self._environments += 1
                    environment = ExecutionEnvironment(self.spec, self.extra_env)
                    break
                self._available.wait()
            self._in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
            return environment

    def reconfigure(self, environment: dict[str, str]) -> None:
        """A new environment for the function, as Lambda applies an updated configuration:
        every execution environment started from now on has it; the idle ones are retired,
        and those in flight are retired when their invocation ends."""
        with self._available:
            self.spec = dataclasses.replace(self.spec, environment=environment)
            idle, self._idle = self._idle, []
            self._environments -= len(idle)
            self._available.notify_all()
        for retired in idle:
            retired.stop()

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._available:
            self._in_flight -= 1
            if environment.alive and not self._stopped and environment.spec is self.spec:
                self._idle.append(environment)
            else:
                self._environments -= 1
                environment.discard()
            self._available.notify()

    def warm(self) -> None:
        """Start one execution environment now (its cold start) rather than on first use."""
        environment = self._acquire()
        try:
            if not environment.alive:
                environment.start()
                self.cold_starts += 1
        finally:
            self._release(environment)

    def invoke(self, event: Any) -> InvocationResult:
        request_id = str(uuid.uuid4())
        environment = self._acquire()
        try:
            self.invocations += 1
            if not environment.alive:
                environment.start()
                self.cold_starts += 1
            started = time.perf_counter()
            outcome, payload = environment.invoke(event, request_id)
            duration_ms = (time.perf_counter() - started) * 1000
            self.duration_ms_total += duration_ms
        finally:
            self._release(environment)
        if outcome == "ok":
            return InvocationResult(request_id, payload=payload, duration_ms=duration_ms)
        self.errors += 1
        if outcome == "error":
            return InvocationResult(request_id, error=payload, duration_ms=duration_ms)
        self.timeouts += outcome == "timeout"
        message = (f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
                   if outcome == "timeout" else "Runtime exited without providing a reason")
        return InvocationResult(request_id, duration_ms=duration_ms, error={
            "errorType": "Sandbox.Timedout" if outcome == "timeout" else "Runtime.ExitError",
            "errorMessage": message})

    def stop(self) -> None:
        with self._available:
            self._stopped = True
            idle, self._idle = self._idle, []
            self._environments -= len(idle)
            self._available.notify_all()
        for environment in idle:
            environment.stop()
