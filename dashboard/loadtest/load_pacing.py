"""How fast the load generator asks: when to look at each order again, under a bound on
requests a second, and how long to wait when the order API says it is too busy."""

from __future__ import annotations

import heapq
import itertools
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dashboard.orders.order_api import OrderApiError

MAX_RETRY_WAIT_SECONDS = 60.0
MAX_THROTTLED_PER_ORDER = 10


class PollSchedule:
    """When to ask for each order's status: `first_after` seconds after it was placed, then
    every `every` seconds until it ends, earliest first, and never more than `max_per_second`
    requests a second in all (each at least 1/max_per_second after the one before): the
    generator must not become the load it measures. Not thread-safe: its user holds a lock.

    When the orders end faster than the bound lets them be asked about, the asking falls
    behind; the run's wait for its last orders ends with `last_call`: every order not yet
    seen to end is asked about once more, and what it says then is final."""

    def __init__(self, *, first_after: float, every: float, max_per_second: float) -> None:
        self.first_after = first_after
        self.every = every
        self.spacing = 1.0 / max_per_second
        self._due: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._next_allowed = -math.inf
        self.closing = False

    def __len__(self) -> int:
        return len(self._due)

    def _push(self, order_id: str, due: float) -> None:
        heapq.heappush(self._due, (due, next(self._order), order_id))

    def add(self, order_id: str, *, placed_at: float) -> None:
        self._push(order_id, placed_at + self.first_after)

    def again(self, order_id: str, *, now: float, not_before: float = 0.0) -> None:
        """Ask about `order_id` again in `every` seconds, or not before `not_before` (the wait
        a throttled answer asked for). After `last_call` an order is asked about again only
        after such a wait: an answer that came is final."""
        if self.closing and not_before <= now:
            return
        self._push(order_id, max(now + self.every, not_before))

    def last_call(self, now: float) -> None:
        """Every order still scheduled becomes due now, to be asked about one last time."""
        self.closing = True
        pending = [order_id for _, _, order_id in sorted(self._due)]
        self._due = []
        for order_id in pending:
            self._push(order_id, now)

    def take(self, now: float) -> str | None:
        """The order to ask about now, or None if none is due or the rate allows no request."""
        if not self._due or self._due[0][0] > now or now < self._next_allowed:
            return None
        self._next_allowed = now + self.spacing
        return heapq.heappop(self._due)[2]

    def wait_seconds(self, now: float) -> float | None:
        """How long until `take` could answer an order; None when nothing is scheduled."""
        if not self._due:
            return None
        return max(0.0, self._due[0][0] - now, self._next_allowed - now)


def throttle_wait(error: OrderApiError, *, attempt: int,
                  idempotent: bool = False) -> float | None:
    """How long to wait before asking again after `error`, or None if asking again cannot
    help. A 429 or 503 with `Retry-After` is waited out (capped); a 429 without one backs off
    exponentially from half a second, and so does a 5xx (or no answer at all) when the
    request is `idempotent` — sent with an Idempotency-Key, so that asking again cannot
    place the order twice; anything else is a failure."""
    if error.retry_after is not None:
        return min(error.retry_after, MAX_RETRY_WAIT_SECONDS)
    if error.problem.status == 429 or (idempotent and error.problem.status >= 500):
        return min(0.5 * 2 ** attempt, MAX_RETRY_WAIT_SECONDS)
    return None


class PlacesOrders(Protocol):
    def place_order(self, body: dict[str, Any], *,
                    idempotency_key: str | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Placement:
    answer: dict[str, Any] | None
    throttled: int
    error: OrderApiError | None = None


def order_place_patiently(api: PlacesOrders, body: dict[str, Any], *,
                          wait: Callable[[float], bool]) -> Placement:
    """Place one order, placing it again after each throttled or failed answer once the wait
    it asks for is over (`wait` returns True when the run is stopping instead). Every attempt
    carries the same Idempotency-Key: an attempt whose answer was lost may have placed the
    order, and the next one then answers that order instead of placing another."""
    throttled = 0
    key = str(uuid.uuid4())
    while True:
        try:
            return Placement(answer=api.place_order(body, idempotency_key=key),
                             throttled=throttled)
        except OrderApiError as error:
            delay = throttle_wait(error, attempt=throttled, idempotent=True)
            if delay is None:
                return Placement(answer=None, throttled=throttled, error=error)
            throttled += 1
            if throttled > MAX_THROTTLED_PER_ORDER or wait(delay):
                return Placement(answer=None, throttled=throttled, error=error)
