"""The local runtime's chaos knobs and counters, shown and switched on the failures page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from dashboard import aws
from dashboard.orders.order_api import OrderApi, OrderApiError
from dashboard.orders.selectors import order_api_or_none
from dashboard.shared.problems import Problem

CHAOS_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("injected failures", "sqs.injectedFailures", "invocations failed before the handler ran"),
    ("duplicates", "sqs.injectedDuplicates", "batches delivered a second time"),
    ("poisoned records", "sqs.poisonedRecords", "deliveries of poisoned events, each failed"),
    ("held back", "sqs.delayedRecords", "deliveries held back by the jitter"),
    ("async retries", "asyncInvocations.retries", "asynchronous invocations tried again"),
    ("failed records", "sqs.failedRecords", "records that failed, for any reason"),
)
"""The local runtime's counters worth showing next to the knobs: (label, path in
`/_local/stats`, what it counts)."""


@dataclass(frozen=True)
class ChaosCounter:
    label: str
    value: int | None
    counts: str


@dataclass(frozen=True)
class ChaosPanel:
    knobs: dict[str, float]
    counters: list[ChaosCounter]
    problem: Problem | None = None

    @property
    def active(self) -> bool:
        return any(self.knobs.values())


def _stat(stats: dict[str, Any], path: str) -> int | None:
    value: Any = stats
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def chaos_panel_get() -> ChaosPanel | None:
    """The local runtime's chaos knobs and counters; None where there are none to show: the
    production profile, or an order API without `/_local/chaos` (anything but local mode)."""
    if settings.PRODUCTION:
        return None
    api = order_api_or_none()
    if api is None:
        return None
    try:
        knobs = api.chaos()
    except OrderApiError as error:
        if error.problem.status in (404, 405):
            return None
        return ChaosPanel(knobs={}, counters=[], problem=error.problem)
    try:
        stats = api.runtime_stats()
    except OrderApiError:
        stats = {}
    return ChaosPanel(
        knobs={name: float(value) for name, value in knobs.items()
               if isinstance(value, int | float) and not isinstance(value, bool)},
        counters=[ChaosCounter(label=label, value=_stat(stats, path), counts=counts)
                  for label, path, counts in CHAOS_COUNTERS])


def chaos_update(*, duplicate_rate: float, failure_rate: float, jitter_seconds: float,
                 poison_rate: float, api: OrderApi | None = None) -> dict[str, Any]:
    """Switch the local runtime's chaos knobs; returns them as now in force. Raises
    `OrderApiError` with the runtime's problem details when it refuses (a 404 where there
    are no knobs: anywhere but local mode)."""
    api = api or OrderApi(aws.current().outputs().order_api_url)
    return api.chaos_set({"duplicate_rate": duplicate_rate, "failure_rate": failure_rate,
                          "jitter_seconds": jitter_seconds, "poison_rate": poison_rate})
