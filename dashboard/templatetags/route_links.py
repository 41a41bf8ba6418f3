"""Links to a route's page from the graph: each line's label opens the route it draws."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from workflow.model import CHOREOGRAPHY

register = template.Library()


@register.filter
def route_url(edge_id: Any) -> str:
    """The page of the route a graph edge draws (edges are named by rule id), or "" for a line
    that is no route (an HTTP call, the observability's catch-all)."""
    if not any(route.rule_id == edge_id for route in CHOREOGRAPHY.routes):
        return ""
    return reverse("route", args=[edge_id])
