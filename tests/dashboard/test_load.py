"""The load generator's parts that need no running system: the plan, the poll schedule's
rate bound, throttled answers, how outcomes are judged and summed up, and the progress
display."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper

from dashboard import aws
from dashboard.loadtest.load import LoadSettings, order_plan, stock_shortfall, units_wanted
from dashboard.loadtest.load_pacing import (
    MAX_RETRY_WAIT_SECONDS,
    MAX_THROTTLED_PER_ORDER,
    PollSchedule,
    order_place_patiently,
    throttle_wait,
)
from dashboard.loadtest.load_report import (
    LoadProgress,
    OrderResult,
    Outcome,
    load_summary,
    outcome_of,
    percentile,
    progress_line,
)
from dashboard.management.commands.load import ProgressDisplay
from dashboard.orders.order_api import OrderApi, OrderApiError, retry_after_seconds
from dashboard.shared.problems import Problem
from tests.dashboard.conftest import free_port
from workflow.domain.payment import DECLINING_TEST_CARD, GOOD_TEST_CARD
from workflow.stock import StockLevel

SKUS = ["TEA-EARL-GREY", "MUG-STONEWARE", "KETTLE-STEEL", "BISCUIT-TIN"]


# -- percentiles ------------------------------------------------------------------------

def test_percentiles_interpolate_between_the_nearest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1 … 100, shuffled order must not matter
    random.Random(3).shuffle(values)

    assert percentile(values, 0.50) == pytest.approx(50.5)
    assert percentile(values, 0.95) == pytest.approx(95.05)
    assert percentile(values, 0.99) == pytest.approx(99.01)
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 100.0


def test_a_percentile_of_one_value_is_that_value_and_of_none_is_none() -> None:
    assert percentile([42.0], 0.99) == 42.0
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


# -- the poll schedule --------------------------------------------------------------------

def run_schedule(schedule: PollSchedule, *, until: float, step: float = 0.001,
                 ended: frozenset[str] = frozenset()) -> list[tuple[float, str]]:
    """Drive the schedule as the pollers do, on a simulated clock; orders never end unless
    named in `ended`."""
    taken = []
    for tick in range(round(until / step)):
        now = tick * step
        while (order_id := schedule.take(now)) is not None:
            taken.append((now, order_id))
            if order_id not in ended:
                schedule.again(order_id, now=now)
    return taken


def test_polls_never_exceed_the_rate_bound_however_many_orders_are_due() -> None:
    schedule = PollSchedule(first_after=1.0, every=2.0, max_per_second=20)
    for n in range(500):
        schedule.add(f"ord-{n}", placed_at=0.0)

    times = [when for when, _ in run_schedule(schedule, until=11.0)]

    # any 21 consecutive requests span at least a second: at most 20 in any second
    assert all(later - earlier >= 1.0 - 1e-9 for earlier, later in zip(times, times[20:], strict=False))
    # and the bound is also what it achieves when there is that much to ask
    assert len(times) >= 20 * 10 - 1


def test_each_order_is_first_asked_about_a_second_after_placing_then_every_two() -> None:
    schedule = PollSchedule(first_after=1.0, every=2.0, max_per_second=20)
    schedule.add("ord-a", placed_at=0.3)
    schedule.add("ord-b", placed_at=0.5)

    taken = run_schedule(schedule, until=6.0)

    assert [order for _, order in taken] == ["ord-a", "ord-b"] * 3
    assert [when for when, _ in taken] == pytest.approx([1.3, 1.5, 3.3, 3.5, 5.3, 5.5], abs=0.002)


def test_an_order_that_has_ended_is_not_asked_about_again() -> None:
    schedule = PollSchedule(first_after=1.0, every=2.0, max_per_second=20)
    schedule.add("ord-done", placed_at=0.0)
    schedule.add("ord-slow", placed_at=0.0)

    taken = run_schedule(schedule, until=6.0, ended=frozenset({"ord-done"}))

    assert [order for _, order in taken].count("ord-done") == 1
    assert [order for _, order in taken].count("ord-slow") == 3
    assert schedule.wait_seconds(6.0) is not None and len(schedule) == 1


def test_a_throttled_status_request_waits_as_long_as_it_was_asked() -> None:
    schedule = PollSchedule(first_after=1.0, every=2.0, max_per_second=20)
    schedule.again("ord-a", now=10.0, not_before=17.0)

    assert schedule.take(16.9) is None
    assert schedule.wait_seconds(16.0) == pytest.approx(1.0)
    assert schedule.take(17.0) == "ord-a"


def test_the_last_call_asks_about_every_pending_order_once_at_the_rate_bound() -> None:
    schedule = PollSchedule(first_after=1.0, every=2.0, max_per_second=10)
    for n in range(5):
        schedule.add(f"ord-{n}", placed_at=float(n))

    schedule.last_call(now=0.5)
    taken = run_schedule(schedule, until=3.0)

    # earliest placed first, all due at once, still no faster than the bound; an answer that
    # is not an end is final, so none is asked about twice
    assert [order for _, order in taken] == [f"ord-{n}" for n in range(5)]
    assert [when for when, _ in taken] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9], abs=0.002)
    assert len(schedule) == 0


def test_after_the_last_call_a_throttled_order_is_still_asked_about_after_its_wait() -> None:
    schedule = PollSchedule(first_after=1.0, every=2.0, max_per_second=10)
    schedule.add("ord-a", placed_at=0.0)
    schedule.last_call(now=5.0)
    assert schedule.take(5.0) == "ord-a"

    schedule.again("ord-a", now=5.0, not_before=8.0)  # a 429 that asked for three seconds

    assert schedule.take(7.9) is None and schedule.take(8.0) == "ord-a"


# -- throttled answers ----------------------------------------------------------------------

def test_retry_after_is_read_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)

    assert retry_after_seconds("3", now=now) == 3.0
    assert retry_after_seconds("Mon, 05 Jan 2026 12:00:07 GMT", now=now) == 7.0
    assert retry_after_seconds("Mon, 05 Jan 2026 11:59:00 GMT", now=now) == 0.0
    assert retry_after_seconds(None, now=now) is None
    assert retry_after_seconds("soon", now=now) is None


def api_error(status: int, retry_after: float | None = None) -> OrderApiError:
    return OrderApiError(Problem(status=status, title="x"), retry_after=retry_after)


def test_how_long_to_wait_after_each_kind_of_refusal() -> None:
    assert throttle_wait(api_error(429, retry_after=2.0), attempt=0) == 2.0
    assert throttle_wait(api_error(503, retry_after=1.0), attempt=5) == 1.0
    assert throttle_wait(api_error(503, retry_after=3600.0), attempt=0) == MAX_RETRY_WAIT_SECONDS
    # a 429 that names no wait backs off
    assert [throttle_wait(api_error(429), attempt=n) for n in range(3)] == [0.5, 1.0, 2.0]
    # a 503 that names no wait (an unreachable API among them) is not a throttle: it failed
    assert throttle_wait(api_error(503), attempt=0) is None
    assert throttle_wait(api_error(422), attempt=0) is None
    assert throttle_wait(api_error(500), attempt=0) is None
    # ...unless the order is sent with an Idempotency-Key: then asking again is safe
    assert throttle_wait(api_error(503), attempt=0, idempotent=True) == 0.5
    assert throttle_wait(api_error(502), attempt=2, idempotent=True) == 2.0
    assert throttle_wait(api_error(422), attempt=0, idempotent=True) is None


class ScriptedApi:
    """Answers each placement with the next of `answers`: an error to raise, or a dict."""

    def __init__(self, *answers: OrderApiError | dict[str, Any]) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str | None] = []

    def place_order(self, body: dict[str, Any], *,
                    idempotency_key: str | None = None) -> dict[str, Any]:
        self.bodies.append(body)
        self.keys.append(idempotency_key)
        answer = self.answers.pop(0)
        if isinstance(answer, OrderApiError):
            raise answer
        return answer


def test_a_throttled_order_is_placed_again_after_the_wait_it_was_given() -> None:
    api = ScriptedApi(api_error(429, retry_after=1.5), api_error(503, retry_after=0.0),
                      {"orderId": "ord-1"})
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False  # the run is not stopping

    body = {"customerId": "c", "items": [{"sku": "MUG-STONEWARE", "quantity": 1}]}
    placement = order_place_patiently(api, body, wait=wait)

    assert placement.answer == {"orderId": "ord-1"} and placement.error is None
    assert placement.throttled == 2
    assert waits == [1.5, 0.0]
    assert api.bodies == [body, body, body]  # the same order, each time
    assert len(set(api.keys)) == 1 and api.keys[0]  # with the same Idempotency-Key


def test_an_order_whose_answer_was_lost_is_asked_for_again_with_its_key() -> None:
    api = ScriptedApi(api_error(502), {"orderId": "ord-1"})
    placement = order_place_patiently(api, {}, wait=lambda seconds: False)

    assert placement.answer == {"orderId": "ord-1"}
    assert api.keys[0] == api.keys[1] is not None


def test_an_order_refused_otherwise_fails_at_once() -> None:
    api = ScriptedApi(api_error(422))
    placement = order_place_patiently(api, {}, wait=lambda s: pytest.fail("must not wait"))

    assert placement.answer is None and placement.error is not None
    assert placement.error.problem.status == 422 and placement.throttled == 0


def test_throttling_without_end_gives_up_and_so_does_a_stopping_run() -> None:
    endless = ScriptedApi(*[api_error(429, retry_after=0.0)] * (MAX_THROTTLED_PER_ORDER + 5))
    gave_up = order_place_patiently(endless, {}, wait=lambda s: False)
    stopping = order_place_patiently(ScriptedApi(api_error(429, retry_after=9.0)), {},
                                     wait=lambda s: True)

    assert gave_up.answer is None and gave_up.throttled == MAX_THROTTLED_PER_ORDER + 1
    assert stopping.answer is None and stopping.throttled == 1


@pytest.fixture
def throttling_api() -> Iterator[tuple[str, list[str]]]:
    """An order API that answers 429 with Retry-After first, 202 after: what a client sees
    of a throttled API Gateway."""
    answers = [(429, {"Retry-After": "1"}), (503, {"Retry-After": "0"}), (400, {"Retry-After": "5"})]
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            status, headers = answers.pop(0) if answers else (202, {})
            body = json.dumps({"orderId": "ord-1"} if status == 202 else
                              {"title": "Too busy", "status": status}).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", seen
    server.shutdown()
    server.server_close()


def test_the_order_api_client_reports_the_wait_a_throttled_answer_asks_for(
        throttling_api: tuple[str, list[str]]) -> None:
    url, _ = throttling_api
    api = OrderApi(url)
    waits = []
    for _ in range(3):
        with pytest.raises(OrderApiError) as refused:
            api.place_order({})
        waits.append((refused.value.problem.status, refused.value.retry_after))

    assert waits == [(429, 1.0), (503, 0.0), (400, None)]  # only 429 and 503 ask to wait
    assert api.place_order({}) == {"orderId": "ord-1"}


# -- the plan and its stock --------------------------------------------------------------

def test_the_plan_has_one_or_two_distinct_lines_and_the_declined_share_exactly() -> None:
    plan = order_plan(skus=SKUS, orders=200, declined_share=0.15, rng=random.Random(7))

    assert [order.index for order in plan] == list(range(200))
    assert sum(order.declined for order in plan) == 30
    assert {len(order.lines) for order in plan} == {1, 2}
    assert {quantity for order in plan for _, quantity in order.lines} == {1, 2}
    assert all(len({sku for sku, _ in order.lines}) == len(order.lines) for order in plan)
    assert {sku for order in plan for sku, _ in order.lines} == set(SKUS)
    cards = {order.body()["card"]["number"] for order in plan if order.declined}
    assert cards == {DECLINING_TEST_CARD}
    assert {order.body()["card"]["number"] for order in plan if not order.declined} == {GOOD_TEST_CARD}


def test_the_same_seed_plans_the_same_run() -> None:
    def plan(seed: int) -> list[Any]:
        return order_plan(skus=SKUS, orders=50, declined_share=0.1, rng=random.Random(seed))

    assert plan(1) == plan(1)
    assert plan(1) != plan(2)


def test_stock_is_topped_up_where_the_shelf_holds_less_than_orders_could_take() -> None:
    plan = order_plan(skus=SKUS, orders=40, declined_share=0.0, rng=random.Random(1))
    wanted = units_wanted(plan)
    levels = {"TEA-EARL-GREY": StockLevel("TEA-EARL-GREY", available=1000, initial=1000),
              "MUG-STONEWARE": StockLevel("MUG-STONEWARE", available=wanted["MUG-STONEWARE"] - 1,
                                          reserved=4, initial=wanted["MUG-STONEWARE"] + 3)}

    short = stock_shortfall(wanted, levels)

    assert set(short) == {"MUG-STONEWARE", "KETTLE-STEEL", "BISCUIT-TIN"}
    for sku, units in short.items():
        on_shelf = levels[sku].available if sku in levels else 0
        assert on_shelf + units >= wanted[sku]
    assert sum(quantity for order in plan for _, quantity in order.lines) == sum(wanted.values())


def test_settings_refuse_what_cannot_run() -> None:
    with pytest.raises(ValueError, match=r"orders must be at least 1.*rate must be positive"):
        LoadSettings(orders=0, rate=-1)
    with pytest.raises(ValueError, match="declined share"):
        LoadSettings(orders=1, declined_share=1.5)


# -- outcomes and the summary ---------------------------------------------------------------

@pytest.mark.parametrize(("declined", "status", "outcome"), [
    (False, "shipped", Outcome.AS_EXPECTED),
    (True, "cancelled", Outcome.AS_EXPECTED),
    (False, "rejected", Outcome.UNEXPECTED),  # short of stock: the generator failed to top up
    (True, "rejected", Outcome.UNEXPECTED),
    (True, "shipped", Outcome.UNEXPECTED),  # a declined card must never ship
    (False, "cancelled", Outcome.UNEXPECTED),
    (False, "placed", Outcome.LOST),
    (True, None, Outcome.LOST),
])
def test_an_order_is_judged_by_what_its_card_says(declined: bool, status: str | None,
                                                 outcome: Outcome) -> None:
    assert outcome_of(declined=declined, status=status) is outcome


def ended(order_id: str, status: str, *, declined: bool = False, at_ms: float,
          placed: datetime) -> OrderResult:
    return OrderResult(order_id, declined).ended({
        "orderId": order_id, "status": status, "placedAt": placed.isoformat(),
        "concludedAt": (placed + timedelta(milliseconds=at_ms)).isoformat()})


def test_the_summary_counts_outcomes_and_takes_latency_from_the_order_records() -> None:
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    results = [ended(f"ord-{n}", "shipped", at_ms=100.0 * (n + 1), placed=start + timedelta(seconds=n))
               for n in range(8)]
    results += [ended("ord-d", "cancelled", declined=True, at_ms=900.0, placed=start),
                ended("ord-r", "rejected", at_ms=50.0, placed=start),
                OrderResult("ord-lost", declined=False)]

    summary = load_summary(requested=12, results=results, throttled=3, errors=1,
                           placing_seconds=5.0, elapsed_seconds=20.0)

    assert (summary.placed, summary.shipped, summary.cancelled, summary.rejected) == (11, 8, 1, 1)
    assert (summary.lost, summary.unexpected, summary.throttled, summary.errors) == (1, 1, 3, 1)
    latencies = [100.0 * (n + 1) for n in range(8)] + [900.0, 50.0]
    assert summary.latency_p50_ms == pytest.approx(percentile(latencies, 0.5), abs=0.1)
    assert summary.latency_p99_ms == pytest.approx(percentile(latencies, 0.99), abs=0.1)
    assert summary.placement_rate == pytest.approx(11 / 5.0, abs=0.01)
    # ten orders ended between the first placement and the last ending, 7.8 s later
    assert summary.completion_rate == pytest.approx(10 / 7.8, abs=0.01)
    assert not summary.ok and summary.to_dict()["ok"] is False


def test_a_run_is_ok_only_if_every_order_asked_for_was_placed_and_ended_as_its_card_says() -> None:
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    good = [ended("ord-1", "shipped", at_ms=200, placed=start),
            ended("ord-2", "cancelled", declined=True, at_ms=300, placed=start)]

    def summary(requested: int) -> bool:
        return load_summary(requested=requested, results=good, throttled=5, errors=0,
                            placing_seconds=1.0, elapsed_seconds=2.0).ok

    assert summary(2)
    assert not summary(3)  # one could not be placed


# -- progress -----------------------------------------------------------------------------

def progress(elapsed: float, *, done: bool = False) -> LoadProgress:
    return LoadProgress(requested=100, placed=60, terminal=45, in_flight=15, throttled=2,
                        errors=0, placing_rate=12.34, ending_rate=3.0, elapsed_seconds=elapsed,
                        done=done)


def test_the_progress_line_says_how_far_the_run_is() -> None:
    line = progress_line(progress(75.0))

    assert line.startswith("[###########.............] ")  # 45 of 100 ended
    assert "60/100 placed" in line and "45 ended" in line and "15 in flight" in line
    assert "12.3 placed/s" in line and "ended/s" not in line
    assert "2 throttled" in line and "errors" not in line
    assert line.endswith("01:15")


def test_once_every_order_is_placed_the_rate_shown_is_how_fast_they_end() -> None:
    placed = LoadProgress(requested=100, placed=100, terminal=60, in_flight=40, throttled=0,
                          errors=0, placing_rate=0.5, ending_rate=7.25, elapsed_seconds=9.0)

    assert "7.2 ended/s" in progress_line(placed) and "placed/s" not in progress_line(placed)


def test_a_narrow_terminal_shortens_the_bar_then_the_line() -> None:
    full = progress_line(progress(75.0))

    assert len(progress_line(progress(75.0), width=79)) <= 79
    assert progress_line(progress(75.0), width=79).endswith("01:15")
    assert progress_line(progress(75.0), width=len(full)) == full
    assert progress_line(progress(75.0), width=40) == full[full.index("]") + 2:][:40]


class Stream(StringIO):
    def __init__(self, *, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_off_a_terminal_progress_is_a_plain_line_every_five_seconds() -> None:
    stream = Stream(tty=False)
    display = ProgressDisplay(OutputWrapper(stream))

    for elapsed in (0.0, 1.0, 4.9, 5.0, 7.5, 10.2):
        display(progress(elapsed))
    display(progress(11.0, done=True))

    lines = stream.getvalue().splitlines()
    assert [line[-5:] for line in lines] == ["00:00", "00:05", "00:10", "00:11"]
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_progress_is_one_line_redrawn_in_place() -> None:
    stream = Stream(tty=True)
    display = ProgressDisplay(OutputWrapper(stream))

    for elapsed in (0.0, 0.25, 0.5):
        display(progress(elapsed))
    display(progress(0.75, done=True))

    written = stream.getvalue()
    assert written.count("\r\x1b[K") == 4
    assert written.count("\n") == 1 and written.endswith("00:00\n")


def test_the_load_command_says_which_output_is_missing(stack: aws.AwsContext) -> None:
    with pytest.raises(CommandError, match="no output InventoryTableName"):
        call_command("load", "--orders", "1", stdout=StringIO())


def test_the_load_command_refuses_settings_that_cannot_run(stack: aws.AwsContext) -> None:
    with pytest.raises(CommandError, match="declined share"):
        call_command("load", "--orders", "5", "--declined-share", "2", stdout=StringIO())


def test_latency_is_reported_per_minute_of_placing():
    from datetime import UTC, datetime, timedelta

    from dashboard.loadtest.load_report import OrderResult, latency_by_minute

    start = datetime(2026, 1, 1, tzinfo=UTC)

    def ended(second: int, latency_ms: int) -> OrderResult:
        placed = start + timedelta(seconds=second)
        return OrderResult(order_id=str(second), declined=False, status="shipped", placed_at=placed,
                           concluded_at=placed + timedelta(milliseconds=latency_ms))

    windows = latency_by_minute([ended(0, 100), ended(30, 300), ended(61, 900),
                                 OrderResult(order_id="lost", declined=False)])
    assert [(w.minute, w.orders, w.p50_ms) for w in windows] == [(0, 2, 200.0), (1, 1, 900.0)]
