"""The Content-Security-Policy every answer carries: the browser runs only the dashboard's own
scripts and styles, from its own origin.

Everything user-supplied on these pages is escaped; the policy is the second wall, for the day
an escape is missed: an injected `<script>`, inline handler or `style` attribute does nothing,
and nothing is loaded from, or sent to, another origin. So the templates have no inline
script, no `style` attribute and no event-handler attribute (the timeline's bars are SVG,
placed by their attributes), and scripts set styles only through the CSSOM, which the policy
allows.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",  # the JSON APIs and the websocket, same origin
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
