"""Route health over HTTP: every route's figures as JSON (the live graph polls it), and one
route's page: its rule, its target, its figures, its latency histogram, its recent events."""

from __future__ import annotations

import json
from typing import Any

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.failures.selectors import dead_letter_queue_list
from dashboard.insight import routes
from dashboard.readmodel import route_minutes
from workflow.model import CHOREOGRAPHY, Choreography, Route
from workflow.route_keys import route_keys

DEAD_LETTERS_SECONDS = 10
"""How long a count of the dead-letter queues serves every poll of every viewer."""
HISTOGRAM_W, HISTOGRAM_H = 960, 190
HISTOGRAM_PAD = 28


def window_of(request: HttpRequest) -> str:
    window = request.GET.get("window", routes.DEFAULT_WINDOW)
    return window if window in routes.WINDOWS else routes.DEFAULT_WINDOW


def dead_letter_counts() -> dict[str, int] | None:
    """What waits in each dead-letter queue, by name (None if SQS could not be asked): counted,
    never received, and shared for a few seconds by everyone polling."""
    counts: dict[str, int] | None = cache.get("route-health:dead-letters")
    if counts is None:
        overview = dead_letter_queue_list(peek=False)
        if overview.problem is not None:
            return None
        counts = {state.name: state.count for state in overview.queues}
        cache.set("route-health:dead-letters", counts, DEAD_LETTERS_SECONDS)
    return counts


@require_GET
def routes_json(request: HttpRequest) -> JsonResponse:
    """Every route's figures over `?window=` (1m, 15m or 1h; 15m by default)."""
    health = routes.route_health(window=window_of(request), dead_letters=dead_letter_counts())
    return JsonResponse(health.to_dict())


def event_pattern(route: Route, model: Choreography) -> str:
    """The rule's event pattern, as the stack declares it (cdk/constructs/routes.py)."""
    producer = model.event(route.event).producer.value
    return json.dumps({"source": [producer], "detail-type": [route.event]}, indent=2)


def histogram_svg(figures: routes.RouteFigures) -> dict[str, Any]:
    """The bars of the latency histogram, in SVG coordinates."""
    bars = figures.histogram_bars()
    if not bars:
        return {"bars": [], "w": HISTOGRAM_W, "h": HISTOGRAM_H}
    tallest = max(count for *_, count in bars)
    inner_w, inner_h = HISTOGRAM_W - 2 * HISTOGRAM_PAD, HISTOGRAM_H - 2 * HISTOGRAM_PAD
    step = inner_w / len(bars)
    drawn = []
    for position, (index, low, high, count) in enumerate(bars):
        height = inner_h * count / tallest
        drawn.append({"x": round(HISTOGRAM_PAD + position * step + 1, 1),
                      "y": round(HISTOGRAM_PAD + inner_h - height, 1),
                      "w": round(max(step - 2, 1), 1), "h": round(height, 1),
                      "count": count, "low": low, "high": high, "bin": index})
    at_bin = {bar["bin"]: bar for bar in drawn}
    markers: list[dict[str, Any]] = []
    for name, value in (("p50", figures.p50), ("p95", figures.p95), ("p99", figures.p99)):
        bar = at_bin.get(route_minutes.latency_bin(value)) if value is not None else None
        if bar is not None:
            markers.append({"name": name, "x": round(bar["x"] + bar["w"] / 2, 1), "ms": value,
                            "y": HISTOGRAM_PAD + 6 + 13 * len(markers)})
    labelled = {0, len(drawn) - 1, len(drawn) // 2}
    ticks = [{"x": round(bar["x"] + bar["w"] / 2, 1), "ms": bar["low"]}
             for position, bar in enumerate(drawn) if position in labelled]
    return {"bars": drawn, "ticks": ticks, "markers": markers, "top": HISTOGRAM_PAD - 6,
            "w": HISTOGRAM_W, "h": HISTOGRAM_H,
            "base": HISTOGRAM_PAD + inner_h, "left": HISTOGRAM_PAD,
            "right": HISTOGRAM_W - HISTOGRAM_PAD, "tallest": tallest}


def route_context(rule: str, window: str, model: Choreography = CHOREOGRAPHY) -> dict[str, Any]:
    keys = route_keys(model)
    route = keys.route(rule)
    if route is None:
        raise Http404("the model has no route of that name")
    health = routes.route_health(window=window, model=model, only=rule,
                                 dead_letters=dead_letter_counts())
    figures = health.routes[0]
    consumer = route.target.consumer(model)
    return {
        "nav": "live", "route": route, "rule": rule, "figures": figures, "health": health,
        "window": window, "windows": list(routes.WINDOWS), "pattern": event_pattern(route, model),
        "consumer": consumer, "rules": model.rules_of(route),
        "hop_pairs": keys.hop_pairs(rule), "histogram": histogram_svg(figures),
        "precision": round(route_minutes.PRECISION * 100, 1),
        "events": routes.route_events_recent(route=route),
        "hops": routes.route_hops_recent(route=route, model=model),
    }


@require_GET
def route_page(request: HttpRequest, rule: str) -> HttpResponse:
    """A route's page; with `?partial=1`, only what changes as events arrive (its figures,
    histogram and recent events), which the page fetches again when one of its events does."""
    context = route_context(rule, window_of(request))
    if request.GET.get("partial"):
        return render(request, "dashboard/_route_body.html", context)
    return render(request, "dashboard/route.html", context)
