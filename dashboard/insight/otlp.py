"""An order's trace as OpenTelemetry: one OTLP/JSON `ExportTraceServiceRequest`.

- One span per hop, that is per valid CloudEvent of the order, named by its type; it starts at
  its cause's time and ends at its own (an order's first event, with no cause, is an instant).
- Its parent is its causation event's span, when that event is in the read model; otherwise
  it is a root, so that every parent id names a span in the same request.
- The trace id is the first 16 bytes of SHA-256 of the correlation id; a span id the first 8
  of SHA-256 of the event id: the same trace exported twice, or by two dashboards, has the
  same ids. OTLP/JSON writes them as hex, not base64.
- Attributes follow the OpenTelemetry semantic conventions for CloudEvents
  (`cloudevents.event_id`, `…_source`, `…_spec_version`, `…_type`, `…_subject`); the resource's
  `service.name` is the subdomain the model says produces the type (`unknown` for a type it
  does not declare: its source is only what the publisher claims, and is kept as
  `cloudevents.event_source`), one `resourceSpans` entry per subdomain.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from typing import Any

from dashboard.readmodel.selectors import Trace
from workflow.model import CHOREOGRAPHY, Choreography

SCOPE = {"name": "choreo.dashboard", "version": "1"}
SPAN_KIND_PRODUCER = 4
"""An order's first event: published, caused by nothing observed."""
SPAN_KIND_CONSUMER = 5
"""Every other hop: a consumer handled its cause and published this event."""


def trace_id_of(correlation_id: str) -> str:
    return hashlib.sha256(correlation_id.encode()).hexdigest()[:32]


def span_id_of(event_id: str) -> str:
    return hashlib.sha256(event_id.encode()).hexdigest()[:16]


def _nanos(moment: datetime) -> str:
    """Unix nanoseconds as OTLP/JSON writes a 64-bit integer: a string."""
    return str(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


def _attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


UNKNOWN_SERVICE = "unknown"


def service_of(event_type: str, *, model: Choreography = CHOREOGRAPHY) -> str:
    producer = {event.name: event.producer for event in model.events}.get(event_type)
    return str(producer) if producer is not None else UNKNOWN_SERVICE


def trace_otlp(*, trace: Trace, model: Choreography = CHOREOGRAPHY) -> dict[str, Any]:
    """The trace as an OTLP/JSON ExportTraceServiceRequest."""
    events = [item.event for item in trace.events if item.event.time is not None]
    times = {event.event_id: event.time for event in events}
    correlation = (trace.order.correlation_id if trace.order and trace.order.correlation_id
                   else next((event.correlation_id for event in events if event.correlation_id),
                             trace.order_id))
    trace_id = trace_id_of(correlation)
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        assert event.time is not None
        cause_time = times.get(event.causation_id)
        span: dict[str, Any] = {
            "traceId": trace_id,
            "spanId": span_id_of(event.event_id),
            "name": event.type,
            "kind": SPAN_KIND_CONSUMER if cause_time is not None else SPAN_KIND_PRODUCER,
            "startTimeUnixNano": _nanos(min(cause_time or event.time, event.time)),
            "endTimeUnixNano": _nanos(event.time),
            "attributes": [
                _attribute("cloudevents.event_id", event.event_id),
                _attribute("cloudevents.event_source", event.source),
                _attribute("cloudevents.event_spec_version",
                           str(event.envelope.get("specversion", ""))),
                _attribute("cloudevents.event_type", event.type),
                _attribute("cloudevents.event_subject", event.order_id),
                _attribute("choreo.correlation_id", event.correlation_id),
                _attribute("choreo.buses", " ".join(event.buses)),
            ],
            "status": {},
        }
        if cause_time is not None:
            span["parentSpanId"] = span_id_of(event.causation_id)
            span["attributes"].append(_attribute("choreo.causation_id", event.causation_id))
        by_service[service_of(event.type, model=model)].append(span)
    return {"resourceSpans": [
        {"resource": {"attributes": [_attribute("service.name", service)]},
         "scopeSpans": [{"scope": SCOPE, "spans": spans}]}
        for service, spans in by_service.items()]}
