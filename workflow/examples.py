"""An example of every event type: a whole CloudEvent, as a consumer receives it.

Built from the model and the event's schema, never written out per type: the `data` holds what
its schema requires (the order, then each step's result, from realistic values below), and the
attributes are those every event carries. The first event of a choreography (what an HTTP
route publishes) has no `causationid`; every other one was caused by an event. A test keeps
every example valid against its schema, so the catalogue cannot show an event that would be
refused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from workflow.catalogue import SCHEMAS, JsonSchema
from workflow.model import CHOREOGRAPHY, Choreography

EXAMPLE_TIME = datetime(2026, 11, 27, 9, 30, 0, 120000, tzinfo=UTC)
EXAMPLE_ORDER_ID = "ord-3f9c2a7b1d04"
_AT = EXAMPLE_TIME.isoformat().replace("+00:00", "Z")
_NAMESPACE = uuid.UUID("6f1c7d1e-5b0a-4c55-9f3e-2b8a3c1d9e70")

# Realistic values of the parts the schemas name: the order, and each step's result.
_PARTS: dict[str, Any] = {
    "order": {
        "orderId": EXAMPLE_ORDER_ID, "customerId": "ada", "placedAt": _AT,
        "lines": [{"sku": "MUG-STONEWARE", "name": "Stoneware mug", "quantity": 2,
                   "unitPrice": {"amount": 1200, "currency": "GBP"}}],
        "total": {"amount": 2400, "currency": "GBP"},
        "paymentMethod": {"token": "tok_5c0ffee5c0ffee5c0ffee5c0", "last4": "4242"},
    },
    "reservation": {"reservationId": "res-8d41c2", "reservedAt": _AT},
    "unavailable": {"shortages": [{"sku": "MUG-STONEWARE", "requested": 2, "available": 0}]},
    "payment": {"paymentId": "pay-2b7e90", "amount": {"amount": 2400, "currency": "GBP"},
                "takenAt": _AT},
    "decline": {"reason": "card declined", "declinedAt": _AT},
    "points": {"points": 24, "awardedAt": _AT},
    "shipping": {"shipmentId": "shp-51fa03", "shippedAt": _AT},
    "release": {"releasedAt": _AT},
}


def _from_schema(schema: JsonSchema) -> Any:
    """A value of a part no realistic example names: the least its schema asks for."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _from_schema(properties.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return [_from_schema(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return _AT
    return "example"


def example_data(event_type: str, *, model: Choreography = CHOREOGRAPHY,
                 schemas: dict[str, JsonSchema] = SCHEMAS) -> dict[str, Any]:
    """The `data` of an example event: every part its schema requires."""
    schema = schemas.get(event_type, {"required": ["order"], "properties": {}})
    event = model.event(event_type)
    data: dict[str, Any] = {}
    for part in schema.get("required", []):
        if part == "outcome" and event.concludes_as is not None:
            data[part] = {"status": event.concludes_as.value, "reason": event.summary,
                          "decidedAt": _AT}
        elif part in _PARTS:
            data[part] = _PARTS[part]
        else:
            data[part] = _from_schema(schema.get("properties", {}).get(part, {}))
    return data


def example_event(event_type: str, *, model: Choreography = CHOREOGRAPHY,
                  schemas: dict[str, JsonSchema] = SCHEMAS,
                  version: int | None = None) -> dict[str, Any]:
    """A whole CloudEvent of `event_type`, as structured JSON: in the model's version, or in
    another published `version` (written from the model's as its producer would)."""
    event = model.event(event_type)
    if version is not None and version != event.version:
        return _example_in_version(event_type, version, model=model, schemas=schemas)
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(_NAMESPACE, event_type)),
        "source": event.producer.value,
        "type": event.name,
        "time": _AT,
        "subject": EXAMPLE_ORDER_ID,
        "datacontenttype": "application/json",
        "dataschema": event.dataschema,
        "correlationid": str(uuid.uuid5(_NAMESPACE, EXAMPLE_ORDER_ID)),
        "partitionkey": model.partition_of(EXAMPLE_ORDER_ID),
    }
    if event_type not in model.start_events():
        attributes["causationid"] = str(uuid.uuid5(_NAMESPACE, f"cause of {event_type}"))
    return {**attributes, "data": example_data(event_type, model=model, schemas=schemas)}


def _example_in_version(event_type: str, version: int, *, model: Choreography,
                        schemas: dict[str, JsonSchema]) -> dict[str, Any]:
    from workflow.envelope import parse_cloudevent
    from workflow.versions import written_as
    current = parse_cloudevent(example_event(event_type, model=model, schemas=schemas))
    return written_as(current, version, model=model).to_dict()


def example_versions(*, model: Choreography = CHOREOGRAPHY) -> list[tuple[str, int]]:
    """Every (type, version) an example is made of: each published version of each type."""
    from workflow.catalogue import SCHEMA_VERSIONS
    return [(event.name, version) for event in model.events
            for version in sorted(SCHEMA_VERSIONS.get(event.name, {event.version: {}}))]
