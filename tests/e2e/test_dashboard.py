"""The dashboard against the running system, as a person uses it: in a real browser, with
orders flowing through the embedded AWS and the local runtime."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import websockets
from websockets.typing import Origin

from tests.browser import chromium, watch
from tests.e2e.conftest import ROOT, RunningSystem, free_port, place
from tests.support import eventually, wait_for
from workflow.model import CHOREOGRAPHY

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOTS", "/tmp"))
CHAIN = list(CHOREOGRAPHY.happy_path)


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[bytes]
    port: int
    database: Path
    log_path: Path


def start_dashboard(system: RunningSystem, database: Path, log_path: Path,
                    port: int | None = None) -> Dashboard:
    """`manage.py serve` against the running system's embedded AWS, as the production profile
    runs it beside the workflow (here with SQLite and the in-memory channel layer)."""
    port = port or free_port()
    env = {**os.environ, "CHOREO_AWS_PORT": str(urlsplit(system.aws_endpoint).port),
           "DATABASE_URL": f"sqlite:///{database}", "PYTHONUNBUFFERED": "1"}
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"dashboard exited:\n{log_path.read_text()[-2000:]}")
        try:
            return requests.get(f"{url}/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(serving, 60, 0.3, f"the dashboard answering 200 at {url}/")
    except AssertionError as error:
        process.kill()
        raise RuntimeError(f"{error}:\n{log_path.read_text()[-2000:]}") from None
    return Dashboard(url, process, port, database, log_path)


def stop_dashboard(dashboard: Dashboard, sig: int = signal.SIGINT) -> None:
    dashboard.process.send_signal(sig)
    try:
        dashboard.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        dashboard.process.kill()
        dashboard.process.wait()


@pytest.fixture(scope="module")
def dashboard(running_system: RunningSystem, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("dashboard")
    started = start_dashboard(running_system, folder / "read-model.sqlite3", folder / "serve.log")
    yield started
    stop_dashboard(started)


def test_an_order_placed_from_the_form_travels_the_graph_and_its_trace_shows_every_event(
        dashboard: Dashboard) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors, elsewhere = watch(page, dashboard.url)
        place_and_follow(page, dashboard)
    assert errors == []
    assert elsewhere == []


def place_and_follow(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/", wait_until="networkidle")
    page.fill("input[name=customer_id]", "browser-customer")
    page.locator(".product input[type=number]").first.fill("1")
    page.click("[data-submit]")
    placed = page.locator("[data-placed] a")
    placed.wait_for(timeout=15_000)
    order_id = placed.inner_text().strip()

    # the order's path completes on the live graph: its legend entry turns to shipped
    page.locator("[data-legend]", has_text=order_id).wait_for(timeout=20_000)
    page.wait_for_function(
        "id => [...document.querySelectorAll('[data-legend] *')].some(e =>"
        " e.textContent.includes(id) && e.textContent.includes('shipped'))",
        arg=order_id, timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "e2e-live.png"))

    def trace_text() -> str:
        page.goto(f"{dashboard.url}/orders/{order_id}", wait_until="networkidle")
        return str(page.inner_text("body"))

    try:
        text = eventually(trace_text, lambda text: all(t in text for t in CHAIN), 15, 0.5,
                          f"every event of the chain on the trace of {order_id}")
    finally:
        page.screenshot(path=str(SCREENSHOTS / "e2e-trace.png"), full_page=True)
    assert [t for t in CHAIN if t not in text] == []
    assert "shipped" in text
    notifications = page.locator("text=application/cloudevents+json")
    assert notifications.count() >= 1, "the delivered notification is shown on the trace"


def test_the_websocket_streams_an_orders_events_as_they_happen(
        running_system: RunningSystem, dashboard: Dashboard) -> None:
    async def watch() -> tuple[dict[str, float], float]:
        seen: dict[str, float] = {}
        ws_url = dashboard.url.replace("http", "ws") + "/ws/events"
        async with websockets.connect(ws_url, origin=Origin(dashboard.url)) as socket:
            started = time.monotonic()
            response = await asyncio.to_thread(
                place, running_system, [{"sku": "INFUSER-MESH", "quantity": 1}])
            correlation_id = response.json()["correlationId"]
            while len(seen) < len(CHAIN) and time.monotonic() - started < 30:
                try:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=1))
                except TimeoutError:
                    continue
                for item in frame.get("events", []):
                    event = item.get("event", {})
                    if event.get("correlationid") == correlation_id:
                        seen.setdefault(event["type"], time.monotonic() - started)
            return seen, time.monotonic() - started

    seen, _ = asyncio.run(watch())
    print(f"\nwebsocket: {[(t, round(s * 1000)) for t, s in seen.items()]} ms after placing")
    assert sorted(seen) == sorted(CHAIN)


def test_a_cross_origin_websocket_is_refused(dashboard: Dashboard) -> None:
    async def connect() -> None:
        ws_url = dashboard.url.replace("http", "ws") + "/ws/events"
        async with websockets.connect(ws_url, origin=Origin("http://evil.example")):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(connect())
