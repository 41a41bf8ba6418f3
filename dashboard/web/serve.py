"""Serving the dashboard: the ASGI server and the observability poller in one event loop.

`serve_dashboard` is what `python -m choreo up` calls, in its main thread, with the local
system up: it points the dashboard at the deployed stack, migrates the SQLite read model,
rebuilds it from the log group, then serves until `stop` is set. `python manage.py serve`
does the same against any stack the environment names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import uvicorn

log = logging.getLogger("dashboard.web.serve")

SHUTDOWN_SECONDS = 4


def say(message: str) -> None:
    print(f"[choreo] dashboard: {message}", flush=True)


def serve_dashboard(*, host: str, port: int, cache_dir: Path, region: str, stack_name: str,
                    endpoint_url: str, outputs: Mapping[str, str], stop: threading.Event,
                    ready: Callable[[str], None]) -> None:
    """Serve the dashboard of a local system (the embedded AWS at `endpoint_url`, its stack's
    `outputs`) until `stop` is set; `ready(url)` once it answers."""
    # Settings are read from the environment: the local system's choices come first.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("CHOREO_HOST", host)
    os.environ.setdefault("CHOREO_CACHE_DIR", str(cache_dir))
    import django

    django.setup()
    from dashboard import aws

    aws.configure(region=region, stack_name=stack_name, endpoint_url=endpoint_url,
                  outputs=dict(outputs),
                  credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    # The embedded AWS starts empty each time, so the read model restarts from its log group
    # rather than keeping orders the order API no longer knows.
    prepare(clear=True)
    serve(host=host, port=port, stop=stop, ready=ready)


def prepare(*, clear: bool, rebuild: bool = True) -> None:
    """Migrate the read model and bring it up to date from the log group (`clear`: forget it
    and replay everything kept)."""
    from django.core.management import call_command

    from dashboard import aws
    from dashboard.readmodel.history import RebuildProgress, history_rebuild, replay_start_ms

    call_command("migrate", verbosity=0, interactive=False)
    if not rebuild:
        return
    context = aws.current()
    outputs = context.outputs()

    def report(progress: RebuildProgress) -> None:
        if progress.finished:
            say(f"history rebuilt from {progress.log_group_name} {progress.since}: "
                f"{progress.line()}")

    # Each start reads only what the log group gained since the newest event kept.
    history_rebuild(logs=context.client("logs"), log_group_name=outputs.observability_log_group_name,
                    start_time_ms=replay_start_ms(full=clear), progress=report, clear=clear)


class DashboardServer(uvicorn.Server):
    """uvicorn's server, minus its signal handling: whoever started us owns SIGINT and
    SIGTERM, and tells us to stop through an event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(*, host: str, port: int, stop: threading.Event, ready: Callable[[str], None],
          poll: bool = True) -> None:
    """The ASGI app and (unless another process polls) the poller, until `stop` is set."""
    asyncio.run(_serve(host=host, port=port, stop=stop, ready=ready, poll=poll))


async def _serve(*, host: str, port: int, stop: threading.Event, ready: Callable[[str], None],
                 poll: bool) -> None:
    from django.conf import settings

    from dashboard import aws
    from dashboard.asgi import application
    from dashboard.live.broadcast import EventBroadcaster
    from dashboard.readmodel.observability import ObservabilityPoller

    config = uvicorn.Config(application, host=host, port=port, lifespan="off",
                            log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                            # The dashboard resolves the client's address itself
                            # (dashboard/shared/client_address.py).
                            proxy_headers=False,
                            # Each frame goes to every client: compressing it per client
                            # would cost more than the bytes it saves on a local network.
                            ws_per_message_deflate=False,
                            # A client's message is refused before it is buffered whole.
                            ws_max_size=settings.DASHBOARD_WS_MAX_MESSAGE_BYTES)
    server = DashboardServer(config)
    server_task = asyncio.create_task(server.serve())
    poller_stop = asyncio.Event()
    poller_task: asyncio.Task[None] | None = None
    if poll:
        context = aws.current()
        poller = ObservabilityPoller(sqs=context.client("sqs"),
                                     queue_url=context.outputs().observability_queue_url,
                                     broadcaster=EventBroadcaster())
        poller_task = asyncio.create_task(poller.run(poller_stop))
    announced = False
    url = f"http://{host}:{port}"
    while not stop.is_set() and not server_task.done():
        if server.started and not announced:
            announced = True
            ready(url)
        await asyncio.sleep(0.1)
    server.should_exit = True
    poller_stop.set()
    pending = [task for task in (server_task, poller_task) if task is not None]
    _, late = await asyncio.wait(pending, timeout=SHUTDOWN_SECONDS)
    for task in late:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if server_task.done() and not server_task.cancelled() and server_task.exception():
        raise RuntimeError("the dashboard server failed") from server_task.exception()
