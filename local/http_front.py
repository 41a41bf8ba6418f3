"""The local HTTP front: what API Gateway (HTTP API, payload format 2.0) does for the order
function, and what Lambda function URLs do for the functions that have one.

- `/_lambda-url/<function logical id>/...` is that function's URL (local.template says why
  there): any method and path below it, handed to the function as a function URL event.
- `/_local/chaos` shows (GET) and switches (PUT, JSON) the chaos knobs of the runtime;
  `/_local/stats` counts what the runtime delivered and injected.
- Anything else is matched against the HTTP API's route keys, turned into an API Gateway v2
  event, and handed to the integrated function; no matching route is API Gateway's 404.
- The stage's throttle (rate and burst, from the template) is a token bucket, as API
  Gateway's is: beyond it, 429 Too Many Requests. The local front adds `Retry-After`.
- Only requests that name this machine in `Host` are answered (local/hosts.py: DNS
  rebinding), and a `Content-Length` that is not a length is a 400.
- A request that would start work (anything but GET, HEAD, OPTIONS) while the functions are
  behind (a message has waited longer than `behind_after_seconds` to be received) is answered
  503 with `Retry-After`, instead of adding to queues that would only grow until handlers time
  out: the embedded AWS protects itself, as AWS's services shed load. Reads are still served.
- It is served as the embedded AWS is (`local.connection_server`: a thread per keep-alive
  connection; docs/local-mode.md has the figures that chose it). A repeated header reaches
  the function as API Gateway hands it on, its values joined with commas.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.config import ACCOUNT_ID, Chaos, ChaosControl
from local.connection_server import CLOSE_CONNECTION, ConnectionServer
from local.hosts import REFUSAL, allowed_hosts, content_length, host_allowed
from local.lambda_runtime import FunctionWorker
from local.template import FUNCTION_URL_PATH

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit
READS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_RETRY_AFTER_SECONDS = 10


log = logging.getLogger("choreo.local")


class TokenBucket:
    """API Gateway's throttle: `rate` tokens a second into a bucket of `burst`; a request
    takes one or is refused."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 if the request may go on, else how many seconds until a token is there."""
        with self.lock:
            now = self.clock()
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Admission:
    """What the front lets through: the stage throttle, and work only while the Lambda service
    keeps up."""

    throttle: TokenBucket | None = None
    behind: Callable[[], float] | None = None
    """how long the message that has waited longest to be received has waited, in seconds"""
    behind_after_seconds: float = 0.0

    def refusal(self, method: str) -> tuple[int, str, float] | None:
        """(status, message, retry after seconds) for a request that may not go on."""
        if self.throttle is not None:
            wait = self.throttle.take()
            if wait:
                return 429, "Too Many Requests", wait
        if self.behind is not None and self.behind_after_seconds and method not in READS:
            waited = self.behind()
            if waited > self.behind_after_seconds:
                return (503, f"the functions are behind: an event has waited {waited:.1f} s to "
                        "be handled; try again shortly", waited)
        return None


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    function_name: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method and self.method != "ANY":
            return None
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


def comma_joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Payload 2.0 has one value a name: a repeated header's or query parameter's values are
    joined with commas."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def api_gateway_event(*, method: str, path: str, query: str, headers: dict[str, str],
                      body: bytes, route: ApiRoute, path_parameters: dict[str, str],
                      source_ip: str, api_id: str, host: str) -> dict[str, Any]:
    """The API Gateway HTTP API payload 2.0 (see AWS's sample `apiGatewayProxyV2Event.json`)."""
    return _http_event(method=method, path=path, query=query, headers=headers, body=body,
                       route_key=route.route_key, path_parameters=path_parameters,
                       source_ip=source_ip, api_id=api_id, host=host, account_id=ACCOUNT_ID)


def function_url_event(*, method: str, path: str, query: str, headers: dict[str, str],
                       body: bytes, source_ip: str, url_id: str, host: str) -> dict[str, Any]:
    """A function URL's event: payload 2.0 with the `$default` route and an anonymous
    caller (see AWS's sample `lambdaFunctionUrlEvent.json`)."""
    return _http_event(method=method, path=path, query=query, headers=headers, body=body,
                       route_key="$default", path_parameters={}, source_ip=source_ip,
                       api_id=url_id, host=host, account_id="anonymous")


def _http_event(*, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
                route_key: str, path_parameters: dict[str, str], source_ip: str, api_id: str,
                host: str, account_id: str) -> dict[str, Any]:
    now = time.time()
    text: str | None = None
    is_base64 = False
    if body:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
    query_parameters = comma_joined(parse_qsl(query, keep_blank_values=True))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id, "apiId": api_id, "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
            "requestId": uuid.uuid4().hex[:16], "routeKey": route_key, "stage": "$default",
            "time": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
    if query_parameters:
        event["queryStringParameters"] = query_parameters
    if path_parameters:
        event["pathParameters"] = path_parameters
    if text is not None:
        event["body"] = text
    return event


@dataclass(frozen=True)
class FrontRequest:
    """One request to the front, as its handlers need it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    """lower-case names; a repeated header's values joined with commas, as payload 2.0 has them"""
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    close: bool = False
    """close the connection after this answer (what the request sent is not to be trusted)"""


def json_answer(status: int, body: Any, content_type: str = "application/json", *,
                close: bool = False) -> Answer:
    return Answer(status, json.dumps(body).encode(), {"Content-Type": content_type}, close)


HANDLED_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """A WSGI request's headers by lower-case name."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            headers[key.replace("_", "-").lower()] = value
    return headers


class HttpFront:
    """The front as a WSGI application, served as the embedded AWS is
    (`local.connection_server`): keep-alive connections, a thread for each."""

    def __init__(self, *, host: str, port: int, routes: list[ApiRoute],
                 workers: dict[str, FunctionWorker], chaos: ChaosControl,
                 stats: Callable[[], dict[str, Any]], admission: Admission | None = None,
                 function_urls: dict[str, str] | None = None, api_id: str = "local",
                 allowed: frozenset[str] | None = None,
                 url_refusal: Callable[[str], str | None] | None = None) -> None:
        self.routes = routes
        self.function_urls = function_urls or {}
        # Why a function's URL may not be invoked (its resource policy), or None: Lambda
        # answers such a request 403 before the function runs.
        self.url_refusal = url_refusal
        self.admission = admission or Admission()
        self.refused = {429: 0, 503: 0}
        self.workers = workers
        self.chaos = chaos
        self.stats = stats
        self.api_id = api_id
        self.server = ConnectionServer(host, port, self, name="http-front")  # bound now
        self.port: int = self.server.port  # the one bound, if 0 asked for any
        self.allowed_hosts = allowed if allowed is not None else \
            allowed_hosts(bind_host=host, port=self.port)
        self.thread = threading.Thread(target=self.server.serve, name="http-front", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.stop()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = self.answer(environ)
        if answer.close:
            environ[CLOSE_CONNECTION]()
        status = HTTPStatus(answer.status).phrase if answer.status in _STATUSES else ""
        start_response(f"{answer.status} {status}", [
            *answer.headers.items(), ("Content-Length", str(len(answer.body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [answer.body]

    def answer(self, environ: dict[str, Any]) -> Answer:
        if not host_allowed(environ.get("HTTP_HOST"), self.allowed_hosts, port=self.port):
            return Answer(421, REFUSAL, {"Content-Type": "application/problem+json"}, close=True)
        method = environ["REQUEST_METHOD"]
        if method not in HANDLED_METHODS:
            return json_answer(501, {"message": "Not Implemented"}, close=True)
        length = content_length(environ.get("CONTENT_LENGTH"))
        if length is None:
            return json_answer(400, {"message": "Content-Length is not a length"}, close=True)
        if length > MAX_BODY_BYTES:
            return json_answer(413, {"message": "Request Entity Too Large"}, close=True)
        url = urlsplit(environ.get("REQUEST_URI", ""))
        request = FrontRequest(
            method=method, path=url.path, query=url.query, headers=request_headers(environ),
            body=environ["wsgi.input"].read(length) if length else b"",
            source_ip=environ.get("REMOTE_ADDR", ""))
        if url.path.startswith(FUNCTION_URL_PATH):
            return self.function_url(request)
        if url.path.rstrip("/") == "/_local/chaos":
            return self.chaos_knobs(request)
        if url.path.rstrip("/") == "/_local/stats":
            return json_answer(200, self.stats())
        return self.api(request)

    def function_url(self, request: FrontRequest) -> Answer:
        path = request.path
        prefix = next((prefix for prefix in self.function_urls
                       if path.startswith(prefix) or path == prefix.rstrip("/")), None)
        if prefix is None:
            return json_answer(404, {"message": "Not Found"})
        refusal = self.url_refusal(self.function_urls[prefix]) if self.url_refusal else None
        if refusal is not None:
            log.warning("function URL refused: %s", refusal)
            return json_answer(403, {"Message": "Forbidden"})
        url_id = prefix.strip("/").rsplit("/", 1)[-1].lower()
        event = function_url_event(
            method=request.method, path="/" + path[len(prefix):].lstrip("/"), query=request.query,
            headers=request.headers, body=request.body, source_ip=request.source_ip,
            url_id=url_id, host=request.headers.get("host", "localhost"))
        return self._invoke(self.function_urls[prefix], event, request_id_header="x-amzn-RequestId")

    def chaos_knobs(self, request: FrontRequest) -> Answer:
        if request.method == "PUT":
            try:
                values = json.loads(request.body or b"{}")
                if not isinstance(values, dict):
                    raise ValueError("send a JSON object of knobs")
                self.chaos.chaos = Chaos.from_dict({**self.chaos.chaos.to_dict(), **values})
            except (ValueError, TypeError) as error:
                return json_answer(400, {"title": "Invalid chaos settings", "status": 400,
                                         "detail": str(error)}, "application/problem+json")
        elif request.method != "GET":
            return json_answer(405, {"message": "Method Not Allowed"})
        return json_answer(200, self.chaos.chaos.to_dict())

    def api(self, request: FrontRequest) -> Answer:
        for route in self.routes:
            parameters = route.match(request.method, request.path)
            if parameters is not None:
                break
        else:
            return json_answer(404, {"message": "Not Found"})
        refusal = self.admission.refusal(request.method)
        if refusal is not None:
            status, message, wait = refusal
            self.refused[status] += 1
            retry_after = str(min(MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(wait))))
            # API Gateway's own throttling answer, or the order API's problem details
            answer: dict[str, Any] = {"message": message} if status == 429 else {
                "type": "about:blank", "title": "Service Unavailable", "status": status,
                "detail": message}
            content_type = "application/json" if status == 429 else "application/problem+json"
            return Answer(status, json.dumps(answer).encode(),
                          {"Content-Type": content_type, "Retry-After": retry_after})
        event = api_gateway_event(
            method=request.method, path=request.path, query=request.query,
            headers=request.headers, body=request.body, route=route,
            path_parameters=parameters, source_ip=request.source_ip, api_id=self.api_id,
            host=request.headers.get("host", "localhost"))
        return self._invoke(route.function_name, event, request_id_header="apigw-requestid")

    def _invoke(self, function_name: str, event: dict[str, Any], *,
                request_id_header: str) -> Answer:
        """Hand `event` to the function, and its answer (payload format 2.0) to the client."""
        result = self.workers[function_name].invoke(event)
        response = result.payload
        if result.failed or not isinstance(response, dict) or "statusCode" not in response:
            return json_answer(500, {"message": "Internal Server Error"})
        response_body = response.get("body") or ""
        raw = base64.b64decode(response_body) if response.get("isBase64Encoded") \
            else response_body.encode()
        response_headers = {name: str(value) for name, value in
                            (response.get("headers") or {}).items()}
        if not any(name.lower() == "content-type" for name in response_headers):
            response_headers["Content-Type"] = "application/json"
        response_headers[request_id_header] = event["requestContext"]["requestId"]
        return Answer(int(response["statusCode"]), raw, response_headers)


_STATUSES = frozenset(status.value for status in HTTPStatus)
