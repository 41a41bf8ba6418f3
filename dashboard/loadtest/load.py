"""The load generator: orders placed through the order API as any client places them,
followed to their end, with the warehouse kept stocked so that each ends as its card says.

    summary = load_run(api_url=..., dynamodb=..., table_name=..., settings=LoadSettings(orders=100))

1. The run is planned up front (seeded): each order's one or two catalogue lines and its
   card, the declining test card for a share of them.
2. Placers start orders — `concurrency` at a time (closed loop), or on a steady schedule of
   `rate` per second with never more than `concurrency` in flight (open loop). A 429 or 503
   answer that asks to retry later is waited out and the same order placed again.
3. A stock keeper reads the levels and tops up what the orders in flight and the next slice
   of the plan could still take; an order is placed only once its slice is covered.
4. Pollers ask each placed order for its status a second after placing it, then every couple
   of seconds, at a bounded total rate; latency comes from the order record's own times.
5. After the last placement, orders have `grace_seconds` to end. Then every order not yet
   seen to end is asked about once more (the asking, bounded in rate, falls behind when
   orders end faster than it may ask); those that have not ended then are lost.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.loadtest.load_pacing import Placement, PollSchedule, order_place_patiently, throttle_wait
from dashboard.loadtest.load_report import (
    TERMINAL_STATUSES,
    LoadProgress,
    LoadSummary,
    OrderResult,
    load_summary,
)
from dashboard.orders.order_api import OrderApi, OrderApiError
from dashboard.orders.stock import stock_levels, stock_top_up
from workflow.domain.payment import DECLINING_TEST_CARD, GOOD_TEST_CARD
from workflow.stock import StockLevel

CUSTOMERS = 50
RATE_WINDOW_SECONDS = 5.0
POLLERS = 4
TICK_SECONDS = 0.25


@dataclass(frozen=True)
class LoadSettings:
    orders: int
    rate: float | None = None
    """orders started per second (open loop); None starts one as soon as another is answered"""
    concurrency: int = 8
    declined_share: float = 0.1
    grace_seconds: float = 120.0
    seed: int | None = None
    skus: tuple[str, ...] = ()
    """the products to order from; every product of the catalogue when empty"""
    # An order's status costs the system a function invocation: first asked about when most
    # have ended, and at most ten asks a second in all (latency comes from the order record's
    # own timestamps, so asking late distorts nothing).
    poll_first_after: float = 1.5
    poll_every: float = 2.0
    poll_max_per_second: float = 10.0
    restock_every: float = 1.0

    def __post_init__(self) -> None:
        problems = [text for broken, text in (
            (self.orders < 1, "orders must be at least 1"),
            (self.concurrency < 1, "concurrency must be at least 1"),
            (self.rate is not None and self.rate <= 0, "rate must be positive"),
            (not 0 <= self.declined_share <= 1, "declined share must be between 0 and 1"),
            (self.grace_seconds < 0, "grace must not be negative"),
            (self.poll_max_per_second <= 0, "poll rate must be positive")) if broken]
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class PlannedOrder:
    index: int
    customer_id: str
    lines: tuple[tuple[str, int], ...]
    """(sku, quantity) per line"""
    declined: bool

    def body(self) -> dict[str, Any]:
        return {"customerId": self.customer_id,
                "items": [{"sku": sku, "quantity": quantity} for sku, quantity in self.lines],
                "card": {"number": DECLINING_TEST_CARD if self.declined else GOOD_TEST_CARD}}


def order_plan(*, skus: list[str], orders: int, declined_share: float,
               rng: random.Random) -> list[PlannedOrder]:
    """`orders` orders of one or two distinct products, one or two of each; exactly
    round(share * orders) of them, spread at random, on the declining card."""
    if not skus:
        raise ValueError("the catalogue is empty: nothing to order")
    declined = set(rng.sample(range(orders), round(declined_share * orders)))
    return [PlannedOrder(index=index, customer_id=f"load-{rng.randrange(CUSTOMERS):02d}",
                         lines=tuple((sku, rng.randint(1, 2))
                                     for sku in rng.sample(skus, min(len(skus), rng.randint(1, 2)))),
                         declined=index in declined)
            for index in range(orders)]


def units_wanted(orders: Iterable[PlannedOrder]) -> Counter[str]:
    wanted: Counter[str] = Counter()
    for order in orders:
        for sku, quantity in order.lines:
            wanted[sku] += quantity
    return wanted


def stock_shortfall(wanted: Mapping[str, int],
                    levels: Mapping[str, StockLevel]) -> dict[str, int]:
    """Units to deliver of each product whose shelf holds fewer than `wanted`: enough for
    twice what is wanted, so that the next top-up is not due at once."""
    short = {}
    for sku, units in wanted.items():
        available = levels[sku].available if sku in levels else 0
        if available < units:
            short[sku] = 2 * units - available
    return short


@dataclass
class _Placed:
    planned: PlannedOrder
    result: OrderResult


@dataclass
class _LoadRun:
    """The run's shared state, behind one condition; the placers, pollers and stock keeper
    are its methods, each run in its own thread."""

    api_url: str
    dynamodb: Any
    table_name: str
    settings: LoadSettings
    plan: list[PlannedOrder]
    clock: Callable[[], float] = time.monotonic
    lock: threading.Condition = field(default_factory=threading.Condition)
    stopping: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0
    claimed: int = 0
    covered: int = 0
    restock_wanted: bool = False
    unsettled: set[int] = field(default_factory=set)
    placed: dict[str, _Placed] = field(default_factory=dict)
    placed_times: deque[float] = field(default_factory=deque)
    ended_times: deque[float] = field(default_factory=deque)
    last_placed: float = 0.0
    asking: int = 0
    """status requests under way (taken from the schedule, not yet answered)"""
    throttled: int = 0
    errors: int = 0
    restocked_units: int = 0
    failure: Exception | None = None
    schedule: PollSchedule = field(init=False)

    def __post_init__(self) -> None:
        self.schedule = PollSchedule(first_after=self.settings.poll_first_after,
                                     every=self.settings.poll_every,
                                     max_per_second=self.settings.poll_max_per_second)

    # -- placing ---------------------------------------------------------------------

    def _claim(self) -> PlannedOrder | None:
        """The next order of the plan, once the stock keeper has covered it."""
        with self.lock:
            while not self.stopping.is_set() and self.claimed < len(self.plan):
                if self.claimed < self.covered:
                    self.claimed += 1
                    self.unsettled.add(self.claimed - 1)
                    return self.plan[self.claimed - 1]
                self.restock_wanted = True
                self.lock.notify_all()
                self.lock.wait(TICK_SECONDS)
            return None

    def placer(self) -> None:
        api = OrderApi(self.api_url)
        while (order := self._claim()) is not None:
            if self.settings.rate is not None:
                start_at = self.started + order.index / self.settings.rate
                if self.stopping.wait(max(0.0, start_at - self.clock())):
                    return
            self._record_placement(order, order_place_patiently(api, order.body(),
                                                                wait=self.stopping.wait))

    def _record_placement(self, order: PlannedOrder, placement: Placement) -> None:
        now = self.clock()
        with self.lock:
            self.throttled += placement.throttled
            if placement.answer is None:
                self.errors += 1  # its demand stays counted: it may have been placed after all
                return
            order_id = str(placement.answer["orderId"])
            self.placed[order_id] = _Placed(order, OrderResult(order_id, order.declined))
            self.schedule.add(order_id, placed_at=now)
            self.placed_times.append(now)
            self.last_placed = now

    # -- following orders to their end -----------------------------------------------

    def poller(self) -> None:
        api = OrderApi(self.api_url)
        while not self.stopping.is_set():
            with self.lock:
                now = self.clock()
                order_id = self.schedule.take(now)
                if order_id is None:
                    wait = self.schedule.wait_seconds(now)
                    self.lock.wait(TICK_SECONDS if wait is None else min(wait, TICK_SECONDS))
                    continue
                self.asking += 1
            try:
                self._check(api, order_id)
            finally:
                with self.lock:
                    self.asking -= 1
                    self.lock.notify_all()

    def last_call(self) -> float:
        """Ask about every order not yet seen to end one last time; when to stop waiting for
        the answers: the grace again, or longer if the asking is that far behind."""
        with self.lock:
            now = self.clock()
            behind = len(self.schedule) / self.settings.poll_max_per_second
            self.schedule.last_call(now)
            self.lock.notify_all()
            return now + max(self.settings.grace_seconds, 2 * behind)

    def all_asked(self) -> bool:
        with self.lock:
            return not len(self.schedule) and not self.asking

    def _check(self, api: OrderApi, order_id: str) -> None:
        try:
            answer = api.order(order_id)
        except OrderApiError as error:
            wait = throttle_wait(error, attempt=0)
            with self.lock:
                self.throttled += wait is not None
                self.errors += wait is None
                now = self.clock()
                self.schedule.again(order_id, now=now, not_before=now + (wait or 0.0))
            return
        with self.lock:
            status = answer.get("status")
            if status not in TERMINAL_STATUSES:
                self.schedule.again(order_id, now=self.clock())
                return
            placed = self.placed[order_id]
            placed.result = placed.result.ended(answer)
            self.unsettled.discard(placed.planned.index)
            self.ended_times.append(self.clock())

    # -- keeping the warehouse stocked ------------------------------------------------

    def _window(self, now: float) -> int:
        """How many orders ahead to cover: two restock periods at the pace of the run."""
        pace = self.settings.rate or self._recent_rate(self.placed_times, now)
        return max(2 * self.settings.concurrency,
                   math.ceil(2 * pace * self.settings.restock_every))

    def restock(self) -> None:
        """Top up every product the orders not yet ended, and the next slice of the plan,
        could still reserve; then let the placers have that slice. Orders already reserved
        are counted again, which errs on the side of stock."""
        with self.lock:
            start = self.claimed
            end = min(len(self.plan), start + self._window(self.clock()))
            wanted = units_wanted([*(self.plan[i] for i in self.unsettled),
                                   *self.plan[start:end]])
        short = stock_shortfall(wanted, stock_levels(dynamodb=self.dynamodb,
                                                     table_name=self.table_name, skus=wanted))
        if short:
            stock_top_up(dynamodb=self.dynamodb, table_name=self.table_name, units=short)
        with self.lock:
            self.restocked_units += sum(short.values())
            self.covered = max(self.covered, end)
            self.lock.notify_all()

    def stock_keeper(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                self.lock.wait_for(lambda: self.restock_wanted or self.stopping.is_set(),
                                   timeout=self.settings.restock_every)
                self.restock_wanted = False
            if not self.stopping.is_set() and self.claimed < len(self.plan):
                self.restock()

    # -- watching the run ------------------------------------------------------------

    def _recent_rate(self, times: deque[float], now: float) -> float:
        """Events a second over the last few seconds (`times` is forgotten as it ages)."""
        while times and times[0] < now - RATE_WINDOW_SECONDS:
            times.popleft()
        window = min(RATE_WINDOW_SECONDS, now - self.started)
        return len(times) / window if window > 0 else 0.0

    def progress(self, *, done: bool = False) -> LoadProgress:
        with self.lock:
            now = self.clock()
            ended = sum(p.result.status is not None for p in self.placed.values())
            return LoadProgress(requested=len(self.plan), placed=len(self.placed), terminal=ended,
                                in_flight=len(self.placed) - ended, throttled=self.throttled,
                                errors=self.errors,
                                placing_rate=self._recent_rate(self.placed_times, now),
                                ending_rate=self._recent_rate(self.ended_times, now),
                                elapsed_seconds=now - self.started, done=done)

    def all_ended(self) -> bool:
        with self.lock:
            return all(p.result.status is not None for p in self.placed.values())

    def summary(self) -> LoadSummary:
        with self.lock:
            return load_summary(requested=len(self.plan),
                                results=[p.result for p in self.placed.values()],
                                throttled=self.throttled, errors=self.errors,
                                placing_seconds=self.last_placed - self.started,
                                elapsed_seconds=self.clock() - self.started,
                                restocked_units=self.restocked_units)


class LoadFailed(RuntimeError):
    """The run could not go on (say, AWS refused the stock keeper): the cause is chained."""


def _start(run: _LoadRun, target: Callable[[], None], name: str) -> threading.Thread:
    """Run `target` in a thread; should it fail, the whole run stops and says why."""
    def guarded() -> None:
        try:
            target()
        except Exception as error:
            with run.lock:
                run.failure = run.failure or error
            run.stopping.set()

    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


def load_run(*, api_url: str, dynamodb: Any, table_name: str, settings: LoadSettings,
             progress: Callable[[LoadProgress], None] | None = None) -> LoadSummary:
    """Place `settings.orders` orders against the stack whose order API is at `api_url` and
    whose warehouse keeps stock in `table_name`, follow each to its end, and sum it up.
    `progress` is called a few times a second, and once more with `done` at the end."""
    catalogue = [str(product["sku"]) for product in OrderApi(api_url).products()]
    unknown = sorted(set(settings.skus) - set(catalogue))
    if unknown:
        raise ValueError(f"no product {', '.join(unknown)} in the catalogue at {api_url}")
    skus = [sku for sku in catalogue if sku in settings.skus] if settings.skus else catalogue
    plan = order_plan(skus=skus, orders=settings.orders, declined_share=settings.declined_share,
                      rng=random.Random(settings.seed))
    run = _LoadRun(api_url=api_url, dynamodb=dynamodb, table_name=table_name, settings=settings,
                   plan=plan)
    run.started = run.clock()
    run.restock()
    keeper = _start(run, run.stock_keeper, "load-stock-keeper")
    placers = [_start(run, run.placer, f"load-placer-{n}") for n in range(settings.concurrency)]
    pollers = [_start(run, run.poller, f"load-poller-{n}") for n in range(POLLERS)]
    deadline = last_answers = math.inf
    try:
        while True:
            if run.failure is not None:
                raise LoadFailed(f"the load run stopped: {run.failure}") from run.failure
            if progress:
                progress(run.progress())
            if deadline == math.inf and not any(placer.is_alive() for placer in placers):
                deadline = run.clock() + settings.grace_seconds
            if deadline < math.inf and run.all_ended():
                break
            if deadline <= run.clock():
                if last_answers == math.inf:
                    last_answers = run.last_call()
                elif run.all_asked() or last_answers <= run.clock():
                    break
            time.sleep(TICK_SECONDS)
    finally:
        run.stopping.set()
        with run.lock:
            run.lock.notify_all()
        for thread in [keeper, *placers, *pollers]:
            thread.join(timeout=15)
    if progress:
        progress(run.progress(done=True))
    return run.summary()
