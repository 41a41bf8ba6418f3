"""A query string holding a NUL character is a bad request, on every page: PostgreSQL refuses
a NUL in any text, a query's parameters included, and no value a page takes holds one. Told
once here rather than by each view that reads a parameter."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

REFUSAL = "A query string parameter holds a NUL character, which no page takes."


class NulInQueryStringMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in key or any("\x00" in value for value in values)
               for key, values in request.GET.lists()):
            return HttpResponseBadRequest(REFUSAL, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
