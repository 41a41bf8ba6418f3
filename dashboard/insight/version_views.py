"""Event versions over HTTP: the share of each version per route over the last hour, as a page
(kept current as events arrive over the websocket) and as JSON."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.insight import versions
from workflow.model import CHOREOGRAPHY, Choreography

CHART_W, CHART_H = 480, 36
COLUMN_GAP = 1


def chart_svg(route: versions.RouteVersions) -> dict[str, Any]:
    """Each minute of the window as a column, split by version (each a share of that
    minute's events), in SVG coordinates."""
    step = CHART_W / max(len(route.minutes), 1)
    columns = []
    for index, minute, stack in route.bars():
        for version, count, start, height in stack:
            columns.append({"x": round(index * step, 1), "w": round(step - COLUMN_GAP, 1),
                            "y": round(CHART_H * (1 - start - height), 1),
                            "h": round(CHART_H * height, 1), "version": version,
                            "count": count, "minute": minute})
    return {"w": CHART_W, "h": CHART_H, "columns": columns}


def _percent(share: float | None) -> str | None:
    return None if share is None else f"{share * 100:.1f}%"


def versions_context(model: Choreography = CHOREOGRAPHY) -> dict[str, Any]:
    shares = versions.version_shares(model=model)
    rows: list[dict[str, Any]] = []
    for route in shares.routes:
        rows.append({"route": route, "chart": chart_svg(route),
                     "shares": [(version, route.totals[version], _percent(route.share(version)),
                                 route.last_seen.get(version)) for version in route.versions]})
    # the routes whose type has more than one version first: they are the ones moving
    rows.sort(key=lambda row: len(row["route"].versions) < 2)  # stable: model order kept
    return {"nav": "versions", "shares": shares, "rows": rows,
            "minutes": versions.WINDOW_MINUTES}


@require_GET
def versions_page(request: HttpRequest) -> HttpResponse:
    """Every route's events by version; with `?partial=1`, only the table, which the page
    fetches again when events arrive."""
    context = versions_context()
    if request.GET.get("partial"):
        return render(request, "dashboard/_versions_body.html", context)
    return render(request, "dashboard/versions.html", context)


@require_GET
def versions_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(versions.version_shares().to_dict())
