"""The event catalogue: a versioned JSON Schema for the `data` of every event type.

Every event carries the whole order forward, plus the result of each step so far
(`reservation`, `payment`, `points`, `shipping`, ...). Money is integer minor units with an
ISO 4217 currency code, never a float.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _data(**steps: JsonSchema) -> JsonSchema:
    """The schema of an event's `data`: the order plus the named step results."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["order", *steps],
        "properties": {"order": ORDER, **steps},
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


class SchemaError(ValueError):
    """The data of an event does not match its type's schema."""


@cache
def _validator(event_type: str) -> Callable[[Any], Any]:
    try:
        schema = SCHEMAS[event_type]
    except KeyError:
        raise SchemaError(f"unknown event type {event_type!r}") from None
    return fastjsonschema.compile(schema, formats={"date-time": r"^\d{4}-\d\d-\d\dT"})


def validators_compile() -> None:
    """Compile every event type's validator now rather than on its first use."""
    for event_type in SCHEMAS:
        _validator(event_type)


def validate_data(event_type: str, data: Any) -> None:
    try:
        _validator(event_type)(data)
    except fastjsonschema.JsonSchemaValueException as error:
        raise SchemaError(f"{event_type} data invalid: {error.message}") from None


def schema_document(event_type: str, *, model: Choreography = CHOREOGRAPHY,
                    schemas: dict[str, JsonSchema] = SCHEMAS) -> JsonSchema:
    """The schema as published: with its id and version, for the catalogue and the UI."""
    event = model.event(event_type)
    return {"$id": event.dataschema, "title": event.name, "description": event.summary,
            **schemas[event_type]}
