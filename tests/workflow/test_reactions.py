"""What follows what: each function's reactions, checked against its routes and its events."""

from __future__ import annotations

import dataclasses

import pytest

from workflow.model import CHOREOGRAPHY, Bus, Choreography, Reaction, Route, ToBus, ToFunction, ToQueue


@pytest.mark.parametrize("function", CHOREOGRAPHY.functions, ids=lambda f: f.id)
def test_every_reaction_consumes_an_event_routed_to_its_function(function) -> None:
    for reaction in function.reactions:
        assert reaction.consumes in CHOREOGRAPHY.consumed_by(function.id)


@pytest.mark.parametrize("function", CHOREOGRAPHY.functions, ids=lambda f: f.id)
def test_every_reaction_publishes_only_what_its_function_declares(function) -> None:
    for reaction in function.reactions:
        assert set(reaction.publishes) <= set(function.publishes)


def test_every_event_a_function_publishes_follows_something_or_starts_an_order() -> None:
    followers = {f for event in CHOREOGRAPHY.events for f in CHOREOGRAPHY.followers_of(event.name)}
    for function in CHOREOGRAPHY.functions:
        for published in function.publishes:
            assert published in followers or published in CHOREOGRAPHY.start_events()


def test_every_non_terminal_event_has_a_reaction_that_continues_it() -> None:
    """An order stops only at an ending: every other event is followed by something."""
    for event in CHOREOGRAPHY.events:
        if not event.terminal:
            assert CHOREOGRAPHY.followers_of(event.name), event.name
            assert CHOREOGRAPHY.endings_from(event.name), event.name


def test_what_follows_what() -> None:
    assert CHOREOGRAPHY.start_events() == ("order.placed",)
    assert CHOREOGRAPHY.followers_of("order.placed") == ("warehouse.stock-reserved",
                                                         "warehouse.stock-unavailable")
    assert CHOREOGRAPHY.followers_of("warehouse.stock-reserved") == ("payment.taken",
                                                                     "payment.declined")
    assert CHOREOGRAPHY.followers_of("payment.declined") == ("warehouse.stock-released",)
    assert CHOREOGRAPHY.followers_of("warehouse.order-shipped") == ()
    assert CHOREOGRAPHY.endings_from("order.placed") == (
        "warehouse.order-shipped", "order.cancelled", "order.rejected")
    assert CHOREOGRAPHY.endings_from("payment.declined") == ("order.cancelled",)


def test_the_likely_path_from_the_start_is_the_happy_path() -> None:
    assert (CHOREOGRAPHY.happy_path[0], *CHOREOGRAPHY.likely_path("order.placed")) \
        == CHOREOGRAPHY.happy_path


def test_the_visibility_timeout_is_six_times_the_consumers_timeout() -> None:
    assert CHOREOGRAPHY.visibility_timeout_seconds("Payment") == 60
    slower = dataclasses.replace(CHOREOGRAPHY, functions=tuple(
        dataclasses.replace(f, timeout_seconds=25) if f.id == "Payment" else f
        for f in CHOREOGRAPHY.functions))
    assert slower.visibility_timeout_seconds("Payment") == 150


def with_audit(model: Choreography = CHOREOGRAPHY) -> Choreography:
    """A copy of the model where an audit step comes between the payment and the points: the
    Payment function reacts to payment.taken by publishing payment.audited, routed to its own
    queue, and Loyalty reacts to that instead."""
    events = (*model.events, dataclasses.replace(model.event("payment.taken"),
                                                 name="payment.audited", summary="Audited."))
    functions = []
    for function in model.functions:
        if function.id == "Payment":
            function = dataclasses.replace(
                function, publishes=(*function.publishes, "payment.audited"),
                reactions=(*function.reactions, Reaction("payment.taken", ("payment.audited",))))
        if function.id == "Loyalty":
            function = dataclasses.replace(
                function, reactions=(Reaction("payment.audited", ("loyalty.points-awarded",)),))
        functions.append(function)
    return dataclasses.replace(
        model, events=events, functions=tuple(functions),
        routes=(*model.routes, Route("payment.taken", Bus.GLOBAL, ToQueue("Payment")),
                Route("payment.audited", Bus.GLOBAL, ToBus(Bus.LOYALTY)),
                Route("payment.audited", Bus.LOYALTY, ToFunction("Loyalty"))),
        happy_path=("order.placed", "warehouse.stock-reserved", "payment.taken",
                    "payment.audited", "loyalty.points-awarded", "warehouse.order-shipped"))


def test_a_new_reaction_shows_in_what_follows() -> None:
    model = with_audit()
    assert model.followers_of("payment.taken") == ("payment.audited",)
    assert model.likely_path("warehouse.stock-reserved") == (
        "payment.taken", "payment.audited", "loyalty.points-awarded", "warehouse.order-shipped")
