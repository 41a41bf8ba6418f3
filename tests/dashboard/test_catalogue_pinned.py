"""The catalogue shows a route pinned to versions of its event: with the legacy consumer's
model, `order.placed` has a route to the sales ledger for version 1 only and one to the
translator for version 2 only, on the page and in its JSON; an unpinned route shows no pin."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape

import pytest

from dashboard.catalogue import views
from workflow.legacy import with_legacy_consumer
from workflow.model import CHOREOGRAPHY, Bus, Route, ToQueue

pytestmark = pytest.mark.django_db

LEGACY = with_legacy_consumer(CHOREOGRAPHY)


def _routes_cell(html: str, event_type: str) -> str:
    [row] = re.findall(rf'data-event-type="{re.escape(event_type)}".*?<td data-routes>(.*?)</td>',
                       html, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())


def test_the_pinned_routes_show_their_versions(client, stack, monkeypatch):
    monkeypatch.setattr(views, "MODEL", LEGACY)

    cell = _routes_cell(client.get("/catalogue/").content.decode(), "order.placed")
    document = client.get("/api/catalogue").json()

    assert "SalesLedger queue v1 only OrderPlacedV1ToSalesLedger" in cell
    assert "OrderPlacedV1Translator function v2 only" in cell
    assert "Warehouse.fifo queue OrderPlacedToWarehouse" in cell  # unpinned: no pin
    [placed] = [e for e in document["events"] if e["type"] == "order.placed"]
    assert {r["ruleId"]: r["versions"] for r in placed["routes"]} == {
        "OrderPlacedToWarehouse": [], "OrderPlacedV1ToSalesLedger": [1],
        "OrderPlacedV2ToOrderPlacedV1Translator": [2]}


def test_a_route_pinned_in_a_copy_of_the_model_shows_its_pin(client, stack, monkeypatch):
    model = replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes, Route(
        "order.placed", Bus.GLOBAL, ToQueue("Payment"), versions=(1, 2))))
    monkeypatch.setattr(views, "MODEL", model)

    cell = _routes_cell(client.get("/catalogue/").content.decode(), "order.placed")

    assert "Payment queue v1, v2 only OrderPlacedV1V2ToPayment" in cell
    assert "v1 only" not in cell
