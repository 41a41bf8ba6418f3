"""The search page: events found by attribute or data field over history, as links to
their traces. The query lives in the URL, so a search can be shared."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard.insight import search
from workflow.model import CHOREOGRAPHY


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """A query as text (`?q=type=x customer=y`, the search box) is answered with its URL, so
    that what is shared is the query's parameters; a malformed one is a 400 naming each bad
    term, with the page around it."""
    terms = [(key, value) for key, values in request.GET.lists() for value in values]
    context = {"nav": "search", "aliases": search.DATA_ALIASES,
               "attributes": [*search.ATTRIBUTES, *search.TIME_RANGE],
               "event_types": [event.name for event in CHOREOGRAPHY.events],
               "text": request.GET.get(search.TEXT, ""), "errors": [], "warnings": []}
    try:
        if search.TEXT in request.GET:
            parsed = search.search_query_text_parse(request.GET[search.TEXT])
            query = search.search_query_parse(parsed)
            return HttpResponseRedirect(f"{reverse('search')}?{urlencode(query.terms)}")
        query = search.search_query_parse(terms)
        page_number = int(request.GET.get(search.PAGE) or 1)
    except search.SearchQueryError as error:
        context["errors"] = error.messages
        return render(request, "dashboard/search.html", context, status=400)
    except ValueError:
        context["errors"] = [f"page: {request.GET.get(search.PAGE)!r} is not a page number"]
        context["text"] = search.search_query_parse(
            [term for term in terms if term[0] != search.PAGE]).text()
        return render(request, "dashboard/search.html", context, status=400)
    context.update(text=query.text(), query=query,
                   warnings=search.search_query_warnings(query))
    if not query.empty:
        try:
            page = search.event_search(query=query, page=page_number, size=search.RESULTS_PER_PAGE)
        except search.SearchTimedOut as error:
            context["errors"] = [str(error)]
            return render(request, "dashboard/search.html", context, status=503)
        context.update(page=page,
                       newer=query.url_query(page=str(page.number - 1)),
                       older=query.url_query(page=str(page.number + 1)))
    return render(request, "dashboard/search.html", context)
