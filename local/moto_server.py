"""The embedded AWS's process: moto's AWS, with the patches that make it hold load
(`local.moto_patches`), served by a production WSGI server; the Lambda service moto lacks
(`local.lambda_service`); and the background work AWS does on its own — items whose DynamoDB
time-to-live has passed are deleted.

moto ships with werkzeug's development server, which closes the connection after every
response and starts a thread for every connection: each AWS call paid for a new TCP
connection on both sides, and ~1.7 ms of the server's ~2.7 ms per call went to HTTP rather
than to AWS. `local.connection_server` keeps connections alive, a thread for each, and parses
requests in C (it says what cheroot, which served here before, cost).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import logging
import signal
import threading
import warnings
from typing import Any

from local.config import enforcement_from_environment

# This module's own imports stay light, and moto is imported when the server is made: every
# execution environment the Lambda service forks imports the module its parent process was
# started as (Python's multiprocessing runs it as `__mp_main__`), and moto there cost each
# environment ~20 MiB it never used.

log = logging.getLogger("choreo.embedded_aws")

# DynamoDB deletes expired items in the background, typically within two days; readers must
# not rely on the moment (`moto_patches.expire_ttl_items`). A sweep a minute keeps the
# embedded AWS's memory bounded by what is still live, at a cost that grows with the tables:
# swept every 5 s, it was an eighth of the process's time with a few thousand orders kept.
TTL_SWEEP_SECONDS = 60.0


def sweep_expired(stop: threading.Event, every: float = TTL_SWEEP_SECONDS) -> None:
    from local import moto_patches

    while not stop.wait(every):
        try:
            moto_patches.expire_ttl_items()
        except Exception:  # a sweep that fails is tried again; it must not end the server
            log.exception("TTL sweep failed")
        keep_the_collector_off_the_history()
        give_freed_memory_back()


def keep_the_collector_off_the_history() -> None:
    """moto holds the history (items, messages, log events) as millions of Python objects,
    and each full pass of the cyclic garbage collector walked all of them with the process
    stopped: over a second at a time after a few thousand orders, growing with the history,
    long enough for the front to turn orders away as "behind" (docs/benchmarks.md). What
    lives now is moved out of the collector's sight (`gc.freeze`), so a pass walks only what
    came since. History is freed by reference counting as before (a deleted item, an expired
    message); only a reference cycle among objects frozen before they died would be kept,
    and moto's history makes none."""
    gc.freeze()


def give_freed_memory_back() -> bool:
    """Hand the pages that C's allocator holds free back to the system (glibc's
    `malloc_trim`); False where there is no such call (another C library, another system).

    What moto frees (expired items, consumed messages, a value read back from the history
    file and dropped) larger than Python's small-object allocator serves comes from C's
    heap, and glibc returns a free page in the middle of that heap only when asked: at about
    19 orders a second the embedded AWS gathered 6 MiB a minute of free but resident heap,
    12 MiB over its first thousand orders (docs/benchmarks.md). Asked after each sweep, the
    call takes a few milliseconds, with the GIL released (ctypes lets it go around a foreign
    call)."""
    libc = ctypes.CDLL(None)
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


class JsonCallsWithoutFlask:
    """The calls of AWS's JSON protocols (DynamoDB, EventBridge, SQS, CloudWatch Logs: a POST
    to `/` naming its operation in `X-Amz-Target`) handed straight to moto's handler of the
    service, as its Flask view would hand them, without the Flask request and application
    contexts, routing and CORS around each: a tenth of the server's time under load, for
    calls that every order makes dozens of. Anything else goes through moto's own server."""

    def __init__(self, dispatcher: Any) -> None:
        # imported when the server is made, once, not with this module nor on every call
        from botocore.exceptions import ClientError
        from moto.moto_api import recorder
        from werkzeug.wrappers import Response

        self.dispatcher = dispatcher
        self._views: dict[int, Any] = {}
        self._client_error, self._recorder, self._response = ClientError, recorder, Response

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/" \
                or "HTTP_X_AMZ_TARGET" not in environ:
            return self.dispatcher(environ, start_response)
        app = self.dispatcher.get_application(environ)
        view = self._views.get(id(app))
        if view is None:
            endpoint, _ = app.url_map.bind_to_environ(environ).match("/", method="POST")
            view = self._views[id(app)] = app.view_functions[endpoint]
        request = app.request_class(environ)
        self._recorder._record_request(request)
        try:  # what moto's view does with a request (moto.core.utils.convert_to_flask_response)
            result = view.callback(request, request.raw_url, dict(request.headers))
        except self._client_error as error:
            result = 400, {}, error.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        return self._response(response=content, status=status, headers=headers)(environ,
                                                                                 start_response)


def wsgi_app(*, enforced: bool = True) -> Any:
    """moto's AWS, every service behind one endpoint, as its own server builds it; refusing
    what AWS refuses unless `enforced` is off (`local.enforcement`)."""
    from local import hooks, moto_patches

    moto_patches.apply()
    # after moto_patches: it imports moto's IAM and S3, whose import-time instances the
    # first patch must see made
    from local import enforcement

    enforcement.apply()
    hooks.ENFORCEMENT.enabled = enforced
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return JsonCallsWithoutFlask(DomainDispatcherApplication(create_backend_app))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.moto_server", description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[choreo] %(message)s")
    # moto warns about every resource type its CloudFormation skips (local/template.py says
    # which, and why); the Lambda service's own messages are what a user needs here.
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="moto")
    moto_app = wsgi_app(enforced=enforcement_from_environment())
    from local.connection_server import ConnectionServer
    from local.hosts import allowed_hosts, with_host_check
    from local.lambda_service import LambdaService, with_lambda_service

    lambda_service = LambdaService()
    app = with_lambda_service(moto_app, lambda_service)
    allowed = allowed_hosts(bind_host=args.host, port=args.port)
    server = ConnectionServer(args.host, args.port,
                              with_host_check(app, allowed, port=args.port), name="embedded-aws")
    stop = threading.Event()
    threading.Thread(target=sweep_expired, args=(stop,), name="ttl-sweeper", daemon=True).start()

    def shut_down(*_: Any) -> None:
        stop.set()

        def stop_all() -> None:
            lambda_service.stop()
            server.stop()

        threading.Thread(target=stop_all, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    server.serve()


if __name__ == "__main__":
    main()
