"""Where each element of the model runs (`workflow.placement`): by default all in one place;
with Loyalty in an account of its own, its private bus, function, tables and rules go with it,
and the routes across the boundary are the forwards between buses."""

from __future__ import annotations

import dataclasses

import pytest

from workflow.model import CHOREOGRAPHY, Bus, Route, Subdomain, ToBus
from workflow.placement import (
    HOME,
    HOME_ACCOUNT,
    HOME_REGION,
    REPLICA_REGION,
    SUBDOMAIN_ACCOUNTS,
    Placement,
    PlacementError,
    Placements,
    bus_owner,
    forwarding_role_name,
    model_slice,
)

HOME_AT = Placement("111111111111", "us-east-1")
LOYALTY_AT = Placement("222222222222", "us-east-1")
SETTINGS = {HOME_ACCOUNT: "111111111111", HOME_REGION: "us-east-1",
            SUBDOMAIN_ACCOUNTS: "loyalty=222222222222"}


def test_with_no_settings_everything_is_home_in_one_stack():
    placements = Placements.from_context({})
    assert placements.single
    assert {placements.of_function(f) for f in CHOREOGRAPHY.functions} == {HOME}
    assert {placements.of_bus(bus) for bus in Bus} == {HOME}
    assert placements.crossings() == ()
    (stack,) = placements.stacks("choreo")
    assert (stack.name, stack.buses) == ("choreo", tuple(Bus))


def test_a_bus_belongs_to_the_subdomain_that_alone_publishes_to_it():
    assert bus_owner(Bus.LOYALTY) == Subdomain.LOYALTY
    assert bus_owner(Bus.GLOBAL) is None  # the logged bus, shared by every subdomain


def test_loyalty_elsewhere_takes_its_bus_function_and_rules_and_crosses_by_bus_forwards():
    placements = Placements.from_context(SETTINGS)
    assert placements.of_function(CHOREOGRAPHY.function("Loyalty")) == LOYALTY_AT
    assert placements.of_function(CHOREOGRAPHY.function("Payment")) == HOME_AT
    assert placements.of_bus(Bus.LOYALTY) == LOYALTY_AT
    crossings = {(route.event, route.bus) for route in placements.crossings()}
    assert crossings == {("payment.taken", Bus.GLOBAL),
                         ("loyalty.points-awarded", Bus.LOYALTY)}
    assert placements.accepted_sources(Bus.LOYALTY) == {HOME_AT: ["payment"]}
    assert placements.accepted_sources(Bus.GLOBAL) == {LOYALTY_AT: ["loyalty"]}
    assert [(s.name, s.placement, s.subdomains) for s in placements.stacks("shop")] == [
        ("shop", HOME_AT, (Subdomain.ORDER, Subdomain.WAREHOUSE, Subdomain.PAYMENT)),
        ("shop-loyalty", LOYALTY_AT, (Subdomain.LOYALTY,))]


def test_the_loyalty_stacks_part_of_the_model_is_its_own():
    placements = Placements.from_context(SETTINGS)
    _, loyalty = placements.stacks("choreo")
    part = model_slice(loyalty)
    assert [f.id for f in part.functions] == ["Loyalty"]
    assert part.queues == ()
    assert {t.id for t in part.tables} == {"Idempotency", "Loyalty"}
    assert {(r.event, r.bus) for r in part.routes} == {
        ("payment.taken", Bus.LOYALTY), ("loyalty.points-awarded", Bus.LOYALTY)}
    assert part.http_apis == ()


def test_a_replica_region_adds_a_replica_stack_in_the_home_account():
    placements = Placements.from_context({**SETTINGS, REPLICA_REGION: "eu-west-1"})
    replica = placements.stacks("choreo")[-1]
    assert (replica.name, replica.placement, replica.replica) == (
        "choreo-replica", Placement("111111111111", "eu-west-1"), True)


def test_a_route_added_across_the_boundary_is_one_more_crossing_and_source():
    more = dataclasses.replace(CHOREOGRAPHY, routes=(
        *CHOREOGRAPHY.routes, Route("warehouse.order-shipped", Bus.GLOBAL, ToBus(Bus.LOYALTY))))
    placements = Placements.from_context(SETTINGS, more)
    assert ("warehouse.order-shipped", Bus.GLOBAL) in {
        (route.event, route.bus) for route in placements.crossings(more)}
    assert placements.accepted_sources(Bus.LOYALTY, more) == {HOME_AT: ["payment", "warehouse"]}


def test_each_bus_accepts_from_another_place_only_the_detail_types_its_routes_forward():
    placements = Placements.from_context(SETTINGS)
    assert placements.accepted_detail_types(Bus.LOYALTY) == {HOME_AT: ["payment.taken"]}
    assert placements.accepted_detail_types(Bus.GLOBAL) == {LOYALTY_AT: ["loyalty.points-awarded"]}
    more = dataclasses.replace(CHOREOGRAPHY, routes=(
        *CHOREOGRAPHY.routes, Route("warehouse.order-shipped", Bus.GLOBAL, ToBus(Bus.LOYALTY))))
    assert Placements.from_context(SETTINGS, more).accepted_detail_types(Bus.LOYALTY, more) == {
        HOME_AT: ["payment.taken", "warehouse.order-shipped"]}
    assert Placements.from_context({}).accepted_detail_types(Bus.GLOBAL) == {}


def test_each_forward_to_another_account_has_a_role_named_by_the_stack_that_sends():
    placements = Placements.from_context({**SETTINGS, REPLICA_REGION: "eu-west-1"})
    forwards = {(f.sender.name, f.receiver.name, f.bus): f for f in placements.forwards("choreo")}
    # the home bus's replication stays in the home account: no policy, so no forward listed
    assert set(forwards) == {("choreo", "choreo-loyalty", Bus.LOYALTY),
                             ("choreo-loyalty", "choreo", Bus.GLOBAL),
                             ("choreo-loyalty", "choreo-replica", Bus.GLOBAL)}
    payments = forwards[("choreo", "choreo-loyalty", Bus.LOYALTY)]
    assert payments.events == (("payment", "payment.taken"),)
    assert payments.bus_arn == "arn:aws:events:us-east-1:222222222222:event-bus/choreo-loyalty-loyalty"
    assert payments.role_arn == \
        "arn:aws:iam::111111111111:role/choreo-us-east-1-to-choreo-loyalty-loyalty"
    replication = forwards[("choreo-loyalty", "choreo-replica", Bus.GLOBAL)]
    assert (replication.sources, replication.detail_types) == (["loyalty"],
                                                               ["loyalty.points-awarded"])
    assert replication.role_name == "choreo-loyalty-us-east-1-to-choreo-replica-global"
    assert [(plan.name, plan.placement, len(plan.forwards))
            for plan in placements.forwarding_stacks("choreo")] == [
        ("choreo-forwarding", HOME_AT, 1), ("choreo-loyalty-forwarding", LOYALTY_AT, 2)]
    assert Placements.from_context({}).forwards("choreo") == ()


def test_a_forwarding_role_name_longer_than_iam_allows_is_shortened_the_same_way_each_time():
    stack = "s" * 61
    name = forwarding_role_name(stack, LOYALTY_AT, f"{stack}-global")
    assert len(name) == 64
    assert name == forwarding_role_name(stack, LOYALTY_AT, f"{stack}-global")
    assert name != forwarding_role_name(stack, LOYALTY_AT, f"{stack}-loyalty")
    assert name != forwarding_role_name(stack, Placement("222222222222", "eu-west-1"),
                                        f"{stack}-global")


def test_a_subdomain_fed_by_queues_from_the_global_bus_cannot_leave_alone():
    with pytest.raises(PlacementError, match="reached through its own bus"):
        Placements.from_context({**SETTINGS, SUBDOMAIN_ACCOUNTS: "payment=222222222222"})


def test_an_observed_envelope_says_where_its_event_was_published():
    from workflow.placement import placement_of_envelope
    assert placement_of_envelope({"account": "222222222222", "region": "us-east-1",
                                  "source": "loyalty"}) == LOYALTY_AT
    assert placement_of_envelope({}) == HOME
