"""A trace exported as OpenTelemetry: the file parses with the OTLP protobuf's own JSON
parser, its ids are the hex OTLP/JSON wants and are derived from the correlation and event
ids, every parent is a span of the file, and each span carries the CloudEvents attributes."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from dataclasses import replace

import pytest
from google.protobuf.json_format import MessageToDict, Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from dashboard.insight import otlp
from dashboard.models import ObservedEvent
from dashboard.readmodel import services
from dashboard.readmodel.selectors import TraceEvent, trace_get
from tests.dashboard import factories
from tests.dashboard.test_search import AUDITED, WITH_AUDIT, audit_recorded

pytestmark = pytest.mark.django_db


def protobuf_dialect(exported: dict) -> str:
    """OTLP/JSON as protobuf's JSON mapping writes it: OTLP/JSON writes trace and span ids
    as hex where protobuf writes bytes as base64, so an OTLP receiver reads them as hex
    before handing them on; so does this (json_format would read hex as base64)."""
    def b64(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()

    copy = json.loads(json.dumps(exported))
    for resource in copy["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = b64(span[key])
    return json.dumps(copy)


def attributes(span_or_resource) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in span_or_resource.attributes}


@pytest.fixture
def declined(stack):
    events = factories.declined_path(order_id="ord-otlp")
    services.observation_record(observations=factories.sightings_of(events))
    return events


def test_a_trace_round_trips_through_the_otlp_parser(client, declined):
    response = client.get("/api/orders/ord-otlp/otlp")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="ord-otlp.otlp.json"'
    request = Parse(protobuf_dialect(response.json()), ExportTraceServiceRequest())
    spans = {span.span_id: (span, attributes(resource.resource))
             for resource in request.resource_spans
             for scope in resource.scope_spans for span in scope.spans}
    assert len(spans) == 5

    correlation = declined[0].correlation_id
    by_event = {attributes(span)["cloudevents.event_id"]: (span, resource)
                for span, resource in spans.values()}
    for event in declined:
        span, resource = by_event[event.id]
        assert span.trace_id == hashlib.sha256(correlation.encode()).digest()[:16]
        assert span.span_id == hashlib.sha256(event.id.encode()).digest()[:8]
        assert span.name == event.type
        assert resource == {"service.name": event.source}  # the producing subdomain
        assert attributes(span).items() >= {
            "cloudevents.event_id": event.id, "cloudevents.event_source": event.source,
            "cloudevents.event_type": event.type, "cloudevents.event_subject": "ord-otlp",
            "cloudevents.event_spec_version": "1.0"}.items()
        assert span.end_time_unix_nano == round(event.time.timestamp() * 1_000_000) * 1000
    for cause, effect in itertools.pairwise(declined):
        span, _ = by_event[effect.id]
        assert span.parent_span_id == by_event[cause.id][0].span_id
        assert span.start_time_unix_nano == by_event[cause.id][0].end_time_unix_nano
        assert span.end_time_unix_nano - span.start_time_unix_nano == 40_000_000  # 40 ms hops
    root, _ = by_event[declined[0].id]
    assert root.parent_span_id == b"" and root.start_time_unix_nano == root.end_time_unix_nano
    assert {span.parent_span_id for span, _ in spans.values()} - {b""} <= set(spans)
    assert sorted(attributes(r.resource)["service.name"] for r in request.resource_spans) == [
        "order", "payment", "warehouse"]


def test_ids_are_hex_as_otlp_json_wants(client, declined):
    exported = client.get("/api/orders/ord-otlp/otlp").json()
    spans = [span for r in exported["resourceSpans"] for s in r["scopeSpans"] for span in s["spans"]]

    correlation = declined[0].correlation_id
    for span in spans:
        assert span["traceId"] == hashlib.sha256(correlation.encode()).hexdigest()[:32]
        assert re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
        assert re.fullmatch(r"[0-9a-f]{16}", span.get("parentSpanId", "0" * 16))
    # What protobuf's own JSON writer makes of the same request is base64: not this.
    written = MessageToDict(Parse(protobuf_dialect(exported), ExportTraceServiceRequest()))
    first = written["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert base64.b64decode(first["traceId"]).hex() == spans[0]["traceId"] != first["traceId"]


def test_an_event_whose_cause_is_gone_is_a_root(client, declined):
    ObservedEvent.objects.filter(event_id=declined[1].id).delete()

    exported = client.get("/api/orders/ord-otlp/otlp").json()
    spans = {span["spanId"]: span for r in exported["resourceSpans"]
             for s in r["scopeSpans"] for span in s["spans"]}

    assert len(spans) == 4
    assert all(span.get("parentSpanId", "") in spans or "parentSpanId" not in span
               for span in spans.values())
    orphan = spans[otlp.span_id_of(declined[2].id)]
    assert "parentSpanId" not in orphan and orphan["kind"] == otlp.SPAN_KIND_PRODUCER


def test_an_unknown_order_has_no_export(client, stack):
    assert client.get("/api/orders/ord-nobody/otlp").status_code == 404


def test_a_route_added_to_the_model_exports_its_events(stack):
    placed = factories.placed(order_id="ord-audited")
    audited = audit_recorded(placed)
    # Recorded by the model that declares the audit subdomain: by one that does not, an event
    # from its source would be a sighting of an undeclared source, for drift.
    services.observation_record(observations=[factories.observe(placed), factories.observe(audited)],
                                model=WITH_AUDIT)
    trace = trace_get(order_id="ord-audited")
    # The deployed catalogue does not know the added type (its event is kept as invalid): put
    # it on the timeline as a dashboard deployed with the copy would.
    row = ObservedEvent.objects.get(event_id=audited.id)
    trace = replace(trace, events=[*trace.events, TraceEvent(event=row, offset_ms=90.0,
                                                             start_ms=0.0)])

    exported = otlp.trace_otlp(trace=trace, model=WITH_AUDIT)
    services_by_name = {r["resource"]["attributes"][0]["value"]["stringValue"]:
                        r["scopeSpans"][0]["spans"] for r in exported["resourceSpans"]}
    unknown = otlp.trace_otlp(trace=trace)

    assert sorted(services_by_name) == ["audit", "order"]
    [span] = services_by_name["audit"]
    assert span["name"] == AUDITED.name
    assert span["parentSpanId"] == otlp.span_id_of(placed.id)
    assert int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"]) == 90_000_000
    assert sorted(r["resource"]["attributes"][0]["value"]["stringValue"]
                  for r in unknown["resourceSpans"]) == ["order", "unknown"]
    Parse(protobuf_dialect(exported), ExportTraceServiceRequest())
