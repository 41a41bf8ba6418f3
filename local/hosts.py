"""Which `Host` the local servers answer to: a defence against DNS rebinding.

The embedded AWS and the local HTTP front listen on the loopback interface and trust whoever
reaches them (moto checks no signature, the chaos knobs and the order API need no login). A
web page cannot reach 127.0.0.1 by that name from another origin, but it can by DNS
rebinding: a name of the attacker's that first resolves to their server, then to
127.0.0.1, so that the browser sends the page's requests here with the attacker's name in
`Host`. Answering only to the names this machine uses for itself closes that door.

Allowed: `127.0.0.1`, `localhost` and `[::1]`, the address the servers are bound to
(`CHOREO_HOST`) unless it is a wildcard, and any name in `CHOREO_ALLOWED_HOSTS`
(comma-separated, `name` or `name:port`), each on the server's own port.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")
ALLOWED_HOSTS_ENV = "CHOREO_ALLOWED_HOSTS"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def allowed_hosts(*, bind_host: str, port: int, extra: str | None = None) -> frozenset[str]:
    """The `Host` values a server bound to `bind_host:port` answers to."""
    names = [*LOOPBACK_NAMES]
    if bind_host not in WILDCARD_ADDRESSES:
        names.append(f"[{bind_host}]" if ":" in bind_host else bind_host)
    extra = os.environ.get(ALLOWED_HOSTS_ENV, "") if extra is None else extra
    allowed = {f"{name.lower()}:{port}" for name in names}
    for entry in (item.strip().lower() for item in extra.split(",")):
        if entry:
            allowed.add(entry if entry.rsplit(":", 1)[-1].isdigit() and not entry.endswith("]")
                        else f"{entry}:{port}")
    return frozenset(allowed)


def host_allowed(host: str | None, allowed: frozenset[str], *, port: int) -> bool:
    """Whether a request's `Host` header names this server (a missing port is the default
    port of http, which is never ours)."""
    if not host:
        return False
    host = host.strip().lower()
    if not host.rsplit(":", 1)[-1].isdigit() or host.endswith("]"):
        host = f"{host}:80"
    return host in allowed


REFUSAL = (b'{"title": "Misdirected request", "status": 421, "detail": "this server answers '
           b'only to the names of this machine; set CHOREO_ALLOWED_HOSTS to add one"}')


def with_host_check(app: WsgiApp, allowed: frozenset[str], *, port: int) -> WsgiApp:
    """`app`, refusing requests whose `Host` is not one of `allowed` (421, problem+json)."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not host_allowed(environ.get("HTTP_HOST"), allowed, port=port):
            start_response("421 Misdirected Request", [
                ("Content-Type", "application/problem+json"),
                ("Content-Length", str(len(REFUSAL)))])
            return [REFUSAL]
        return app(environ, start_response)

    return serve


def content_length(value: str | None) -> int | None:
    """A `Content-Length` header's value, or None if it is not a non-negative integer (which
    would otherwise let a reader run past the body)."""
    if value is None or value == "":
        return 0
    value = value.strip()
    return int(value) if value.isdigit() else None
