"""Sign-in is throttled, and what must stay secret is not echoed or reported."""

from __future__ import annotations

import contextlib

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.views.debug import SafeExceptionReporterFilter

from dashboard.web.auth import MAX_ACCOUNT_FAILURES, MAX_FAILURES, WINDOW_SECONDS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """What is counted here is attempts, not hashing: dozens of them at full strength take
    seconds each test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


PROXY = "10.0.0.5"
BEHIND_THE_PROXY = override_settings(DASHBOARD_TRUSTED_PROXIES=["10.0.0.0/24"])


def sign_in(client, password: str, *, username: str = "ops", remote_addr: str = "127.0.0.1",
            forwarded_for: str | None = None) -> int:
    """The status of one attempt, made from `remote_addr` (through a proxy if `forwarded_for`)."""
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    status = client.post("/login/", {"username": username, "password": password}, **extra).status_code
    client.logout()
    return status


def test_behind_a_trusted_proxy_one_clients_failures_lock_out_that_client_alone(
        client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    # the attack: every client behind the proxy is the proxy, so one guesser locks out all
    for _ in range(MAX_FAILURES):
        sign_in(client, "guess", remote_addr=PROXY, forwarded_for="203.0.113.9")
    assert sign_in(client, "the-right-one", remote_addr=PROXY, forwarded_for="198.51.100.7") == 429
    cache.clear()

    with BEHIND_THE_PROXY:
        for _ in range(MAX_FAILURES):
            assert sign_in(client, "guess", remote_addr=PROXY, forwarded_for="203.0.113.9") == 200
        assert sign_in(client, "the-right-one", remote_addr=PROXY,
                       forwarded_for="203.0.113.9") == 429
        assert sign_in(client, "the-right-one", remote_addr=PROXY,
                       forwarded_for="198.51.100.7") == 302


def test_a_forged_leftmost_forwarded_entry_does_not_make_a_new_client(client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    with BEHIND_THE_PROXY:
        # the attack: a fresh made-up address in front of each guess, the proxy appending the
        # guesser's own after it
        for n in range(MAX_FAILURES):
            assert sign_in(client, "guess", remote_addr=PROXY,
                           forwarded_for=f"192.0.2.{n}, 203.0.113.9") == 200
        assert sign_in(client, "the-right-one", remote_addr=PROXY,
                       forwarded_for="192.0.2.200, 203.0.113.9") == 429
        # through a second trusted proxy, the same guesser is still the same
        assert sign_in(client, "the-right-one", remote_addr=PROXY,
                       forwarded_for="192.0.2.201, 203.0.113.9, 10.0.0.9") == 429
        # while another client behind the proxy is not held back, whatever it forwards
        assert sign_in(client, "the-right-one", remote_addr=PROXY,
                       forwarded_for="203.0.113.9, 198.51.100.7") == 302


def test_without_trusted_proxies_forwarded_for_is_not_believed(client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    # the attack: reaching the server directly, a new X-Forwarded-For with each guess
    for n in range(MAX_FAILURES):
        assert sign_in(client, "guess", remote_addr="198.51.100.50",
                       forwarded_for=f"192.0.2.{n}") == 200
    assert sign_in(client, "the-right-one", remote_addr="198.51.100.50",
                   forwarded_for="192.0.2.200") == 429
    # nor when the peer is a proxy that is not named
    with override_settings(DASHBOARD_TRUSTED_PROXIES=["10.9.0.0/16"]):
        assert sign_in(client, "the-right-one", remote_addr="198.51.100.50",
                       forwarded_for="192.0.2.201") == 429


def test_an_ipv6_client_is_counted_by_its_64(client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    # the attack: a new address of the same /64 for each guess
    for n in range(MAX_FAILURES):
        assert sign_in(client, "guess", remote_addr=f"2001:db8:1:2::{n + 1:x}") == 200
    assert sign_in(client, "the-right-one", remote_addr="2001:db8:1:2:ffff::1") == 429
    assert sign_in(client, "the-right-one", remote_addr="2001:db8:1:3::1") == 302


def test_guesses_at_one_account_from_many_addresses_are_stopped(client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    django_user_model.objects.create_user("other", password="another-right-one")
    # the attack: each guess from another address, none of them ever near its own limit
    for n in range(MAX_ACCOUNT_FAILURES):
        spelling = ("ops", " OPS ", "Ops")[n % 3]  # one account, however it is written
        assert sign_in(client, "guess", username=spelling, remote_addr=f"192.0.2.{n}") == 200
    refused = client.post("/login/", {"username": "ops", "password": "guess"},
                          REMOTE_ADDR="198.51.100.1")
    assert refused.status_code == 429 and refused["Retry-After"] == str(WINDOW_SECONDS)
    # the right password is refused too: else the throttle would say which guess was right
    assert sign_in(client, "the-right-one", remote_addr="198.51.100.2") == 429
    # another account, from an address that guessed at the first, is not held back
    assert sign_in(client, "another-right-one", username="other", remote_addr="192.0.2.1") == 302


def test_an_account_that_does_not_exist_is_throttled_alike(client, django_user_model):
    """A throttle that stopped only real accounts would say which exist."""
    for n in range(MAX_ACCOUNT_FAILURES):
        assert sign_in(client, "guess", username="nobody", remote_addr=f"192.0.2.{n}") == 200
    assert sign_in(client, "guess", username="nobody", remote_addr="198.51.100.1") == 429


def test_one_guessing_address_is_stopped_before_the_account(client, django_user_model):
    """Its refused attempts are not counted: else one address would lock the account out."""
    django_user_model.objects.create_user("ops", password="the-right-one")
    assert MAX_FAILURES < MAX_ACCOUNT_FAILURES
    for _ in range(MAX_FAILURES):
        sign_in(client, "guess", remote_addr="203.0.113.9")
    for _ in range(MAX_ACCOUNT_FAILURES):
        assert sign_in(client, "guess", remote_addr="203.0.113.9") == 429
    assert sign_in(client, "the-right-one", remote_addr="198.51.100.7") == 302


def test_a_successful_sign_in_clears_the_accounts_count(client, django_user_model):
    django_user_model.objects.create_user("ops", password="the-right-one")
    for n in range(MAX_ACCOUNT_FAILURES - 1):
        sign_in(client, "guess", remote_addr=f"192.0.2.{n}")
    assert sign_in(client, "the-right-one", remote_addr="198.51.100.7") == 302
    for n in range(MAX_ACCOUNT_FAILURES - 1):
        assert sign_in(client, "guess", remote_addr=f"192.0.2.{n}") == 200


def test_a_username_is_not_written_into_a_cache_key(client):
    username = "ops:login-failures:address:127.0.0.1\n*"
    sign_in(client, "guess", username=username)
    keys = list(cache._cache)  # the local-memory cache the tests run with
    assert keys and not any("ops" in key or "\n" in key for key in keys)


def test_a_card_number_is_not_written_back_into_the_page(client, stack):
    number = "4111 1111 1111 1112"  # fails its check digit: the form comes back with an error
    answer = client.post("/orders/place", {"customer_id": "", "qty_MUG-STONEWARE": "1",
                                           "card": "custom", "card_number": number})
    page = answer.content.decode()
    assert answer.status_code == 400 and "is required" in page
    assert number not in page and number.replace(" ", "") not in page
    assert 'autocomplete="cc-number"' in page


def test_card_numbers_and_passwords_are_hidden_from_error_reports(rf):
    from dashboard.live import order_views as views
    from dashboard.web.auth import ThrottledLoginView

    for view, field in ((views.order_create, "card_number"),
                        (ThrottledLoginView.as_view(), "password")):
        request = rf.post("/", {field: "secret-value"})
        with contextlib.suppress(Exception):  # only the marking left on the request matters
            view(request)
        cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
        assert cleansed[field] != "secret-value", field
