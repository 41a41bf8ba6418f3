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

from functions.common.aws import EventBridgePublisher, card_vault, env
from functions.common.consumer import logger
from functions.order.openapi import openapi_document
from functions.order.orders import DynamoOrders
from functions.order.outbox import OutboxChecks
from workflow.domain.order import FieldProblem, InvalidOrder, order_place
from workflow.envelope import MAX_JSON_DEPTH, Event, json_nested_deeper_than, parse_cloudevent
from workflow.model import CHOREOGRAPHY, ORDER_API, OrderStatus
from workflow.products import PRODUCTS
from workflow.versions import EVENT_VERSIONS_ENV, emitted_versions, read_as, written_as

MAX_BODY_BYTES = 16 * 1024
# The media types read as JSON: application/json, and application/<name>+json (RFC 6839's
# structured syntax suffix). Anything else, or none, is refused: an HTML form, a beacon or a
# fetch of an untyped body from another site sends text/plain, form data or no type at all,
# and none of them may place an order without the browser asking this API first.
_JSON_MEDIA_TYPE = re.compile(r"application/(?:[!#$%&'*+.^_`|~0-9a-z-]+\+)?json")

orders = DynamoOrders(table_name=env("ORDERS_TABLE_NAME"))
publisher = EventBridgePublisher(bus_name=env("EVENT_BUS_NAME"))
checks = OutboxChecks(queue_url=env("ORDEROUTBOX_QUEUE_URL"))
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
        placed = order_place(request=body, vault=card_vault())
    except InvalidOrder as error:
        return problem(422, "Invalid order", "the order has invalid fields", error.problems)
    placed = written_as(placed, placed_version())
    try:
        checks.request(placed.subject)
    except Exception:
        logger.exception("could not ask for the order to be checked: nothing was written")
        return problem(503, "Order not accepted", "the order could not be recorded; try again")
    orders.add(placed)
    placed_publish(placed)
    logger.info("order placed", order_id=placed.subject, correlation_id=placed.correlation_id)
    link = f"/orders/{placed.subject}"
    return json_response(202, {"orderId": placed.subject, "correlationId": placed.correlation_id,
                               "status": OrderStatus.PLACED.value, "links": {"status": link}},
                         headers={"Location": link})


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
        "order": read_as(parse_cloudevent(record["event"])).order})


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
