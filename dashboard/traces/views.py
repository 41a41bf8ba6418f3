"""The orders list and each order's trace: its path over the graph, its events, as HTML, JSON
or OpenTelemetry; and two orders compared."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from dashboard.failures.refusals import refusal_list
from dashboard.insight import otlp
from dashboard.live.graph import flight_key
from dashboard.live.views import current_graph
from dashboard.models import OrderStatus
from dashboard.readmodel import selectors
from dashboard.traces import compare
from dashboard.traces.boundaries import trace_places
from dashboard.traces.conformance import deviating, deviating_count, trace_conformance
from dashboard.traces.notifications import notification_list

ORDERS_PER_PAGE = 50


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ""
    if status not in OrderStatus.values:
        status = ""
    only_deviating = request.GET.get("deviating") == "1"
    orders = selectors.order_list(status=status or None)
    if only_deviating:
        orders = deviating(orders)
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"nav": "orders", "page": page, "status": status,
               "counts": selectors.order_status_counts(), "statuses": OrderStatus.values,
               "deviating": only_deviating, "deviating_count": deviating_count()}
    if request.GET.get("partial"):
        return render(request, "dashboard/_order_table.html", context)
    return render(request, "dashboard/order_list.html", context)


def _trace_context(order_id: str) -> dict[str, Any]:
    trace = selectors.trace_get(order_id=order_id)
    graph = current_graph()
    taken: set[str] = set()
    taken_edges: set[str] = set()
    for event_type, bus in trace.sightings:
        for flight in graph.flights.get(flight_key(event_type, bus), []):
            taken.update(flight.connectors)
            taken_edges.update(flight.edges)
    conformance = trace_conformance(trace, graph)
    places = trace_places(trace)
    return {"nav": "orders", "trace": trace, "order": trace.order, "graph": graph,
            "places": places.hops, "places_shown": places.spans_boundaries,
            "conformance": conformance, "ghost_connectors": set(conformance.ghost_connectors),
            "ghost_edges": set(conformance.ghost_edges),
            "graph_data": graph.to_dict(), "taken": taken, "taken_edges": taken_edges,
            "notifications": notification_list(order_id=order_id),
            "sightings": [{"type": item.event.type, "bus": bus, "offsetMs": item.offset_ms}
                          for item in trace.events for bus in item.event.buses]}


@require_GET
def order_trace(request: HttpRequest, order_id: str) -> HttpResponse:
    context = _trace_context(order_id)
    if context["order"] is None and not context["trace"].events and not context["trace"].invalid:
        raise Http404("no events of this order have been observed")
    if request.GET.get("partial"):
        return render(request, "dashboard/_trace_body.html", context)
    order = context["order"]
    if order is not None and order.correlation_id:
        refusals = refusal_list(correlation_id=order.correlation_id)
        context["refusals"] = refusals if refusals is not None and refusals.latest else None
    return render(request, "dashboard/trace.html", context)



@require_GET
def order_json(request: HttpRequest, order_id: str) -> JsonResponse:
    """One order's trace as JSON: its read-model row and its events as published (at most
    DASHBOARD_TRACE_EVENTS: `truncated` says when there are more, `eventCount` how many)."""
    trace = selectors.trace_get(order_id=order_id)
    if trace.order is None and not trace.events and not trace.invalid:
        raise Http404("no events of this order have been observed")
    order = trace.order
    places = trace_places(trace).hops
    return JsonResponse({
        "orderId": order_id,
        "status": order.status if order else None,
        "correlationId": order.correlation_id if order else None,
        "placedAt": order.placed_at.isoformat() if order and order.placed_at else None,
        "concludedAt": order.concluded_at.isoformat() if order and order.concluded_at else None,
        "durationMs": order.duration_ms if order else None,
        "eventCount": trace.event_total,
        "truncated": trace.truncated,
        "earlierPruned": trace.earlier_pruned,
        "events": [{"offsetMs": item.offset_ms, "hopLatencyMs": item.hop_latency_ms,
                    "buses": item.event.buses, "observedAt": item.event.observed_at.isoformat(),
                    "event": item.event.cloudevent, **places[item.event.event_id].to_dict()}
                   for item in trace.events],
        "invalid": [{"eventId": row.event_id, "reason": row.invalid_reason, "buses": row.buses,
                     "event": row.cloudevent} for row in trace.invalid],
    })



@require_GET
def order_compare(request: HttpRequest) -> HttpResponse:
    """Two orders side by side (`?a=<id>&b=<id>`), step by step; without `b`, A against a
    typical order of its ending (dashboard/traces/compare.py says which)."""
    a, b = request.GET.get("a", ""), request.GET.get("b", "")
    context: dict[str, Any] = {"nav": "orders", "a": a, "b": b, "problem": ""}
    if a and not b:
        order = selectors.order_get(order_id=a)
        typical = compare.order_typical_get(order=order) if order else None
        if typical is None:
            context["problem"] = (f"no concluded order of {a}'s ending to compare it with"
                                  if order else f"no order {a} has been observed")
            return render(request, "dashboard/compare.html", context, status=404)
        pair = urlencode({"a": a, "b": typical.order_id})
        return HttpResponseRedirect(f"{reverse('order-compare')}?{pair}")
    if not a or not b:
        context["problem"] = "name two orders: ?a=<order id>&b=<order id>"
        return render(request, "dashboard/compare.html", context, status=400)
    comparison = compare.order_compare_get(a=a, b=b)
    missing = [side.order_id for side in (comparison.a, comparison.b) if not side.events]
    if missing:
        context["problem"] = f"no valid events of {' or '.join(missing)} have been observed"
        return render(request, "dashboard/compare.html", context, status=404)
    context["comparison"] = comparison
    return render(request, "dashboard/compare.html", context)


@require_GET
def order_otlp(request: HttpRequest, order_id: str) -> JsonResponse:
    """One order's trace as an OTLP/JSON ExportTraceServiceRequest, as a download."""
    trace = selectors.trace_get(order_id=order_id)
    if not trace.events:
        raise Http404("no valid events of this order have been observed")
    response = JsonResponse(otlp.trace_otlp(trace=trace))
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{order_id}.otlp.json")
    return response
