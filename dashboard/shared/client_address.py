"""Who a request comes from: the peer that connected, or, when that peer is a proxy named in
`DJANGO_TRUSTED_PROXIES`, the client it says it forwards for.

Resolved here, in Django, and nowhere else. The servers run uvicorn without its proxy headers
(`--no-proxy-headers`), so `REMOTE_ADDR` and a websocket's `client` are always the peer of the
connection. uvicorn's own rewriting trusts loopback, or what `FORWARDED_ALLOW_IPS` says (`*`
takes the leftmost entry, the one the client wrote), whatever the dashboard is told; and an
address it had rewritten would be walked here again, against entries already read. One
setting and one walk serve the sign-in throttle and the websocket limits alike, under any
ASGI server.

`X-Forwarded-For` is walked from the right. Each proxy appends the address that connected to
it, so the entries trusted proxies appended are true, and the first one that is not a trusted
proxy is the client; what lies left of it was written by the client, and is never read. An
entry that is not an address stops the walk at the nearest hop known for sure: a count shared
with others, never one evaded.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks; ValueError names the first entry that is neither."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is neither an IP address nor a network") from None
    return tuple(networks)


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def parse_address(value: str) -> Address | None:
    """An address as proxies write it (`a.b.c.d`, `a.b.c.d:port`, `v6`, `[v6]`, `[v6]:port`),
    IPv4-mapped IPv6 read as the IPv4 it maps, so one client is one address; None for
    anything else."""
    value = value.strip()
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and _is_port(rest[1:]))):
            return None
        value = host
    elif value.count(":") == 1:
        value, _, port = value.partition(":")
        if not _is_port(port):
            return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(remote_addr: str, forwarded_for: str, proxies: Sequence[Network]) -> str:
    """The client's address: `remote_addr` unless it is one of `proxies`, else the rightmost
    entry of `forwarded_for` that is not (the leftmost when every hop is trusted)."""
    peer = parse_address(remote_addr)
    if peer is None:
        return remote_addr  # not an IP address (a Unix socket, a test): as the server gave it
    if not _trusted(peer, proxies):
        return str(peer)
    nearest = peer
    entries = forwarded_for.split(",") if forwarded_for.strip() else []
    for entry in reversed(entries):
        hop = parse_address(entry)
        if hop is None:
            return str(nearest)
        if not _trusted(hop, proxies):
            return str(hop)
        nearest = hop
    return str(nearest)


@functools.lru_cache(maxsize=8)
def _proxies(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries)


def trusted_proxies() -> tuple[Network, ...]:
    return _proxies(tuple(settings.DASHBOARD_TRUSTED_PROXIES))


def request_client_address(request: HttpRequest) -> str:
    return client_address(request.META.get("REMOTE_ADDR") or "",
                          request.META.get("HTTP_X_FORWARDED_FOR") or "", trusted_proxies())


def scope_client_address(scope: Mapping[str, Any]) -> str:
    """The same for an ASGI scope (a websocket's); "" when the server names no client."""
    client = scope.get("client")
    forwarded = b",".join(value for name, value in scope.get("headers", ())
                          if name == b"x-forwarded-for")
    return client_address(str(client[0]) if client else "", forwarded.decode("latin-1"),
                          trusted_proxies())
