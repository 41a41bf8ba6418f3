"""Every section of `make bench` runs green from one command, at a tiny size: a benchmark
that cannot run measures nothing, and one that stopped running (a handler's environment it
spelled itself drifted from the stack's) went unnoticed until someone wanted its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each section's sizes turned down as far as they go while still measuring something.
TINY = {
    "BENCH_IMPORT_RUNS": "1", "BENCH_ORDERS": "5", "BENCH_RECORDS": "5",
    "BENCH_WS_CLIENTS": "21",  # one past the dashboard's per-address limit
    "BENCH_FANOUT_EVENTS": "20", "BENCH_FANOUT_RATE": "20",
    "BENCH_CAPACITY_FROM": "50", "BENCH_CAPACITY_SECONDS": "1", "BENCH_CEILING_SECONDS": "2",
    "BENCH_DRAIN_MESSAGES": "100", "BENCH_TRACE_EVENTS": "300", "BENCH_TRACE_SAMPLES": "3",
    "BENCH_TRACE_SCANS": "1", "BENCH_CONFORMANCE_EVENTS": "300",
    "BENCH_CONFORMANCE_SAMPLES": "3", "BENCH_CONFORMANCE_DEVIATING": "3",
    "BENCH_CONFORMANCE_STOPPED": "2", "BENCH_SEARCH_EVENTS": "300", "BENCH_SEARCH_SAMPLES": "3",
    "BENCH_CATALOGUE_EVENTS": "300", "BENCH_CATALOGUE_REQUESTS": "3",
    "BENCH_ROUTE_EVENTS": "300", "BENCH_ROUTE_SAMPLES": "3",
    "BENCH_BOUNDARIES_EVENTS": "300", "BENCH_BOUNDARIES_REQUESTS": "3",
    "BENCH_VERSION_EVENTS": "300", "BENCH_VERSION_SAMPLES": "3", "BENCH_VERSION_TURNS": "1",
    "BENCH_CALLS_ORDERS": "5", "BENCH_ENFORCEMENT_ORDERS": "5", "BENCH_ENFORCEMENT_TURNS": "1",
    "BENCH_M_ORDERS": "5", "BENCH_SUSTAINED_ORDERS": "10", "BENCH_SUSTAINED_RATE": "5",
}


@pytest.mark.e2e
def test_every_section_runs_at_a_tiny_size(tmp_path: Path):
    environment = {**os.environ, **TINY, "BENCH_RESULTS_DIR": str(tmp_path)}
    environment.pop("CHOREO_AWS_PORT", None)
    finished = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, env=environment,
                              capture_output=True, text=True, timeout=1200)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]

    rows = json.loads((tmp_path / "latest.json").read_text())
    assert rows, "the run measured nothing"
    # one id (or more) from each section
    ids = {row["id"] for row in rows}
    for expected in ("P6", "P1", "P5", "P3a", "P3c", "P4", "CF1", "S1", "CT1", "C1", "C2",
                     "M1", "M2", "P2"):
        assert expected in ids, f"no {expected} row: {sorted(ids)}"
    # every client of the fan-out got every event (they all connect from one address)
    fan_out = [row for row in rows if row["id"] == "P3a" and row.get("note")]
    assert fan_out and "undelivered" not in fan_out[0]["note"], fan_out
