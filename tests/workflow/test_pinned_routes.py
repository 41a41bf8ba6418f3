"""A route pinned to versions of its event: its rule matches those versions' `dataschema` and
no other, in the pattern the stack writes and in the embedded AWS that runs it."""

from __future__ import annotations

import json

from moto.events.models import EventPattern

from workflow.catalogue import dataschema_of
from workflow.model import UNPARTITIONED, Bus, Route, ToQueue
from workflow.rules import route_detail_pattern

PINNED = Route("order.placed", Bus.GLOBAL, ToQueue("SalesLedger"), versions=(1,))


def _event(version: int, partition: str | None = "p1") -> dict[str, object]:
    detail: dict[str, object] = {"dataschema": dataschema_of("order.placed", version)}
    if partition:
        detail["partitionkey"] = partition
    return {"source": "order", "detail-type": "order.placed", "detail": detail}


def _pattern(route: Route, partition: str | None) -> EventPattern:
    pattern = {"source": ["order"], "detail-type": ["order.placed"]}
    detail = route_detail_pattern(route, partition, ("p0", "p1"))
    if detail is not None:
        pattern["detail"] = detail  # type: ignore[assignment]
    return EventPattern.load(json.dumps(pattern))


def test_a_pinned_route_names_its_version_in_its_rule_and_pattern() -> None:
    assert PINNED.rule_id == "OrderPlacedV1ToSalesLedger"
    assert route_detail_pattern(PINNED, None, ()) == {
        "dataschema": ["urn:choreo:schema:order.placed:1"]}


def test_an_unpinned_route_keeps_its_pattern_and_name() -> None:
    route = Route("order.placed", Bus.GLOBAL, ToQueue("Warehouse"))
    assert route.rule_id == "OrderPlacedToWarehouse"
    assert route_detail_pattern(route, None, ()) is None
    assert route_detail_pattern(route, "p0", ("p0",)) == {"partitionkey": ["p0"]}


def test_the_embedded_aws_delivers_only_the_pinned_version() -> None:
    rule = _pattern(PINNED, None)
    assert rule.matches_event(_event(1))
    assert not rule.matches_event(_event(2))


def test_a_pin_combines_with_the_partition_of_a_fifo_rule() -> None:
    own = _pattern(PINNED, "p1")
    assert own.matches_event(_event(1, "p1"))
    assert not own.matches_event(_event(2, "p1"))
    assert not own.matches_event(_event(1, "p0"))
    rest = _pattern(PINNED, UNPARTITIONED)
    assert rest.matches_event(_event(1, None))
    assert not rest.matches_event(_event(2, None))
    assert not rest.matches_event(_event(1, "p1"))


def test_two_pinned_versions_match_both() -> None:
    both = Route("order.placed", Bus.GLOBAL, ToQueue("SalesLedger"), versions=(1, 2))
    assert both.rule_id == "OrderPlacedV1V2ToSalesLedger"
    rule = _pattern(both, None)
    assert rule.matches_event(_event(1)) and rule.matches_event(_event(2))
    assert not rule.matches_event(_event(3))
