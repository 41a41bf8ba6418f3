"""Sign-in, with failed attempts limited: without a limit, anyone who can reach the login page
may try passwords as fast as the server answers.

Failures are counted per client address in Django's cache (Redis in the production profile,
so every dashboard process counts the same failures), over a sliding-enough window: the
count expires `WINDOW_SECONDS` after the last failure. Past `MAX_FAILURES`, the page answers
429 with `Retry-After` until the window has passed; a successful sign-in clears the count.

The address is the client's (dashboard/web/client_address.py): behind a proxy named in
`DJANGO_TRUSTED_PROXIES`, the one its `X-Forwarded-For` names, so that one client's failures
do not lock out every other behind the same proxy. An IPv6 client is counted by its /64,
which one subscriber holds whole: otherwise each of its addresses would be a fresh count.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from dashboard.web.client_address import parse_address, request_client_address

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60


def _key(request: HttpRequest) -> str:
    address = request_client_address(request)
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        address = str(ipaddress.IPv6Network((int(parsed), 64), strict=False))
    return f"login-failures:address:{address}"


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ThrottledLoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if cache.get(_key(request), 0) >= MAX_FAILURES:
            response = render(request, self.template_name, {
                "form": self.get_form_class()(request), "throttled": True}, status=429)
            response["Retry-After"] = str(WINDOW_SECONDS)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        key = _key(self.request)
        cache.add(key, 0, WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.set(key, 1, WINDOW_SECONDS)
        cache.touch(key, WINDOW_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        cache.delete(_key(self.request))
        return super().form_valid(form)
