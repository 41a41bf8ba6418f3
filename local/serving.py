"""How the local servers serve HTTP: cheroot's WSGI server, which keeps connections alive and
serves them from a pool of threads, for the embedded AWS (`local.moto_server`) and the HTTP
front (`local.http_front`) alike.

The standard library's `http.server` is not meant for more than development, and werkzeug's
development server closes the connection after every response and starts a thread for every
connection (`local.moto_server` says what that cost). cheroot holds an idle keep-alive
connection without a thread and hands requests to a fixed pool.
"""

from __future__ import annotations

from typing import Any

from cheroot.wsgi import Server

from local.hosts import WsgiApp

# Requests served at once: every long poll (the runtime's pollers, the dashboard's, a user's
# `tail`) holds a thread of the embedded AWS while it waits, and every request to the HTTP
# front one of its own until its function answers.
THREADS = 64
# Idle keep-alive connections cheroot keeps open (it closes any beyond, 10 by default): every
# execution environment, poller and dashboard process holds a few, and each one closed was a
# new TCP connection on the next call — 5 % of the functions' time went to connecting.
KEEP_ALIVE_CONNECTIONS = 512


def wsgi_server(host: str, port: int, app: WsgiApp, *, name: str, threads: int = THREADS) -> Any:
    """A cheroot server for `app` on `host:port` (0: any free port), not yet bound."""
    server = Server((host, port), app, numthreads=threads, server_name=name)
    server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
    return server
