"""Links into the catalogue from the other pages: an event type's entry, the schema an event
claimed (its `dataschema`), a function's anchor, the event a line of the graph carries."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from dashboard.catalogue import views

register = template.Library()


def _known(event_type: Any) -> bool:
    return isinstance(event_type, str) and any(
        entry.name == event_type for entry in views.current_catalogue().events)


@register.filter
def catalogue_url(event_type: Any) -> str:
    """The URL of an event type's entry, or "" for a type the catalogue does not have."""
    return reverse("catalogue-event", args=[event_type]) if _known(event_type) else ""


@register.filter
def claimed_schema(event: Any) -> str:
    """The `dataschema` an observed event claimed, if it named one."""
    envelope = getattr(event, "envelope", None)
    claimed = envelope.get("dataschema") if isinstance(envelope, dict) else None
    return claimed if isinstance(claimed, str) else ""


@register.filter
def claimed_schema_url(event: Any) -> str:
    """Its type's entry, saying how the schema it claimed compares with the catalogue's."""
    url = catalogue_url(getattr(event, "type", None))
    claimed = claimed_schema(event)
    if not url or not claimed:
        return url
    return f"{url}?{urlencode({'dataschema': claimed})}"


@register.filter
def function_url(node_id: str) -> str:
    """A graph node's function entry (`function:<id>` nodes), or ""."""
    kind, _, name = str(node_id).partition(":")
    if kind != "function" or not any(entry.id == name for entry in views.current_catalogue().functions):
        return ""
    return f"{reverse('catalogue')}#function-{name}"


@register.filter
def edge_event(graph: Any, edge_id: str) -> str:
    """The event type a graph edge carries, or ""."""
    for edge in graph.edges:
        if edge.id == edge_id:
            return str(edge.event)
    return ""
