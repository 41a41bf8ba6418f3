"""The embedded AWS's WSGI application: moto's server, with the calls of AWS's JSON protocols
handed straight to moto's handlers (`local.moto_server.JsonCallsWithoutFlask`)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from typing import Any

import flask
import pytest
from werkzeug.test import Client

from local.config import ROOT
from local.moto_server import wsgi_app


def _headers(service: str, target: str | None = None) -> dict[str, str]:
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/"
                                f"{service}/aws4_request, SignedHeaders=host, Signature=0",
               "Host": "127.0.0.1:4566"}
    if target:
        headers |= {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
    return headers


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(wsgi_app(enforced=False))


@pytest.fixture
def flask_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = flask.Flask.wsgi_app

    def counted(self: flask.Flask, environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ.get("PATH_INFO", ""))
        return original(self, environ, start_response)

    monkeypatch.setattr(flask.Flask, "wsgi_app", counted)
    return seen


def test_a_json_protocol_call_is_answered_by_moto_without_flask(client: Client,
                                                                 flask_requests: list[str]):
    create = {"TableName": "direct", "BillingMode": "PAY_PER_REQUEST",
              "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
              "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}
    answer = client.post("/", data=json.dumps(create),
                         headers=_headers("dynamodb", "DynamoDB_20120810.CreateTable"))
    assert answer.status_code == 200
    assert json.loads(answer.data)["TableDescription"]["TableName"] == "direct"
    # AWS's errors keep their status and code
    missing = client.post("/", data=json.dumps({"TableName": "nowhere"}),
                          headers=_headers("dynamodb", "DynamoDB_20120810.DescribeTable"))
    assert missing.status_code == 400
    assert "ResourceNotFoundException" in json.loads(missing.data)["__type"]
    assert flask_requests == []


def test_other_calls_still_go_through_moto_s_server(client: Client, flask_requests: list[str]):
    answer = client.get("/", headers=_headers("s3"))
    assert answer.status_code == 200
    assert b"ListAllMyBucketsResult" in answer.data
    assert flask_requests == ["/"]


def test_the_server_s_module_imports_nothing_heavy():
    """Each execution environment imports the module its parent process was started as
    (multiprocessing's `__mp_main__`): for the embedded AWS, this one. Whatever it imports at
    the top, every environment pays for in memory."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, local.moto_server; print(' '.join(sorted({"
         "name.split('.')[0] for name in sys.modules})))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert not {"moto", "boto3", "botocore", "flask", "werkzeug", "cheroot"} & set(loaded)


def test_the_sweeper_moves_what_lives_out_of_the_collector_s_sight():
    """After each TTL sweep the embedded AWS freezes what lives, so a full collection walks
    only what came since, not the whole history (docs/benchmarks.md: the soak's pauses)."""
    import gc
    import threading
    import time

    from local import moto_server

    stop = threading.Event()
    before = gc.get_freeze_count()
    history = [[number] for number in range(1000)]
    gc.collect()
    sweeper = threading.Thread(target=moto_server.sweep_expired, args=(stop, 0.05))
    sweeper.start()
    try:
        deadline = time.monotonic() + 5
        while gc.get_freeze_count() <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gc.get_freeze_count() >= before + len(history)
    finally:
        stop.set()
        sweeper.join(timeout=5)
        gc.unfreeze()


def test_the_sweeper_gives_freed_memory_back_after_each_sweep(monkeypatch):
    import threading
    import time

    from local import moto_server

    calls = []
    monkeypatch.setattr(moto_server, "give_freed_memory_back", lambda: calls.append(1))
    monkeypatch.setattr(moto_server, "keep_the_collector_off_the_history", lambda: None)
    stop = threading.Event()
    sweeper = threading.Thread(target=moto_server.sweep_expired, args=(stop, 0.05))
    sweeper.start()
    try:
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(calls) >= 2
    finally:
        stop.set()
        sweeper.join(timeout=5)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's (Linux); elsewhere the server does without it")
def test_freed_heap_is_handed_back_to_the_system():
    """Blocks too large for Python's small-object allocator come from C's heap; with one in
    ten kept, the freed ones leave holes that glibc keeps resident until asked."""
    script = """
from local.moto_server import give_freed_memory_back

def rss():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])

blocks = [bytes(range(256)) * 8 for _ in range(60_000)]  # ~2 KiB each, ~120 MiB
kept = blocks[::10]
del blocks
held = rss()
assert give_freed_memory_back()
print(held - rss())
"""
    freed_kib = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                   check=True, cwd=ROOT).stdout)
    assert freed_kib > 60 * 1024  # most of the ~108 MiB freed between the kept blocks
