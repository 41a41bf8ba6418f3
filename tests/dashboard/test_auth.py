"""Sign-in is throttled, and what must stay secret is not echoed or reported."""

from __future__ import annotations

import contextlib

import pytest
from django.core.cache import cache
from django.views.debug import SafeExceptionReporterFilter

from dashboard.web.auth import MAX_FAILURES, WINDOW_SECONDS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_repeated_failed_sign_ins_are_refused_for_a_while(client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    for _ in range(MAX_FAILURES):
        assert client.post("/login/", {"username": "ops", "password": "guess"}).status_code == 200
    refused = client.post("/login/", {"username": "ops", "password": "the-right-one"})
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(WINDOW_SECONDS)
    assert "Too many failed sign-ins" in refused.content.decode()
    # another address is not held back by these failures
    elsewhere = client.post("/login/", {"username": "ops", "password": "the-right-one"},
                            REMOTE_ADDR="198.51.100.7")
    assert elsewhere.status_code == 302


def test_a_successful_sign_in_clears_the_count(client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    for _ in range(MAX_FAILURES - 1):
        client.post("/login/", {"username": "ops", "password": "guess"})
    assert client.post("/login/", {"username": "ops", "password": "the-right-one"}).status_code == 302
    client.logout()
    for _ in range(MAX_FAILURES - 1):
        client.post("/login/", {"username": "ops", "password": "guess"})
    assert client.post("/login/", {"username": "ops", "password": "guess"}).status_code == 200


def test_a_card_number_is_not_written_back_into_the_page(client, stack):
    number = "4111 1111 1111 1112"  # fails its check digit: the form comes back with an error
    answer = client.post("/orders/place", {"customer_id": "", "qty_MUG-STONEWARE": "1",
                                           "card": "custom", "card_number": number})
    page = answer.content.decode()
    assert answer.status_code == 400 and "is required" in page
    assert number not in page and number.replace(" ", "") not in page
    assert 'autocomplete="cc-number"' in page


def test_card_numbers_and_passwords_are_hidden_from_error_reports(rf):
    from dashboard.orders import views
    from dashboard.web.auth import ThrottledLoginView

    for view, field in ((views.order_create, "card_number"),
                        (ThrottledLoginView.as_view(), "password")):
        request = rf.post("/", {field: "secret-value"})
        with contextlib.suppress(Exception):  # only the marking left on the request matters
            view(request)
        cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
        assert cleansed[field] != "secret-value", field
