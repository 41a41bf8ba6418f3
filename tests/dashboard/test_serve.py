"""The dashboard served as `python -m choreo up` serves it: uvicorn and the poller in one event
loop, ready announced once it answers, stopped promptly by an event."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import requests
import websockets

from dashboard.web.serve import serve
from tests.dashboard import factories
from tests.dashboard.conftest import free_port
from tests.support import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_served_events_reach_a_websocket_client_and_stop_is_prompt(moto_stack):
    port = free_port()
    stop = threading.Event()
    ready: list[str] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            serve(host="127.0.0.1", port=port, stop=stop, ready=ready.append)
        except BaseException as error:  # reported to the test below
            failures.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: ready or failures, 10, 0.05, "the server ready, or its failure")
        assert ready == [f"http://127.0.0.1:{port}"], failures

        page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "Live flow" in page.text
        assert requests.get(f"http://127.0.0.1:{port}/static/dashboard/js/live.js", timeout=5).ok

        async def watch() -> dict:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/events",
                                          origin=f"http://127.0.0.1:{port}") as socket:
                moto_stack.sqs.send_message(QueueUrl=moto_stack.queue_url, MessageBody=factories.queue_body(
                    factories.placed(order_id="ord-served")))
                return json.loads(await asyncio.wait_for(socket.recv(), timeout=10))

        frame = asyncio.run(watch())
        assert frame["type"] == "events"
        assert frame["events"][0]["orderId"] == "ord-served"

        async def cross_origin() -> None:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/events",
                                          origin="http://evil.example"):
                pass

        with pytest.raises(websockets.exceptions.InvalidStatus):
            asyncio.run(cross_origin())
    finally:
        stopped_at = time.monotonic()
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - stopped_at < 5
    assert not failures
