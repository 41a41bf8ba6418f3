"""Websockets through the real ASGI app: events streamed as JSON frames, per-order streams,
cross-origin and (in production) unauthenticated connections refused."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from dashboard import groups
from dashboard.asgi import application
from dashboard.broadcast import EventBroadcaster, events_observed

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def item(event_id: str, order_id: str, event_type: str = "order.placed", bus: str = "global") -> dict:
    return {"eventId": event_id, "bus": bus, "orderId": order_id, "type": event_type,
            "event": {"id": event_id, "type": event_type, "subject": order_id}}


async def connected(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN] if headers is None else headers)
    accepted, _ = await communicator.connect()
    assert accepted, f"{path} refused"
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_every_observed_event_reaches_the_events_stream():
    communicator = await connected("/ws/events")
    try:
        await events_observed([item("e1", "ord-1"), item("e2", "ord-2")])

        frame = await communicator.receive_json_from(timeout=2)

        assert frame["type"] == "events"
        assert [event["eventId"] for event in frame["events"]] == ["e1", "e2"]
        assert frame["events"][0]["event"]["type"] == "order.placed"
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_relaying_a_frame_makes_no_database_hop(monkeypatch: pytest.MonkeyPatch):
    """A frame goes to every client: Channels' stale-connection check before each handler
    is a trip to a thread, per client per frame, that the relay does not need."""
    communicator = await connected("/ws/events")
    hops: list[str] = []

    async def counted() -> None:
        hops.append("close_old_connections")

    monkeypatch.setattr("channels.consumer.aclose_old_connections", counted)
    try:
        await events_observed([item("e1", "ord-1")])
        frame = await communicator.receive_json_from(timeout=2)
        assert [event["eventId"] for event in frame["events"]] == ["e1"]
        assert hops == []
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_order_stream_carries_only_that_order():
    communicator = await connected("/ws/orders/ord-1")
    try:
        await events_observed([item("e1", "ord-1"), item("e2", "ord-2"), item("e3", "ord-1")])

        frame = await communicator.receive_json_from(timeout=2)

        assert [event["eventId"] for event in frame["events"]] == ["e1", "e3"]
        assert await communicator.receive_nothing(timeout=0.2)
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_client_subscribes_and_unsubscribes_by_message():
    communicator = await connected("/ws/orders")
    try:
        await communicator.send_json_to({"subscribe": "ord-9"})
        assert await communicator.receive_json_from(timeout=2) == {"type": "subscribed", "orderId": "ord-9"}
        await events_observed([item("e9", "ord-9"), item("e8", "ord-8")])
        frame = await communicator.receive_json_from(timeout=2)
        assert [event["eventId"] for event in frame["events"]] == ["e9"]

        await communicator.send_json_to({"unsubscribe": "ord-9"})
        assert (await communicator.receive_json_from(timeout=2))["type"] == "unsubscribed"
        await events_observed([item("e10", "ord-9")])
        assert await communicator.receive_nothing(timeout=0.2)
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("frame", ["not json", "[1, 2]", json.dumps({"subscribe": 7}),
                                   json.dumps({"subscribe": "x" * 500}), json.dumps({"hello": 1})])
async def test_bad_frames_get_an_error_and_the_connection_stays(frame):
    communicator = await connected("/ws/orders")
    try:
        await communicator.send_to(text_data=frame)
        answer = await communicator.receive_json_from(timeout=2)
        assert answer["type"] == "error"
        await communicator.send_json_to({"subscribe": "ord-ok"})
        assert (await communicator.receive_json_from(timeout=2))["type"] == "subscribed"
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_events_stream_takes_no_messages_but_survives_them():
    communicator = await connected("/ws/events")
    try:
        await communicator.send_to(text_data="hello")
        assert (await communicator.receive_json_from(timeout=2))["type"] == "error"
        await events_observed([item("e1", "ord-1")])
        assert (await communicator.receive_json_from(timeout=2))["type"] == "events"
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("headers", [[(b"origin", b"http://evil.example")], [],
                                     [(b"origin", b"http://127.0.0.1.evil.example:8000")]])
async def test_cross_origin_and_originless_connections_are_refused(headers):
    communicator = WebsocketCommunicator(application, "/ws/events", headers=headers)
    accepted, _ = await communicator.connect()
    assert not accepted
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_in_production_an_anonymous_connection_is_refused(settings):
    settings.DASHBOARD_REQUIRE_LOGIN = True
    communicator = WebsocketCommunicator(application, "/ws/events", headers=[ORIGIN])
    accepted, _ = await communicator.connect()
    assert not accepted
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_in_production_a_signed_in_user_is_streamed_to(settings, client, django_user_model):
    settings.DASHBOARD_REQUIRE_LOGIN = True
    user = await django_user_model.objects.acreate(username="operator")
    await client.aforce_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = await connected("/ws/events", [ORIGIN, (b"cookie", cookie)])
    try:
        await events_observed([item("e1", "ord-1")])
        assert (await communicator.receive_json_from(timeout=2))["type"] == "events"
    finally:
        await communicator.disconnect()


async def test_the_broadcaster_batches_a_burst_into_few_frames_and_loses_nothing():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(groups.ALL_EVENTS, channel)
    broadcaster = EventBroadcaster(interval=0.05)

    for index in range(2000):
        await broadcaster.publish([item(f"e{index}", f"ord-{index % 50}")])
    await broadcaster.close()

    received = []
    frames = 0
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=0.2)
        except TimeoutError:
            break
        frames += 1
        received += json.loads(message["frame"])["events"]
    assert [event["eventId"] for event in received] == [f"e{index}" for index in range(2000)]
    assert frames <= 10
    assert broadcaster.events_sent == 2000


async def test_a_lone_event_goes_out_at_once():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(groups.ALL_EVENTS, channel)
    broadcaster = EventBroadcaster(interval=5.0)

    await broadcaster.publish([item("e1", "ord-1")])

    message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
    assert json.loads(message["frame"])["events"][0]["eventId"] == "e1"
    await broadcaster.close()
