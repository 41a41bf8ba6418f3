"""The event catalogue: a versioned JSON Schema for the `data` of every event type.

Every event carries the whole order forward, plus the result of each step so far
(`reservation`, `payment`, `points`, `shipping`, ...). Money is integer minor units with an
ISO 4217 currency code, never a float (version 1); `order.placed` version 2 writes it as a
decimal string instead (see docs/versioning.md).

Every version ever published is kept (`SCHEMA_VERSIONS`), each with what it declares of its
compatibility with the one before (`COMPATIBILITY`); `SCHEMAS` holds the version the model
names for each type (`EventType.version`). A published version's schema never changes: a test
keeps a fingerprint of each.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import cache
from typing import Any

import fastjsonschema

from workflow.model import CHOREOGRAPHY, Choreography, OrderStatus

JsonSchema = dict[str, Any]

_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_TIME = {"type": "string", "format": "date-time"}

MONEY: JsonSchema = {
    "type": "object",
    "required": ["amount", "currency"],
    "additionalProperties": False,
    "properties": {
        "amount": {"type": "integer", "minimum": 0},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    },
}

ORDER: JsonSchema = {
    "type": "object",
    "required": ["orderId", "customerId", "lines", "total", "paymentMethod", "placedAt"],
    "additionalProperties": False,
    "properties": {
        "orderId": _ID,
        "customerId": _ID,
        "placedAt": _TIME,
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sku", "name", "quantity", "unitPrice"],
                "additionalProperties": False,
                "properties": {
                    "sku": _ID,
                    "name": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unitPrice": MONEY,
                },
            },
        },
        "total": MONEY,
        "paymentMethod": {
            "type": "object",
            "required": ["token", "last4"],
            "additionalProperties": False,
            "properties": {
                "token": {"type": "string", "pattern": "^tok_[0-9a-f]{24}$"},
                "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
            },
        },
    },
}

RESERVATION: JsonSchema = {
    "type": "object",
    "required": ["reservationId", "reservedAt"],
    "properties": {"reservationId": _ID, "reservedAt": _TIME},
}

SHORTAGE: JsonSchema = {
    "type": "object",
    "required": ["shortages"],
    "properties": {
        "shortages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sku", "requested", "available"],
                "properties": {
                    "sku": _ID,
                    "requested": {"type": "integer"},
                    "available": {"type": "integer"},
                },
            },
        }
    },
}

PAYMENT: JsonSchema = {
    "type": "object",
    "required": ["paymentId", "amount", "takenAt"],
    "properties": {"paymentId": _ID, "amount": MONEY, "takenAt": _TIME},
}

DECLINE: JsonSchema = {
    "type": "object",
    "required": ["reason", "declinedAt"],
    "properties": {"reason": {"type": "string"}, "declinedAt": _TIME},
}

POINTS: JsonSchema = {
    "type": "object",
    "required": ["points", "awardedAt"],
    "properties": {"points": {"type": "integer", "minimum": 0}, "awardedAt": _TIME},
}

SHIPPING: JsonSchema = {
    "type": "object",
    "required": ["shipmentId", "shippedAt"],
    "properties": {"shipmentId": _ID, "shippedAt": _TIME},
}

RELEASE: JsonSchema = {
    "type": "object",
    "required": ["releasedAt"],
    "properties": {"releasedAt": _TIME},
}

OUTCOME: JsonSchema = {
    "type": "object",
    "required": ["status", "reason", "decidedAt"],
    "properties": {
        "status": {"enum": [OrderStatus.REJECTED.value, OrderStatus.CANCELLED.value]},
        "reason": {"type": "string"},
        "decidedAt": _TIME,
    },
}


def _data_of(order: JsonSchema, **steps: JsonSchema) -> JsonSchema:
    """The schema of an event's `data`: the order (in the given shape) plus the named step
    results."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["order", *steps],
        "properties": {"order": order, **steps},
    }


def _data(**steps: JsonSchema) -> JsonSchema:
    """The schema of an event's `data`: the order plus the named step results."""
    return _data_of(ORDER, **steps)


# Version 2 of the order `order.placed` carries: money as a decimal string in its currency's
# places ("24.00" GBP rather than 2400 minor units). `amount` is gone and `value` is new: a
# breaking change, hence a new version of the event.
DECIMAL_MONEY: JsonSchema = {
    "type": "object",
    "required": ["value", "currency"],
    "additionalProperties": False,
    "properties": {
        "value": {"type": "string", "pattern": "^(0|[1-9][0-9]{0,15})(\\.[0-9]{1,3})?$"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    },
}
ORDER_V2: JsonSchema = {
    **ORDER,
    "properties": {
        **ORDER["properties"],
        "lines": {**ORDER["properties"]["lines"], "items": {
            **ORDER["properties"]["lines"]["items"],
            "properties": {**ORDER["properties"]["lines"]["items"]["properties"],
                           "unitPrice": DECIMAL_MONEY}}},
        "total": DECIMAL_MONEY,
    },
}

SCHEMAS: dict[str, JsonSchema] = {
    "order.placed": _data(),
    "warehouse.stock-reserved": _data(reservation=RESERVATION),
    "warehouse.stock-unavailable": _data(unavailable=SHORTAGE),
    "payment.taken": _data(reservation=RESERVATION, payment=PAYMENT),
    "payment.declined": _data(reservation=RESERVATION, decline=DECLINE),
    "loyalty.points-awarded": _data(reservation=RESERVATION, payment=PAYMENT, points=POINTS),
    "warehouse.order-shipped": _data(
        reservation=RESERVATION, payment=PAYMENT, points=POINTS, shipping=SHIPPING
    ),
    "warehouse.stock-released": _data(reservation=RESERVATION, decline=DECLINE, release=RELEASE),
    "order.rejected": _data(unavailable=SHORTAGE, outcome=OUTCOME),
    "order.cancelled": _data(decline=DECLINE, release=RELEASE, outcome=OUTCOME),
}

assert set(SCHEMAS) == {event.name for event in CHOREOGRAPHY.events}, "a schema per event type"


class Compatibility(StrEnum):
    """What a new version of an event's schema declares of the version before it."""

    BACKWARD = "backward"  # a consumer of the version before reads it unchanged
    BREAKING = "breaking"  # it does not: consumers read it through a converter (workflow.versions)


# Every version of every type ever published, oldest first. Version 1 of each is the schema
# above; a later version is added here, never by changing a published one.
SCHEMA_VERSIONS: dict[str, dict[int, JsonSchema]] = {
    **{event_type: {1: schema} for event_type, schema in SCHEMAS.items()},
    "order.placed": {1: SCHEMAS["order.placed"], 2: _data_of(ORDER_V2)},
}

# What each version after the first declares of its compatibility with the one before.
COMPATIBILITY: dict[tuple[str, int], Compatibility] = {
    ("order.placed", 2): Compatibility.BREAKING,
}

assert all(event.version in SCHEMA_VERSIONS[event.name] and
           SCHEMA_VERSIONS[event.name][event.version] == SCHEMAS[event.name]
           for event in CHOREOGRAPHY.events), "the model's version of each type is published"


def dataschema_of(event_type: str, version: int) -> str:
    """The `dataschema` of one version of a type (as `EventType.dataschema` names its own)."""
    return f"urn:choreo:schema:{event_type}:{version}"


def version_of(dataschema: object, event_type: str) -> int | None:
    """The version a `dataschema` names, if it is exactly the `dataschema` of a published
    version of `event_type`; anything else names none. It is compared whole rather than
    parsed: whoever publishes chooses it, and "…:01", a superscript "²" or an Arabic-Indic
    digit are digits to `str.isdigit()` but no version's name (nor to a rule pinned on it)."""
    if not isinstance(dataschema, str):
        return None
    return next((version for version in SCHEMA_VERSIONS.get(event_type, {})
                 if dataschema == dataschema_of(event_type, version)), None)


class SchemaError(ValueError):
    """The data of an event does not match its type's schema."""


@cache
def _validator(event_type: str, version: int | None = None) -> Callable[[Any], Any]:
    try:
        schema = SCHEMAS[event_type] if version is None else SCHEMA_VERSIONS[event_type][version]
    except KeyError:
        raise SchemaError(f"unknown event type {event_type!r} version {version}") from None
    return fastjsonschema.compile(schema, formats={"date-time": r"^\d{4}-\d\d-\d\dT"})


def validators_compile() -> None:
    """Compile every event type's validators now rather than on their first use."""
    for event_type, versions in SCHEMA_VERSIONS.items():
        _validator(event_type)
        for version in versions:
            _validator(event_type, version)


def validate_data(event_type: str, data: Any, version: int | None = None) -> None:
    """Validate `data` against one version of its type's schema: the model's by default."""
    try:
        _validator(event_type, version)(data)
    except fastjsonschema.JsonSchemaValueException as error:
        raise SchemaError(f"{event_type} data invalid: {error.message}") from None


def schema_document(event_type: str, *, model: Choreography = CHOREOGRAPHY,
                    schemas: dict[str, JsonSchema] = SCHEMAS,
                    version: int | None = None) -> JsonSchema:
    """The schema as published: with its id and version, for the catalogue and the UI. The
    model's version by default, or another published `version`."""
    event = model.event(event_type)
    if version is None or version == event.version:
        return {"$id": event.dataschema, "title": event.name, "description": event.summary,
                **schemas[event_type]}
    return {"$id": dataschema_of(event_type, version), "title": event.name,
            "description": event.summary, **SCHEMA_VERSIONS[event_type][version]}
