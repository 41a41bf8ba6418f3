"""The embedded AWS's HTTP server: a thread per keep-alive connection, each reading its
requests with httptools' C parser and answering them from moto's WSGI app.

Every caller of the embedded AWS is a process holding a few keep-alive connections and making
one call at a time on each: the execution environments, the event source mappings' pollers,
the dashboard. cheroot, which served it before, hands each request of a
connection from a selector thread to a pool of workers and back, and reads it through
pure-Python buffered I/O: under load that was a third of the embedded AWS's CPU, the process
that sets the whole system's pace. Here the thread that owns a connection blocks in `recv`
(the GIL released) until its next request arrives, parses it in C, calls the app and answers
with one `sendall`. A long poll holds only its own connection's thread, so no pool has to be
sized for every poller at once.

What the server does not do, because no AWS client needs it: TLS, streaming a response
(each body is joined before it is sent, with its length), and HTTP/2.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools

from local.hosts import WsgiApp

log = logging.getLogger("choreo.http")

# An idle keep-alive connection is closed after this long. Clients reuse pooled connections
# for far shorter gaps; a close that races a client's next request makes it retry.
IDLE_SECONDS = 120.0
# Connections open at once; each is a thread. Beyond this, a new one is answered 503 and closed.
MAX_CONNECTIONS = 1024
RECEIVE_BYTES = 256 * 1024
REFUSAL_DRAIN_SECONDS = 1.0
CLOSE_CONNECTION = "choreo.close_connection"
"""The environ key of a callable that makes the server close the connection after the answer
(a WSGI application may not send `Connection` itself)."""
_NO_BODY_STATUSES = (204, 304)


class _Request:
    """One request as httptools parses it: fed bytes, it collects the URL, headers and body."""

    __slots__ = ("body", "done", "expects_continue", "headers", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.done = False
        self.expects_continue = False


class _Parsing:
    """httptools' callbacks for one connection: completed requests queue in `ready`."""

    def __init__(self, on_continue: Callable[[], None]) -> None:
        self.current = _Request()
        self.ready: list[tuple[_Request, bytes, str, bool]] = []
        self.parser = httptools.HttpRequestParser(self)
        self._on_continue = on_continue

    def on_message_begin(self) -> None:
        self.current = _Request()

    def on_url(self, url: bytes) -> None:
        self.current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name, value))
        if name.lower() == b"expect" and value.lower() == b"100-continue":
            self.current.expects_continue = True

    def on_headers_complete(self) -> None:
        if self.current.expects_continue:
            self._on_continue()

    def on_body(self, body: bytes) -> None:
        self.current.body.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        self.ready.append((self.current, parser.get_method(), parser.get_http_version(),
                           parser.should_keep_alive()))


class _Clock:
    """The Date header's value, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second, self._text = now, formatdate(now, usegmt=True).encode("latin-1")
        return self._text


class ConnectionServer:
    """A WSGI server for `app`, bound to `host:port` (0: any free port) when made; `serve`
    accepts connections until `stop`."""

    def __init__(self, host: str, port: int, app: WsgiApp, *, name: str,
                 idle_seconds: float = IDLE_SECONDS,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.app = app
        self.name = name
        self.idle_seconds = idle_seconds
        self.listener = socket.create_server((host, port), backlog=1024)
        self.host, self.port = self.listener.getsockname()[:2]
        self._server_name = host
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._clock = _Clock()
        self._server_header = f"Server: {name}\r\n".encode("latin-1")

    def serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, address = self.listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            if not self._slots.acquire(blocking=False):
                threading.Thread(target=_refuse, args=(connection,), daemon=True).start()
                continue
            threading.Thread(target=self._serve_connection, args=(connection, address),
                             name=f"{self.name}-{address[1]}", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        # on Linux, shutting a listening socket down wakes the accept() blocked on it
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            open_now = list(self._open)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    # -- one connection -------------------------------------------------------------------

    def _serve_connection(self, connection: socket.socket, address: Any) -> None:
        with self._lock:
            self._open.add(connection)
        try:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(self.idle_seconds)
            self._requests(connection, address)
        except (OSError, TimeoutError):
            pass  # the client went away, or stayed idle too long
        finally:
            with self._lock:
                self._open.discard(connection)
            connection.close()
            self._slots.release()

    def _requests(self, connection: socket.socket, address: Any) -> None:
        parsing = _Parsing(lambda: connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n"))
        while not self._stopping.is_set():
            data = connection.recv(RECEIVE_BYTES)
            if not data:
                return
            try:
                parsing.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                connection.sendall(_plain(400, "upgrades are not served here"))
                return
            except httptools.HttpParserError as error:
                connection.sendall(_plain(400, f"malformed request: {error}"))
                return
            while parsing.ready:
                request, method, version, keep_alive = parsing.ready.pop(0)
                keep_alive = self._answer(connection, address, request, method, version,
                                          keep_alive)
                if not keep_alive:
                    return

    def _answer(self, connection: socket.socket, address: Any, request: _Request,
                method: bytes, version: str, keep_alive: bool) -> bool:
        environ = self._environ(address, request, method, version)
        closing: list[bool] = []
        environ[CLOSE_CONNECTION] = lambda: closing.append(True)
        status_line: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info is not None and status_line:
                raise exc_info[1].with_traceback(exc_info[2])
            status_line[:] = [status, headers]
            return written.append

        written: list[bytes] = []
        try:
            result = self.app(environ, start_response)
            try:
                body = b"".join([*written, *result])
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            log.exception("%s: the app failed on %s %s", self.name, method.decode("latin-1"),
                          request.url.decode("latin-1", "replace"))
            connection.sendall(_plain(500, "the server failed on this request"))
            return False
        status, headers = status_line
        keep_alive = keep_alive and not closing
        code = int(status[:3])
        head = [f"HTTP/{version} {status}\r\n".encode("latin-1")]
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                has_length = True
            elif lowered == "connection":
                keep_alive = keep_alive and value.lower() != "close"
                continue
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        if not has_length and code not in _NO_BODY_STATUSES and code >= 200:
            head.append(b"Content-Length: %d\r\n" % len(body))
        head.append(b"Date: " + self._clock.date() + b"\r\n")
        head.append(self._server_header)
        if not keep_alive:
            head.append(b"Connection: close\r\n")
        elif version == "1.0":
            head.append(b"Connection: keep-alive\r\n")
        head.append(b"\r\n")
        if method == b"HEAD" or code in _NO_BODY_STATUSES:
            body = b""
        connection.sendall(b"".join(head) + body)
        return keep_alive

    def _environ(self, address: Any, request: _Request, method: bytes,
                 version: str) -> dict[str, Any]:
        url = httptools.parse_url(request.url)
        body = b"".join(request.body)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method.decode("latin-1"),
            "SCRIPT_NAME": "",
            # PEP 3333: the path unquoted, its bytes as latin-1; the raw one for those who need it
            "PATH_INFO": unquote_to_bytes(url.path or b"/").decode("latin-1"),
            "QUERY_STRING": (url.query or b"").decode("latin-1"),
            "REQUEST_URI": request.url.decode("latin-1"),
            "RAW_URI": request.url.decode("latin-1"),
            "SERVER_NAME": self._server_name,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": f"HTTP/{version}",
            "REMOTE_ADDR": address[0],
            "REMOTE_PORT": str(address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for raw_name, raw_value in request.headers:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            if name == "TRANSFER_ENCODING":
                continue  # the body is read whole, and its length given below
            key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if body or "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ


def _plain(code: int, text: str) -> bytes:
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}[code]
    body = text.encode("utf-8")
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1") + body


def _refuse(connection: socket.socket) -> None:
    """Answer 503 and close; the request is read first (for a second at most), as closing a
    socket with unread data resets the connection and the client would lose the answer."""
    try:
        connection.settimeout(REFUSAL_DRAIN_SECONDS)
        connection.sendall(_plain(503, "too many connections"))
        connection.shutdown(socket.SHUT_WR)
        while connection.recv(RECEIVE_BYTES):
            pass
    except OSError:
        pass
    finally:
        connection.close()


def serve_in_thread(server: ConnectionServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve, name=server.name, daemon=True)
    thread.start()
    return thread

