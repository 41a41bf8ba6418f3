"""Drift over HTTP: the page listing every difference between the running system and the
model, its JSON, and the top bar's count. Views translate between HTTP and `drift`; nothing
more."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.insight.drift import DEPLOYED_SECONDS, DriftView, drift_get, drift_latest, drift_report


@require_GET
def drift_page(request: HttpRequest) -> HttpResponse:
    """Every difference with its evidence: rules nobody declared, declared routes missing or
    changed, event types and sources seen that the model does not declare. An AWS that cannot
    be asked is a 503 page saying so."""
    try:
        view: DriftView | None = drift_get()
        problem = None
    except Exception as error:
        view, problem = None, f"the deployment could not be read: {error}"
    return render(request, "dashboard/drift.html", {
        "nav": "drift", "drift": view, "problem": problem, "drift_count": view.count if view else None,
        "deployed_seconds": DEPLOYED_SECONDS}, status=503 if problem else 200)


@require_GET
def drift_json(request: HttpRequest) -> JsonResponse:
    """Where the deployed rules and the observed traffic differ from the model. AWS that
    cannot be asked is a 503 saying so, as the other AWS-backed answers are."""
    try:
        return JsonResponse(drift_report())
    except Exception as error:
        return JsonResponse({"problem": f"the deployment could not be read: {error}"}, status=503)


def _counts(view: DriftView) -> dict[str, Any]:
    return {"total": view.count, "clean": view.clean,
            "undeclaredRules": len(view.found.undeclared_rules), "routes": len(view.found.routes),
            "undeclaredEventTypes": len(view.event_types),
            "undeclaredSources": len(view.sources), "unroutedEvents": len(view.unrouted),
            "undeclaredLinks": len(view.links), "eventSourceMappings": len(view.mappings),
            "checkedAt": view.checked_at.isoformat()}


@require_GET
def drift_count_json(request: HttpRequest) -> JsonResponse:
    """How many differences, for the top bar: the latest judgement while it is fresh, else one
    made now (the deployed rules are read at most once a minute whoever asks). An AWS that
    cannot be asked makes the count unknown (`total` null, and the problem), not an error of
    every page the badge sits on: `/api/drift` and the Drift page answer 503 for it."""
    try:
        view = drift_latest(read=True)
    except Exception as error:
        return JsonResponse({"total": None, "problem": f"the deployment could not be read: {error}"})
    assert view is not None  # read=True judges when there is nothing to reuse
    return JsonResponse(_counts(view))


def drift_count_context(request: HttpRequest) -> dict[str, Any]:
    """The top bar's count as last judged, if it still is fresh: never a call to AWS (the
    badge's script asks `drift_count_json` when there is none)."""
    view = drift_latest(read=False)
    return {"drift_count": view.count if view else None}
