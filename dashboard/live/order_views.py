"""Placing an order from the live page, through the order API as any client would.

It lives with the live page because it answers with that page (the form and its problems);
the orders package keeps the order API's client, the form and the placing itself."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from dashboard.live.views import live_context
from dashboard.orders import selectors, services
from dashboard.orders.forms import OrderForm
from dashboard.orders.order_api import OrderApiError
from dashboard.shared import links
from dashboard.shared.access import may_act, wants_json
from dashboard.shared.problems import Problem


@require_POST
@sensitive_post_parameters("card_number")
def order_create(request: HttpRequest) -> HttpResponse:
    """Place an order through the order API; its problem details come back next to the fields."""
    if not may_act(request):
        problem = Problem(status=403, title="Staff only", detail="placing orders needs a staff account")
        if wants_json(request):
            return JsonResponse({"placed": False, "status": 403,
                                 "fieldErrors": {"__all__": [f"{problem.title}: {problem.detail}"]}},
                                status=403)
        return render(request, "dashboard/live.html", live_context(request, problem=problem),
                      status=403)
    products, _ = selectors.product_list()
    form = OrderForm(request.POST, products=products)
    status = 400
    placed: dict[str, Any] | None = None
    if form.is_valid():
        try:
            answer = services.order_place(customer_id=form.cleaned_data["customer_id"] or "",
                                          lines=form.lines(), card_number=form.card_value(),
                                          idempotency_key=form.cleaned_data["request_key"] or None)
        except OrderApiError as error:
            form.add_problem(error.problem)
            status = error.problem.status if 400 <= error.problem.status < 600 else 502
        else:
            placed = {"orderId": answer["orderId"], "correlationId": answer.get("correlationId"),
                      "status": answer.get("status"),
                      "traceUrl": links.order_url("order-trace", answer["orderId"])}
            status = 202
    if wants_json(request):
        # A refusal is an answer the page expects, not a failed request: it comes back as
        # 200 with `placed: false` (browsers log every 4xx fetch as a console error).
        if placed:  # the next order from this page is another order: a key of its own
            return JsonResponse({"placed": True, **placed, "nextRequestKey": str(uuid.uuid4())},
                                status=202)
        return JsonResponse({"placed": False, "status": status,
                             "fieldErrors": {name: [str(e) for e in errors]
                                             for name, errors in form.errors.items()}})
    if placed:
        form = OrderForm(products=products)
    return render(request, "dashboard/live.html", live_context(request, form=form, placed=placed),
                  status=200 if placed else status)

