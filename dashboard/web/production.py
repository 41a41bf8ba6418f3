"""The production profile as several processes, watched by one: `manage.py serve_production`.

- The web server: uvicorn's own supervisor, with N ASGI workers sharing one listening socket.
  Workers hold nothing of their own (PostgreSQL holds the read model, Redis carries the
  frames), so any worker serves any page or websocket; uvicorn replaces a worker that dies.
  It takes no client address from forwarded headers: the dashboard reads them itself, behind
  the proxies `DJANGO_TRUSTED_PROXIES` names (dashboard/shared/client_address.py).
- The poller: exactly one `manage.py observe`, which records what the observability queue
  delivers and broadcasts it through Redis to every worker. If it dies it is started again,
  after a pause that grows while it keeps dying, so that a poller that cannot start does not
  spin. What it had received but not deleted comes back after the queue's visibility timeout
  and is recorded then.

Each child runs in a process group of its own: a terminal's Ctrl-C reaches the supervisor
alone, which stops the children itself (SIGTERM, then SIGKILL to the group of one that does
not stop in time), so no child is mistaken for having died, and no worker outlives its
server. If the web server stops, the service stops, with an error for whoever runs it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

POLL_SECONDS = 0.2
STOP_SECONDS = 10.0
FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 30.0
STABLE_SECONDS = 60.0
"""A child that ran this long before dying is restarted after the first pause again."""

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Child:
    """One supervised process: what runs it, and whether it is started again when it dies."""

    name: str
    argv: list[str]
    restart: bool
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    pause: float = FIRST_PAUSE_SECONDS
    due: float | None = None
    """When a dead child that is restarted starts again."""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def how_it_ended(self) -> str:
        code = self.process.returncode if self.process else None
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"

    def next_pause(self, now: float) -> float:
        """The pause before the next start: the first one after a long run, else doubled."""
        if now - self.started_at >= STABLE_SECONDS:
            self.pause = FIRST_PAUSE_SECONDS
        pause = self.pause
        self.pause = min(LONGEST_PAUSE_SECONDS, self.pause * 2)
        return pause


@dataclass
class Supervisor:
    children: list[Child]
    say: Callable[[str], None]
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stop_seconds: float = STOP_SECONDS

    def run(self, stop: threading.Event, *, ready: Callable[[], bool] = lambda: True,
            on_ready: Callable[[], None] = lambda: None) -> int:
        """Start every child and watch them until `stop` is set or a child that is not
        restarted ends; then stop the others. `on_ready` is called once `ready()` holds.
        Returns 0 when stopped, 1 when a child ended the service."""
        for child in self.children:
            self._start(child)
        announced = False
        failed = False
        try:
            while not stop.wait(POLL_SECONDS):
                failed = not self._watch()
                if failed:
                    break
                if not announced and ready():
                    announced = True
                    on_ready()
        finally:
            self._stop_all()
        return 1 if failed else 0

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=dict(self.env), process_group=0)
        child.started_at = time.monotonic()
        child.due = None
        self.say(f"{child.name} started (pid {child.pid})")

    def _watch(self) -> bool:
        """Restart what is due; False when a child that is not restarted has ended."""
        now = time.monotonic()
        for child in self.children:
            if child.running():
                continue
            if child.due is not None:
                if now >= child.due:
                    self._start(child)
                continue
            if not child.restart:
                self.say(f"{child.name} {child.how_it_ended()}; stopping")
                return False
            pause = child.next_pause(now)
            child.due = now + pause
            self.say(f"{child.name} {child.how_it_ended()}; starting it again in {pause:g} s")
        return True

    def _stop_all(self) -> None:
        """SIGTERM to every child; SIGKILL to the process group of any still there after
        `stop_seconds`."""
        running = [child for child in self.children if child.running()]
        for child in running:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in {self.stop_seconds:g} s; killing it")
                _signal_group(child, signal.SIGKILL)
                child.process.wait()
        # A child's own children (uvicorn's workers) go with it, even those of a child that
        # ended by itself: the group's id is not reused while any of them is left.
        for child in self.children:
            _signal_group(child, signal.SIGKILL)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    if child.pid is None:
        return
    with contextlib.suppress(ProcessLookupError):  # the whole group has ended
        os.killpg(child.pid, sig)


def child_environment() -> dict[str, str]:
    """The children read the same settings from the same environment, and find the project
    wherever the command was started from."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def web_server(*, host: str, port: int, workers: int) -> Child:
    """uvicorn with `workers` processes on one socket, configured as `manage.py serve`
    configures it."""
    from django.conf import settings

    return Child(name="web server", restart=False, argv=[
        sys.executable, "-m", "uvicorn", "dashboard.asgi:application", "--host", host,
        "--port", str(port), "--workers", str(workers), "--lifespan", "off",
        "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "2",
        # The client's address is resolved by the dashboard, from DJANGO_TRUSTED_PROXIES alone
        # (dashboard/shared/client_address.py), not by uvicorn from FORWARDED_ALLOW_IPS.
        "--no-proxy-headers",
        # Each frame goes to every client: compressing it per client costs more than it saves.
        "--ws-per-message-deflate", "false",
        # A client's message is refused before it is buffered whole (uvicorn allows 16 MiB).
        "--ws-max-size", str(settings.DASHBOARD_WS_MAX_MESSAGE_BYTES)])


def poller() -> Child:
    return Child(name="poller", restart=True, argv=[sys.executable, "-m", "django", "observe"])


def loopback(host: str) -> str:
    """Where this machine reaches a server bound to `host`."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def answers(host: str, port: int) -> bool:
    """Whether a worker answers HTTP at the address (any status: the sign-in page redirects to
    HTTPS unless DJANGO_SSL_REDIRECT=0)."""
    connection = http.client.HTTPConnection(loopback(host), port, timeout=2)
    try:
        connection.request("GET", "/login/")
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def address_in_use(host: str, port: int) -> bool:
    """Whether something listens on the address already: said before preparing, rather than
    by the web server after."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def redacted(url: str) -> str:
    """A URL fit to print: its password hidden."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def database_problem() -> str | None:
    """What keeps the dashboard from its database, if anything."""
    from django.conf import settings
    from django.db import DatabaseError, connection

    database = settings.DATABASES["default"]
    try:
        connection.ensure_connection()
    except DatabaseError as error:
        where = f"{database['NAME']} on {database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
        return f"cannot reach the database {where} (DATABASE_URL): {str(error).strip()}"
    return None


def redis_problem() -> str | None:
    """What keeps the dashboard from Redis, if anything."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"cannot reach Redis at {redacted(settings.REDIS_URL)} (REDIS_URL): {error}"
    finally:
        client.close()
    return None
