"""`manage.py serve_production`: it refuses plainly what it cannot serve, and its supervisor
restarts the poller, stops with the web server, and leaves no process behind.

The supervisor is driven here with stand-in children; tests/e2e/test_production_profile.py
runs the real ones against PostgreSQL, Redis and the running system."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dashboard.web.production import Child, Supervisor
from tests.dashboard.conftest import free_port
from tests.processes import alive
from tests.services import postgres_database
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"CHOREO_PROFILE": "production", "DJANGO_SECRET_KEY": "k" * 60 + "Ab9#",
              "CHOREO_AWS": "embedded", "CHOREO_AWS_PORT": str(free_port())}


def serve_production(**environment: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CHOREO_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    return subprocess.run([sys.executable, "manage.py", "serve_production", "--port", str(free_port())],
                          cwd=ROOT, env={**env, **environment}, capture_output=True, text=True,
                          timeout=60)


def test_it_refuses_the_local_profile_and_says_how_to_choose_production(tmp_path):
    result = serve_production(CHOREO_CACHE_DIR=str(tmp_path))
    assert result.returncode == 1
    assert "set CHOREO_PROFILE=production" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_setting_missing_from_the_environment_is_said_plainly():
    result = serve_production(CHOREO_PROFILE="production", DATABASE_URL="postgres://127.0.0.1/dash")
    assert result.returncode == 1
    assert result.stderr.strip() == "manage.py: the production profile needs DJANGO_SECRET_KEY"


def test_a_database_or_redis_out_of_reach_is_said_plainly():
    closed = free_port()
    no_database = serve_production(**PRODUCTION, DATABASE_URL=f"postgres://127.0.0.1:{closed}/dash")
    assert no_database.returncode == 1
    assert f"cannot reach the database dash on 127.0.0.1:{closed} (DATABASE_URL)" in no_database.stderr
    assert "Traceback" not in no_database.stderr
    with postgres_database() as database_url:
        no_redis = serve_production(**PRODUCTION, DATABASE_URL=database_url,
                                    REDIS_URL=f"redis://:hush@127.0.0.1:{closed}/0")
    assert no_redis.returncode == 1
    assert f"cannot reach Redis at redis://:***@127.0.0.1:{closed}/0 (REDIS_URL)" in no_redis.stderr
    assert "hush" not in no_redis.stdout + no_redis.stderr


def sleeper(marker: Path | None = None, *, ignore_term: bool = False, grandchild: bool = False) -> list[str]:
    """A stand-in child: writes its pid (and its own child's) to `marker`, then sleeps."""
    code = ["import os, signal, subprocess, sys, time"]
    if ignore_term:
        code.append("signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    pids = "str(os.getpid())"
    if grandchild:
        # like a server's worker that outlives the signal its server stops on
        code.append("child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
                    "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])")
        pids += " + ' ' + str(child.pid)"
    if marker:
        code.append(f"open({str(marker)!r} + '.tmp', 'w').write({pids}); "
                    f"os.rename({str(marker)!r} + '.tmp', {str(marker)!r})")
    code.append("time.sleep(60)")
    return [sys.executable, "-c", "\n".join(code)]


@contextmanager
def supervising(children: list[Child], said: list[str], **options: float
                ) -> Iterator[tuple[threading.Event, list[int], list[bool]]]:
    """The supervisor running in a thread; yields its stop event, its status once it returns,
    and a True for each time it said it was ready."""
    stop = threading.Event()
    status: list[int] = []
    ready: list[bool] = []
    supervisor = Supervisor(children, say=said.append, **options)
    thread = threading.Thread(target=lambda: status.append(supervisor.run(
        stop, on_ready=lambda: ready.append(True))), daemon=True)
    thread.start()
    try:
        yield stop, status, ready
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()


def test_a_poller_that_dies_is_started_again_and_a_stop_stops_everything(tmp_path):
    said: list[str] = []
    web = Child("web server", sleeper(tmp_path / "web", grandchild=True), restart=False)
    poller = Child("poller", sleeper(), restart=True)
    with supervising([web, poller], said) as (stop, status, ready):
        wait_for(lambda: (tmp_path / "web").exists() and ready, message="the web server ready")
        first = poller.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: poller.pid != first and poller.running(),
                 message="the killed poller running again")
        assert "poller was killed by SIGKILL; starting it again in 1 s" in said
        server, worker = map(int, (tmp_path / "web").read_text().split())
        stopped_at = time.monotonic()
        stop.set()
        wait_for(lambda: status, message="the supervisor stopped")
    assert status == [0]
    assert ready == [True], "ready is said once"
    assert time.monotonic() - stopped_at < 3
    assert not any(alive(pid) for pid in (server, worker, poller.pid))  # the worker too


def test_when_the_web_server_ends_the_poller_is_stopped_and_the_service_fails():
    said: list[str] = []
    web = Child("web server", [sys.executable, "-c", "import time, sys; time.sleep(0.5); sys.exit(3)"],
                restart=False)
    poller = Child("poller", sleeper(), restart=True)
    with supervising([web, poller], said) as (_, status, _):
        wait_for(lambda: status, message="the supervisor stopped")
    assert status == [1]
    assert "web server exited with status 3; stopping" in said
    assert not alive(poller.pid)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    said: list[str] = []
    stubborn = Child("poller", sleeper(tmp_path / "stubborn", ignore_term=True), restart=True)
    with supervising([stubborn], said, stop_seconds=0.5) as (stop, status, _):
        wait_for(lambda: (tmp_path / "stubborn").exists(), message="the child started")
        stop.set()
        wait_for(lambda: status, 5, message="the supervisor stopped")
    assert "poller did not stop in 0.5 s; killing it" in said
    assert not alive(stubborn.pid)


def test_uvicorn_leaves_the_client_address_to_the_dashboard():
    """uvicorn would otherwise rewrite it from FORWARDED_ALLOW_IPS (loopback by default), apart
    from DJANGO_TRUSTED_PROXIES, and the dashboard would walk X-Forwarded-For a second time."""
    from dashboard.web.production import web_server

    argv = web_server(host="127.0.0.1", port=8000, workers=2).argv
    assert "--no-proxy-headers" in argv
    assert not any(arg.startswith(("--proxy-headers", "--forwarded-allow-ips")) for arg in argv)
