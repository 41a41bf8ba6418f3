"""Views translate between HTTP and the services and selectors; nothing more."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from dashboard import aws, links, selectors, services
from dashboard.dead_letter_queues import RedriveResult
from dashboard.forms import ChaosForm, OrderForm
from dashboard.graph import Graph, flight_key, graph_build
from dashboard.models import OrderStatus
from dashboard.order_api import OrderApiError, Problem

RECENT_EVENTS = 60
RECENT_ORDERS = 12
ORDERS_PER_PAGE = 50
INVALID_EVENTS = 25


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    return {"stack_name": aws.current().stack_name,
            "require_login": settings.DASHBOARD_REQUIRE_LOGIN}


@lru_cache(maxsize=4)
def _graph(outputs: tuple[tuple[str, str], ...]) -> Graph:
    return graph_build(outputs=dict(outputs))


def current_graph() -> Graph:
    """The model's graph, with deployed names once the stack can be read."""
    outputs = aws.current().outputs_or_none()
    return _graph(tuple(sorted(outputs.values.items())) if outputs else ())


def _may_act(request: HttpRequest) -> bool:
    return not settings.DASHBOARD_REQUIRE_LOGIN or request.user.is_staff


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _live_context(request: HttpRequest, form: OrderForm | None = None,
                  placed: dict[str, Any] | None = None,
                  problem: Problem | None = None) -> dict[str, Any]:
    products, catalogue_problem = selectors.product_list()
    graph = current_graph()
    outputs = aws.current().outputs_or_none()
    return {
        "nav": "live",
        "graph": graph,
        "graph_data": graph.to_dict(),
        "form": form or OrderForm(products=products),
        "catalogue_problem": catalogue_problem,
        "placed": placed,
        "problem": problem,
        "may_act": _may_act(request),
        "events": selectors.event_recent_list(limit=RECENT_EVENTS),
        "orders": list(selectors.order_list()[:RECENT_ORDERS]),
        "outputs": sorted(outputs.values.items()) if outputs else [],
        "taken": set(), "taken_edges": set(),
    }


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/live.html", _live_context(request))


@require_POST
@sensitive_post_parameters("card_number")
def order_create(request: HttpRequest) -> HttpResponse:
    """Place an order through the order API; its problem details come back next to the fields."""
    if not _may_act(request):
        problem = Problem(status=403, title="Staff only", detail="placing orders needs a staff account")
        if _wants_json(request):
            return JsonResponse({"placed": False, "status": 403,
                                 "fieldErrors": {"__all__": [f"{problem.title}: {problem.detail}"]}},
                                status=403)
        return render(request, "dashboard/live.html", _live_context(request, problem=problem),
                      status=403)
    products, _ = selectors.product_list()
    form = OrderForm(request.POST, products=products)
    status = 400
    placed: dict[str, Any] | None = None
    if form.is_valid():
        try:
            answer = services.order_place(customer_id=form.cleaned_data["customer_id"] or "",
                                          lines=form.lines(), card_number=form.card_value())
        except OrderApiError as error:
            form.add_problem(error.problem)
            status = error.problem.status if 400 <= error.problem.status < 600 else 502
        else:
            placed = {"orderId": answer["orderId"], "correlationId": answer.get("correlationId"),
                      "status": answer.get("status"),
                      "traceUrl": links.order_url("order-trace", answer["orderId"])}
            status = 202
    if _wants_json(request):
        # A refusal is an answer the page expects, not a failed request: it comes back as
        # 200 with `placed: false` (browsers log every 4xx fetch as a console error).
        if placed:
            return JsonResponse({"placed": True, **placed}, status=202)
        return JsonResponse({"placed": False, "status": status,
                             "fieldErrors": {name: [str(e) for e in errors]
                                             for name, errors in form.errors.items()}})
    if placed:
        form = OrderForm(products=products)
    return render(request, "dashboard/live.html", _live_context(request, form=form, placed=placed),
                  status=200 if placed else status)


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ""
    if status not in OrderStatus.values:
        status = ""
    page = Paginator(selectors.order_list(status=status or None), ORDERS_PER_PAGE) \
        .get_page(request.GET.get("page"))
    context = {"nav": "orders", "page": page, "status": status,
               "counts": selectors.order_status_counts(), "statuses": OrderStatus.values}
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
    return {"nav": "orders", "trace": trace, "order": trace.order, "graph": graph,
            "graph_data": graph.to_dict(), "taken": taken, "taken_edges": taken_edges,
            "notifications": selectors.notification_list(order_id=order_id),
            "sightings": [{"type": item.event.type, "bus": bus, "offsetMs": item.offset_ms}
                          for item in trace.events for bus in item.event.buses]}


@require_GET
def order_trace(request: HttpRequest, order_id: str) -> HttpResponse:
    context = _trace_context(order_id)
    if context["order"] is None and not context["trace"].events and not context["trace"].invalid:
        raise Http404("no events of this order have been observed")
    if request.GET.get("partial"):
        return render(request, "dashboard/_trace_body.html", context)
    return render(request, "dashboard/trace.html", context)


@require_GET
def graph_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(current_graph().to_dict())


@require_GET
def order_json(request: HttpRequest, order_id: str) -> JsonResponse:
    """One order's trace as JSON: its read-model row and its events as published (at most
    DASHBOARD_TRACE_EVENTS: `truncated` says when there are more, `eventCount` how many)."""
    trace = selectors.trace_get(order_id=order_id)
    if trace.order is None and not trace.events and not trace.invalid:
        raise Http404("no events of this order have been observed")
    order = trace.order
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
                    "event": item.event.cloudevent} for item in trace.events],
        "invalid": [{"eventId": row.event_id, "reason": row.invalid_reason, "buses": row.buses,
                     "event": row.cloudevent} for row in trace.invalid],
    })


def _invalid_context() -> dict[str, Any]:
    return {"invalid_events": selectors.event_invalid_list(limit=INVALID_EVENTS),
            "invalid_count": selectors.event_invalid_count()}


def _failures_context(request: HttpRequest, *, chaos_form: ChaosForm | None = None,
                      problem: Problem | None = None) -> dict[str, Any]:
    overview = selectors.dead_letter_queue_list()
    chaos = selectors.chaos_panel_get()
    if chaos_form is None and chaos is not None and chaos.problem is None:
        chaos_form = ChaosForm(initial=chaos.knobs)
    return {"nav": "failures", "overview": overview, "may_act": _may_act(request),
            "look_seconds": settings.DASHBOARD_DEAD_LETTER_PEEK_SECONDS,
            "dead_letter_total": None if overview.problem else overview.total,
            "chaos": chaos, "chaos_form": chaos_form, "problem": problem,
            "redrive_jobs": selectors.redrive_job_latest(), **_invalid_context()}


@require_GET
def failures(request: HttpRequest) -> HttpResponse:
    """Every dead-letter queue with its dead letters, the invalid events seen on the buses,
    and (in local mode) the chaos knobs that put them there."""
    if request.GET.get("partial") == "invalid":
        return render(request, "dashboard/_invalid_events.html", _invalid_context())
    return render(request, "dashboard/failures.html", _failures_context(request))


def _staff_only(request: HttpRequest, action: str) -> HttpResponse:
    problem = Problem(status=403, title="Staff only", detail=f"{action} needs a staff account")
    return render(request, "dashboard/failures.html", _failures_context(request, problem=problem),
                  status=403)


def _redriven(result: RedriveResult, message_id: str) -> str:
    if result.redriven:
        return f"{result.queue}: redrove message {message_id}."
    if result.failed:
        return f"{result.queue}: message {message_id} was refused where it goes back; it stays."
    if result.kept:
        return f"{result.queue}: kept message {message_id}; it holds no event to hand back."
    return f"{result.queue}: message {message_id} is no longer there (redriven already?)."


def _redrive_started(request: HttpRequest, queue_name: str) -> None:
    try:
        services.redrive_job_start(queue_name=queue_name)
    except services.RedriveRunning as running:
        so_far = f" ({running.job.moved} moved so far)" if running.job else ""
        messages.warning(request, f"{queue_name}: a redrive is running already{so_far}; "
                                  "it goes on, and its progress shows below.")
    else:
        messages.success(request, f"{queue_name}: redrive started; its progress shows below.")


@require_POST
def dead_letters_redrive(request: HttpRequest, queue_name: str) -> HttpResponse:
    """Redrive the dead letter named by `message_id` at once, or start a redrive job for the
    whole queue (thousands of messages take longer than a request should); the outcome comes
    back as a message on the failures page, a job's progress as it goes."""
    if not _may_act(request):
        return _staff_only(request, "redriving dead letters")
    message_id = request.POST.get("message_id") or None
    try:
        if message_id is None:
            _redrive_started(request, queue_name)
        else:
            result = services.dead_letter_redrive(queue_name=queue_name, message_id=message_id)
            messages.success(request, _redriven(result, message_id))
    except services.DeadLetterQueueUnknown:
        raise Http404(f"the stack names no dead-letter queue {queue_name}") from None
    except (BotoCoreError, ClientError, aws.OutputMissing, RuntimeError) as error:
        messages.error(request, f"{queue_name}: could not redrive: {error}")
    return redirect("failures")


@require_GET
def redrive_jobs_json(request: HttpRequest) -> JsonResponse:
    """Each queue's latest redrive job and how far it got, for the failures page to follow."""
    return JsonResponse({"jobs": [job.to_dict() for job in selectors.redrive_job_latest().values()]})


@require_POST
def chaos_update(request: HttpRequest) -> HttpResponse:
    """Switch the local runtime's chaos knobs; its refusals are shown next to the knob."""
    if settings.PRODUCTION:
        raise Http404("chaos knobs exist in local mode only")
    if not _may_act(request):
        return _staff_only(request, "switching chaos knobs")
    form = ChaosForm(dict.fromkeys(ChaosForm.KNOBS, "0") if "off" in request.POST else request.POST)
    if form.is_valid():
        try:
            knobs = services.chaos_update(**form.cleaned_data)
        except OrderApiError as error:
            if error.problem.status == 404:
                raise Http404("this order API has no chaos knobs") from None
            form.add_problem(error.problem)
        else:
            in_force = ", ".join(f"{name} {value:g}" for name, value in knobs.items())
            messages.success(request, f"Chaos knobs set: {in_force}.")
            return redirect("failures")
    # A refusal shown next to its knob is an answer the page expects, not a failed request
    # (browsers log every 4xx page as a console error), as with the place-order form.
    return render(request, "dashboard/failures.html", _failures_context(request, chaos_form=form))


@require_GET
def dead_letters_json(request: HttpRequest) -> JsonResponse:
    """How many dead letters each queue holds (counting only: looking at them is a receive)."""
    overview = selectors.dead_letter_queue_list(peek=False)
    return JsonResponse({
        "total": None if overview.problem else overview.total,
        "queues": [{"name": state.name, "count": state.count} for state in overview.queues],
        "problem": overview.problem.to_dict() if overview.problem else None,
    })


@require_GET
def backlog_json(request: HttpRequest) -> JsonResponse:
    """What the functions have still to do, per queue, and what the order API refused."""
    backlog = selectors.backlog_get()
    return JsonResponse({
        "total": None if backlog.problem else backlog.total,
        "queues": [{"queue": queue.queue_id, "consumer": queue.consumer, "waiting": queue.waiting,
                    "inFlight": queue.in_flight, "delayed": queue.delayed}
                   for queue in backlog.queues],
        "refused": backlog.refused,
        "problem": backlog.problem.to_dict() if backlog.problem else None,
    })
