"""What the read model keeps of the traffic's drift as it records events: the events put into
the void (on a bus where no route of the model takes them) and the causation links the model
has no reaction for; each counted once however often it is delivered, whichever end of a link
comes first, and forgotten with its events."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from dashboard.insight.drift_traffic import undeclared_link_list, unrouted_list
from dashboard.models import UndeclaredLink, UnroutedSighting
from dashboard.readmodel import services
from dashboard.readmodel.history import history_rebuild
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories
from workflow.envelope import new_event

pytestmark = pytest.mark.django_db

T0 = factories.T0


def paid_straight_after(order_id: str, *, at=T0):
    """An order placed and paid for with no reservation between: payment.taken caused by
    order.placed, which the model has no reaction for."""
    placed, _, taken, *_ = factories.happy_path(order_id=order_id, at=at)
    return placed, new_event(type="payment.taken", cause=placed, data=taken.data,
                             time=placed.time + timedelta(seconds=1))


def record(*observations) -> None:
    services.observation_record(observations=list(observations))


def test_the_models_own_traffic_leaves_nothing_behind() -> None:
    events = [*factories.happy_path(order_id="ord-a"), *factories.declined_path(order_id="ord-b"),
              *factories.rejected_path(order_id="ord-c")]
    record(*factories.sightings_of(events))
    assert not UnroutedSighting.objects.exists() and not UndeclaredLink.objects.exists()
    assert unrouted_list() == [] and undeclared_link_list() == []


def test_an_event_put_on_a_bus_with_no_route_of_its_type_is_kept_as_gone_into_the_void() -> None:
    placed, reserved, *_ = factories.happy_path(order_id="ord-a")
    record(factories.observe(placed), factories.observe(reserved))
    # the same event put on the loyalty bus too (by hand, or by a rule nobody declared): there
    # no route takes warehouse.stock-reserved
    record(factories.observe(reserved, "loyalty", observed_at=T0 + timedelta(seconds=1)))
    record(factories.observe(reserved, "loyalty", observed_at=T0 + timedelta(seconds=2)))  # again
    other = factories.happy_path(order_id="ord-b", at=T0 + timedelta(minutes=1))[1]
    record(factories.observe(other, "loyalty", observed_at=T0 + timedelta(minutes=1)))

    [void] = unrouted_list()
    assert (void.bus, void.type, void.source, void.count) == (
        "loyalty", "warehouse.stock-reserved", "warehouse", 2)
    assert (void.first_seen, void.last_seen) == (T0 + timedelta(seconds=1), T0 + timedelta(minutes=1))
    assert (void.latest_event_id, void.latest_order_id) == (other.id, "ord-b")


def test_a_link_the_model_has_no_reaction_for_is_kept_whichever_end_comes_first() -> None:
    placed, taken = paid_straight_after("ord-a")
    record(factories.observe(taken))  # the effect first: its cause is not known yet
    assert not UndeclaredLink.objects.exists()
    record(factories.observe(placed))

    [link] = undeclared_link_list()
    assert (link.cause_type, link.type, link.source, link.count) == (
        "order.placed", "payment.taken", "payment", 1)
    assert link.expected == ("warehouse.stock-reserved", "warehouse.stock-unavailable")
    assert link.summary == ("payment.taken was caused by order.placed, which the model follows "
                            "with warehouse.stock-reserved or warehouse.stock-unavailable")
    assert (link.latest_event_id, link.latest_order_id) == (taken.id, "ord-a")

    record(factories.observe(taken, observed_at=T0 + timedelta(seconds=5)))  # delivered again
    assert undeclared_link_list()[0].count == 1


class Logs:
    """The log group, as `filter_log_events` pages it: one page."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.events = [{"message": json.dumps(message), "ingestionTime": 1767225600000 + index}
                       for index, message in enumerate(messages)]

    def filter_log_events(self, **_: Any) -> dict[str, Any]:
        return {"events": self.events}


def test_a_replay_of_the_history_finds_them_again() -> None:
    placed, taken = paid_straight_after("ord-a")
    record(factories.observe(placed), factories.observe(taken))
    services.read_model_clear()
    assert undeclared_link_list() == []

    history_rebuild(logs=Logs(factories.envelope(taken), factories.envelope(placed)),
                    log_group_name="history")
    assert [(link.cause_type, link.type) for link in undeclared_link_list()] == [
        ("order.placed", "payment.taken")]


def test_they_age_out_with_their_events() -> None:
    old_placed, old_taken = paid_straight_after("ord-old")
    old_reserved = factories.happy_path(order_id="ord-old2")[1]
    record(factories.observe(old_placed), factories.observe(old_taken),
           factories.observe(old_reserved, "loyalty"))
    later = T0 + timedelta(days=2)
    new_reserved = factories.happy_path(order_id="ord-new", at=later)[1]
    record(factories.observe(new_reserved, "loyalty"))

    services.read_model_prune(before=T0 + timedelta(days=1), batch_size=2)

    assert undeclared_link_list() == []
    [void] = unrouted_list()
    assert (void.count, void.latest_event_id) == (1, new_reserved.id)


def test_the_void_is_judged_on_what_the_rules_matched() -> None:
    """EventBridge's rules match the envelope's `detail-type` and `source`: an event whose
    envelope disagrees with its CloudEvent (kept invalid for it) is judged by the envelope."""
    _, reserved, taken, *_ = factories.happy_path(order_id="ord-a")
    as_payment = factories.envelope(reserved)
    as_payment["detail-type"], as_payment["source"] = "payment.taken", "payment"
    as_reserved = factories.envelope(taken)
    as_reserved["detail-type"], as_reserved["source"] = "warehouse.stock-reserved", "warehouse"
    record(*(observation_from_queue_body(json.dumps({"bus": "loyalty", "event": outer}),
                                         observed_at=T0, origin="live")
             for outer in (as_payment, as_reserved)))
    [void] = unrouted_list()
    assert (void.type, void.source, void.latest_event_id) == (
        "warehouse.stock-reserved", "warehouse", taken.id)
