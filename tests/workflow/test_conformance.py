"""Planned against actual, on hand-written sequences of events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.workflow.test_reactions import with_audit
from workflow.conformance import Seen, Step, conformance_of, verdict_of

T0 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def chain(*types: str, gap_ms: int = 100) -> list[Seen]:
    """Each event caused by the one before, `gap_ms` apart."""
    events: list[Seen] = []
    for index, event_type in enumerate(types):
        events.append(Seen(f"e{index}", event_type, events[-1].event_id if events else None,
                           T0 + timedelta(milliseconds=gap_ms * index)))
    return events


HAPPY = ("order.placed", "warehouse.stock-reserved", "payment.taken", "loyalty.points-awarded",
         "warehouse.order-shipped")


def test_a_happy_order_conforms_and_ends_shipped() -> None:
    result = conformance_of(chain(*HAPPY))
    assert [v.explained for v in result.verdicts] == [True] * 5
    assert not result.deviates
    assert result.ending == "warehouse.order-shipped" and result.reached
    assert result.to_come == ()


def test_a_rejected_order_conforms() -> None:
    result = conformance_of(chain("order.placed", "warehouse.stock-unavailable", "order.rejected"))
    assert not result.deviates and result.ending == "order.rejected" and result.reached


def test_a_cancelled_order_conforms() -> None:
    result = conformance_of(chain("order.placed", "warehouse.stock-reserved", "payment.declined",
                                  "warehouse.stock-released", "order.cancelled"))
    assert not result.deviates and result.ending == "order.cancelled"


def test_an_order_in_flight_heads_for_shipping_with_the_alternatives_named() -> None:
    result = conformance_of(chain("order.placed", "warehouse.stock-reserved"))
    assert result.at == ("warehouse.stock-reserved",)
    assert result.to_come == (
        Step("payment.taken", "warehouse.stock-reserved", "Payment", ("payment.declined",)),
        Step("loyalty.points-awarded", "payment.taken", "Loyalty"),
        Step("warehouse.order-shipped", "loyalty.points-awarded", "Warehouse"))
    assert result.ending == "warehouse.order-shipped" and not result.reached
    assert result.endings == ("warehouse.order-shipped", "order.cancelled")


def test_a_declined_order_in_flight_heads_for_cancellation() -> None:
    result = conformance_of(chain("order.placed", "warehouse.stock-reserved", "payment.declined"))
    assert [step.event for step in result.to_come] == ["warehouse.stock-released",
                                                       "order.cancelled"]
    assert result.ending == "order.cancelled"


def test_events_seen_out_of_order_and_twice_are_judged_once_by_their_times() -> None:
    events = chain(*HAPPY[:3])
    result = conformance_of([events[2], events[0], events[2], events[1]])
    assert [v.event_id for v in result.verdicts] == ["e0", "e1", "e2"]
    assert not result.deviates


def test_an_event_dated_before_its_cause_came_out_of_order() -> None:
    placed, reserved, taken = chain(*HAPPY[:3])
    early = Seen(taken.event_id, taken.type, taken.causation_id, placed.time - timedelta(seconds=1))
    result = conformance_of([placed, reserved, early])
    verdict = result.verdict("e2")
    assert verdict is not None and verdict.out_of_order and verdict.explained
    assert result.deviates
    assert result.deviation == "payment.taken is dated before its cause warehouse.stock-reserved"


def test_an_event_no_reaction_explains_deviates() -> None:
    # the warehouse ships an order straight after reserving it, before any payment
    result = conformance_of(chain("order.placed", "warehouse.stock-reserved",
                                  "warehouse.order-shipped"))
    assert result.verdict("e2").explained is False  # type: ignore[union-attr]
    assert result.deviation == ("warehouse.order-shipped followed warehouse.stock-reserved, which "
                                "the model follows with payment.taken or payment.declined")
    assert result.ending == "warehouse.order-shipped" and result.reached


def test_an_event_whose_cause_was_never_seen_cannot_be_told_and_does_not_deviate() -> None:
    placed, _reserved, taken = chain(*HAPPY[:3])
    result = conformance_of([placed, taken])
    verdict = result.verdict("e2")
    assert verdict is not None and verdict.explained is None
    assert verdict.reason == ("its cause was never seen (the model has it follow "
                              "warehouse.stock-reserved)")
    assert not result.deviates
    # it stands where its newest event leaves it, not at the placement its gap hides
    assert result.at == ("payment.taken",)
    assert result.to_come[0].event == "loyalty.points-awarded"


def test_a_second_start_or_a_causeless_follower_deviates() -> None:
    assert verdict_of("payment.taken", cause_type=None, has_cause=False, hop_ms=None).explained \
        is False
    assert verdict_of("order.placed", cause_type=None, has_cause=False, hop_ms=None).explained
    assert verdict_of("shop.closed", cause_type=None, has_cause=True, hop_ms=None).deviates


def test_a_model_with_one_more_step_has_its_ghost() -> None:
    model = with_audit()
    result = conformance_of(chain(*HAPPY[:3]), model)
    assert result.to_come[0] == Step("payment.audited", "payment.taken", "Payment")
    # under the new model the old sequence skips a step: the points follow the payment directly
    assert conformance_of(chain(*HAPPY), model).deviates
