"""The client's address behind proxies: only what trusted proxies wrote is believed."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from dashboard.shared.client_address import (
    client_address,
    parse_address,
    parse_networks,
    request_client_address,
    scope_client_address,
)

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8:1::/48"])


def test_a_peer_that_is_no_trusted_proxy_is_the_client_whatever_it_forwards():
    assert client_address("198.51.100.7", "203.0.113.9", PROXIES) == "198.51.100.7"
    assert client_address("198.51.100.7", "203.0.113.9", ()) == "198.51.100.7"


def test_the_client_is_the_rightmost_entry_that_is_no_trusted_proxy():
    # what the client wrote itself is on the left, and never read
    assert client_address("10.0.0.5", "1.1.1.1, 203.0.113.9", PROXIES) == "203.0.113.9"
    # trusted proxies in a chain are passed over
    assert client_address("10.0.0.5", "forged, 203.0.113.9, 10.2.3.4, 10.9.9.9",
                          PROXIES) == "203.0.113.9"


def test_a_trusted_peer_that_forwards_nothing_is_the_client():
    assert client_address("10.0.0.5", "", PROXIES) == "10.0.0.5"
    assert client_address("10.0.0.5", "  ", PROXIES) == "10.0.0.5"


def test_when_every_hop_is_trusted_the_furthest_is_the_client():
    assert client_address("10.0.0.5", "10.1.1.1, 10.2.2.2", PROXIES) == "10.1.1.1"


def test_ipv6_peers_and_entries():
    assert client_address("2001:db8:1::5", "2001:db8:2::9", PROXIES) == "2001:db8:2::9"
    assert client_address("2001:db8:1::5", "[2001:DB8:2:0::9]:4711", PROXIES) == "2001:db8:2::9"
    assert client_address("2001:db8:1::5", "203.0.113.9, 2001:db8:1::7", PROXIES) == "203.0.113.9"
    assert client_address("::1", "203.0.113.9", PROXIES) == "::1"  # loopback is not trusted
    # a dual-stack proxy may write an IPv4 client either way: one client, one address
    assert client_address("10.0.0.5", "::ffff:203.0.113.9", PROXIES) == "203.0.113.9"
    assert client_address("::ffff:10.0.0.5", "203.0.113.9", PROXIES) == "203.0.113.9"


def test_ports_are_dropped():
    assert client_address("10.0.0.5", "203.0.113.9:51234", PROXIES) == "203.0.113.9"


@pytest.mark.parametrize("garbage", [
    "unknown", "", "not an address", "203.0.113.9:port", "[2001:db8::9", "[2001:db8::9]x",
    "1.2.3.4:99999999", "300.1.1.1", "2001:db8::zz", "\x00",
    "\u0661\u0662.3.4.5", "203.0.113.9:\u0661\u0662",  # digits, but not ASCII ones
    "x" * 10_000])
def test_an_entry_that_is_no_address_stops_the_walk_at_the_nearest_known_hop(garbage):
    # nothing left of it is read: the client may have written it
    assert client_address("10.0.0.5", f"198.51.100.1, {garbage}", PROXIES) == "10.0.0.5"
    assert client_address("10.0.0.5", f"198.51.100.1, {garbage}, 10.3.3.3",
                          PROXIES) == "10.3.3.3"


def test_a_peer_that_is_no_ip_address_is_taken_as_given():
    assert client_address("", "203.0.113.9", PROXIES) == ""
    assert client_address("unix:/run/dashboard.sock", "203.0.113.9", PROXIES) == \
        "unix:/run/dashboard.sock"


def test_addresses_are_read_as_proxies_write_them():
    assert str(parse_address("203.0.113.9")) == "203.0.113.9"
    assert str(parse_address(" [::1]:80 ")) == "::1"
    assert str(parse_address("[::1]")) == "::1"
    assert str(parse_address("fe80::1%eth0")) == "fe80::1%eth0"
    assert parse_address("::ffff:1.2.3.4") == parse_address("1.2.3.4")
    assert parse_address("203.0.113.9:") is None


def test_a_trusted_proxy_setting_that_is_no_address_is_refused():
    with pytest.raises(ValueError, match=r"proxy\.example\.com"):
        parse_networks(["10.0.0.1", "proxy.example.com"])


def test_requests_and_websockets_are_read_through_the_setting():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5",
                                   HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    scope = {"client": ("10.0.0.5", 50000),
             "headers": [(b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"203.0.113.9")]}
    assert request_client_address(request) == "10.0.0.5"
    assert scope_client_address(scope) == "10.0.0.5"
    with override_settings(DASHBOARD_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert request_client_address(request) == "203.0.113.9"
        assert scope_client_address(scope) == "203.0.113.9"
    assert scope_client_address({"headers": []}) == ""
