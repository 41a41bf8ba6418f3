"""Websocket consumers: they join groups and relay frames, nothing else.

- `ws/events`: every observed event.
- `ws/orders/<orderId>`: one order's events.
- `ws/orders`: the orders a client asks for, by sending `{"subscribe": "<orderId>"}` or
  `{"unsubscribe": "<orderId>"}`.

Frames are `{"type": "events", "events": [item, ...]}`, serialized once by `broadcast`.
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from dashboard import groups

MAX_SUBSCRIPTIONS = 100
MAX_ORDER_ID = 128
CLOSE_UNAUTHENTICATED = 4401


class _RelayConsumer(AsyncWebsocketConsumer):
    """Refuses who may not see the dashboard; relays each frame as it was serialized."""

    joined: set[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if settings.DASHBOARD_REQUIRE_LOGIN and not (user and user.is_authenticated):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
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
        for group in list(getattr(self, "joined", ())):
            await self.leave(group)

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
    def initial_groups(self) -> list[str]:
        order_id = self.scope["url_route"]["kwargs"].get("order_id")
        return [groups.order_group(order_id)] if order_id else []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            request = json.loads(text_data or "")
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
