"""The double envelope: a CloudEvent (structured JSON) inside an EventBridge event.

EventBridge `Source` is the CloudEvent `source`, `DetailType` its `type`, and `Detail` the
CloudEvent JSON itself. Every event of one order carries the same `correlationid` and `partitionkey` (the
CloudEvents partitioning extension: the order's partition, see `Choreography.partitions`);
every event but the first carries `causationid`, the `id` of the event that caused it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from workflow.catalogue import SchemaError, validate_data, version_of
from workflow.model import CHOREOGRAPHY

CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
_REQUIRED = ("specversion", "id", "source", "type", "time", "subject", "dataschema",
             "correlationid")
_TEXT = (*_REQUIRED, "datacontenttype", "causationid", "partitionkey")
"""Attributes that are strings when present: the SDK checks some, our extensions are ours to."""
_FORMAT = JSONFormat()


class InvalidEvent(ValueError):
    """A message that is not a valid CloudEvent of our catalogue. It can never succeed, so it is
    not retried: consumers send it straight to their dead-letter queue with this reason."""



# How deep JSON from outside may nest: an order needs 3 levels, an event a few more. Python's
# parser recurses once per level and fails near a thousand, so depth is told before parsing.
MAX_JSON_DEPTH = 32
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def json_nested_deeper_than(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `text` nests arrays and objects more than `limit` deep, told without parsing it;
    a bracket inside a string is text, not nesting."""
    if text.count("[") + text.count("{") <= limit:
        return False  # too few brackets to be deep: no need to scan
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(text):
        if token.group() in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token.group() in ("]", "}"):
            depth -= 1
    return False


def _json_read(text: str | bytes) -> Any:
    """JSON from outside, read only if it nests no deeper than MAX_JSON_DEPTH."""
    try:
        decoded = text.decode() if isinstance(text, bytes) else text
    except UnicodeDecodeError as error:
        raise InvalidEvent(f"not JSON: {error}") from None
    if json_nested_deeper_than(decoded):
        raise InvalidEvent(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(decoded)
    except ValueError as error:
        raise InvalidEvent(f"not JSON: {error}") from None


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    source: str
    subject: str
    time: datetime
    correlation_id: str
    data: dict[str, Any]
    causation_id: str | None = None
    dataschema: str = field(default="")

    @property
    def partition_key(self) -> str:
        return CHOREOGRAPHY.partition_of(self.subject)

    @property
    def order(self) -> dict[str, Any]:
        order: dict[str, Any] = self.data["order"]
        return order

    def to_cloudevent(self) -> CloudEvent:
        attributes: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "subject": self.subject,
            "datacontenttype": CONTENT_TYPE,
            "dataschema": self.dataschema,
            "correlationid": self.correlation_id,
            "partitionkey": self.partition_key,
        }
        if self.causation_id:
            attributes["causationid"] = self.causation_id
        return CloudEvent(attributes, self.data)

    def to_json(self) -> str:
        return _FORMAT.write(self.to_cloudevent()).decode()

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.to_json())
        return body


def new_event(*, type: str, data: dict[str, Any], cause: Event | None = None,
              correlation_id: str | None = None, subject: str | None = None,
              event_id: str | None = None, time: datetime | None = None) -> Event:
    """A new event of a catalogued type, validated against its schema before it exists.

    An event caused by another inherits its correlation id and subject; the first event of an
    order (`cause=None`) starts a correlation of its own.
    """
    event_type = CHOREOGRAPHY.event(type)
    validate_data(type, data)
    if cause is not None:
        correlation_id = cause.correlation_id
        subject = cause.subject
    if not correlation_id or not subject:
        raise ValueError("the first event of a correlation needs correlation_id and subject")
    return Event(
        id=event_id or str(uuid.uuid4()),
        type=type,
        source=event_type.producer.value,
        subject=subject,
        time=time or datetime.now(UTC),
        correlation_id=correlation_id,
        causation_id=cause.id if cause else None,
        data=data,
        dataschema=event_type.dataschema,
    )


def parse_cloudevent(body: str | bytes | dict[str, Any]) -> Event:
    """Validate a structured CloudEvent JSON against the envelope rules and its schema: the
    version its `dataschema` names, any that was published. The event is kept as published.

    Required attributes are checked before the SDK sees the body, because the SDK would
    invent a missing `id` or `time`.
    """
    raw = body if isinstance(body, dict) else _json_read(body)
    if not isinstance(raw, dict):
        raise InvalidEvent("a CloudEvent is a JSON object")
    missing = [name for name in _REQUIRED if not raw.get(name)]
    if missing:
        raise InvalidEvent(f"CloudEvent lacks {', '.join(missing)}")
    not_text = [name for name in _TEXT if raw.get(name) is not None and not isinstance(raw[name], str)]
    if not_text:
        raise InvalidEvent(f"CloudEvent {', '.join(not_text)} must be a string")
    if raw["specversion"] != "1.0":
        raise InvalidEvent(f"unsupported specversion {raw['specversion']!r}")
    try:
        event_type = CHOREOGRAPHY.event(raw["type"])
    except KeyError:
        raise InvalidEvent(f"unknown event type {raw['type']!r}") from None
    if raw["source"] != event_type.producer.value:
        raise InvalidEvent(f"{raw['type']} comes from {event_type.producer.value}, "
                           f"not {raw['source']!r}")
    # Any published version of the type: consumers read it in theirs (workflow.versions.read_as)
    version = version_of(raw["dataschema"], event_type.name)
    if version is None:
        raise InvalidEvent(f"unsupported dataschema {raw['dataschema']!r}")
    try:
        cloudevent = _FORMAT.read(CloudEvent, json.dumps(raw).encode())
    except (BaseCloudEventException, ValueError, TypeError, RecursionError) as error:
        raise InvalidEvent(f"invalid CloudEvent: {error}") from None
    data = cloudevent.get_data()
    if not isinstance(data, dict):
        raise InvalidEvent("CloudEvent data must be a JSON object")
    try:
        validate_data(raw["type"], data, version)
    except SchemaError as error:
        raise InvalidEvent(str(error)) from None
    time = cloudevent.get_time()
    assert time is not None
    return Event(
        id=cloudevent.get_id(),
        type=cloudevent.get_type(),
        source=cloudevent.get_source(),
        subject=raw["subject"],
        time=time,
        correlation_id=raw["correlationid"],
        causation_id=raw.get("causationid"),
        data=data,
        dataschema=raw["dataschema"],
    )


def parse_eventbridge(envelope: str | bytes | dict[str, Any]) -> Event:
    """The CloudEvent inside an EventBridge event (an SQS body or a direct target's event)."""
    outer = envelope if isinstance(envelope, dict) else _json_read(envelope)
    if not isinstance(outer, dict) or not isinstance(outer.get("detail"), dict):
        raise InvalidEvent("not an EventBridge event with a JSON detail")
    event = parse_cloudevent(outer["detail"])
    if outer.get("source") != event.source or outer.get("detail-type") != event.type:
        raise InvalidEvent("EventBridge source/detail-type disagree with the CloudEvent")
    return event


def put_events_entry(event: Event, *, bus_name: str) -> dict[str, str]:
    """The `PutEvents` entry that carries an event onto a bus."""
    return {
        "EventBusName": bus_name,
        "Source": event.source,
        "DetailType": event.type,
        "Detail": event.to_json(),
    }
