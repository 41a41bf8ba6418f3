"""What a load run found: how each order ended against what its card says it should, the
latency figures, and the lines that show it while it runs and when it is over."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from workflow.model import CHOREOGRAPHY


def _status_ended_by(event_name: str) -> str:
    status = CHOREOGRAPHY.event(event_name).concludes_as
    assert status is not None, f"{event_name} ends no order"
    return status


TERMINAL_STATUSES = frozenset(event.concludes_as for event in CHOREOGRAPHY.events
                              if event.concludes_as)
SHIPPED = _status_ended_by(CHOREOGRAPHY.happy_path[-1])
REJECTED = _status_ended_by("order.rejected")
CANCELLED = _status_ended_by("order.cancelled")


def expected_status(*, declined: bool) -> str:
    """How an order ends when stock is plentiful: shipped, or cancelled once its card is
    declined and its reservation released."""
    return CANCELLED if declined else SHIPPED


class Outcome(StrEnum):
    AS_EXPECTED = "as-expected"
    UNEXPECTED = "unexpected"
    LOST = "lost"


def outcome_of(*, declined: bool, status: str | None) -> Outcome:
    """A placed order that has not ended is lost; one that ended otherwise than its card
    says (rejected for want of stock, or shipped on a declined card) is unexpected."""
    if status not in TERMINAL_STATUSES:
        return Outcome.LOST
    return Outcome.AS_EXPECTED if status == expected_status(declined=declined) \
        else Outcome.UNEXPECTED


def percentile(values: Sequence[float], share: float) -> float | None:
    """The `share` quantile (0 to 1), interpolating between the nearest ranks as numpy's
    default does; None for no values."""
    if not values:
        return None
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, not {share}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _time(answer: dict[str, Any], key: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(answer[key]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class OrderResult:
    """One placed order as last seen: `status` is None until it has ended."""

    order_id: str
    declined: bool
    status: str | None = None
    placed_at: datetime | None = None
    concluded_at: datetime | None = None

    def ended(self, answer: dict[str, Any]) -> OrderResult:
        """This order as the order API's answer shows it ended."""
        return replace(self, status=str(answer["status"]), placed_at=_time(answer, "placedAt"),
                       concluded_at=_time(answer, "concludedAt"))

    @property
    def latency_ms(self) -> float | None:
        """Place → end, from the order record's own times (`placedAt`, `concludedAt`), so
        that how often the generator looks does not change it."""
        if self.placed_at is None or self.concluded_at is None:
            return None
        return (self.concluded_at - self.placed_at).total_seconds() * 1000

    @property
    def outcome(self) -> Outcome:
        return outcome_of(declined=self.declined, status=self.status)


@dataclass(frozen=True)
class LatencyWindow:
    """The orders placed in one minute of a run, and how long they took to end."""

    minute: int
    orders: int
    p50_ms: float | None
    p99_ms: float | None


def latency_by_minute(results: Sequence[OrderResult]) -> list[LatencyWindow]:
    """Place → end latency per minute of placing, counted from the first placement: whether
    the system holds its pace from the first minute to the last."""
    ended = [r for r in results if r.placed_at and r.latency_ms is not None]
    if not ended:
        return []
    start = min(r.placed_at for r in ended if r.placed_at)
    minutes: dict[int, list[float]] = {}
    for result in ended:
        assert result.placed_at is not None and result.latency_ms is not None
        minute = int((result.placed_at - start).total_seconds() // 60)
        minutes.setdefault(minute, []).append(result.latency_ms)
    return [LatencyWindow(minute, len(values), _rounded(percentile(values, 0.5)),
                          _rounded(percentile(values, 0.99)))
            for minute, values in sorted(minutes.items())]


@dataclass(frozen=True)
class LoadSummary:
    requested: int
    placed: int
    shipped: int
    rejected: int
    cancelled: int
    lost: int
    unexpected: int
    throttled: int
    errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    placement_rate: float
    completion_rate: float
    elapsed_seconds: float
    restocked_units: int
    by_minute: tuple[LatencyWindow, ...] = ()
    p50_first_ms: float | None = None
    """p50 latency of the first SLICE orders placed (of the first half, in a shorter run)"""
    p50_last_ms: float | None = None
    """p50 latency of the last SLICE orders placed: against the first, whether a long run
    slows down as history grows"""

    @property
    def ok(self) -> bool:
        """Every order asked for was placed and ended as its card says."""
        return self.lost == 0 and self.unexpected == 0 and self.placed == self.requested

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _completion_rate(results: Sequence[OrderResult]) -> float:
    """Ended orders per second, between the first placement and the last ending as the
    order records say."""
    placed = [r.placed_at for r in results if r.placed_at and r.concluded_at]
    concluded = [r.concluded_at for r in results if r.placed_at and r.concluded_at]
    if not placed or not concluded:
        return 0.0
    seconds = (max(concluded) - min(placed)).total_seconds()
    return len(concluded) / seconds if seconds > 0 else 0.0


# A soak compares the first and the last this many orders.
SLICE = 1000


def _p50_of(results: Sequence[OrderResult]) -> float | None:
    return _rounded(percentile([r.latency_ms for r in results if r.latency_ms is not None], 0.5))


def load_summary(*, requested: int, results: Sequence[OrderResult], throttled: int, errors: int,
                 placing_seconds: float, elapsed_seconds: float,
                 restocked_units: int = 0) -> LoadSummary:
    """The figures of a run from its placed orders; `placing_seconds` is how long placing
    them took, for the placement rate."""
    statuses = [result.status for result in results]
    latencies = [r.latency_ms for r in results if r.status and r.latency_ms is not None]
    in_order = sorted((r for r in results if r.placed_at), key=lambda r: r.placed_at or 0)
    slice_size = min(SLICE, max(1, len(in_order) // 2))
    return LoadSummary(
        requested=requested, placed=len(results), shipped=statuses.count(SHIPPED),
        rejected=statuses.count(REJECTED), cancelled=statuses.count(CANCELLED),
        lost=sum(r.outcome is Outcome.LOST for r in results),
        unexpected=sum(r.outcome is Outcome.UNEXPECTED for r in results),
        throttled=throttled, errors=errors,
        latency_p50_ms=_rounded(percentile(latencies, 0.50)),
        latency_p95_ms=_rounded(percentile(latencies, 0.95)),
        latency_p99_ms=_rounded(percentile(latencies, 0.99)),
        placement_rate=round(len(results) / placing_seconds, 2) if placing_seconds > 0 else 0.0,
        completion_rate=round(_completion_rate(results), 2),
        elapsed_seconds=round(elapsed_seconds, 2), restocked_units=restocked_units,
        by_minute=tuple(latency_by_minute(results)),
        p50_first_ms=_p50_of(in_order[:slice_size]), p50_last_ms=_p50_of(in_order[-slice_size:]))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class LoadProgress:
    requested: int
    placed: int
    terminal: int
    in_flight: int
    throttled: int
    errors: int
    placing_rate: float
    """orders placed a second, lately"""
    ending_rate: float
    """orders seen to end a second, lately"""
    elapsed_seconds: float
    done: bool = False


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes:02d}:{seconds:02d}"


def _current_rate(progress: LoadProgress) -> str:
    """While orders are being placed, how fast; after, how fast they end."""
    if progress.placed < progress.requested:
        return f"{progress.placing_rate:.1f} placed/s"
    return f"{progress.ending_rate:.1f} ended/s"


def progress_line(progress: LoadProgress, *, width: int | None = None) -> str:
    """One line that says how far a run is: a bar of the orders ended out of those asked for,
    then the counts. Within `width` characters if given, the bar giving way first."""
    trouble = "".join([f" · {progress.throttled} throttled" if progress.throttled else "",
                       f" · {progress.errors} errors" if progress.errors else ""])
    text = (f"{progress.placed}/{progress.requested} placed · {progress.terminal} ended · "
            f"{progress.in_flight} in flight · {_current_rate(progress)}{trouble} · "
            f"{_clock(progress.elapsed_seconds)}")
    bar_width = 24 if width is None else max(0, min(24, width - len(text) - 3))
    if bar_width < 5:
        return text if width is None else text[:width]
    share = progress.terminal / progress.requested if progress.requested else 1.0
    filled = min(bar_width, round(share * bar_width))
    return f"[{'#' * filled}{'.' * (bar_width - filled)}] {text}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def summary_lines(summary: LoadSummary) -> list[str]:
    return [
        f"orders      {summary.placed} placed of {summary.requested}: {summary.shipped} shipped, "
        f"{summary.cancelled} cancelled, {summary.rejected} rejected",
        f"problems    {summary.lost} lost, {summary.unexpected} unexpected, "
        f"{summary.errors} errors, {summary.throttled} throttled answers",
        f"latency     place → end p50 {_ms(summary.latency_p50_ms)}, "
        f"p95 {_ms(summary.latency_p95_ms)}, p99 {_ms(summary.latency_p99_ms)}",
        f"rates       {summary.placement_rate:.2f} placed/s, "
        f"{summary.completion_rate:.2f} ended/s",
        f"elapsed     {summary.elapsed_seconds:.1f} s; {summary.restocked_units} units restocked",
        *([f"over time   p50 {_ms(summary.by_minute[0].p50_ms)} in the first minute, "
           f"{_ms(summary.by_minute[-1].p50_ms)} in the last of {len(summary.by_minute)}; "
           f"{_ms(summary.p50_first_ms)} for the first orders, {_ms(summary.p50_last_ms)} "
           f"for the last"] if len(summary.by_minute) > 1 else []),
    ]
