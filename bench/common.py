"""What every benchmark shares: a running local system on spare ports, percentiles, and
results as `{"id", "metric", "value", "baseline", "ratio", "unit"}` rows."""

from __future__ import annotations

import json
import os
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from choreo.wiring import stock_seeded
from local.config import LocalConfig
from local.system import LocalSystem, local_system

# Where results are written: bench/results, or BENCH_RESULTS_DIR (the tests' tiny runs).
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results")


@dataclass(frozen=True)
class Result:
    id: str
    metric: str
    value: float
    baseline: float | None
    ratio: float | None
    unit: str
    note: str = ""


def result(id: str, metric: str, value: float, baseline: float | None, unit: str,
           note: str = "") -> Result:
    ratio = round(value / baseline, 3) if baseline else None
    return Result(id, metric, round(value, 3), None if baseline is None else round(baseline, 3),
                  ratio, unit, note)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def p50_ms(call: Callable[[], Any], samples: int, *, warm: bool = False) -> float:
    """The median wall time of `samples` calls, in ms; with `warm`, one call first that is not
    timed (templates compiled, caches filled)."""
    if warm:
        call()
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return median(timings)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bare_route(events: Any, sqs: Any, prefix: str) -> tuple[str, str]:
    """A fresh bus whose one rule sends every `bench` event to a fresh queue: moto alone,
    the baseline the system's hops are measured against. Returns (bus name, queue URL)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    events.create_event_bus(Name=name)
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name=name, EventBusName=name,
                               EventPattern='{"source": ["bench"]}')["RuleArn"]
    # EventBridge delivers to a queue only if the queue's policy lets it (the embedded AWS
    # refuses, as AWS does, what no policy allows)
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]})})
    events.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    return name, queue_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_system() -> Iterator[LocalSystem]:
    config = replace(LocalConfig.from_environment(), aws_port=free_port(), api_port=free_port())
    with local_system(config, seed=stock_seeded) as system:
        yield system


def write(results: list[Result], path: Path = RESULTS / "latest.json") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return path


def table(results: list[Result]) -> str:
    lines = [f"{'id':<4} {'metric':<52} {'value':>10} {'baseline':>10} {'ratio':>7}  unit"]
    for r in results:
        baseline = "" if r.baseline is None else f"{r.baseline:>10.2f}"
        ratio = "" if r.ratio is None else f"{r.ratio:>7.2f}"
        lines.append(f"{r.id:<4} {r.metric:<52} {r.value:>10.2f} {baseline:>10} {ratio:>7}  {r.unit}")
    return "\n".join(lines)
