"""What an operator is shown is derived from the model: a step added to a copy of it, with no
other edit, gets its deadline, its ghost on a trace in flight, its catalogue entry and its
route's figures on the graph.

The copy (`with_audit`) puts an audit between the payment and the points: Payment reacts to
`payment.taken` by publishing `payment.audited` through a new route to its own queue, and
Loyalty reacts to `payment.audited` (forwarded to its bus) instead of `payment.taken`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.catalogue.pages import catalogue_build
from dashboard.insight.routes import route_health
from dashboard.readmodel import services
from tests.dashboard import factories
from tests.workflow.test_reactions import with_audit
from workflow.catalogue import SCHEMAS
from workflow.conformance import Seen, conformance_of
from workflow.deadlines import step_deadlines
from workflow.model import Bus, Route, ToQueue

MODEL = with_audit()
NEW_ROUTE = Route("payment.taken", Bus.GLOBAL, ToQueue("Payment"))


def _paid_order() -> list:
    """An order observed as far as its payment: the copy's next step is the audit."""
    return factories.happy_path(order_id="ord-audited")[:3]


def test_the_new_step_has_a_deadline_derived_from_its_route() -> None:
    deadlines = step_deadlines(MODEL)
    audit = deadlines["payment.taken"]
    assert audit.next_by == ("Payment",)
    assert [path.rule_ids for path in audit.paths] == [(NEW_ROUTE.rule_id,)]
    # the same queue, the same delivery settings: the same deadline as the step it shares it with
    assert audit.seconds == deadlines["warehouse.stock-reserved"].seconds
    assert deadlines["payment.audited"].next_by == ("Loyalty",)
    assert "payment.audited" not in step_deadlines()


def test_a_trace_in_flight_shows_the_new_step_as_a_ghost() -> None:
    seen = [Seen(event.id, event.type, event.causation_id, event.time) for event in _paid_order()]
    conformance = conformance_of(seen, MODEL)
    assert [step.event for step in conformance.to_come] == [
        "payment.audited", "loyalty.points-awarded", "warehouse.order-shipped"]
    assert conformance.to_come[0].by == "Payment"
    assert not conformance.deviates
    # the deployed model expects the points next
    assert conformance_of(seen).to_come[0].event == "loyalty.points-awarded"


def test_the_catalogue_has_an_entry_for_the_new_event_and_route() -> None:
    schemas = {**SCHEMAS, "payment.audited": SCHEMAS["payment.taken"]}
    catalogue = catalogue_build(model=MODEL, schemas=schemas)
    audited = catalogue.event("payment.audited")
    assert audited.producer == "payment"
    assert audited.consumers == ("Loyalty",)
    assert {route.rule_id for route in audited.routes} == {
        route.rule_id for route in MODEL.routes_of("payment.audited")}
    assert NEW_ROUTE.rule_id in {route.rule_id for route in catalogue.event("payment.taken").routes}
    assert catalogue.event("payment.taken").followed_by == ("payment.audited",)


@pytest.mark.django_db
def test_the_new_route_carries_figures_on_the_graph() -> None:
    events = _paid_order()
    services.observation_record(observations=factories.sightings_of(events), model=MODEL)
    health = route_health(window="1h", now=events[-1].time + timedelta(minutes=1), model=MODEL)
    figures = {route.key: route for route in health.routes}
    assert figures[NEW_ROUTE.rule_id].events == 1
    assert NEW_ROUTE.rule_id not in {route.key for route in route_health(
        window="1h", now=events[-1].time + timedelta(minutes=1)).routes}
