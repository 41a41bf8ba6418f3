"""Every channel-layer send goes through here.

A frame is serialized once, here, and relayed as text by every consumer: the in-memory layer
deep-copies each message for each member of a group, and copying a string is free where
copying a batch of event dictionaries is not; nor does each of a hundred consumers encode the
same JSON again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer

from dashboard.live import groups

log = logging.getLogger("dashboard.live.broadcast")

FRAME_TYPE = "events"


def events_frame(items: Sequence[dict[str, Any]]) -> str:
    """The websocket frame for a batch of observed events."""
    return json.dumps({"type": FRAME_TYPE, "events": list(items)}, separators=(",", ":"))


async def events_observed(items: Sequence[dict[str, Any]],
                          layer: BaseChannelLayer | None = None) -> None:
    """Send one frame to everyone, and to each order's subscribers the frame of its events."""
    if not items:
        return
    layer = layer or get_channel_layer()
    if layer is None:
        return
    await layer.group_send(groups.ALL_EVENTS, {"type": groups.EVENTS_OBSERVED,
                                               "frame": events_frame(items)})
    by_order: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if item.get("orderId"):
            by_order.setdefault(item["orderId"], []).append(item)
    for order_id, order_items in by_order.items():
        await layer.group_send(groups.order_group(order_id),
                               {"type": groups.EVENTS_OBSERVED,
                                "frame": events_frame(order_items)})


class EventBroadcaster:
    """Coalesces observed events into frames.

    The first events after a quiet spell go out at once, so latency stays low at low rates;
    while busy, events wait at most `interval` seconds to share a frame, so that a hundred
    clients get tens of frames a second rather than thousands.
    """

    def __init__(self, *, interval: float = 0.025, max_batch: int = 500,
                 layer: BaseChannelLayer | None = None) -> None:
        self.interval = interval
        self.max_batch = max_batch
        self.layer = layer
        self.frames_sent = 0
        self.events_sent = 0
        self._pending: list[dict[str, Any]] = []
        self._last_flush = 0.0
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def publish(self, items: Sequence[dict[str, Any]]) -> None:
        if not items:
            return
        self._pending.extend(items)
        if len(self._pending) >= self.max_batch:
            await self.flush()
            return
        if self._timer is not None:
            return
        wait = self._last_flush + self.interval - asyncio.get_running_loop().time()
        if wait <= 0:
            await self.flush()
        else:
            self._timer = asyncio.create_task(self._flush_after(wait))

    async def _flush_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, []
            self._last_flush = asyncio.get_running_loop().time()
            if not batch:
                return
            try:
                await events_observed(batch, self.layer)
            except Exception:
                # The read model has these events already; a browser catches up on reload.
                log.exception("broadcasting %d events failed", len(batch))
                return
            self.frames_sent += 1
            self.events_sent += len(batch)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()
