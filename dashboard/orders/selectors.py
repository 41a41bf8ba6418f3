"""Reads the order pages need from the order API: its catalogue of products."""

from __future__ import annotations

from typing import Any

from dashboard import aws
from dashboard.orders.order_api import OrderApi, OrderApiError
from dashboard.shared.problems import Problem
from workflow.outputs import ORDER_API_URL


def order_api_or_none() -> OrderApi | None:
    """The order API as the stack outputs name it; None where they cannot be read or name none."""
    outputs = aws.current().outputs_or_none()
    if outputs is None or ORDER_API_URL not in outputs.values:
        return None
    return OrderApi(outputs.order_api_url)


def product_list() -> tuple[list[dict[str, Any]], Problem | None]:
    """The catalogue from the order API, or why it could not be read."""
    api = order_api_or_none()
    if api is None:
        return [], Problem(status=503, title="Order API unknown",
                           detail=f"the stack outputs name no {ORDER_API_URL} (is the stack up?)")
    try:
        return api.products(), None
    except OrderApiError as error:
        return [], error.problem
