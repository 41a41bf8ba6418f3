"""An observation: one CloudEvent seen on one bus, from the observability queue or from the
log group. Whatever arrives becomes an observation — an event that fails validation is kept,
marked invalid with the reason, so that it can be shown rather than lost or crashing the
poller."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workflow.envelope import InvalidEvent, parse_eventbridge

MAX_ID_LENGTH = 128
UNKNOWN_BUS = "unknown"


@dataclass(frozen=True)
class Observation:
    event_id: str
    bus: str
    observed_at: datetime
    origin: str
    valid: bool
    invalid_reason: str
    cloudevent: Any
    """The EventBridge `detail` as received: the CloudEvent, when it is one."""
    eventbridge: dict[str, Any]
    """The EventBridge envelope without its detail."""
    type: str = ""
    source: str = ""
    order_id: str = ""
    correlation_id: str = ""
    causation_id: str = ""
    time: datetime | None = None

    @property
    def envelope(self) -> dict[str, Any]:
        """The CloudEvent's attributes, without data."""
        if isinstance(self.cloudevent, dict):
            return {key: value for key, value in self.cloudevent.items() if key != "data"}
        return {"detail": self.cloudevent}

    @property
    def data(self) -> Any:
        return self.cloudevent.get("data") if isinstance(self.cloudevent, dict) else None

    @property
    def order(self) -> dict[str, Any]:
        data = self.data
        order = data.get("order") if isinstance(data, dict) else None
        return order if isinstance(order, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) and len(value) <= MAX_ID_LENGTH else ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fingerprint(raw: Any) -> str:
    text = json.dumps(raw, sort_keys=True, default=str)
    return "invalid-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def observation_from_eventbridge(envelope: Any, *, bus: str, observed_at: datetime,
                                 origin: str) -> Observation:
    """An observation of an EventBridge event whose detail should be one of our CloudEvents."""
    outer = envelope if isinstance(envelope, dict) else {}
    detail = outer.get("detail") if outer else envelope
    eventbridge = {key: value for key, value in outer.items() if key != "detail"}
    attributes = detail if isinstance(detail, dict) else {}
    reason = ""
    if not outer:
        reason = "not an EventBridge event"
    else:
        try:
            parse_eventbridge(outer)
        except InvalidEvent as error:
            reason = str(error)
    event_id = _text(attributes.get("id"))
    if not event_id:
        reason = reason or f"CloudEvent id longer than {MAX_ID_LENGTH} characters"
        event_id = _fingerprint(envelope)
    return Observation(
        event_id=event_id, bus=bus, observed_at=observed_at, origin=origin, valid=not reason,
        invalid_reason=reason, cloudevent=detail, eventbridge=eventbridge,
        type=_text(attributes.get("type")), source=_text(attributes.get("source")),
        order_id=_text(attributes.get("subject")),
        correlation_id=_text(attributes.get("correlationid")),
        causation_id=_text(attributes.get("causationid")), time=_time(attributes.get("time")))


def observation_from_queue_body(body: str, *, observed_at: datetime, origin: str) -> Observation:
    """An observability queue message: `{"bus": "global" | "loyalty", "event": <EventBridge
    event>}`."""
    try:
        message = json.loads(body)
    except ValueError as error:
        return _unreadable(body, f"message body is not JSON: {error}", observed_at, origin)
    if not isinstance(message, dict) or not isinstance(message.get("event"), dict):
        return _unreadable(message, "message is not {bus, event}", observed_at, origin)
    bus = message.get("bus")
    bus = bus if isinstance(bus, str) and bus and len(bus) <= 64 else UNKNOWN_BUS
    return observation_from_eventbridge(message["event"], bus=bus, observed_at=observed_at,
                                        origin=origin)


def _unreadable(raw: Any, reason: str, observed_at: datetime, origin: str) -> Observation:
    return Observation(event_id=_fingerprint(raw), bus=UNKNOWN_BUS, observed_at=observed_at,
                       origin=origin, valid=False, invalid_reason=reason, cloudevent=raw,
                       eventbridge={})
