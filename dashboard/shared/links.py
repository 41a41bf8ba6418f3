"""Links to an order's pages and stream.

An order id is its events' CloudEvent `subject`, which whoever publishes on a bus chooses: it
may hold `/`, `?`, `#`, `..`, spaces or markup. A link carries it as one percent-encoded path
segment, as `orderUrl` in static/dashboard/js/util.js does, and the routes take any text back:
ASGI servers decode `%2F` before routing, so a route that refused `/` would refuse the id.
"""

from __future__ import annotations

from urllib.parse import quote

from django.urls import reverse

_STAND_IN = "-"


class OrderIdConverter:
    """The `order` path converter (the app registers it): any text but a NUL, which is never an
    order id (the read model cannot keep one, see `observations`) and which PostgreSQL refuses
    even in a query."""

    regex = r"[^\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value



def order_url(view: str, order_id: str) -> str:
    """The URL of an order's page (`view` names its route). `reverse` would leave a `/` as it is:
    a second path segment, and `..` one that a browser resolves away to another page."""
    stem = reverse(view, kwargs={"order_id": _STAND_IN}).removesuffix(_STAND_IN)
    return stem + quote(order_id, safe="")
