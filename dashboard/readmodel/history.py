"""Rebuild the read model from the observability log group: CloudWatch Logs is the history of
record, so a dashboard started late, or restarted, still shows every trace.

Each log event's message is the EventBridge event as the global bus delivered it. Pages of
`FilterLogEvents` are recorded in chunks through the same idempotent upsert the poller uses,
so a rebuild can run twice, or alongside the poller, without duplicating anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.models import Origin
from dashboard.readmodel import selectors, services
from dashboard.readmodel.observations import Observation, observation_from_log_message
from workflow.model import CHOREOGRAPHY

LOGGED_BUS = CHOREOGRAPHY.logged_bus.value  # the log group is a target of its catch-all rule
CHUNK = 500
REPLAY_OVERLAP = timedelta(minutes=5)
"""How far before the newest event kept an incremental replay starts: log events arrive out of
order (each bus delivers on its own, and retries), and reading some again costs only time,
since recording is idempotent by event id."""


def replay_start_ms(*, full: bool = False) -> int | None:
    """Where a replay of the log group starts, in CloudWatch Logs' milliseconds: shortly before
    the newest event the read model holds, so that each start reads only what came since; with
    `full`, or an empty read model, at the retention horizon (None: the log group's
    beginning), since what is older would be pruned at once."""
    horizon = services.retention_horizon()
    newest = None if full else selectors.event_newest_observed_at()
    start = horizon if newest is None else newest - REPLAY_OVERLAP
    if start is not None and horizon is not None:
        start = max(start, horizon)
    return None if start is None else int(start.timestamp() * 1000)


def replay_since(start_time_ms: int | None) -> str:
    """Where a replay starts, in words."""
    if start_time_ms is None:
        return "from its beginning"
    return f"since {datetime.fromtimestamp(start_time_ms / 1000, tz=UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass
class RebuildProgress:
    log_group_name: str
    start_time_ms: int | None = None
    events_read: int = 0
    new_sightings: int = 0
    invalid: int = 0
    pages: int = 0
    order_ids: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    finished: bool = False

    @property
    def orders(self) -> int:
        return len(self.order_ids)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.events_read / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def since(self) -> str:
        return replay_since(self.start_time_ms)

    def line(self) -> str:
        return (f"{self.events_read} events read ({self.new_sightings} new, {self.invalid} invalid), "
                f"{self.orders} orders, {self.pages} pages, {self.rate:,.0f} events/s, "
                f"{self.elapsed:.1f}s")


def _observation(log_event: dict[str, Any]) -> Observation:
    millis = log_event.get("ingestionTime") or log_event.get("timestamp") or 0
    observed_at = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return observation_from_log_message(str(log_event.get("message", "")), bus=LOGGED_BUS,
                                        observed_at=observed_at, origin=Origin.HISTORY)


def _pages(logs: Any, log_group_name: str, filter_pattern: str | None,
           start_time_ms: int | None) -> Iterator[list[dict[str, Any]]]:
    request: dict[str, Any] = {"logGroupName": log_group_name}
    if filter_pattern:
        request["filterPattern"] = filter_pattern
    if start_time_ms is not None:
        request["startTime"] = start_time_ms
    while True:
        page = logs.filter_log_events(**request)
        yield page.get("events", [])
        token = page.get("nextToken")
        if not token or token == request.get("nextToken"):
            return
        request["nextToken"] = token


def history_rebuild(*, logs: Any, log_group_name: str, filter_pattern: str | None = None,
                    start_time_ms: int | None = None,
                    progress: Callable[[RebuildProgress], None] | None = None,
                    clear: bool = False) -> RebuildProgress:
    """Replay the log group into the read model, from `start_time_ms` on (`replay_start_ms`
    says where a start resumes). `filter_pattern` narrows it (a term pattern such as a quoted
    correlation id); `clear` forgets the read model first."""
    if clear:
        services.read_model_clear()
    state = RebuildProgress(log_group_name=log_group_name, start_time_ms=start_time_ms)
    for page in _pages(logs, log_group_name, filter_pattern, start_time_ms):
        state.pages += 1
        for start in range(0, len(page), CHUNK):
            observations = [_observation(log_event) for log_event in page[start:start + CHUNK]]
            items = services.observation_record(observations=observations)
            state.events_read += len(observations)
            state.new_sightings += len(items)
            state.invalid += sum(1 for o in observations if not o.valid)
            state.order_ids.update(o.order_id for o in observations if o.valid and o.order_id)
        if progress is not None:
            progress(state)
    state.finished = True
    if progress is not None:
        progress(state)
    return state
