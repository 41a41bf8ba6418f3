"""Deadlines of each step, from the model's delivery settings (hand-computed here)."""

from __future__ import annotations

import dataclasses

from tests.workflow.test_reactions import with_audit
from workflow.deadlines import DEFAULT_MARGIN_SECONDS, step_deadlines
from workflow.model import CHOREOGRAPHY


def test_a_step_through_a_queue_may_take_every_receive_of_it() -> None:
    deadline = step_deadlines()["warehouse.stock-reserved"]
    # the Payment queue: no delay, 3 receives x (6 x 10 s timeout)
    assert deadline.seconds == 0 + 3 * 60 + DEFAULT_MARGIN_SECONDS
    assert deadline.next_by == ("Payment",)


def test_a_step_through_another_bus_to_a_direct_target_adds_lambdas_retries() -> None:
    deadline = step_deadlines()["payment.taken"]
    # forwarded to the loyalty bus, then Loyalty invoked: 3 attempts x 10 s + 60 s + 120 s
    assert deadline.seconds == 3 * 10 + 60 + 120 + DEFAULT_MARGIN_SECONDS
    assert deadline.paths[0].rule_ids == ("PaymentTakenToLoyaltyBus", "PaymentTakenToLoyalty")
    assert deadline.next_by == ("Loyalty",)


def test_a_queue_delay_counts() -> None:
    model = dataclasses.replace(CHOREOGRAPHY, queues=tuple(
        dataclasses.replace(q, delay_seconds=45) if q.id == "Payment" else q
        for q in CHOREOGRAPHY.queues))
    assert step_deadlines(model, margin_seconds=0)["warehouse.stock-reserved"].seconds == 45 + 180


def test_endings_have_no_deadline() -> None:
    deadlines = step_deadlines()
    assert not {"warehouse.order-shipped", "order.rejected", "order.cancelled"} & deadlines.keys()


def test_configured_deadlines_by_event_or_by_route() -> None:
    deadlines = step_deadlines(overrides={"order.placed": 20, "PaymentTakenToLoyalty": 100},
                               margin_seconds=5)
    assert deadlines["order.placed"].seconds == 20 and deadlines["order.placed"].configured
    assert deadlines["payment.taken"].seconds == 105


def test_a_new_route_has_its_deadline() -> None:
    deadlines = step_deadlines(with_audit(), margin_seconds=0)
    # payment.taken now also reaches the Payment queue, whose consumer audits it: 3 x 60 s
    assert deadlines["payment.taken"].next_by == ("Payment",)
    assert deadlines["payment.taken"].seconds == 180
    # the audit goes the way the payment went: to the loyalty bus, Loyalty invoked directly
    assert deadlines["payment.audited"].seconds == 3 * 10 + 60 + 120
    assert deadlines["payment.audited"].next_by == ("Loyalty",)
