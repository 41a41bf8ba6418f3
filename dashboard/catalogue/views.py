"""The catalogue's pages and documents: every event type and function of the model, each
event type's page, and the machine-readable forms (JSON and AsyncAPI). Views translate between
HTTP and `pages` (the model) and `selectors` (the read model's traffic); nothing more."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.catalogue import pages, selectors
from workflow import catalogue as catalogue_schemas
from workflow.catalogue import COMPATIBILITY, SCHEMA_VERSIONS, JsonSchema, dataschema_of, version_of
from workflow.examples import example_event
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.versions import breaking_changes, schema_differences

MODEL: Choreography = CHOREOGRAPHY
"""The model the catalogue is generated from, and its schemas (a test points them at copies)."""
SCHEMAS: dict[str, JsonSchema] = catalogue_schemas.SCHEMAS
REFUSED_LATELY = 10

_built: tuple[Choreography, dict[str, JsonSchema], pages.Catalogue] | None = None


def current_catalogue() -> pages.Catalogue:
    """The catalogue of MODEL, built once (every page that links into it asks)."""
    global _built
    if _built is None or _built[0] is not MODEL or _built[1] is not SCHEMAS:
        _built = (MODEL, SCHEMAS, pages.catalogue_build(model=MODEL, schemas=SCHEMAS))
    return _built[2]


def _traffic_document(traffic: dict[str, selectors.Traffic]) -> dict[str, Any]:
    return {"now": timezone.now().isoformat(), "windowSeconds": int(selectors.RECENT.total_seconds()),
            "types": {name: {"recent": item.recent, "recentInvalid": item.recent_invalid,
                             "lastSeen": item.last_seen.isoformat() if item.last_seen else None}
                      for name, item in traffic.items()}}


@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    """Every event type with its schema, example, producer, routes, consumers and traffic;
    every function with what it consumes, publishes and keeps; and the event types seen that
    the model does not declare, marked as such."""
    entries = current_catalogue()
    traffic = selectors.event_type_traffic(types=[entry.name for entry in entries.events])
    return render(request, "dashboard/catalogue.html", {
        "nav": "catalogue", "catalogue": entries,
        "events": [(entry, traffic[entry.name]) for entry in entries.events],
        "route_count": sum(len(entry.routes) for entry in entries.events),
        "recent_total": sum(item.recent for item in traffic.values()),
        "undeclared": selectors.undeclared_event_types(model=MODEL),
})


def published_versions(event_type: str) -> list[dict[str, Any]]:
    """Every published version of a type's schema, oldest first, each with what it declares of
    its compatibility with the one before and what changed from it: empty when the type has
    only the one."""
    schemas = SCHEMA_VERSIONS.get(event_type, {})
    if len(schemas) < 2:
        return []
    found: list[dict[str, Any]] = []
    for version in sorted(schemas):
        previous = schemas.get(version - 1)
        found.append({
            "version": version, "dataschema": dataschema_of(event_type, version),
            "schema": schemas[version],
            "compatibility": COMPATIBILITY.get((event_type, version)),
            "breaking": breaking_changes(previous, schemas[version]) if previous else [],
            "differences": schema_differences(previous, schemas[version]) if previous else {},
            "example": example_event(event_type, version=version),
        })
    return found


@require_GET
def catalogue_event(request: HttpRequest, event_type: str) -> HttpResponse:
    """One event type: its schema read and raw, an example, its routes, its traffic, and the
    latest events of its type that failed their schema. `?dataschema=` says how the schema an
    event claimed compares with the catalogue's."""
    entries = current_catalogue()
    try:
        entry = entries.event(event_type)
    except KeyError:
        raise Http404("no such event type in the catalogue") from None
    claimed = request.GET.get("dataschema")
    refused = selectors.event_refused_list(event_type=event_type, limit=REFUSED_LATELY)
    return render(request, "dashboard/catalogue_event.html", {
        "nav": "catalogue", "entry": entry, "catalogue": entries,
        "versions": published_versions(entry.name),
        "claimed_version": version_of(claimed, entry.name) if claimed else None,
        "traffic": selectors.event_type_traffic(types=[entry.name])[entry.name],
        "claimed": claimed, "refused": refused,
        "functions": {function.id: function for function in entries.functions}})


@require_GET
def catalogue_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(pages.catalogue_document(current_catalogue()))


@require_GET
def catalogue_asyncapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(pages.asyncapi_document(current_catalogue(), model=MODEL))


@require_GET
def catalogue_traffic_json(request: HttpRequest) -> JsonResponse:
    """Each event type's traffic, for the catalogue's pages to follow live."""
    names = [entry.name for entry in current_catalogue().events]
    return JsonResponse(_traffic_document(selectors.event_type_traffic(types=names)))
