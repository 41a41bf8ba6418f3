"""An observation: one CloudEvent seen on one bus, from the observability queue or from the
log group. Whatever arrives becomes an observation — an event that fails validation is kept,
marked invalid with the reason, so that it can be shown rather than lost or crashing the
poller.

Anyone who may publish on a bus chooses what arrives, so an observation is also made fit to
keep before anything stores it: one event that the read model's database refuses would take
the rest of its batch down with it (a poller batch retried into the dead-letter queue, a
history rebuild aborted). JSON is read to a bounded depth, and what no database of the read
model keeps (a NUL character, a lone surrogate, NaN or an infinite number, a time beyond what
a datetime holds) is replaced, the observation marked invalid with the reason.

Reading an event never raises, whatever it holds: should validation or the reading itself fail
in a way nobody foresaw, the event is kept invalid with what failed as its reason (and the
traceback is logged), so that the events read with it, in a poller batch or a history replay,
go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workflow.envelope import MAX_JSON_DEPTH, InvalidEvent, json_nested_deeper_than, parse_eventbridge

log = logging.getLogger("dashboard.readmodel.observations")

MAX_ID_LENGTH = 128
MAX_REASON_LENGTH = 1000
UNKNOWN_BUS = "unknown"
MAX_DEPTH = MAX_JSON_DEPTH
"""How deeply an observation may nest. Our events nest eight levels deep in their queue
message; reading, validating and showing JSON recurses once a level, until Python gives up
somewhere short of a thousand."""

NUL = "contains a NUL character"
LONE_SURROGATE = "contains a lone surrogate, which is not Unicode text"
NOT_FINITE = "contains NaN or an infinite number"
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
TIME_OUT_OF_RANGE = "CloudEvent time out of range"

_UNKEEPABLE = re.compile(r"[\x00\ud800-\udfff]")
"""Characters no database of the read model keeps: PostgreSQL refuses a NUL in text and JSON,
and a lone surrogate is no Unicode at all, so neither database can encode it."""
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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


def _in_utc(when: datetime) -> datetime | None:
    """A time in UTC, or None beyond what a datetime holds: SQLite keeps times in UTC, and
    9999-12-31T23:59-01:00 is no year of its."""
    try:
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        return None


def moment(value: Any) -> datetime | None:
    """A time as JSON carries it, in UTC; None if it is none, or beyond what a datetime holds."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _in_utc(parsed)


def _load(text: str, what: str) -> tuple[Any, str]:
    """JSON text read to a bounded depth: (the value, ""), or (the text, why it is unreadable)."""
    if json_nested_deeper_than(text):
        return text, TOO_DEEP
    try:
        return json.loads(text), ""
    except ValueError as error:
        return text, f"{what} is not JSON: {error}"


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _keep_text(text: str, found: set[str]) -> str:
    if not _UNKEEPABLE.search(text):
        return text
    if "\x00" in text:
        found.add(NUL)
    if _SURROGATE.search(text):
        found.add(LONE_SURROGATE)
    return _UNKEEPABLE.sub("\ufffd", text)


def _keep(value: Any, depth: int, found: set[str]) -> Any:
    if isinstance(value, str):
        return _keep_text(value, found)
    if isinstance(value, float) and not math.isfinite(value):
        found.add(NOT_FINITE)
        return str(value)
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            found.add(TOO_DEEP)
            return f"({TOO_DEEP})"
        if isinstance(value, list):
            return [_keep(item, depth + 1, found) for item in value]
        return {_keep_text(key, found) if isinstance(key, str) else key: _keep(item, depth + 1, found)
                for key, item in value.items()}
    return value


def keepable(value: Any) -> tuple[Any, str]:
    """`value` as the read model can keep it, and why it could not keep it as it came ("" if it
    could): unkeepable characters become U+FFFD, NaN and infinities their names, and what nests
    deeper than MAX_DEPTH a note saying so. Most values are kept as they are, which one
    encoding (at C speed) tells."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        pass
    else:
        # json.dumps writes a NUL as \u0000 and leaves a lone surrogate as it is, which UTF-8 refuses.
        if "\\u0000" not in encoded and _utf8(encoded) and not json_nested_deeper_than(encoded):
            return value, ""
    found: set[str] = set()
    kept = _keep(value, 1, found)
    return kept, "; ".join(sorted(found))


def unforeseen(what: str, error: Exception) -> str:
    """Why an event is kept invalid when `what` failed on it as nothing foresaw, as the read
    model can keep it; the traceback goes to the log."""
    log.exception("%s failed on an event, which is kept as invalid", what)
    reason, _ = keepable(f"{what}: {type(error).__name__}: {error}"[:MAX_REASON_LENGTH])
    return str(reason)


def _fingerprint(raw: Any) -> str:
    text = json.dumps(raw, sort_keys=True, default=str)
    return "invalid-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _checked(outer: dict[str, Any], unkeepable: str) -> tuple[str, datetime | None]:
    """Why an EventBridge event is invalid ("" if it is valid), and its CloudEvent's time as
    validation read it. An event that could not be kept as it came is never valid: what is
    kept is not what was published."""
    if unkeepable:
        return unkeepable, None
    try:
        event = parse_eventbridge(outer)
    except InvalidEvent as error:
        return str(error), None
    except Exception as error:
        return unforeseen("unreadable", error), None
    time = _in_utc(event.time)
    return ("", time) if time is not None else (TIME_OUT_OF_RANGE, None)


def observation_from_eventbridge(envelope: Any, *, bus: str, observed_at: datetime,
                                 origin: str) -> Observation:
    """An observation of an EventBridge event whose detail should be one of our CloudEvents."""
    envelope, unkeepable = keepable(envelope)
    outer = envelope if isinstance(envelope, dict) else {}
    detail = outer.get("detail") if outer else envelope
    eventbridge = {key: value for key, value in outer.items() if key != "detail"}
    attributes = detail if isinstance(detail, dict) else {}
    if outer:
        reason, time = _checked(outer, unkeepable)
    else:
        reason, time = unkeepable or "not an EventBridge event", None
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
        causation_id=_text(attributes.get("causationid")),
        time=time or moment(attributes.get("time")))


def observation_from_queue_body(body: str, *, observed_at: datetime, origin: str) -> Observation:
    """An observability queue message: `{"bus": "global" | "loyalty", "event": <EventBridge
    event>}`."""
    try:
        return _from_queue_body(body, observed_at=observed_at, origin=origin)
    except Exception as error:
        return _unreadable(body, unforeseen("unreadable", error), observed_at, origin)


def _from_queue_body(body: str, *, observed_at: datetime, origin: str) -> Observation:
    message, unreadable = _load(body, "message body")
    if unreadable:
        return _unreadable(body, unreadable, observed_at, origin)
    if not isinstance(message, dict) or not isinstance(message.get("event"), dict):
        return _unreadable(message, "message is not {bus, event}", observed_at, origin)
    bus = message.get("bus")
    bus = bus if isinstance(bus, str) and bus and len(bus) <= 64 else UNKNOWN_BUS
    return observation_from_eventbridge(message["event"], bus=keepable(bus)[0],
                                        observed_at=observed_at, origin=origin)


def observation_from_log_message(message: str, *, bus: str, observed_at: datetime,
                                 origin: str) -> Observation:
    """A log event of the observability log group: the EventBridge event as `bus` delivered it."""
    try:
        return _from_log_message(message, bus=bus, observed_at=observed_at, origin=origin)
    except Exception as error:
        return _unreadable(message, unforeseen("unreadable", error), observed_at, origin, bus=bus)


def _from_log_message(message: str, *, bus: str, observed_at: datetime, origin: str) -> Observation:
    envelope, unreadable = _load(message, "log message")
    if unreadable:
        return _unreadable(message, unreadable, observed_at, origin, bus=bus)
    return observation_from_eventbridge(envelope, bus=bus, observed_at=observed_at, origin=origin)


def _unreadable(raw: Any, reason: str, observed_at: datetime, origin: str, *,
                bus: str = UNKNOWN_BUS) -> Observation:
    kept, _ = keepable(raw)
    return Observation(event_id=_fingerprint(kept), bus=bus, observed_at=observed_at,
                       origin=origin, valid=False, invalid_reason=reason, cloudevent=kept,
                       eventbridge={})
