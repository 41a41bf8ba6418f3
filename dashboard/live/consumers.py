"""Websocket consumers: they join groups and relay frames, nothing else.

- `ws/events`: every observed event.
- `ws/orders/<orderId>`: one order's events.
- `ws/orders`: the orders a client asks for, by sending `{"subscribe": "<orderId>"}` or
  `{"unsubscribe": "<orderId>"}`.

Frames are `{"type": "events", "events": [item, ...]}`, serialized once by `broadcast`.

What one client can cost is bounded: a process holds at most `DASHBOARD_WS_MAX_PER_PROCESS`
connections, and at most `DASHBOARD_WS_MAX_PER_ADDRESS` from one client address (an extra one
is accepted and closed at once with 4429, so that the client sees why); a connection that
sends a message over `DASHBOARD_WS_MAX_MESSAGE_BYTES` is closed with 1009, one that sends
faster than its budget allows with 1008. A message that cannot be read, however it fails, is
answered with an error frame, and a connection gives its place back however it ends (an
exception nobody caught included): otherwise twenty bad frames would lock an address out.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from dashboard.live import groups
from dashboard.shared.client_address import scope_client_address
from workflow.envelope import MAX_JSON_DEPTH, json_nested_deeper_than

log = logging.getLogger("dashboard.live.consumers")

MAX_SUBSCRIPTIONS = 100
MAX_ORDER_ID = 128
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY_CONNECTIONS = 4429
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
UNWANTED_MESSAGES = 5
"""A stream that takes no messages answers this many with an error, then closes."""


class _OpenConnections:
    """This process's open websockets, in all and by client address. Consumers run on one
    event loop, so plain counters are enough."""

    def __init__(self) -> None:
        self.total = 0
        self.by_address: Counter[str] = Counter()

    def admit(self, address: str) -> str | None:
        """Count a new connection in, or say why it is refused."""
        if self.total >= settings.DASHBOARD_WS_MAX_PER_PROCESS:
            return "too many connections to this server"
        if self.by_address[address] >= settings.DASHBOARD_WS_MAX_PER_ADDRESS:
            return "too many connections from this address"
        self.total += 1
        self.by_address[address] += 1
        return None

    def release(self, address: str) -> None:
        self.total -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


OPEN_CONNECTIONS = _OpenConnections()


class MessageBudget:
    """A token bucket: `burst` messages at once (a page subscribing to what it shows), then
    `per_second` on average; without refill, `burst` messages in all."""

    def __init__(self, *, burst: int, per_second: float) -> None:
        self.burst = burst
        self.per_second = per_second
        self.tokens = float(burst)
        self.checked_at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.checked_at) * self.per_second)
        self.checked_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _client_address(scope: dict[str, Any]) -> str:
    """Who connects: behind a trusted proxy, the client it forwards for (as a sign-in is
    counted), so that one client's connections do not use up every other's."""
    return scope_client_address(scope) or "unknown"


class _RelayConsumer(AsyncWebsocketConsumer):
    """Refuses who may not see the dashboard; relays each frame as it was serialized."""

    joined: set[str]
    budget: MessageBudget
    counted_as: str | None = None
    closing = False

    def message_budget(self) -> MessageBudget:
        return MessageBudget(burst=UNWANTED_MESSAGES, per_second=0)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """However the consumer ends, a disconnect or an exception nobody caught, its place
        among the open connections is given back."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()

    def _release(self) -> None:
        if self.counted_as is not None:
            OPEN_CONNECTIONS.release(self.counted_as)
            self.counted_as = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if settings.DASHBOARD_REQUIRE_LOGIN and not (user and user.is_authenticated):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        address = _client_address(self.scope)
        refusal = OPEN_CONNECTIONS.admit(address)
        if refusal is not None:
            # Accepted to be closed: a refused handshake reaches a browser as a bare 1006.
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY_CONNECTIONS, reason=refusal)
            return
        self.counted_as = address
        self.budget = self.message_budget()
        self.joined = set()
        for group in self.initial_groups():
            await self.join(group)
        await self.accept()

    def initial_groups(self) -> list[str]:
        return []

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        self.joined.discard(group)

    async def disconnect(self, code: int) -> None:
        self._release()
        for group in list(getattr(self, "joined", ())):
            await self.leave(group)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        """Messages within bounds go on to `receive`; past them, the connection is closed."""
        if self.closing or self.counted_as is None:
            return
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        size = len(data.encode()) if isinstance(data, str) else len(data or b"")
        if size > settings.DASHBOARD_WS_MAX_MESSAGE_BYTES:
            await self._close_for(CLOSE_TOO_BIG, "message too big")
        elif not self.budget.take():
            await self._close_for(CLOSE_POLICY_VIOLATION, "too many messages")
        else:
            try:
                await super().websocket_receive(message)
            except Exception:
                log.exception("a websocket message could not be read")
                await self.error("that message could not be read")

    async def _close_for(self, code: int, reason: str) -> None:
        self.closing = True
        await self.close(code=code, reason=reason)

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == groups.EVENTS_OBSERVED:
            # The hot path, once per frame per client, never touches the database: skip the
            # thread hop Channels makes before every handler to close stale connections
            # (a hundred clients made it a hundred hops per frame).
            await self.events_observed(message)
            return
        await super().dispatch(message)

    async def events_observed(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["frame"])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.error("this stream takes no messages")

    async def error(self, detail: str) -> None:
        """A bad frame gets an answer, and the connection stays up."""
        await self.send(text_data=json.dumps({"type": "error", "detail": detail}))


class EventStreamConsumer(_RelayConsumer):
    def initial_groups(self) -> list[str]:
        return [groups.ALL_EVENTS]


class OrderStreamConsumer(_RelayConsumer):
    def message_budget(self) -> MessageBudget:
        return MessageBudget(burst=settings.DASHBOARD_WS_MESSAGE_BURST,
                             per_second=settings.DASHBOARD_WS_MESSAGES_PER_SECOND)

    def initial_groups(self) -> list[str]:
        order_id = self.scope["url_route"]["kwargs"].get("order_id")
        return [groups.order_group(order_id)] if order_id else []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        text = text_data or ""
        if json_nested_deeper_than(text, MAX_JSON_DEPTH):
            # Python's parser recurses once a level and gives up near a thousand
            await self.error(f"send JSON nested at most {MAX_JSON_DEPTH} levels deep")
            return
        try:
            request = json.loads(text)
        except ValueError:
            await self.error("send JSON: {\"subscribe\": \"<orderId>\"}")
            return
        if not isinstance(request, dict):
            await self.error("send a JSON object")
            return
        for action in ("subscribe", "unsubscribe"):
            order_id = request.get(action)
            if order_id is None:
                continue
            if not isinstance(order_id, str) or not 0 < len(order_id) <= MAX_ORDER_ID:
                await self.error(f"{action} takes an order id of 1 to {MAX_ORDER_ID} characters")
                return
            group = groups.order_group(order_id)
            if action == "unsubscribe":
                await self.leave(group)
            elif group not in self.joined and len(self.joined) >= MAX_SUBSCRIPTIONS:
                await self.error(f"at most {MAX_SUBSCRIPTIONS} orders per connection")
                return
            else:
                await self.join(group)
            await self.send(text_data=json.dumps({"type": f"{action}d", "orderId": order_id}))
            return
        await self.error("send {\"subscribe\": \"<orderId>\"} or {\"unsubscribe\": \"<orderId>\"}")
