"""P3a and P3b: the dashboard's websocket fan-out to a hundred clients, against a bare
`websockets` broadcast server doing the same fan-out of the same frames, in the same run.

The dashboard is served as `dashboard.web.serve` serves it (uvicorn and the Channels app on one
event loop, without the poller); events are handed to its `EventBroadcaster` as the poller
hands them. The bare server is `websockets.broadcast` behind the very same broadcaster, so
both batch events into frames alike and the difference is Channels, Django and uvicorn.
Events are the read model's own websocket items of real orders, renumbered.

The clients are one process of asyncio connections (the servers share this one), and
timestamps are compared across the two on the system's monotonic clock. An event's latency
is from being handed to the broadcaster to a client receiving its frame; at a capacity step
it counts from when the event was due to be handed, so a server that falls behind its input
is charged for the wait.

- P3a: events at a low rate (BENCH_FANOUT_RATE, 20/s) to BENCH_WS_CLIENTS clients, in
  alternating blocks (BENCH_FANOUT_EVENTS per server); p50 / p99 over all (client, event)
  pairs.
- P3b: the highest rate delivered to every client with p99 ≤ 500 ms: steps of
  BENCH_CAPACITY_SECONDS from BENCH_CAPACITY_FROM events/s, doubling until a step fails,
  then bisecting twice.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import re
import threading
import time
from array import array
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from channels.layers import BaseChannelLayer
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast
from websockets.asyncio.server import serve as websockets_serve
from websockets.exceptions import ConnectionClosed

from bench.common import Result, free_port, result
from bench.dashboard_data import orders_for, read_model_ready, sightings

CLIENTS = int(os.environ.get("BENCH_WS_CLIENTS", "100"))
LOW_RATE = float(os.environ.get("BENCH_FANOUT_RATE", "20"))
LOW_RATE_EVENTS = int(os.environ.get("BENCH_FANOUT_EVENTS", "400"))
STEP_SECONDS = float(os.environ.get("BENCH_CAPACITY_SECONDS", "5"))
FIRST_RATE = float(os.environ.get("BENCH_CAPACITY_FROM", "500"))
P99_BAR_MS = 500.0
RATE_LIMIT = 128_000.0
BLOCKS = 4  # P3a alternates servers in this many blocks, so that both see the same weather
DRAIN_SECONDS = 10.0  # how long clients may take to receive a step's last frames
HOST = "127.0.0.1"
# One clock for handing and receiving, in two processes: perf_counter is CLOCK_MONOTONIC.
clock = time.perf_counter
EVENT_ID = re.compile(rb'"eventId":"([0-9a-f]{8})-')
T = TypeVar("T")


@dataclass
class LatencyHistogram:
    """Latencies in bins 1 % wide: percentiles of millions of samples in little memory, and
    histograms of separate runs add up."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0

    FLOOR_MS = 0.01
    GROWTH = math.log(1.01)

    def add(self, ms: float) -> None:
        index = int(math.log(ms / self.FLOOR_MS) / self.GROWTH) if ms > self.FLOOR_MS else 0
        self.counts[index] = self.counts.get(index, 0) + 1
        self.total += 1

    def merge(self, other: LatencyHistogram) -> None:
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.total += other.total

    def percentile(self, pct: float) -> float:
        """The upper edge of the bin holding the sample `bench.common.percentile` would pick."""
        if not self.total:
            return float("nan")
        rank = min(self.total - 1, max(0, round(pct / 100 * (self.total - 1))))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen > rank:
                return self.FLOOR_MS * math.exp((index + 1) * self.GROWTH)
        raise AssertionError("unreachable: the counts add up to the total")


@dataclass
class CapacitySearch:
    """The highest rate that passes: from `first`, doubling until a rate fails (or `limit`
    passes), then bisecting between the best pass and the first failure `refinements` times.
    A failure at `first` ends it at 0."""

    first: float
    limit: float
    refinements: int = 2
    best: float = 0.0
    failed: float | None = None
    refined: int = 0

    @property
    def done(self) -> bool:
        if self.failed is None:
            return self.best >= self.limit
        return self.best == 0 or self.refined >= self.refinements

    def next_rate(self) -> float:
        if self.failed is None:
            return self.first if self.best == 0 else min(self.best * 2, self.limit)
        return float(round((self.best + self.failed) / 2))

    def record(self, rate: float, passed: bool) -> None:
        if self.failed is not None:
            self.refined += 1
        if passed:
            self.best = max(self.best, rate)
        else:
            self.failed = rate if self.failed is None else min(self.failed, rate)


# --- what is handed to the servers -------------------------------------------------------

class Items:
    """The websocket items of real orders' events, as the read model makes them; event `n`
    is one of them under an event id that names `n`."""

    def __init__(self, templates: list[dict[str, Any]]) -> None:
        self.templates = templates

    @classmethod
    def recorded(cls, orders: int = 20) -> Items:
        from dashboard.models import Origin
        from dashboard.readmodel import services
        from dashboard.readmodel.observations import observation_from_queue_body

        observed_at = datetime.now(UTC)
        observations = [observation_from_queue_body(json.dumps(sighting.queue_body),
                                                    observed_at=observed_at, origin=Origin.LIVE)
                        for sighting in sightings(orders)]
        return cls(services.observation_record(observations=observations))

    def __call__(self, number: int) -> dict[str, Any]:
        template = self.templates[number % len(self.templates)]
        return {**template, "eventId": f"{number:08x}{template['eventId'][8:]}"}


@dataclass(frozen=True)
class Handed:
    """When each event of a step was due, and when it was handed over."""

    due: list[float]
    handed: list[float]


async def hand(broadcaster: Any, items: Items, first: int, count: int, rate: float) -> Handed:
    """Hand events `first`.. to the broadcaster at `rate` per second: each alone when they
    are far apart, what is due every few milliseconds together when they are not (the poller
    hands batches of up to fifty)."""
    tick = 0.005
    start = clock() + 0.05
    due = [start + index / rate for index in range(count)]
    handed = [0.0] * count
    sent = 0
    while sent < count:
        now = clock()
        ready = min(count, math.floor((now - start) * rate) + 1) if now >= start else 0
        if ready > sent:
            batch = [items(first + index) for index in range(sent, ready)]
            handed_at = clock()
            handed[sent:ready] = [handed_at] * (ready - sent)
            await broadcaster.publish(batch)
            sent = ready
        if sent < count:
            await asyncio.sleep(max(due[sent] - clock(), tick if rate > 1 / tick else 0))
    return Handed(due=due, handed=handed)


# --- the two servers ---------------------------------------------------------------------

class ServedFanOut:
    """A websocket server on an event loop of its own thread, with a broadcaster on it."""

    name: str
    url: str
    origin: str
    loop: asyncio.AbstractEventLoop
    broadcaster: Any

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


async def _broadcaster(layer: BaseChannelLayer | None = None) -> Any:
    from dashboard.live.broadcast import EventBroadcaster

    return EventBroadcaster(layer=layer)


@contextmanager
def dashboard_served() -> Iterator[ServedFanOut]:
    """The dashboard's ASGI app as `dashboard.web.serve` serves it, minus the poller."""
    from django.conf import settings

    from dashboard.web.serve import serve

    port = free_port()
    stop = threading.Event()
    started: list[asyncio.AbstractEventLoop] = []
    failures: list[BaseException] = []
    # Every client of the benchmark connects from one address, where a deployment's come
    # from as many browsers: the per-address limit (20) would refuse all but the first few.
    per_address = settings.DASHBOARD_WS_MAX_PER_ADDRESS
    settings.DASHBOARD_WS_MAX_PER_ADDRESS = max(per_address, CLIENTS)

    def run() -> None:
        try:
            serve(host=HOST, port=port, stop=stop, poll=False,
                  ready=lambda url: started.append(asyncio.get_running_loop()))
        except BaseException as error:  # raised below, in the benchmark's thread
            failures.append(error)

    thread = threading.Thread(target=run, name="dashboard", daemon=True)
    thread.start()
    served = _started(ServedFanOut(), "dashboard", port, started, failures)
    try:
        yield served
    finally:
        stop.set()
        thread.join(timeout=10)
        settings.DASHBOARD_WS_MAX_PER_ADDRESS = per_address


class _BroadcastLayer(BaseChannelLayer):
    """A channel layer whose every-event group is a set of `websockets` connections, written
    to with `broadcast`: no consumers, no queues, no copies."""

    def __init__(self, connections: set[ServerConnection]) -> None:
        super().__init__()
        self.connections = connections

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        from dashboard.live import groups

        if group == groups.ALL_EVENTS:
            broadcast(self.connections, message["frame"])


@contextmanager
def bare_served() -> Iterator[ServedFanOut]:
    """The baseline: a `websockets` server that broadcasts each frame to every connection."""
    port = free_port()
    stop = threading.Event()
    started: list[asyncio.AbstractEventLoop] = []
    failures: list[BaseException] = []
    connections: set[ServerConnection] = set()

    async def relay(connection: ServerConnection) -> None:
        connections.add(connection)
        try:
            await connection.wait_closed()
        finally:
            connections.discard(connection)

    async def serve() -> None:
        async with websockets_serve(relay, HOST, port, compression=None):
            started.append(asyncio.get_running_loop())
            while not stop.is_set():
                await asyncio.sleep(0.1)

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:  # raised below, in the benchmark's thread
            failures.append(error)

    thread = threading.Thread(target=run, name="bare-websockets", daemon=True)
    thread.start()
    served = _started(ServedFanOut(), "bare websockets", port, started, failures,
                      layer=_BroadcastLayer(connections))
    try:
        yield served
    finally:
        stop.set()
        thread.join(timeout=10)


def _started(served: ServedFanOut, name: str, port: int, started: list[asyncio.AbstractEventLoop],
             failures: list[BaseException], layer: BaseChannelLayer | None = None) -> ServedFanOut:
    deadline = time.monotonic() + 30
    while not started and not failures and time.monotonic() < deadline:
        time.sleep(0.05)
    if not started:
        raise RuntimeError(f"the {name} server did not start") from (failures[0] if failures else None)
    served.name, served.url = name, f"ws://{HOST}:{port}/ws/events"
    served.origin, served.loop = f"http://{HOST}:{port}", started[0]
    served.broadcaster = served.call(_broadcaster(layer), timeout=10)
    return served


# --- the clients, in a process of their own ----------------------------------------------

class _Receiver:
    """One client: notes when each expected event's frame arrived."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.first = 0
        self.arrived = array("d")
        self.missing = 0
        self.frames = 0
        self.events = 0

    def expect(self, first: int, count: int) -> None:
        self.first, self.arrived, self.missing = first, array("d", [math.nan]) * count, count
        self.frames = self.events = 0

    async def run(self) -> None:
        try:
            while True:
                frame = await self.connection.recv(decode=False)
                now = clock()
                self.frames += 1
                for match in EVENT_ID.finditer(frame):
                    self.events += 1
                    index = int(match[1], 16) - self.first
                    if 0 <= index < len(self.arrived) and math.isnan(self.arrived[index]):
                        self.arrived[index] = now
                        self.missing -= 1
        except ConnectionClosed:
            return


async def _clients(commands: Connection) -> None:
    """Serve the benchmark's requests: connect, expect, collect, close."""
    loop = asyncio.get_running_loop()
    receivers: dict[str, list[_Receiver]] = {}
    tasks: list[asyncio.Task[None]] = []
    while True:
        request = await loop.run_in_executor(None, commands.recv)
        kind, arguments = request[0], request[1:]
        try:
            if kind == "connect":
                name, url, origin, count = arguments
                connections = await asyncio.gather(*[
                    connect(url, origin=origin, compression=None, max_size=None, ping_interval=None)
                    for _ in range(count)])
                receivers[name] = [_Receiver(connection) for connection in connections]
                tasks += [asyncio.create_task(receiver.run()) for receiver in receivers[name]]
                commands.send(("ok", len(connections)))
            elif kind == "expect":
                name, first, count = arguments
                for receiver in receivers[name]:
                    receiver.expect(first, count)
                commands.send(("ok",))
            elif kind == "collect":
                name, since, drain_seconds = arguments
                commands.send(("ok", await _collect(receivers[name], since, drain_seconds)))
            elif kind == "close":
                for connections_of_a_server in receivers.values():
                    await asyncio.gather(*[r.connection.close() for r in connections_of_a_server])
                await asyncio.gather(*tasks, return_exceptions=True)
                commands.send(("ok",))
                return
        except Exception as error:
            commands.send(("error", repr(error)))


async def _collect(receivers: list[_Receiver], since: list[float],
                   drain_seconds: float) -> dict[str, Any]:
    deadline = clock() + drain_seconds
    while any(receiver.missing for receiver in receivers) and clock() < deadline:
        await asyncio.sleep(0.01)
    histogram = LatencyHistogram()
    for receiver in receivers:
        for arrived, reference in zip(receiver.arrived, since, strict=True):
            if not math.isnan(arrived):
                histogram.add((arrived - reference) * 1000)
    return {"histogram": histogram, "missing": sum(receiver.missing for receiver in receivers),
            "frames": sum(receiver.frames for receiver in receivers),
            "events": sum(receiver.events for receiver in receivers)}


def _clients_main(commands: Connection) -> None:
    asyncio.run(_clients(commands))


class Clients:
    """The client process, asked through a pipe."""

    def __init__(self, commands: Connection, process: multiprocessing.process.BaseProcess) -> None:
        self.commands = commands
        self.process = process

    def ask(self, *request: Any, timeout: float = 120) -> Any:
        self.commands.send(request)
        if not self.commands.poll(timeout):
            raise RuntimeError(f"the websocket clients did not answer {request[0]!r}")
        answer = self.commands.recv()
        if answer[0] != "ok":
            raise RuntimeError(f"the websocket clients failed to {request[0]}: {answer[1]}")
        return answer[1] if len(answer) > 1 else None


@contextmanager
def clients_process() -> Iterator[Clients]:
    context = multiprocessing.get_context("spawn")
    commands, theirs = context.Pipe()
    process = context.Process(target=_clients_main, args=(theirs,), name="ws-clients", daemon=True)
    process.start()
    clients = Clients(commands, process)
    try:
        yield clients
    finally:
        try:
            clients.ask("close", timeout=30)
        finally:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


# --- the measurements ---------------------------------------------------------------------

@dataclass
class Step:
    histogram: LatencyHistogram
    missing: int
    frames: int
    events: int

    @property
    def events_per_frame(self) -> float:
        return self.events / self.frames if self.frames else 0.0


class FanOut:
    def __init__(self, clients: Clients, items: Items) -> None:
        self.clients = clients
        self.items = items
        self.next_event = 0

    def step(self, server: ServedFanOut, rate: float, count: int, *, from_due: bool) -> Step:
        first, self.next_event = self.next_event, self.next_event + count
        self.clients.ask("expect", server.name, first, count)
        handed = server.call(hand(server.broadcaster, self.items, first, count, rate),
                             timeout=count / rate + 60)
        summary = self.clients.ask("collect", server.name,
                                   handed.due if from_due else handed.handed, DRAIN_SECONDS)
        return Step(**summary)

    def low_rate(self, servers: list[ServedFanOut]) -> dict[str, Step]:
        steps = {server.name: Step(LatencyHistogram(), 0, 0, 0) for server in servers}
        per_block = max(1, LOW_RATE_EVENTS // BLOCKS)
        for _ in range(BLOCKS):
            for server in servers:
                step = self.step(server, LOW_RATE, per_block, from_due=False)
                total = steps[server.name]
                total.histogram.merge(step.histogram)
                total.missing += step.missing
                total.frames += step.frames
                total.events += step.events
        return steps

    def capacity(self, servers: list[ServedFanOut]) -> dict[str, tuple[float, Step | None]]:
        """Each server's capacity, stepping them in turn, with the step at that rate."""
        searches = {server.name: CapacitySearch(FIRST_RATE, RATE_LIMIT) for server in servers}
        best: dict[str, Step | None] = {server.name: None for server in servers}
        while not all(search.done for search in searches.values()):
            for server in servers:
                search = searches[server.name]
                if search.done:
                    continue
                rate = search.next_rate()
                step = self.step(server, rate, max(1, round(rate * STEP_SECONDS)), from_due=True)
                p99 = step.histogram.percentile(99)
                passed = step.missing == 0 and p99 <= P99_BAR_MS
                print(f"  {server.name}: {rate:,.0f} events/s, p99 {p99:,.1f} ms, "
                      f"{step.events_per_frame:,.1f} events/frame, {step.missing} missing: "
                      f"{'pass' if passed else 'fail'}", flush=True)
                search.record(rate, passed)
                if passed:
                    best[server.name] = step
        return {name: (searches[name].best, best[name]) for name in searches}


def run() -> list[Result]:
    read_model_ready()
    items = Items.recorded(orders=orders_for(140))
    # Clients last, so they hang up before the servers stop.
    with bare_served() as bare, dashboard_served() as dashboard, clients_process() as clients:
        servers = [bare, dashboard]
        for server in servers:
            clients.ask("connect", server.name, server.url, server.origin, CLIENTS)
        fan_out = FanOut(clients, items)
        print(f"P3a: {LOW_RATE_EVENTS} events at {LOW_RATE:g}/s to {CLIENTS} clients, each "
              "server ...", flush=True)
        low = fan_out.low_rate(servers)
        print("P3b: capacity ...", flush=True)
        capacity = fan_out.capacity(servers)
    return _results(low[bare.name], low[dashboard.name], capacity[bare.name],
                    capacity[dashboard.name])


def _results(bare: Step, dashboard: Step, bare_capacity: tuple[float, Step | None],
             dashboard_capacity: tuple[float, Step | None]) -> list[Result]:
    lost = f"; {dashboard.missing} (client, event) pairs undelivered" if dashboard.missing else ""
    results = [
        result("P3a", f"event handed to dashboard → frame at {CLIENTS} clients, p50",
               dashboard.histogram.percentile(50), bare.histogram.percentile(50), "ms",
               f"{LOW_RATE_EVENTS} events at {LOW_RATE:g}/s, {dashboard.histogram.total} "
               f"(client, event) pairs; baseline = bare websockets broadcast{lost}"),
        result("P3a", f"event handed to dashboard → frame at {CLIENTS} clients, p99",
               dashboard.histogram.percentile(99), bare.histogram.percentile(99), "ms"),
    ]
    rate, step = dashboard_capacity
    results.append(result(
        "P3b", f"events/s to every one of {CLIENTS} clients, p99 ≤ {P99_BAR_MS:g} ms",
        rate, bare_capacity[0] or None, "events/s",
        f"steps of {STEP_SECONDS:g}s from {FIRST_RATE:g}/s, doubling then bisecting; "
        f"baseline = bare websockets broadcast, same batching"))
    if step is not None:
        results.append(result("P3b", "at that rate: p99 from due to received", step.histogram.percentile(99),
                              bare_capacity[1].histogram.percentile(99) if bare_capacity[1] else None,
                              "ms"))
        results.append(result("P3b", "at that rate: events per frame", step.events_per_frame, None,
                              "events"))
    return results
