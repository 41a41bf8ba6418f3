"""Conformance and stuck orders on a read model with known times: the trace's ghosts and
marks, the deviation flag in the lists, the Stuck page and its causes, the top bar's count."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.insight.stuck import stuck_list
from dashboard.live.graph import graph_build
from dashboard.readmodel import selectors, services
from dashboard.traces.conformance import trace_conformance
from tests.dashboard import factories
from tests.dashboard.test_failures import dead_letters  # noqa: F401  (a fixture)
from tests.workflow.test_reactions import with_audit
from workflow.envelope import Event, new_event

pytestmark = pytest.mark.django_db

T0 = factories.T0
NOW = T0 + timedelta(minutes=10)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page is looked at ten minutes after T0."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def record(*paths: list[Event]) -> list[dict]:
    return services.observation_record(
        observations=[o for path in paths for o in factories.sightings_of(path)])


def stuck_after_reservation(order_id: str = "ord-stuck", at=T0) -> list[Event]:
    return factories.happy_path(order_id=order_id, at=at)[:2]


def shipped_unpaid(order_id: str = "ord-deviates") -> list[Event]:
    """The warehouse ships straight after reserving: no payment, no points."""
    placed, reserved, *_, shipped = factories.happy_path(order_id=order_id)
    early = new_event(type=shipped.type, cause=reserved, data=shipped.data,
                      time=reserved.time + factories.STEP)
    return [placed, reserved, early]


def test_an_order_that_deviates_is_flagged_as_its_events_arrive(client, stack) -> None:
    placed, reserved, shipped = shipped_unpaid()
    # the deviation shows whichever arrives last, the event or its cause
    record([shipped, placed])
    items = record([reserved])
    assert items[0]["orderDeviation"] == (
        "warehouse.order-shipped followed warehouse.stock-reserved, which the model follows "
        "with payment.taken or payment.declined")
    record(factories.happy_path(order_id="ord-fine"))

    everything = client.get("/orders/").content.decode()
    deviating = client.get("/orders/?deviating=1").content.decode()
    live = client.get("/").content.decode()

    assert everything.count("data-deviates ") == 1
    assert "ord-deviates" in deviating and "ord-fine" not in deviating
    assert 'deviating<span class="count">1</span>' in everything
    row = live[live.index('data-order="ord-deviates"'):]
    assert '<span class="badge deviates" data-deviates' in row[:row.index("</a>")]
    fine = live[live.index('data-order="ord-fine"'):]
    assert "deviates hidden" in fine[:fine.index("</a>")]


def test_a_rebuilt_read_model_flags_the_same_orders(stack) -> None:
    """After a restart the read model is replayed from history, in whatever order the log
    group gives the events: the flags come back."""
    observations = factories.sightings_of(shipped_unpaid())
    services.observation_record(observations=observations)
    services.read_model_clear()
    for observation in reversed(observations):
        services.observation_record(observations=[observation])
    order = selectors.order_get(order_id="ord-deviates")
    assert order is not None and order.deviation.startswith("warehouse.order-shipped followed")


def test_an_event_dated_before_its_cause_flags_its_order(stack) -> None:
    placed = factories.placed(order_id="ord-early")
    reserved = factories.happy_path(order_id="ord-early")[1]
    early = new_event(type=reserved.type, cause=placed, data=reserved.data,
                      time=placed.time - timedelta(seconds=1))
    record([placed, early])
    order = selectors.order_get(order_id="ord-early")
    assert order is not None
    assert order.deviation == "warehouse.stock-reserved is dated before its cause order.placed"


def test_a_conforming_trace_in_flight_draws_the_steps_to_come_and_the_ending(client, stack) -> None:
    record(stuck_after_reservation())

    html = client.get("/orders/ord-stuck").content.decode()

    ghosts = [html[i:].split('"')[1] for i in range(len(html)) if html.startswith("data-ghost=", i)]
    assert ghosts == ["payment.taken", "loyalty.points-awarded", "warehouse.order-shipped"]
    assert "or payment.declined" in html
    assert "by Payment" in html and "by Loyalty" in html and "by Warehouse" in html
    # reserved at T0 + 40 ms, due 3 min 30 s later, looked at after 10 min: overdue
    assert html.count("data-overdue") == 1
    assert 'data-ending="warehouse.order-shipped"' in html and "Heading for" in html
    assert "may still end with order.cancelled" in html
    assert "as the model says" in html and "data-verdict" not in html
    ghost_data = json.loads(html.split('id="trace-ghosts" type="application/json">')[1]
                            .split("</script>")[0])
    assert ghost_data["events"] == ghosts and ghost_data["connectors"]
    assert ' ghost"' in html  # the graph's lines still to come, drawn dashed


def test_a_step_not_yet_due_shows_when_it_is_due(client, stack) -> None:
    record(stuck_after_reservation("ord-fresh", at=NOW - timedelta(seconds=60)))
    html = client.get("/orders/ord-fresh").content.decode()
    # reserved 60 s - 40 ms ago; due 210 s after it
    due = (NOW - timedelta(seconds=60) + factories.STEP + timedelta(seconds=210))
    assert f"due {due:%H:%M:%S}" in html and "data-overdue" not in html


def test_a_deviating_trace_marks_the_unexplained_step(client, stack) -> None:
    record(shipped_unpaid())
    html = client.get("/orders/ord-deviates").content.decode()
    assert html.count('data-verdict="unexplained"') == 1
    assert "Ended with" in html and "data-deviation" in html
    assert "data-ghost=" not in html


def test_the_stuck_page_lists_orders_past_their_deadline(client, stack) -> None:
    record(stuck_after_reservation(),
           stuck_after_reservation("ord-fresh", at=NOW - timedelta(seconds=60)),
           factories.happy_path(order_id="ord-done"))

    html = client.get("/stuck/").content.decode()
    body = client.get("/api/stuck").json()

    assert 'data-stuck-order="ord-stuck"' in html
    assert "ord-fresh" not in html and "ord-done" not in html
    # stopped at T0 + 40 ms, looked at T0 + 10 min
    assert 'data-stopped-ms="599960"' in html and "9 min 59 s" in html
    row = html[html.index('data-stuck-order="ord-stuck"'):]
    assert "<td>Payment</td>" in row[:row.index("</tr>")]
    assert 'data-cause="nothing"' in html and "nothing observed" in html
    assert body == {"total": 1, "byEvent": {"warehouse.stock-reserved": 1}}
    # the deadlines, from the model: 3 receives x 60 s visibility timeout + 30 s margin
    deadline = html[html.index('data-deadline="warehouse.stock-reserved"'):]
    assert "3 min 30 s" in deadline[:deadline.index("</tr>")]


def test_the_top_bar_has_a_stuck_link_and_badge(client, stack) -> None:
    html = client.get("/orders/").content.decode()
    assert 'href="/stuck/"' in html and "data-stuck-badge" in html


def test_a_stuck_order_whose_event_is_dead_lettered_links_to_it(client, dead_letters) -> None:  # noqa: F811
    events = stuck_after_reservation()
    record(events, stuck_after_reservation("ord-other"))
    dead_letters.dead_letter("PaymentDlq", json.dumps(factories.envelope(events[1])),
                             reason="schema says no")

    html = client.get("/stuck/").content.decode()

    row = html[html.index('data-stuck-order="ord-stuck"'):]
    row = row[:row.index("</tr>")]
    assert 'data-cause="dead-letter"' in row and 'href="/failures/#queue-Payment"' in row
    assert "sits in the Payment dead-letter queue" in row
    other = html[html.index('data-stuck-order="ord-other"'):]
    other = other[:other.index("</tr>")]
    assert 'data-cause="failing"' in other and "Payment is failing: 1 dead letter in Payment" in other


def test_a_new_route_shows_its_deadline_and_its_ghost(stack) -> None:
    model = with_audit()
    events = factories.happy_path(order_id="ord-audit")[:3]  # ... payment.taken
    record(events)

    stuck = stuck_list(now=NOW, model=model)
    assert [(s.order.order_id, s.deadline.next_by, s.deadline.seconds) for s in stuck] == [
        ("ord-audit", ("Payment",), 180 + 30)]

    trace = selectors.trace_get(order_id="ord-audit")
    conformance = trace_conformance(trace, graph_build(model), model=model, now=NOW)
    assert [ghost.step.event for ghost in conformance.ghosts] == [
        "payment.audited", "loyalty.points-awarded", "warehouse.order-shipped"]
    assert any("payment.audited" in edge for edge in conformance.ghost_edges)


def test_a_configured_deadline_replaces_the_derived_one(client, stack, settings) -> None:
    record(stuck_after_reservation())
    # stopped 599.96 s ago: within a configured 700 s, past a derived 210 s
    settings.DASHBOARD_STEP_DEADLINES = {"warehouse.stock-reserved": 700}
    assert client.get("/api/stuck").json() == {"total": 0, "byEvent": {}}
    html = client.get("/stuck/").content.decode()
    deadline = html[html.index('data-deadline="warehouse.stock-reserved"'):]
    assert "11 min 40 s" in deadline[:deadline.index("</tr>")]
    settings.DASHBOARD_STEP_DEADLINES = {"WarehouseStockReservedToPayment": 500}
    settings.DASHBOARD_STEP_DEADLINE_MARGIN_SECONDS = 99
    # the route's part, plus the margin: 599 s
    assert client.get("/api/stuck").json()["total"] == 1
    settings.DASHBOARD_STEP_DEADLINE_MARGIN_SECONDS = 100
    assert client.get("/api/stuck").json()["total"] == 0
