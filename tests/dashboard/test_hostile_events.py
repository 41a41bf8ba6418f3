"""Anyone who may put events on a bus can put anything there. No one event breaks a page, and
no one event keeps the rest of its batch from the read model."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from channels.testing import WebsocketCommunicator
from django.utils.html import escape

from dashboard import services
from dashboard.asgi import application
from dashboard.broadcast import events_observed
from dashboard.observations import Observation, observation_from_queue_body
from tests.dashboard import factories

pytestmark = pytest.mark.django_db

SLASHED = "shop/ord-7?x=<b>1</b>#top"
"""An order id (a CloudEvent subject) that is not one path segment, nor safe as HTML."""


def invalid(event: dict[str, object], *, observed_at: datetime | None = None) -> Observation:
    return observation_from_queue_body(factories.queue_body(event),
                                       observed_at=observed_at or datetime.now(UTC), origin="live")


def trace_url(order_id: str) -> str:
    """Where a page links an order's trace: the id as one percent-encoded path segment."""
    return "/orders/" + quote(order_id, safe="")


def test_an_order_id_with_a_slash_is_shown_escaped_on_every_page_and_its_trace_is_linked(client, stack):
    events = factories.happy_path(order_id=SLASHED)
    refused = factories.schema_failing(factories.placed(order_id=SLASHED))
    services.observation_record(observations=[*factories.sightings_of(events), invalid(refused)])

    for url in ("/", "/orders/", "/failures/"):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 200, url
        assert escape(SLASHED) in html and "<b>1</b>" not in html, url
        assert f'href="{trace_url(SLASHED)}"' in html, url

    trace = client.get(trace_url(SLASHED))
    html = trace.content.decode()
    assert trace.status_code == 200
    assert escape(SLASHED) in html and ">warehouse.order-shipped<" in html
    json_url = "/api/orders/" + quote(SLASHED, safe="")
    assert f'href="{json_url}"' in html
    assert client.get(json_url).json()["orderId"] == SLASHED


@pytest.mark.django_db(transaction=True)
async def test_an_order_id_with_a_slash_has_its_own_stream():
    communicator = WebsocketCommunicator(application, "/ws/orders/" + quote(SLASHED, safe=""),
                                         headers=[(b"origin", b"http://127.0.0.1:8000")])
    accepted, _ = await communicator.connect()
    assert accepted
    try:
        await events_observed([{"eventId": "e1", "orderId": SLASHED}, {"eventId": "e2", "orderId": "x"}])
        frame = await communicator.receive_json_from(timeout=2)
        assert [item["eventId"] for item in frame["events"]] == ["e1"]
    finally:
        await communicator.disconnect()


def test_the_newest_order_is_the_one_seen_last_whatever_time_its_events_claim(client, stack):
    far_ahead = factories.placed(order_id="ord-from-2999", at=datetime(2999, 1, 1, tzinfo=UTC))
    services.observation_record(observations=[factories.observe(far_ahead, observed_at=factories.T0)])
    later = factories.happy_path(order_id="ord-seen-later", at=factories.T0 + timedelta(minutes=1))
    services.observation_record(observations=factories.sightings_of(later))

    recent = re.findall(r'data-order="([^"]+)"', client.get("/").content.decode())
    listed = client.get("/orders/").content.decode()

    assert recent == ["ord-seen-later", "ord-from-2999"]
    assert listed.index("ord-seen-later") < listed.index("ord-from-2999")
    assert "2999-01-01 00:00:00" in listed  # the time it claims is still shown, as claimed


def test_the_trace_of_an_order_seen_only_through_invalid_events_shows_them(client, stack):
    services.observation_record(observations=[
        invalid(factories.schema_failing(factories.placed(order_id="ord-only-invalid")))])

    page = client.get("/orders/ord-only-invalid")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Invalid events" in html and "order.placed data invalid" in html
    assert "0 + 1 invalid" in html
