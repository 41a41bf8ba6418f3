"""Sign-in, with failed attempts limited: without a limit, anyone who can reach the login page
may try passwords as fast as the server answers.

Failures are counted twice, in Django's cache (Redis in the production profile, so every
dashboard process counts the same failures):

- per client address, up to `MAX_FAILURES`. The address is the client's
  (dashboard/shared/client_address.py): behind a proxy named in `DJANGO_TRUSTED_PROXIES`, the one
  its `X-Forwarded-For` names, so that one client's failures do not lock out every other
  behind the same proxy. An IPv6 client is counted by its /64, which one subscriber holds
  whole: otherwise each of its addresses would be a fresh count.
- per account, up to `MAX_ACCOUNT_FAILURES`: otherwise guesses spread over many addresses are
  never slowed. The limit is higher, so that a single guessing address is stopped first. The
  username is counted as submitted, normalised (NFKC, stripped, case-folded) so that its
  spellings share one count, and hashed into the key so that no input shapes a key. Names of
  no account are counted alike: the throttle does not tell which exist.

Each count expires `WINDOW_SECONDS` after its last failure. An attempt is counted before its
password is checked, so that attempts made at once cannot slip past a limit together. Past
either limit the page answers 429 with `Retry-After` and checks no password, the right one
included: a throttle that still let the right password in would tell a guesser which guess
was right. A refused attempt is not counted, and a successful sign-in clears both counts.

Whoever knows a username can thereby keep its account from signing in, by failing with it
from a few addresses: the price of slowing a guesser who has many.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import unicodedata
from typing import Any

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from dashboard.shared.client_address import parse_address, request_client_address

MAX_FAILURES = 10
MAX_ACCOUNT_FAILURES = 20
WINDOW_SECONDS = 15 * 60


def _address_key(request: HttpRequest) -> str:
    address = request_client_address(request)
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        address = str(ipaddress.IPv6Network((int(parsed), 64), strict=False))
    return f"login-failures:address:{address}"


def normalised_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().casefold()


def _account_key(username: str) -> str | None:
    """None for no username: such a form fails without looking for an account."""
    name = normalised_username(username)
    if not name:
        return None
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return f"login-failures:account:{digest}"


def _count(key: str) -> int:
    """One more attempt under `key`; how many there are now."""
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between the two calls
        cache.set(key, 1, WINDOW_SECONDS)
        return 1


def _uncount(key: str) -> None:
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing left to take back
        cache.decr(key)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ThrottledLoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    counted: list[str]
    """The keys this attempt was counted under."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limits = [(_address_key(request), MAX_FAILURES)]
        account = _account_key(str(request.POST.get("username", "")))
        if account is not None:
            limits.append((account, MAX_ACCOUNT_FAILURES))
        self.counted = []
        for key, limit in limits:
            self.counted.append(key)
            if _count(key) > limit:
                for counted in self.counted:
                    _uncount(counted)
                return self.throttled()
        return super().post(request, *args, **kwargs)

    def throttled(self) -> HttpResponse:
        response = render(self.request, self.template_name, {
            "form": self.get_form_class()(self.request), "throttled": True}, status=429)
        response["Retry-After"] = str(WINDOW_SECONDS)
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        for key in self.counted:
            cache.touch(key, WINDOW_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        cache.delete_many(self.counted)
        return super().form_valid(form)
