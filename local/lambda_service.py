"""The Lambda service of the embedded AWS: the local runtime, hosted in the embedded AWS's own
process, where its pollers reach SQS without HTTP (`local.in_process_sqs`), as AWS's do.

Whoever deploys the stack starts it once the stack exists, with `POST /_local/lambda` and
the deployment as JSON (`EmbeddedAws.lambda_start`); the runtime then reads what to run from
the template and the deployed resources, starts the execution environments, the pollers and
the order API's HTTP front, and answers with what it runs. It stops with the process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from local.config import ACCOUNT_ID, LocalConfig
from local.deploy import Deployment
from local.embedded_aws import client
from local.hosts import content_length
from local.in_process_sqs import InProcessSqs
from local.runtime import LocalRuntime, read_topology, topology_merge

log = logging.getLogger("choreo.local")

CONTROL_PATH = "/_local/lambda"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LambdaService:
    def __init__(self) -> None:
        self.runtime: LocalRuntime | None = None
        self.lock = threading.Lock()

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.runtime is not None:
                raise RuntimeError("the Lambda service is running already")
            config = LocalConfig.from_dict(request["config"])
            deployment = Deployment.from_dict(request["deployment"])
            sqs = InProcessSqs(account_id=ACCOUNT_ID, region=config.region)
            topology = topology_merge(*(
                read_topology(stack, config, sqs=sqs,
                              lambda_client=client(config, "lambda", account=stack.account),
                              secrets=client(config, "secretsmanager", account=stack.account))
                # the replica in another region runs no functions
                for stack in (deployment, *deployment.others) if stack.region is None))
            runtime = LocalRuntime(config=config, topology=topology, sqs=sqs)
            runtime.warm()
            runtime.start()
            self.runtime = runtime
            return {"functions": len(runtime.workers), "mappings": len(topology.mappings),
                    "pollers": sum(1 for _ in runtime.threads),
                    "asyncTargets": len(topology.async_taps),
                    "apiDestinations": len(topology.api_destination_taps)}

    def stop(self) -> None:
        with self.lock:
            if self.runtime is not None:
                self.runtime.stop()
                self.runtime = None


def with_lambda_service(app: WsgiApp, service: LambdaService) -> WsgiApp:
    """moto's WSGI app, with the control endpoint of the Lambda service beside it."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != CONTROL_PATH:
            return app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            start_response("405 Method Not Allowed", [("Content-Type", "application/json")])
            return [b'{"message": "POST the deployment to start the Lambda service"}']
        length = content_length(environ.get("CONTENT_LENGTH"))
        if length is None:
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"message": "Content-Length is not a length"}']
        try:
            answer = service.start(json.loads(environ["wsgi.input"].read(length)))
        except Exception as error:
            log.exception("the Lambda service did not start")
            body = json.dumps({"message": f"{type(error).__name__}: {error}"}).encode()
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
            return [body]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]

    return serve
