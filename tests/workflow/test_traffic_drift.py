"""What the model says of observed traffic: which events went into the void, which causation
links it has no reaction for, and where the graph draws such a link."""

from __future__ import annotations

import dataclasses

import pytest

from workflow.model import CHOREOGRAPHY, Bus, Route, ToQueue
from workflow.traffic_drift import expected_after, link_ends, traffic


def unrouted(event_type: str, bus: str, *, source: str | None = None,
             dataschema: object = None, model=CHOREOGRAPHY) -> bool:
    source = source if source is not None else model.event(event_type).producer.value
    return traffic(model).unrouted(event_type=event_type, source=source, bus=bus,
                                   dataschema=dataschema)


def test_every_event_the_model_puts_on_a_bus_is_routed_there() -> None:
    """The model's own traffic is never in the void: each event on the buses its publishers
    put it on and the buses its routes forward it to."""
    for function in CHOREOGRAPHY.functions:
        for event_type in function.publishes:
            assert function.publishes_to is not None
            assert not unrouted(event_type, function.publishes_to.value), event_type
    assert not unrouted("payment.taken", "loyalty")  # forwarded there
    assert not unrouted("loyalty.points-awarded", "global")  # forwarded back


def test_an_event_put_on_a_bus_with_no_route_of_its_type_goes_into_the_void() -> None:
    assert unrouted("warehouse.stock-reserved", "loyalty")
    assert unrouted("order.placed", "loyalty")


def test_an_event_that_ends_an_order_needs_no_route() -> None:
    ending = next(event.name for event in CHOREOGRAPHY.events if event.terminal)
    assert not unrouted(ending, "loyalty")


def test_an_undeclared_type_or_source_is_no_void_of_its_own() -> None:
    """Those are undeclared event types already: counted once, there."""
    assert not unrouted("order.refunded", "loyalty", source="order")
    assert not unrouted("warehouse.stock-reserved", "loyalty", source="legacy")


def test_a_version_no_pinned_route_takes_goes_into_the_void() -> None:
    pinned = Route("warehouse.stock-reserved", Bus.LOYALTY, ToQueue("Payment"), versions=(1,))
    model = dataclasses.replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes, pinned))
    [v1] = pinned.dataschemas
    assert not unrouted("warehouse.stock-reserved", "loyalty", dataschema=v1, model=model)
    assert unrouted("warehouse.stock-reserved", "loyalty",
                    dataschema=v1.replace(":1", ":2"), model=model)
    # one unpinned route of the type on the bus takes every version
    unpinned = dataclasses.replace(pinned, versions=())
    model = dataclasses.replace(model, routes=(*model.routes, unpinned))
    assert not unrouted("warehouse.stock-reserved", "loyalty", dataschema="anything", model=model)


@pytest.mark.parametrize("cause, effect", [
    (function_reaction.consumes, published)
    for function in CHOREOGRAPHY.functions for function_reaction in function.reactions
    for published in function_reaction.publishes])
def test_every_reaction_of_the_model_is_a_declared_link(cause: str, effect: str) -> None:
    assert not traffic().undeclared_link(cause_type=cause, effect_type=effect)


def test_a_link_the_model_has_no_reaction_for_is_undeclared() -> None:
    assert traffic().undeclared_link(cause_type="order.placed", effect_type="payment.taken")
    assert traffic().undeclared_link(cause_type="order.placed", effect_type="order.refunded")
    assert traffic().undeclared_link(cause_type="order.refunded", effect_type="order.cancelled")
    # the shipment ends the order: OrderEvents reacts to it, publishing nothing
    assert traffic().undeclared_link(cause_type="warehouse.order-shipped", effect_type="order.cancelled")
    assert expected_after("order.placed") == ("warehouse.stock-reserved",
                                              "warehouse.stock-unavailable")
    assert expected_after("order.refunded") == ()


def test_a_link_is_drawn_between_the_functions_that_published_its_ends() -> None:
    # payment.taken straight after order.placed: from the order API to the payment function
    assert link_ends(cause_type="order.placed", effect_type="payment.taken",
                     effect_source="payment") == ("OrderApi", "Payment")
    # an undeclared type from the order subdomain, in reaction to a warehouse event: the order
    # function that consumes that event published it
    assert link_ends(cause_type="warehouse.order-shipped", effect_type="order.refunded",
                     effect_source="order") == ("Warehouse", "OrderEvents")
    # a cause of a type the model does not declare, or a source it does not: nowhere to draw
    assert link_ends(cause_type="order.refunded", effect_type="order.cancelled",
                     effect_source="order") is None
    assert link_ends(cause_type="order.placed", effect_type="invoice.sent",
                     effect_source="legacy") is None
