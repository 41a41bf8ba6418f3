"""Order HTTP API (API Gateway HTTP API, payload format 2.0): the catalogue, placing an order,
an order's status. Errors are RFC 9457 problem details."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import (
    EventBridgePublisher,
    card_vault,
    event_bus_name,
    queue_url_of,
    table_name_of,
)
from functions.common.consumer import logger
from functions.order import idempotency
from functions.order.openapi import openapi_document
from functions.order.orders import DynamoOrders, OrderExists
from functions.order.outbox import OutboxChecks
from workflow.domain.order import FieldProblem, InvalidOrder, order_place
from workflow.envelope import MAX_JSON_DEPTH, Event, json_nested_deeper_than, parse_cloudevent
from workflow.handler_env import EVENT_VERSIONS_ENV
from workflow.model import CHOREOGRAPHY, ORDER_API, ORDER_OUTBOX_QUEUE, ORDERS_TABLE, OrderStatus
from workflow.products import PRODUCTS
from workflow.versions import emitted_versions, read_as, written_as

MAX_BODY_BYTES = 16 * 1024
# The media types read as JSON: application/json, and application/<name>+json (RFC 6839's
# structured syntax suffix). Anything else, or none, is refused: an HTML form, a beacon or a
# fetch of an untyped body from another site sends text/plain, form data or no type at all,
# and none of them may place an order without the browser asking this API first.
_JSON_MEDIA_TYPE = re.compile(r"application/(?:[!#$%&'*+.^_`|~0-9a-z-]+\+)?json")

orders = DynamoOrders(table_name=table_name_of(ORDERS_TABLE))
publisher = EventBridgePublisher(bus_name=event_bus_name())
checks = OutboxChecks(queue_url=queue_url_of(ORDER_OUTBOX_QUEUE))
app = APIGatewayHttpResolver()


def problem(status: int, title: str, detail: str = "",
            errors: list[FieldProblem] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [error.to_dict() for error in errors]
    return Response(status_code=status, content_type="application/problem+json",
                    body=json.dumps(body))


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body),
                    headers=headers)


def media_type(content_type: str) -> str:
    """A Content-Type's `type/subtype`, lower-cased, without its parameters (`charset`...)."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    return content_type is not None and \
        _JSON_MEDIA_TYPE.fullmatch(media_type(content_type)) is not None


def products_list() -> Response:
    return json_response(200, {"products": [product.to_dict() for product in PRODUCTS]})


def openapi() -> Response:
    return json_response(200, openapi_document())


def orders_place() -> Response:
    request = app.current_event
    key: str | None = None
    if (header := request.headers.get(idempotency.HEADER)) is not None:
        try:
            key = idempotency.key_parse(header)
        except idempotency.InvalidKey as error:
            return problem(400, "Invalid Idempotency-Key", str(error))
    try:
        raw = request.decoded_body or ""
    except (UnicodeDecodeError, ValueError):
        return problem(400, "Malformed body", "the body is not UTF-8 text")
    if len(raw.encode()) > MAX_BODY_BYTES:
        return problem(413, "Request body too large", f"at most {MAX_BODY_BYTES} bytes")
    if not is_json(request.headers.get("content-type")):
        return problem(415, "Unsupported media type", "send application/json")
    if json_nested_deeper_than(raw, MAX_JSON_DEPTH):
        return problem(400, "Malformed JSON",
                       f"the JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(raw)
    except ValueError as error:
        return problem(400, "Malformed JSON", str(error))
    try:
        placed = order_place(request=body, vault=card_vault(),
                             order_id=idempotency.order_id_for(key) if key else None)
    except InvalidOrder as error:
        return problem(422, "Invalid order", "the order has invalid fields", error.problems)
    placed = written_as(placed, placed_version())
    asked = idempotency.fingerprint(placed.order) if key else None
    if asked is not None and (answer := order_replay(placed.subject, asked)) is not None:
        return answer
    try:
        checks.request(placed.subject)
    except Exception:
        logger.exception("could not ask for the order to be checked: nothing was written")
        return problem(503, "Order not accepted", "the order could not be recorded; try again")
    try:
        orders.add(placed, fingerprint=asked)
    except OrderExists:
        if asked is None:
            raise
        # a request with the same key won the write between our read and ours
        return order_replay(placed.subject, asked) or problem(
            503, "Order not accepted", "the order could not be recorded; try again")
    placed_publish(placed)
    logger.info("order placed", order_id=placed.subject, correlation_id=placed.correlation_id)
    return order_accepted(placed.subject, placed.correlation_id)


def order_accepted(order_id: str, correlation_id: str, *, replayed: bool = False) -> Response:
    link = f"/orders/{order_id}"
    headers = {"Location": link}
    if replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
    return json_response(202, {"orderId": order_id, "correlationId": correlation_id,
                               "status": OrderStatus.PLACED.value, "links": {"status": link}},
                         headers=headers)


def order_replay(order_id: str, asked: str) -> Response | None:
    """The answer to a request whose Idempotency-Key placed an order already: that order's
    202 again if the request asks for the same, 422 if for something else; None if the key
    has placed nothing yet."""
    record = orders.get(order_id)
    if record is None:
        return None
    if record.get("fingerprint") != asked:
        return problem(422, "Idempotency-Key reused",
                       "this Idempotency-Key placed another order; send a new key with a new "
                       "order")
    logger.info("order placed before, answered again", order_id=order_id)
    return order_accepted(order_id, record["correlationId"], replayed=True)


def placed_version() -> int:
    """The version of `order.placed` this function publishes: its `EVENT_VERSIONS` setting,
    read on each order so that a change of the function's configuration (which Lambda applies
    to new execution environments) takes effect without a deploy; the model's by default. The
    relay publishes whatever version the order was written with."""
    return emitted_versions(os.environ.get(EVENT_VERSIONS_ENV)).get(
        "order.placed", CHOREOGRAPHY.event("order.placed").version)


def placed_publish(placed: Event) -> None:
    """Publish the order's event, and nothing more: no mark that it was. The order is accepted
    whatever happens here: should the publish fail, or the function die, the check asked for
    before the write finds the order still `placed` and has its event published again
    (`functions.order.outbox`)."""
    try:
        publisher.publish([placed])
    except Exception:
        logger.exception("order.placed left to the outbox relay", order_id=placed.subject)


def orders_get(orderId: str) -> Response:  # named as the model names the path parameter
    order_id = orderId
    record = orders.get(order_id) if len(order_id) <= 64 else None
    if record is None:
        return problem(404, "Order not found", f"no order {order_id[:64]!r}")
    return json_response(200, {
        "orderId": record["orderId"], "status": record["status"],
        "correlationId": record["correlationId"], "placedAt": record["placedAt"],
        "concludedAt": record.get("concludedAt"),
        "order": order_public(read_as(parse_cloudevent(record["event"])).order)})


def order_public(order: dict[str, Any]) -> dict[str, Any]:
    """An order as anyone who knows its id may read it: without the card's vault token. The
    token is an HMAC of the card number, and this API computes it for any number a caller
    sends; with a token to compare against, the few Luhn-valid numbers that share a card's
    first six and last four digits could be tried one order at a time until one matched."""
    method = order.get("paymentMethod")
    if not isinstance(method, dict):
        return order
    return {**order, "paymentMethod": {"last4": method.get("last4")}}


# Each route of the model's order API, and what answers it: a route the model gains without a
# handler here fails at import, and a handler the model does not name is never reachable.
HANDLERS: dict[str, Callable[..., Response]] = {
    "GET /products": products_list, "GET /openapi.json": openapi,
    "POST /orders": orders_place, "GET /orders/{orderId}": orders_get}
for route in CHOREOGRAPHY.http_api(ORDER_API).routes:
    app.route(re.sub(r"\{(\w+)\}", r"<\1>", route.path), method=route.method)(HANDLERS[route.key])


@app.not_found
def not_found(_error: Exception) -> Response:
    return problem(404, "Not found", "no such resource")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
