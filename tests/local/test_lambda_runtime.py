"""Lambda's execution environments, as the local runtime emulates them: forked from the
preloaded template, one invocation at a time each, as many as the concurrency allows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from local.lambda_runtime import FunctionSpec, FunctionWorker


def spec(handler: str, timeout: int = 5) -> FunctionSpec:
    return FunctionSpec(name=f"test-{handler}",
                        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{handler}",
                        handler=f"tests.local.lambda_handlers.{handler}", timeout_seconds=timeout,
                        memory_mb=128, environment={"SETTING": "from the template"})


@pytest.fixture
def workers() -> Iterator[list[FunctionWorker]]:
    started: list[FunctionWorker] = []
    yield started
    for worker in started:
        worker.stop()


def worker_of(workers: list[FunctionWorker], handler: str, **kwargs: int) -> FunctionWorker:
    timeout = kwargs.pop("timeout", 5)
    worker = FunctionWorker(spec(handler, timeout), {}, **kwargs)
    workers.append(worker)
    return worker


def test_an_environment_has_the_function_s_settings_and_a_context(workers):
    worker = worker_of(workers, "echo")
    result = worker.invoke({"hello": "world"})
    assert not result.failed
    assert result.payload["event"] == {"hello": "world"}
    assert result.payload["function"] == "test-echo"
    assert result.payload["setting"] == "from the template"
    assert 0 < result.payload["remaining_ms"] <= 5000


def test_one_environment_serves_invocation_after_invocation(workers):
    worker = worker_of(workers, "echo")
    pids = {worker.invoke(n).payload["pid"] for n in range(5)}
    assert len(pids) == 1
    assert worker.cold_starts == 1 and worker.invocations == 5 and worker.environments == 1


def test_concurrent_invocations_get_environments_of_their_own_up_to_the_concurrency(workers):
    worker = worker_of(workers, "sleep", concurrency=2)
    worker.warm()
    pids: list[int] = []

    def invoke() -> None:
        pids.append(worker.invoke({"seconds": 0.5}).payload["pid"])

    threads = [threading.Thread(target=invoke) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert len(set(pids)) == 2 and worker.environments == 2 and worker.peak_concurrency == 2
    assert elapsed > 0.9  # four half-second invocations, two at a time, take two rounds


def test_an_error_is_lambda_s_error_payload_and_the_environment_stays(workers):
    worker = worker_of(workers, "fail")
    result = worker.invoke("x")
    assert result.failed and result.error is not None
    assert result.error["errorType"] == "ValueError"
    assert "failed on 'x'" in result.error["errorMessage"]
    worker.invoke("y")
    assert worker.cold_starts == 1
    assert (worker.errors, worker.timeouts) == (2, 0)


def test_a_timed_out_environment_is_replaced(workers):
    worker = worker_of(workers, "sleep", timeout=1)
    worker.warm()
    worker.invoke({"seconds": 0})  # the import is done: the next one gets the bare timeout
    result = worker.invoke({"seconds": 3})
    assert result.error == {"errorType": "Sandbox.Timedout",
                            "errorMessage": "Task timed out after 1.00 seconds"}
    assert worker.environments == 0
    assert not worker.invoke({"seconds": 0}).failed
    assert worker.cold_starts == 2
    assert (worker.errors, worker.timeouts) == (1, 1)


def test_a_crashed_environment_is_replaced(workers):
    worker = worker_of(workers, "crash")
    result = worker.invoke({})
    assert result.error is not None and result.error["errorType"] == "Runtime.ExitError"
    assert worker.environments == 0


def test_a_handler_that_cannot_be_imported_fails_every_invocation(workers):
    worker = FunctionWorker(spec("missing"), {})
    workers.append(worker)
    for _ in range(2):
        result = worker.invoke({})
        assert result.error is not None and result.error["errorType"] == "Runtime.ImportModuleError"


def test_a_new_configuration_reaches_new_environments_and_the_idle_ones_retire(workers):
    worker = worker_of(workers, "echo")
    before = worker.invoke(1).payload

    worker.reconfigure({"SETTING": "updated"})
    after = worker.invoke(2).payload

    assert (before["setting"], after["setting"]) == ("from the template", "updated")
    assert after["pid"] != before["pid"] and worker.environments == 1


def test_an_environment_in_flight_finishes_with_its_configuration_then_retires(workers):
    worker = worker_of(workers, "sleep")
    worker.warm()
    finished: list[int] = []
    running = threading.Thread(target=lambda: finished.append(
        worker.invoke({"seconds": 0.5}).payload["pid"]))
    running.start()
    while worker.peak_concurrency == 0:
        time.sleep(0.01)
    worker.reconfigure({"SETTING": "updated"})
    running.join()

    assert not worker.invoke({"seconds": 0}).failed
    assert worker.cold_starts == 2 and worker.environments == 1
