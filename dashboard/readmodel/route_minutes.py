"""The routes' minutes (`RouteMinute`): what passes through each route of the model and how
long its hops take, added to as events are recorded and forgotten with them. Route health
(`dashboard.insight.routes`) reads them.

Latencies are counted in a fixed log-scale histogram: bin i >= 1 holds latencies in
[2^((i-1)/8), 2^(i/8)) ms, bin 0 everything under 1 ms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.models import ObservedEvent, RouteMinute
from dashboard.readmodel.minute_rows import minute_of, minute_rows_add, minute_rows_clear, minute_rows_prune
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.route_keys import route_keys

BINS_PER_DOUBLING = 8
TOP_BIN = BINS_PER_DOUBLING * 22 + 1
"""Latencies from 2^22 ms (70 minutes) on share the last bin."""
PRECISION = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1
"""How far a reported percentile may be from a latency in its bin, relatively."""


def latency_bin(latency_ms: float) -> int:
    if latency_ms < 1:
        return 0
    return min(TOP_BIN, math.floor(math.log2(latency_ms) * BINS_PER_DOUBLING) + 1)


def bin_bounds(index: int) -> tuple[float, float]:
    """The latencies (ms) a bin holds: [low, high)."""
    if index == 0:
        return 0.0, 1.0
    return 2 ** ((index - 1) / BINS_PER_DOUBLING), 2 ** (index / BINS_PER_DOUBLING)


def bin_value(index: int) -> float:
    """What a bin reports: its geometric middle (0.5 ms for bin 0)."""
    if index == 0:
        return 0.5
    return 2 ** ((index - 0.5) / BINS_PER_DOUBLING)


# --- recording ------------------------------------------------------------------------------


@dataclass
class MinuteFigures:
    events: int = 0
    invalid: int = 0
    latency_count: int = 0
    latency_sum_ms: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)


def route_minutes_add(*, created: Iterable[ObservedEvent], hops: Iterable[ObservedEvent],
                      model: Choreography = CHOREOGRAPHY) -> int:
    """Add to the routes' minutes what is new: `created`, the events recorded for the first
    time; `hops`, the events whose hop latency was just found (their cause had just arrived,
    or they had). Call inside the transaction that records them. Returns the rows touched."""
    keys = route_keys(model)
    found: dict[tuple[str, datetime], MinuteFigures] = {}
    for row in created:
        moment = row.time or row.observed_at
        for key in keys.passes(row.type, set(row.buses)):
            minute = found.setdefault((key, minute_of(moment)), MinuteFigures())
            minute.events += 1
            minute.invalid += 0 if row.valid else 1
    for row in hops:
        if not row.valid or row.hop_latency_ms is None or row.time is None:
            continue
        for key in keys.hops.get((row.cause_type, row.type), ()):
            minute = found.setdefault((key, minute_of(row.time)), MinuteFigures())
            minute.latency_count += 1
            minute.latency_sum_ms += row.hop_latency_ms
            index = latency_bin(row.hop_latency_ms)
            minute.histogram[index] = minute.histogram.get(index, 0) + 1
    return minute_rows_add(RouteMinute, found, key_fields=("route", "minute"), add=_add_figures,
                           update_fields=("events", "invalid", "latency_count", "latency_sum_ms",
                                          "histogram"))


def _add_figures(row: RouteMinute, new: MinuteFigures) -> None:
    row.events += new.events
    row.invalid += new.invalid
    row.latency_count += new.latency_count
    row.latency_sum_ms += new.latency_sum_ms
    histogram = {int(index): count for index, count in row.histogram.items()}
    for index, count in new.histogram.items():
        histogram[index] = histogram.get(index, 0) + count
    row.histogram = {str(index): count for index, count in sorted(histogram.items())}


def route_minutes_prune(*, before: datetime) -> int:
    """Forget the minutes before `before` (the read model's retention horizon)."""
    return minute_rows_prune(RouteMinute, before=before)


def route_minutes_clear() -> int:
    return minute_rows_clear(RouteMinute)
