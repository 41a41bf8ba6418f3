"""The local servers answer only to this machine's names (DNS rebinding), and read no body
past a length that is not one."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests

from local.config import Chaos, ChaosControl
from local.hosts import allowed_hosts, content_length, host_allowed, with_host_check
from local.http_front import HttpFront


@pytest.mark.parametrize("host, allowed", [
    ("127.0.0.1:4567", True), ("localhost:4567", True), ("LOCALHOST:4567", True),
    ("[::1]:4567", True),
    ("127.0.0.1:4566", False),  # another server's port
    ("attacker.example:4567", False),  # a rebound name
    ("attacker.example", False), ("localhost", False), ("", False), (None, False),
])
def test_only_the_machines_own_names_on_the_servers_port(host: str | None, allowed: bool) -> None:
    names = allowed_hosts(bind_host="127.0.0.1", port=4567, extra="")
    assert host_allowed(host, names, port=4567) is allowed


def test_more_names_are_allowed_by_setting() -> None:
    names = allowed_hosts(bind_host="0.0.0.0", port=4567, extra="devbox, devbox.lan:8080")
    assert host_allowed("devbox:4567", names, port=4567)
    assert host_allowed("devbox.lan:8080", names, port=4567)
    assert not host_allowed("0.0.0.0:4567", names, port=4567)  # a wildcard is no name


@pytest.mark.parametrize("value, length", [
    (None, 0), ("", 0), ("12", 12), (" 7 ", 7), ("-1", None), ("1e3", None), ("x", None)])
def test_a_content_length_is_a_non_negative_integer(value: str | None, length: int | None) -> None:
    assert content_length(value) == length


def test_the_wsgi_servers_refuse_a_foreign_host() -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["HTTP_HOST"])
        start_response("200 OK", [])
        return [b"ok"]

    checked = with_host_check(app, allowed_hosts(bind_host="127.0.0.1", port=4566, extra=""),
                              port=4566)
    statuses: list[str] = []
    body = checked({"HTTP_HOST": "rebound.example:4566"},
                   lambda status, headers: statuses.append(status))
    assert statuses == ["421 Misdirected Request"] and b"CHOREO_ALLOWED_HOSTS" in b"".join(body)
    checked({"HTTP_HOST": "127.0.0.1:4566"}, lambda status, headers: statuses.append(status))
    assert calls == ["127.0.0.1:4566"]


@pytest.fixture
def front() -> Any:
    server = HttpFront(host="127.0.0.1", port=0, routes=[], workers={},
                       chaos=ChaosControl(Chaos()), stats=dict)
    server.start()
    yield server
    server.stop()


def test_the_front_refuses_a_rebound_name(front: HttpFront) -> None:
    base = f"http://127.0.0.1:{front.port}"
    assert requests.get(f"{base}/_local/chaos", timeout=5).status_code == 200
    refused = requests.put(f"{base}/_local/chaos", json={"failure_rate": 1.0}, timeout=5,
                           headers={"Host": f"rebound.example:{front.port}"})
    assert refused.status_code == 421
    assert front.chaos.chaos.failure_rate == 0.0  # nothing switched


def test_a_negative_content_length_reads_nothing(front: HttpFront) -> None:
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as connection:
        connection.sendall(b"PUT /_local/chaos HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                           b"Content-Length: -1\r\n\r\n{\"failure_rate\": 1}" % front.port)
        answer = connection.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 400")
    assert front.chaos.chaos.failure_rate == 0.0
