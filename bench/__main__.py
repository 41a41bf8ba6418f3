"""`make bench`: run the benchmarks, print a table, write bench/results/latest.json.

Every figure that matters is a ratio against a baseline measured in the same run, because
the machine is shared and noisy. Sections, in the order they run (BENCH_ONLY=a,b runs some):

- import    P6   import times (BENCH_IMPORT_RUNS, 7)
- latency   P1   sequential orders (BENCH_ORDERS, 200); P5 handler overhead (BENCH_RECORDS, 200)
- fanout    P3a, P3b  websocket fan-out to BENCH_WS_CLIENTS (100)
- drain     P3c  poller drain (BENCH_DRAIN_MESSAGES, 20,000)
- trace     P4   trace load (BENCH_TRACE_EVENTS, 100,000)
- conformance CF1 stuck orders and conformance views (BENCH_CONFORMANCE_EVENTS, 100,000)
- search    S1   search, compare and OTLP export over BENCH_SEARCH_EVENTS (100,000)
- catalogue CT1  the catalogue's pages (BENCH_CATALOGUE_EVENTS, 100,000)
- routes    R1-R4  route health: recording, /api/routes and a route's page (BENCH_ROUTE_EVENTS, 100,000)
- boundaries B1  accounts and regions: the live page and a trace across two accounts
            (BENCH_BOUNDARIES_EVENTS, 100,000)
- versions V1-V4  event versions: recording, /versions/ and /api/versions (BENCH_VERSION_EVENTS, 100,000)
- calls   C1   AWS calls per order, by service and operation (BENCH_CALLS_ORDERS, 200)
- enforcement C2  enforcement on against off: the embedded AWS's CPU per order
            (BENCH_ENFORCEMENT_ORDERS, 400, x BENCH_ENFORCEMENT_TURNS, 2, each way)
- sustained M1, M2  2 x BENCH_M_ORDERS (1,000) at concurrency 8; P2 and the soak,
            BENCH_SUSTAINED_ORDERS (10,000) at BENCH_SUSTAINED_RATE (10/s): about 25 minutes

Results are written after every section, so an interrupted run keeps what it measured: to
bench/results/latest.json, or with BENCH_ONLY to latest-<sections>.json, so that a partial run
never replaces a full one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from bench import (
    boundaries_views,
    calls_per_order,
    catalogue_views,
    conformance_views,
    dashboard_fanout,
    enforcement_cost,
    handler_overhead,
    import_time,
    order_latency,
    poller_drain,
    route_health_views,
    search_views,
    sustained,
    trace_load,
    versions_views,
)
from bench.common import RESULTS, Result, running_system, table, write


def latency() -> list[Result]:
    print("starting the embedded default for P1 and P5 ...", flush=True)
    with running_system() as system:
        print(f"P1: {order_latency.ORDERS} sequential orders ...", flush=True)
        results = order_latency.run(system)
        print("P5: handler overhead ...", flush=True)
        return results + handler_overhead.run(system)


def sustained_run() -> list[Result]:
    print("M1, M2, P2: the whole system under the load generator ...", flush=True)
    return sustained.run()


SECTIONS: dict[str, Callable[[], list[Result]]] = {
    "import": import_time.run,
    "latency": latency,
    "fanout": dashboard_fanout.run,
    "drain": poller_drain.run,
    "trace": trace_load.run,
    "conformance": conformance_views.run,
    "search": search_views.run,
    "catalogue": catalogue_views.run,
    "routes": route_health_views.run,
    "boundaries": boundaries_views.run,
    "versions": versions_views.run,
    "calls": calls_per_order.run,
    "enforcement": enforcement_cost.run,
    "sustained": sustained_run,
}


def main() -> int:
    chosen = [name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        print(f"unknown section(s) {', '.join(unknown)}; there are {', '.join(SECTIONS)}",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    target = RESULTS / (f"latest-{'-'.join(chosen)}.json" if chosen else "latest.json")
    results: list[Result] = []
    for name, section in SECTIONS.items():
        if chosen and name not in chosen:
            continue
        if name == "import":
            print("P6: import times ...", flush=True)
        results += section()
        path = write(results, target)
    print()
    print(table(results))
    print(f"\nwrote {path} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
