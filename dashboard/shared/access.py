"""What every page needs to know of the request: who may act, what it asks for back, and
what every template shows (the stack's name, whether one signs in)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from dashboard import aws


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    return {"stack_name": aws.current().stack_name,
            "require_login": settings.DASHBOARD_REQUIRE_LOGIN}


def may_act(request: HttpRequest) -> bool:
    """Whether the request may change anything (place orders, redrive, switch chaos)."""
    return not settings.DASHBOARD_REQUIRE_LOGIN or request.user.is_staff


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")
