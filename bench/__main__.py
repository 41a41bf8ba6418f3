"""`make bench`: run the benchmarks, print a table, write bench/results/latest.json.

Every figure that matters is a ratio against a baseline measured in the same run, because
the machine is shared and noisy. Sizes: BENCH_ORDERS (P1, default 200), BENCH_RECORDS (P5,
default 200), BENCH_IMPORT_RUNS (P6, default 7).
"""

from __future__ import annotations

import sys
import time

from bench import handler_overhead, import_time, order_latency
from bench.common import running_system, table, write


def main() -> int:
    started = time.monotonic()
    print("P6: import times ...", flush=True)
    results = import_time.run()
    print("starting the embedded default for P1 and P5 ...", flush=True)
    with running_system() as system:
        print(f"P1: {order_latency.ORDERS} sequential orders ...", flush=True)
        results += order_latency.run(system)
        print("P5: handler overhead ...", flush=True)
        results += handler_overhead.run(system)
    print()
    print(table(results))
    path = write(results)
    print(f"\nwrote {path} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
