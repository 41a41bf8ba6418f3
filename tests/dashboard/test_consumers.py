"""Websockets through the real ASGI app: events streamed as JSON frames, per-order streams,
cross-origin and (in production) unauthenticated connections refused."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from dashboard.asgi import application
from dashboard.live import groups
from dashboard.live.broadcast import EventBroadcaster, events_observed
from dashboard.live.consumers import CLOSE_POLICY_VIOLATION, CLOSE_TOO_BIG, CLOSE_TOO_MANY_CONNECTIONS

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


async def connect_from(address: str, path: str = "/ws/events", *,
                       forwarded_for: str | None = None) -> tuple[WebsocketCommunicator, int | None]:
    """A connection from a client address; the close code if it was refused (or None)."""
    headers = [ORIGIN] if forwarded_for is None else [
        ORIGIN, (b"x-forwarded-for", forwarded_for.encode())]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["client"] = (address, 50000)
    accepted, _ = await communicator.connect()
    assert accepted
    if await communicator.receive_nothing(timeout=0.1):
        return communicator, None
    closed = await communicator.receive_output(timeout=1)
    assert closed["type"] == "websocket.close"
    return communicator, closed.get("code")


@pytest.mark.django_db(transaction=True)
async def test_one_address_may_hold_only_so_many_connections(settings):
    settings.DASHBOARD_WS_MAX_PER_ADDRESS = 2
    first, _ = await connect_from("10.0.0.1")
    second, _ = await connect_from("10.0.0.1")
    try:
        third, refused = await connect_from("10.0.0.1")
        assert refused == CLOSE_TOO_MANY_CONNECTIONS
        await third.disconnect()
        other, code = await connect_from("10.0.0.2")  # another address is not held back
        assert code is None
        await other.disconnect()

        await first.disconnect()
        again, code = await connect_from("10.0.0.1")  # a freed place is taken again
        assert code is None
        await again.disconnect()
    finally:
        await second.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_behind_a_trusted_proxy_connections_are_counted_per_forwarded_client(settings):
    settings.DASHBOARD_WS_MAX_PER_ADDRESS = 1
    proxy = "10.0.0.5"
    first, _ = await connect_from(proxy, forwarded_for="203.0.113.9")
    try:
        # untrusted, the proxy is the client: a second client is refused for the first's sake
        refused, code = await connect_from(proxy, forwarded_for="198.51.100.7")
        assert code == CLOSE_TOO_MANY_CONNECTIONS
        await refused.disconnect()
    finally:
        await first.disconnect()

    settings.DASHBOARD_TRUSTED_PROXIES = [proxy]
    first, _ = await connect_from(proxy, forwarded_for="203.0.113.9")
    try:
        other, code = await connect_from(proxy, forwarded_for="198.51.100.7")
        assert code is None
        await other.disconnect()
        # a forged entry on the left does not make the same client another
        again, code = await connect_from(proxy, forwarded_for="192.0.2.1, 203.0.113.9")
        assert code == CLOSE_TOO_MANY_CONNECTIONS
        await again.disconnect()
    finally:
        await first.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_process_holds_only_so_many_connections(settings):
    settings.DASHBOARD_WS_MAX_PER_PROCESS = 2
    held = [(await connect_from(f"10.0.1.{n}"))[0] for n in range(2)]
    try:
        extra, refused = await connect_from("10.0.1.9")
        assert refused == CLOSE_TOO_MANY_CONNECTIONS
        await extra.disconnect()
    finally:
        for communicator in held:
            await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_stream_that_takes_no_messages_closes_on_a_client_that_keeps_sending():
    communicator = await connected("/ws/events")
    try:
        for _ in range(20):
            await communicator.send_to(text_data="hello")
        outputs = []
        while not await communicator.receive_nothing(timeout=0.2):
            outputs.append(await communicator.receive_output(timeout=1))
        assert outputs[-1] == {"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION,
                               "reason": "too many messages"}
        assert len(outputs) < 10  # answered a few, then closed: not twenty answers
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_flood_of_subscriptions_is_closed_but_a_page_load_of_them_is_not(settings):
    settings.DASHBOARD_WS_MESSAGE_BURST = 30
    settings.DASHBOARD_WS_MESSAGES_PER_SECOND = 1
    communicator = await connected("/ws/orders")
    try:
        for n in range(30):
            await communicator.send_json_to({"subscribe": f"ord-{n}"})
            assert (await communicator.receive_json_from(timeout=2))["type"] == "subscribed"
        for n in range(5):
            await communicator.send_json_to({"subscribe": f"ord-x{n}"})
        closed = []
        while not await communicator.receive_nothing(timeout=0.2):
            closed.append(await communicator.receive_output(timeout=1))
        assert closed[-1]["type"] == "websocket.close"
        assert closed[-1]["code"] == CLOSE_POLICY_VIOLATION
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_oversized_message_closes_the_connection(settings):
    settings.DASHBOARD_WS_MAX_MESSAGE_BYTES = 1024
    communicator = await connected("/ws/orders")
    try:
        await communicator.send_to(text_data=json.dumps({"subscribe": "x" * 2000}))
        closed = await communicator.receive_output(timeout=1)
        assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_TOO_BIG
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/orders", "/ws/events"])
async def test_a_frame_that_defeats_a_json_parser_is_answered_and_frees_its_place(path):
    """A thousand '[' make Python's JSON parser give up (RecursionError, not ValueError). Each
    connection is answered, and its place among the address's connections is given back when
    it goes: 25 of them, more than one address may hold at once, and a fresh one is let in."""
    for _ in range(25):
        communicator, refused = await connect_from("10.0.2.1", path)
        try:
            assert refused is None
            await communicator.send_to(text_data="[" * 1000)
            answer = await communicator.receive_json_from(timeout=2)
            assert answer["type"] == "error"
        finally:
            await communicator.disconnect()

    fresh, refused = await connect_from("10.0.2.1", path)
    await fresh.disconnect()
    assert refused is None


@pytest.mark.django_db(transaction=True)
async def test_a_message_a_consumer_fails_on_unforeseen_is_answered_and_the_connection_stays(
        monkeypatch):
    from dashboard.live import consumers

    async def crash(self, text_data=None, bytes_data=None):
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(consumers.OrderStreamConsumer, "receive", crash)
    communicator = await connected("/ws/orders")
    try:
        for _ in range(2):
            await communicator.send_to(text_data="{}")
            answer = await communicator.receive_json_from(timeout=2)
            assert answer == {"type": "error", "detail": "that message could not be read"}
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_consumer_that_ends_on_an_exception_gives_back_its_place(settings, monkeypatch):
    """Whatever ends a connection, an exception nobody caught included, its place is freed."""
    from dashboard.live import consumers

    async def crash(self, message):
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(consumers.EventStreamConsumer, "events_observed", crash)
    settings.DASHBOARD_WS_MAX_PER_ADDRESS = 1
    communicator, refused = await connect_from("10.0.2.2")
    try:
        assert refused is None
        await events_observed([item("e1", "ord-1")])
        with pytest.raises(RuntimeError, match="unforeseen"):
            await communicator.receive_output(timeout=2)
    finally:
        with contextlib.suppress(RuntimeError):  # the consumer's failure, told again
            await communicator.disconnect()

    fresh, refused = await connect_from("10.0.2.2")
    await fresh.disconnect()
    assert refused is None
