"""Insight pages: the stuck orders, and the top bar's count of them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.failures.selectors import dead_letter_queue_list
from dashboard.insight.stuck import configured_deadlines, stuck_counts, stuck_list

STUCK_REFRESH_SECONDS = 15


@require_GET
def stuck(request: HttpRequest) -> HttpResponse:
    """The orders not ended whose next step is overdue: where each stopped, for how long, who
    should act next, and why it may not have."""
    now = timezone.now()
    counts = stuck_counts(now=now)
    # Looking at dead letters is a receive: only when there is a stuck order to explain.
    overview = dead_letter_queue_list(peek=bool(counts))
    orders = stuck_list(now=now, dead_letters=overview) if counts else []
    context = {"nav": "stuck", "stuck": orders, "counts": counts, "total": sum(counts.values()),
               "deadlines": configured_deadlines().values(), "now": now,
               "refresh_seconds": STUCK_REFRESH_SECONDS,
               "dead_letter_total": None if overview.problem else overview.total}
    if request.GET.get("partial"):
        return render(request, "dashboard/_stuck_body.html", context)
    return render(request, "dashboard/stuck.html", context)


@require_GET
def stuck_json(request: HttpRequest) -> JsonResponse:
    """How many orders are stuck, by the event they stopped at (the read model only)."""
    counts = stuck_counts()
    return JsonResponse({"total": sum(counts.values()), "byEvent": counts})
