"""The production profile scaled out, as `manage.py serve_production --workers 2` runs it: two
ASGI workers on one address and one poller, on this machine's PostgreSQL (a database of its
own) and Redis (a key prefix of its own), watching the running system.

A module of its own: its poller is the observability queue's one consumer while it runs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import websockets
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.browser import VIOLATIONS, chromium, watch
from tests.e2e.conftest import (
    ROOT,
    RunningSystem,
    free_port,
    log_group_events,
    place,
    restock,
    wait_all_terminal,
    wait_idle,
)
from tests.processes import alive, command_line, connection_owner, descendants
from tests.services import postgres_database, redis_prefix, redis_url
from tests.support import eventually, wait_for
from workflow.outputs import OBSERVABILITY_QUEUE_URL

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="finds the worker behind a connection in /proc")]

WORKERS = 2
QUIET_SECONDS = 7
SKU = "INFUSER-MESH"
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


@dataclass
class Production:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    """`serve_production`, whose descendants are the web server, its workers and the poller"""
    log_path: Path
    passwords: dict[str, str]

    def said(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self, name: str) -> list[int]:
        """Every pid the supervisor said it started `name` with, oldest first."""
        return [int(pid) for pid in re.findall(rf"{name} started \(pid (\d+)\)", self.said())]

    def sign_in(self, username: str) -> requests.Session:
        session = requests.Session()
        session.get(f"{self.url}/login/", timeout=10)
        answer = session.post(f"{self.url}/login/", timeout=10, allow_redirects=False, data={
            "username": username, "password": self.passwords[username],
            "csrfmiddlewaretoken": session.cookies["csrftoken"]})
        assert answer.status_code == 302 and answer.headers["Location"] == "/", answer.text[-500:]
        return session


def _environment(system: RunningSystem, database_url: str, prefix: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CHOREO_", "DJANGO_", "DATABASE_URL", "REDIS_URL",
                                  "WEB_CONCURRENCY"))}
    return {**env, "CHOREO_PROFILE": "production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url, "REDIS_URL": redis_url(),
            "DASHBOARD_REDIS_PREFIX": prefix,
            "CHOREO_AWS": "embedded", "CHOREO_AWS_PORT": str(urlsplit(system.aws_endpoint).port),
            # plain HTTP on this machine
            "DJANGO_SSL_REDIRECT": "0", "DJANGO_SECURE_COOKIES": "0", "DJANGO_HSTS_SECONDS": "0",
            "PYTHONUNBUFFERED": "1"}


def _wait_serving(process: subprocess.Popen[bytes], log_path: Path, seconds: float) -> None:

    def serving() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"serve_production not serving (exit {process.poll()}):\n"
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        return "serving on" in log_path.read_text(errors="replace")

    try:
        wait_for(serving, seconds, 0.2, "serve_production to say it is serving")
    except AssertionError as error:
        raise RuntimeError(f"{error}:\n{log_path.read_text(errors='replace')[-3000:]}") from None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops it; whatever is left after that is killed."""
    family = descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid in family:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def production(running_system: RunningSystem, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Production]:
    # Earlier modules leave sightings no dashboard drained (a load test leaves thousands):
    # this module's poller starts from an empty queue, with its history from the log group.
    running_system.client("sqs").purge_queue(
        QueueUrl=running_system.outputs[OBSERVABILITY_QUEUE_URL])
    with postgres_database() as database_url, redis_prefix() as prefix:
        env = _environment(running_system, database_url, prefix)
        port = free_port()
        log_path = tmp_path_factory.mktemp("production") / "serve_production.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "serve_production", "--workers", str(WORKERS),
                 "--port", str(port)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_serving(process, log_path, seconds=120)
            passwords = {"ops": secrets.token_urlsafe(16), "viewer": secrets.token_urlsafe(16)}
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c",
                 "from django.contrib.auth.models import User; "
                 f"User.objects.create_user('ops', password={passwords['ops']!r}, is_staff=True); "
                 f"User.objects.create_user('viewer', password={passwords['viewer']!r})"],
                cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
            yield Production(url=f"http://127.0.0.1:{port}", port=port, process=process,
                             log_path=log_path, passwords=passwords)
        finally:
            _stop(process)


def _cookie(session: requests.Session) -> str:
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def _ws_url(production: Production, path: str = "/ws/events") -> str:
    return production.url.replace("http", "ws", 1) + path


def test_anonymous_users_are_refused_everywhere_and_only_staff_may_act(
        production: Production) -> None:
    pages = ["/", "/orders/", "/orders/ord-any", "/failures/", "/api/graph", "/api/orders/ord-any",
             "/api/dead-letters", "/api/backlog"]
    for page in pages:
        answer = requests.get(f"{production.url}{page}", timeout=10, allow_redirects=False)
        assert answer.status_code == 302, page
        assert answer.headers["Location"].startswith("/login/?next="), page

    async def anonymous(path: str) -> None:
        async with websockets.connect(_ws_url(production, path), origin=Origin(production.url)):
            pass

    for path in ("/ws/events", "/ws/orders"):
        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(anonymous(path))
        assert refused.value.response.status_code == 403

    order = {"customer_id": "prod-viewer", "qty_MUG-STONEWARE": "1", "card": "good"}
    viewer = production.sign_in("viewer")
    assert viewer.get(f"{production.url}/", timeout=10).status_code == 200  # may watch
    headers = {"Accept": "application/json", "Referer": f"{production.url}/"}
    placing = viewer.post(f"{production.url}/orders/place", timeout=10, headers=headers,
                          data={**order, "csrfmiddlewaretoken": viewer.cookies["csrftoken"]})
    assert placing.status_code == 403
    assert placing.json()["placed"] is False
    queue = viewer.get(f"{production.url}/api/dead-letters", timeout=10).json()["queues"][0]["name"]
    redriving = viewer.post(f"{production.url}/failures/{queue}/redrive", timeout=10,
                            headers={"Referer": f"{production.url}/failures/"},
                            data={"csrfmiddlewaretoken": viewer.cookies["csrftoken"]})
    assert redriving.status_code == 403
    assert "redriving dead letters needs a staff account" in redriving.text

    staff = production.sign_in("ops")  # the same order, from staff, is placed
    placed = staff.post(f"{production.url}/orders/place", timeout=10, headers=headers,
                        data={**order, "csrfmiddlewaretoken": staff.cookies["csrftoken"]})
    assert placed.status_code == 202 and placed.json()["placed"] is True


class Client:
    """A websocket client of the live view, and which worker serves it."""

    def __init__(self, socket: Any, worker: int | None) -> None:
        self.socket = socket
        self.worker = worker
        self.items: list[dict[str, Any]] = []

    async def read(self) -> None:
        async for frame in self.socket:
            self.items.extend(json.loads(frame)["events"])

    def of(self, order_id: str) -> list[tuple[str, str, str]]:
        """This order's sightings as received, in order: (event id, bus, observed at)."""
        return [(item["eventId"], item["bus"], item["observedAt"])
                for item in self.items if item["orderId"] == order_id]


async def _connect_across_workers(production: Production, cookie: str, *, each: int,
                                  seconds: float = 60) -> list[Client]:
    """Connect until every worker serves at least `each` clients: the kernel hands each
    connection to whichever worker accepts first."""
    web_server = production.pids("web server")[-1]
    clients: list[Client] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        served = Counter(client.worker for client in clients)
        if len(served) == WORKERS and min(served.values()) >= each:
            return clients
        socket = await websockets.connect(_ws_url(production), origin=Origin(production.url),
                                          additional_headers={"Cookie": cookie})
        worker = connection_owner(production.port, socket.local_address[1],
                                  descendants(web_server))
        clients.append(Client(socket, worker))
        await asyncio.sleep(0.05)  # a worker still starting has its turn
    raise AssertionError(f"workers served {dict(Counter(c.worker for c in clients))} "
                         f"of {len(clients)} clients")


def _orders_placed(system: RunningSystem, cards: list[str], customer: str) -> list[str]:
    order_ids = []
    for card in cards:
        answer = place(system, [{"sku": SKU, "quantity": 1}], card=card, customer=customer)
        assert answer.status_code == 202, answer.text
        order_ids.append(answer.json()["orderId"])
    return order_ids


def _expected(system: RunningSystem, order_ids: list[str]) -> dict[str, set[str]]:
    """Each order's CloudEvent ids, from the log group: what was published."""
    expected: dict[str, set[str]] = {order_id: set() for order_id in order_ids}
    for event in log_group_events(system):
        if event.get("subject") in expected:
            expected[event["subject"]].add(event["id"])
    return expected


def _trace(session: requests.Session, production: Production, order_id: str) -> dict[str, Any]:
    answer = session.get(f"{production.url}/api/orders/{order_id}", timeout=10)
    return answer.json() if answer.ok else {"events": []}


def _missing(session: requests.Session, production: Production,
             expected: dict[str, set[str]]) -> dict[str, set[str]]:
    missing = {}
    for order_id, event_ids in expected.items():
        shown = {item["event"]["id"] for item in _trace(session, production, order_id)["events"]}
        if event_ids - shown:
            missing[order_id] = event_ids - shown
    return missing


def _wait_no_missing(session: requests.Session, production: Production,
                     expected: dict[str, set[str]], seconds: float) -> dict[str, set[str]]:
    return eventually(lambda: _missing(session, production, expected),
                      lambda missing: not missing, seconds, 0.5,
                      "every published event on the dashboard's traces")


@pytest.mark.timeout(180)
def test_every_client_of_either_worker_gets_every_event_once_in_the_order_published(
        running_system: RunningSystem, production: Production) -> None:
    """The observability queue is a standard queue: the poller publishes an order's events
    in the order it receives them, not always their causal order. What the scaled-out web
    tier must keep is that order, the same for every client, whichever worker serves it."""
    viewer = production.sign_in("viewer")
    restock(running_system, [SKU], 10)

    async def watch() -> tuple[list[Client], dict[str, set[tuple[str, str]]]]:
        clients = await _connect_across_workers(production, _cookie(viewer), each=2)
        readers = [asyncio.create_task(client.read()) for client in clients]
        # A quiet spell longer than the blocking pop with which a consumer waits on Redis:
        # a live view left open while nothing happens must still be streamed to after it.
        await asyncio.sleep(QUIET_SECONDS)
        order_ids = await asyncio.to_thread(
            _orders_placed, running_system, [GOOD_CARD, GOOD_CARD, DECLINED_CARD, GOOD_CARD],
            "prod-fanout")
        statuses = await asyncio.to_thread(wait_all_terminal, running_system, order_ids)
        assert set(statuses.values()) <= {"shipped", "cancelled"}, statuses
        await asyncio.to_thread(wait_idle, running_system)
        expected = await asyncio.to_thread(_expected, running_system, order_ids)
        assert await asyncio.to_thread(_wait_no_missing, viewer, production, expected, 30) == {}
        # every sighting the read model holds has been published: give the frames their time
        sightings = {order_id: {(item["event"]["id"], bus)
                                for item in _trace(viewer, production, order_id)["events"]
                                for bus in item["buses"]} for order_id in order_ids}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
                len(client.of(order_id)) < len(sightings[order_id])
                for client in clients for order_id in order_ids):
            await asyncio.sleep(0.1)
        for client in clients:
            await client.socket.close()
        await asyncio.gather(*readers, return_exceptions=True)
        for order_id in order_ids:
            assert {event_id for event_id, _ in sightings[order_id]} == expected[order_id]
        return clients, sightings

    clients, sightings = asyncio.run(watch())
    order_ids = list(sightings)
    served = Counter(client.worker for client in clients)
    print(f"\nproduction fan-out: {len(clients)} clients over workers {dict(served)}, "
          f"{len(order_ids)} orders, {sum(len(clients[0].of(o)) for o in order_ids)} sightings each")
    reference = {order_id: clients[0].of(order_id) for order_id in order_ids}
    for order_id in order_ids:
        received = Counter((event_id, bus) for event_id, bus, _ in reference[order_id])
        assert received == Counter(sightings[order_id]), f"{order_id}: not every sighting once"
        observed = [datetime.fromisoformat(observed_at) for _, _, observed_at in reference[order_id]]
        assert observed == sorted(observed), f"{order_id}: not in the order published"
        for client in clients:
            assert client.of(order_id) == reference[order_id], \
                f"{order_id}: worker {client.worker}'s client saw it otherwise"


@pytest.mark.timeout(240)
def test_a_poller_killed_mid_stream_is_started_again_and_no_trace_misses_an_event(
        running_system: RunningSystem, production: Production) -> None:
    viewer = production.sign_in("viewer")
    restock(running_system, [SKU], 100)
    order_ids: list[str] = []
    stop_placing = threading.Event()

    def keep_placing() -> None:
        while not stop_placing.is_set():
            order_ids.extend(_orders_placed(running_system, [GOOD_CARD], "prod-poller-kill"))
            stop_placing.wait(0.3)

    placer = threading.Thread(target=keep_placing)
    placer.start()
    try:
        wait_for(lambda: len(order_ids) >= 5, 30, 0.1, "five orders placed")
        first = production.pids("poller")[-1]
        os.kill(first, signal.SIGKILL)  # mid-stream, no goodbye
        wait_for(lambda: production.pids("poller")[-1] != first, 15, 0.1,
                 "the killed poller started again")
        restarted_at = len(order_ids)
        wait_for(lambda: len(order_ids) >= restarted_at + 5, 30, 0.1,
                 "five more orders after the restart")
    finally:
        stop_placing.set()
        placer.join()
    assert "poller was killed by SIGKILL; starting it again in 1 s" in production.said()
    second = production.pids("poller")[-1]
    assert second != first and not alive(first) and alive(second)
    pollers = [pid for pid in descendants(production.process.pid) if "observe" in command_line(pid)]
    assert pollers == [second], "exactly one poller"

    statuses = wait_all_terminal(running_system, order_ids)
    assert set(statuses.values()) == {"shipped"}, statuses
    wait_idle(running_system)
    expected = _expected(running_system, order_ids)
    # What the killed poller had received comes back after the queue's visibility timeout
    # (30 s), and a long poll it left open may still take a batch: up to 20 s more.
    looked_at = time.monotonic()
    missing_at_first = _missing(viewer, production, expected)
    missing = _wait_no_missing(viewer, production, expected, seconds=90)
    print(f"\nproduction poller kill: {len(order_ids)} orders, "
          f"{sum(map(len, expected.values()))} events; poller {first} killed, {second} started; "
          f"missing {sum(map(len, missing_at_first.values()))} once the functions were idle, "
          f"{sum(map(len, missing.values()))} after {time.monotonic() - looked_at:.0f} s")
    assert len(order_ids) >= 10
    assert all(expected.values())
    assert missing == {}


@pytest.mark.browser
def test_a_hostile_order_renders_as_text_in_a_browser_within_the_policy(
        running_system: RunningSystem, production: Production) -> None:
    """What anyone who can place an order (or put an event) writes is shown, never run, and
    the pages need nothing the Content-Security-Policy refuses."""
    hostile = "<img src=x onerror=alert(1)><script>window.pwned=1</script>"
    restock(running_system, [SKU], 5)
    assert len(hostile) <= 64  # the order API's limit on a customer id
    order_id = place(running_system, [{"sku": SKU, "quantity": 1}], customer=hostile).json()["orderId"]
    wait_all_terminal(running_system, [order_id])
    session = production.sign_in("viewer")
    with chromium() as browser:
        context = browser.new_context()
        context.add_cookies([{"name": name, "value": value, "url": production.url}
                             for name, value in session.cookies.items()])
        page = context.new_page()
        page.add_init_script(VIOLATIONS)
        errors, elsewhere = watch(page, production.url)
        response = page.goto(f"{production.url}/orders/{order_id}")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_function("(text) => document.body.innerText.includes(text)", arg=hostile,
                               timeout=30000)
        assert page.evaluate("window.pwned") is None
        assert page.locator("img[src='x']").count() == 0
        for path in ("/", "/orders/", "/failures/"):
            page.goto(production.url + path)
            page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__violations") == []
        assert errors == [] and elsewhere == []


def test_sigterm_stops_every_process_and_frees_the_address(production: Production) -> None:
    family = descendants(production.process.pid)
    assert len(family) >= WORKERS + 2  # the web server, its workers, the poller
    production.process.send_signal(signal.SIGTERM)
    assert production.process.wait(timeout=20) == 0
    assert "[choreo] dashboard: stopped" in production.said()
    assert [pid for pid in family if alive(pid)] == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{production.url}/login/", timeout=5)
