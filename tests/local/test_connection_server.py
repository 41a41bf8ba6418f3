"""The HTTP server of the embedded AWS and the front, as a client sees it over a real socket:
keep-alive, bodies by length and in chunks, `Expect: 100-continue`, HEAD, closing when asked,
clear refusals of what it cannot serve, and one slow request holding up no other connection."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.connection_server import CLOSE_CONNECTION, ConnectionServer, serve_in_thread


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers what it was asked, as JSON-ish text; a few paths behave differently."""
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("the app failed")
    if path == "/slow":
        time.sleep(1.0)
    if path == "/close":
        environ[CLOSE_CONNECTION]()
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    text = (f"{environ['REQUEST_METHOD']} {path} ?{environ['QUERY_STRING']} "
            f"port={environ['REMOTE_PORT']} body={body.decode()} "
            f"x={environ.get('HTTP_X_THING', '')}").encode()
    start_response("200 OK", [("Content-Type", "text/plain")])  # no length: the server adds it
    return [text]


@pytest.fixture
def server() -> Iterator[ConnectionServer]:
    running = ConnectionServer("127.0.0.1", 0, echo, name="test-server", max_connections=8)
    thread = serve_in_thread(running)
    yield running
    running.stop()
    thread.join(timeout=5)
    assert not thread.is_alive(), "stop() did not end serve()"


def raw(server: ConnectionServer, request: bytes, *, read_until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(request)
        chunks = []
        while True:
            data = connection.recv(65536)
            if not data:
                break
            chunks.append(data)
            if not read_until_close:
                break
        return b"".join(chunks)


def test_requests_on_one_connection_are_answered_on_it(server: ConnectionServer):
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    answers = []
    for number in range(3):
        client.request("POST", f"/items/a%20b?n={number}", body=b"hello",
                       headers={"X-Thing": "one"})
        response = client.getresponse()
        answers.append((response.status, response.getheader("Content-Length"), response.read()))
    ports = {body.split(b"port=")[1].split(b" ")[0] for _, _, body in answers}
    assert len(ports) == 1, "each request came on a new connection"
    status, length, body = answers[0]
    assert status == 200 and int(length) == len(body)
    assert body.startswith(b"POST /items/a b ?n=0 ") and b"body=hello" in body and b"x=one" in body


def test_a_chunked_body_is_read_whole_and_100_continue_is_answered(server: ConnectionServer):
    answer = raw(server, b"PUT /up HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                         b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert b"body=hello world" in answer
    assert b"Connection: close" in answer


def test_a_repeated_header_reaches_the_app_joined_with_commas(server: ConnectionServer):
    answer = raw(server, b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Thing: a\r\nX-Thing: b\r\n"
                         b"Connection: close\r\n\r\n")
    assert b"x=a,b" in answer


def test_head_answers_the_length_without_the_body(server: ConnectionServer):
    answer = raw(server, b"HEAD /thing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: " in head
    assert body == b""


def test_the_app_can_close_the_connection_after_its_answer(server: ConnectionServer):
    answer = raw(server, b"GET /close HTTP/1.1\r\nHost: localhost\r\n\r\n")  # keep-alive asked
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in answer


def test_an_http_1_0_request_is_answered_and_closed(server: ConnectionServer):
    answer = raw(server, b"GET /old HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 200 OK") and b"Connection: close" in answer


def test_a_malformed_request_is_a_400_and_the_server_serves_on(server: ConnectionServer):
    answer = raw(server, b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: ten\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request") and b"malformed request" in answer
    assert raw(server, b"GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") \
        .startswith(b"HTTP/1.1 200 OK")


def test_an_app_that_fails_answers_500_and_the_server_serves_on(server: ConnectionServer):
    answer = raw(server, b"GET /fail HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 500 Internal Server Error")
    assert raw(server, b"GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") \
        .startswith(b"HTTP/1.1 200 OK")


def test_a_slow_request_holds_up_no_other_connection(server: ConnectionServer):
    """A long poll holds only its own connection's thread."""
    slow = threading.Thread(target=raw, args=(server, b"GET /slow HTTP/1.1\r\nHost: x\r\n"
                                                      b"Connection: close\r\n\r\n"))
    slow.start()
    time.sleep(0.1)
    started = time.monotonic()
    quick = raw(server, b"GET /quick HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    took = time.monotonic() - started
    slow.join()
    assert quick.startswith(b"HTTP/1.1 200 OK")
    assert took < 0.9, f"the quick request waited {took:.2f}s for the slow one"


def test_connections_beyond_the_limit_are_refused_with_503(server: ConnectionServer):
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(8)]
    try:
        time.sleep(0.2)  # each is accepted and given its thread
        answer = raw(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable")
    finally:
        for connection in held:
            connection.close()


def test_stop_closes_idle_connections(server: ConnectionServer):
    client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.recv(65536).startswith(b"HTTP/1.1 200 OK")
    server.stop()
    assert client.recv(65536) == b"", "the idle connection was left open"
    client.close()
