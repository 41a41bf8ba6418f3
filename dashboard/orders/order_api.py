"""The order HTTP API, as any client calls it (its URL comes from the stack outputs)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from dashboard.shared.problems import FieldError, Problem

TIMEOUT_SECONDS = 10


class OrderApiError(Exception):
    """The order API answered with a problem (4xx: the request is at fault) or not at all.
    `retry_after` is the wait, in seconds, that a 429 or 503 answer asked for, if any."""

    def __init__(self, problem: Problem, *, retry_after: float | None = None) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail}")
        self.problem = problem
        self.retry_after = retry_after


def retry_after_seconds(header: str | None, *, now: datetime | None = None) -> float | None:
    """A `Retry-After` header as seconds from now: either form HTTP allows (a number of
    seconds, or a date); None when absent or unreadable."""
    value = (header or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _problem(response: requests.Response) -> Problem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errors = tuple(FieldError(field=str(error.get("field", "")), message=str(error.get("message", "")))
                   for error in body.get("errors") or [] if isinstance(error, dict))
    return Problem(status=response.status_code,
                   title=str(body.get("title") or body.get("message") or response.reason or "Error"),
                   detail=str(body.get("detail") or ""), errors=errors)


class OrderApi:
    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, f"{self.base_url}{path}",
                                            timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as error:
            raise OrderApiError(Problem(status=503, title="Order API unreachable",
                                        detail=f"{self.base_url}: {error.__class__.__name__}")) from None
        if response.status_code >= 400:
            retry_after = retry_after_seconds(response.headers.get("Retry-After")) \
                if response.status_code in (429, 503) else None
            raise OrderApiError(_problem(response), retry_after=retry_after)
        try:
            return response.json()
        except ValueError:
            raise OrderApiError(Problem(status=502, title="Order API answered with non-JSON",
                                        detail=response.text[:200])) from None

    def products(self) -> list[dict[str, Any]]:
        body = self._call("GET", "/products")
        products = body.get("products") if isinstance(body, dict) else None
        return [product for product in products or [] if isinstance(product, dict)]

    def place_order(self, body: dict[str, Any], *,
                    idempotency_key: str | None = None) -> dict[str, Any]:
        """Place an order; with an `idempotency_key`, asking again with the same key and body
        answers the same order rather than placing another (the key is sent as a Structured
        Field string, as the Idempotency-Key draft has it)."""
        headers = {} if idempotency_key is None else {"Idempotency-Key": f'"{idempotency_key}"'}
        answer = self._call("POST", "/orders", json=body, headers=headers)
        if not isinstance(answer, dict) or not answer.get("orderId"):
            raise OrderApiError(Problem(status=502, title="Order API answered without an order id"))
        return answer

    def order(self, order_id: str) -> dict[str, Any]:
        answer = self._call("GET", f"/orders/{quote(order_id, safe='')}")
        return answer if isinstance(answer, dict) else {}

    def chaos(self) -> dict[str, Any]:
        """The local runtime's chaos knobs; a 404 where there are none (anywhere but local
        mode)."""
        answer = self._call("GET", "/_local/chaos")
        return answer if isinstance(answer, dict) else {}

    def chaos_set(self, knobs: dict[str, float]) -> dict[str, Any]:
        answer = self._call("PUT", "/_local/chaos", json=knobs)
        return answer if isinstance(answer, dict) else {}

    def runtime_stats(self) -> dict[str, Any]:
        """What the local runtime delivered and injected (local mode only)."""
        answer = self._call("GET", "/_local/stats")
        return answer if isinstance(answer, dict) else {}
