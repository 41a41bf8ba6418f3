"""Channel-layer group names and message types, in one place."""

from __future__ import annotations

import hashlib
import re

ALL_EVENTS = "events"
"""Every observed event."""

EVENTS_OBSERVED = "events.observed"
"""A batch of observed events: `{"type": EVENTS_OBSERVED, "events": [item, ...]}`; consumers
handle it in `events_observed`."""

_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,80}")


def order_group(order_id: str) -> str:
    """The group of one order's events. Group names allow few characters and at most 100 of
    them, so anything else is hashed."""
    if _SAFE.fullmatch(order_id):
        return f"order.{order_id}"
    return f"order.h{hashlib.sha256(order_id.encode()).hexdigest()[:40]}"
