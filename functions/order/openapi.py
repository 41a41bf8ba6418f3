"""The order API's OpenAPI 3.1 document, served at `GET /openapi.json`."""

from __future__ import annotations

from typing import Any

from functions.order.idempotency import MAX_KEY_LENGTH
from workflow.catalogue import MONEY
from workflow.domain.order import MAX_LINES, MAX_QUANTITY_PER_LINE, STATUSES
from workflow.domain.payment import DECLINING_TEST_CARD, GOOD_TEST_CARD
from workflow.model import CHOREOGRAPHY, ORDER_API
from workflow.products import PRODUCTS

_PROBLEM = {"description": "RFC 9457 problem details",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
# Answered by the API's stage, before the function: more requests than its throttle admits.
_THROTTLED = {"description": "Too many requests: try again after Retry-After seconds",
              "headers": {"Retry-After": {"schema": {"type": "integer"}}},
              "content": {"application/json": {"schema": {
                  "type": "object", "required": ["message"],
                  "properties": {"message": {"type": "string"}}}}}}
_UNAVAILABLE = {**_PROBLEM, "description": "Not accepted now (the system is behind, or the order "
                "could not be recorded): try again, after Retry-After seconds if given"}


# What the document says of each route of the model's order API, beyond its summary.
_OPERATIONS: dict[str, dict[str, Any]] = {
    "GET /products": {
        "operationId": "listProducts",
        "responses": {"200": {"description": "Products", "content": {"application/json": {
            "schema": {"type": "object", "required": ["products"], "properties": {
                "products": {"type": "array",
                             "items": {"$ref": "#/components/schemas/Product"}}}}}}},
            "429": _THROTTLED}},
    "POST /orders": {
        "operationId": "placeOrder",
        "parameters": [{
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "Makes a retry safe (draft-ietf-httpapi-idempotency-key-header): the "
                           "same key with the same request answers the first 202 again, with "
                           "the same order; with another request, 422. A Structured Field "
                           "string such as \"8e03978e-40d5-43e8-bc93-6894a57f9324\" (a bare "
                           f"value is taken too), at most {MAX_KEY_LENGTH} characters. Use a "
                           "new UUID per order: keys are not scoped to a client.",
            "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH + 2}}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/OrderRequest"}}}},
        "responses": {
            "202": {"description": "Accepted: the order is placed and will be fulfilled",
                    "headers": {
                        "Location": {"schema": {"type": "string"}},
                        "Idempotent-Replayed": {
                            "description": "true when this answers a request whose "
                                           "Idempotency-Key placed the order before",
                            "schema": {"const": "true"}}},
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/OrderAccepted"}}}},
            "400": {**_PROBLEM, "description": "Malformed JSON, body or Idempotency-Key"},
            "413": _PROBLEM, "415": _PROBLEM,
            "422": {**_PROBLEM, "description": "Invalid fields, or an Idempotency-Key that "
                                               "placed another order"},
            "429": _THROTTLED, "503": _UNAVAILABLE}},
    "GET /orders/{orderId}": {
        "operationId": "getOrder",
        "parameters": [{"name": "orderId", "in": "path", "required": True,
                        "schema": {"type": "string", "maxLength": 64}}],
        "responses": {"200": {"description": "The order", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/OrderStatus"}}}},
            "404": _PROBLEM, "429": _THROTTLED}},
    "GET /openapi.json": {
        "operationId": "getOpenApi",
        "responses": {"200": {"description": "This document", "content": {
            "application/json": {"schema": {"type": "object"}}}}, "429": _THROTTLED}},
}


def _paths() -> dict[str, dict[str, Any]]:
    """Every route of the model's order API, with its summary from the model: a route added
    there and not described here fails the document (and its test)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in CHOREOGRAPHY.http_api(ORDER_API).routes:
        operation = {"summary": route.summary.rstrip("."), **_OPERATIONS[route.key]}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return paths


def openapi_document(server_url: str = "/") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Order API", "version": "1.0.0",
                 "description": "Places orders into the choreographed fulfilment workflow."},
        "servers": [{"url": server_url}],
        "paths": _paths(),
        "components": {"schemas": {
            "Money": MONEY,
            "Product": {"type": "object", "required": ["sku", "name", "unitPrice", "currency"],
                        "properties": {"sku": {"type": "string"}, "name": {"type": "string"},
                                       "unitPrice": {"$ref": "#/components/schemas/Money"},
                                       "currency": {"type": "string"}}},
            "OrderRequest": {
                "type": "object", "required": ["customerId", "items", "card"],
                "properties": {
                    "customerId": {"type": "string", "minLength": 1, "maxLength": 64},
                    "items": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": {
                        "type": "object", "required": ["sku", "quantity"], "properties": {
                            "sku": {"type": "string", "enum": [p.sku for p in PRODUCTS]},
                            "quantity": {"type": "integer", "minimum": 1,
                                         "maximum": MAX_QUANTITY_PER_LINE}}}},
                    "card": {"type": "object", "required": ["number"], "properties": {
                        "number": {"type": "string", "description":
                                   "A card number; 4000 0000 0000 0002 is always declined.",
                                   "examples": [GOOD_TEST_CARD, DECLINING_TEST_CARD]}}}},
                "examples": [{"customerId": "ada", "card": {"number": GOOD_TEST_CARD},
                              "items": [{"sku": PRODUCTS[0].sku, "quantity": 1}]}]},
            "OrderAccepted": {"type": "object",
                              "required": ["orderId", "correlationId", "status", "links"],
                              "properties": {"orderId": {"type": "string"},
                                             "correlationId": {"type": "string"},
                                             "status": {"const": "placed"},
                                             "links": {"type": "object"}}},
            "OrderStatus": {"type": "object", "required": ["orderId", "status"],
                            "properties": {"orderId": {"type": "string"},
                                           "status": {"enum": list(STATUSES)},
                                           "correlationId": {"type": "string"},
                                           "order": {"type": "object", "description":
                                                     "The order as placed; its payment method "
                                                     "shows the card's last four digits only"}}},
            "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "message": {"type": "string"}}}}}},
        }},
    }
