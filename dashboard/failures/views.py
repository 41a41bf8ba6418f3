"""The failures page: dead-letter queues and their redrive, invalid events, the chaos knobs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard import aws
from dashboard.failures import chaos as runtime_chaos
from dashboard.failures import selectors, services
from dashboard.failures.dead_letter_queues import RedriveResult
from dashboard.failures.forms import ChaosForm
from dashboard.failures.refusals import refusal_list
from dashboard.orders.order_api import OrderApiError
from dashboard.readmodel import selectors as read_model
from dashboard.shared.access import may_act
from dashboard.shared.problems import Problem

INVALID_EVENTS = 25


def _invalid_context() -> dict[str, Any]:
    return {"invalid_events": read_model.event_invalid_list(limit=INVALID_EVENTS),
            "invalid_count": read_model.event_invalid_count()}


def _failures_context(request: HttpRequest, *, chaos_form: ChaosForm | None = None,
                      problem: Problem | None = None) -> dict[str, Any]:
    overview = selectors.dead_letter_queue_list()
    chaos = runtime_chaos.chaos_panel_get()
    if chaos_form is None and chaos is not None and chaos.problem is None:
        chaos_form = ChaosForm(initial=chaos.knobs)
    return {"nav": "failures", "overview": overview, "may_act": may_act(request),
            "look_seconds": settings.DASHBOARD_DEAD_LETTER_PEEK_SECONDS,
            "dead_letter_total": None if overview.problem else overview.total,
            "chaos": chaos, "chaos_form": chaos_form, "problem": problem,
            "redrive_jobs": selectors.redrive_job_latest(), "refusals": refusal_list(),
            **_invalid_context()}


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
    if not may_act(request):
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
    if not may_act(request):
        return _staff_only(request, "switching chaos knobs")
    form = ChaosForm(dict.fromkeys(ChaosForm.KNOBS, "0") if "off" in request.POST else request.POST)
    if form.is_valid():
        try:
            knobs = runtime_chaos.chaos_update(**form.cleaned_data)
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

