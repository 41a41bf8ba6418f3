"""The live page: the model's graph with events flying over it, the recent events and orders,
and the top bar's backlog. Views translate between HTTP and the selectors; nothing more."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard import aws
from dashboard.insight import routes as route_windows
from dashboard.insight.drift import drift_latest
from dashboard.insight.search import search_syntax
from dashboard.live.backlog import backlog_get
from dashboard.live.drift_overlay import drift_overlay_build
from dashboard.live.graph import Graph, graph_build
from dashboard.orders.forms import OrderForm
from dashboard.orders.selectors import product_list
from dashboard.readmodel import selectors
from dashboard.shared import placements
from dashboard.shared.access import may_act
from dashboard.shared.problems import Problem
from workflow.legacy import with_legacy_consumer
from workflow.model import CHOREOGRAPHY, Choreography

RECENT_EVENTS = 60
RECENT_ORDERS = 12


def deployed_model() -> Choreography:
    """The choreography the deployment runs: the model, and the legacy consumer beside it
    when the deployment carries one (`CHOREO_LEGACY_CONSUMER`, as it was deployed with)."""
    return with_legacy_consumer(CHOREOGRAPHY) if settings.DASHBOARD_LEGACY_CONSUMER else CHOREOGRAPHY


@lru_cache(maxsize=4)
def _graph(outputs: tuple[tuple[str, str], ...], placed: placements.Settings,
           model: Choreography) -> Graph:
    found = dict(outputs)
    return graph_build(model, outputs=found,
                       placements=placements.placements_of(placed, found, model))


def current_graph() -> Graph:
    """The graph of what the deployment runs, with deployed names once the stack can be
    read, and the accounts and regions it runs in as the settings place it."""
    outputs = aws.current().outputs_or_none()
    return _graph(tuple(sorted(outputs.values.items())) if outputs else (),
                  placements.current_settings(), deployed_model())



def live_context(request: HttpRequest, form: OrderForm | None = None,
                  placed: dict[str, Any] | None = None,
                  problem: Problem | None = None) -> dict[str, Any]:
    products, catalogue_problem = product_list()
    graph = current_graph()
    outputs = aws.current().outputs_or_none()
    events = selectors.event_recent_list(limit=RECENT_EVENTS)
    # The drift as last judged (the top bar's count judges it at most once a minute): a page
    # being rendered does not wait on AWS.
    drift = drift_latest()
    return {
        "nav": "live",
        "graph": graph,
        "drift_overlay": drift_overlay_build(graph, drift) if drift and drift.drawn else None,
        "graph_data": graph.to_dict(),
        "form": form or OrderForm(products=products),
        "catalogue_problem": catalogue_problem,
        "placed": placed,
        "problem": problem,
        "may_act": may_act(request),
        "events": events,
        # The feed's filter matches data fields of the rows it was rendered with too (of valid
        # events: an invalid one's data may be as large as a bus allows).
        "feed_data": {event.event_id: event.data for event in events if event.valid},
        "search_syntax": search_syntax(),
        "orders": list(selectors.order_list()[:RECENT_ORDERS]),
        "outputs": sorted(outputs.values.items()) if outputs else [],
        "taken": set(), "taken_edges": set(),
        "route_windows": list(route_windows.WINDOWS), "route_window": route_windows.DEFAULT_WINDOW,
    }


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/live.html", live_context(request))



@require_GET
def graph_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(current_graph().to_dict())


@require_GET
def backlog_json(request: HttpRequest) -> JsonResponse:
    """What the functions have still to do, per queue, and what the order API refused."""
    backlog = backlog_get()
    return JsonResponse({
        "total": None if backlog.problem else backlog.total,
        "queues": [{"queue": queue.queue_id, "consumer": queue.consumer, "waiting": queue.waiting,
                    "inFlight": queue.in_flight, "delayed": queue.delayed}
                   for queue in backlog.queues],
        "refused": backlog.refused,
        "problem": backlog.problem.to_dict() if backlog.problem else None,
    })
