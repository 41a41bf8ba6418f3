"""The Lambda service of the embedded AWS: the local runtime, hosted in the embedded AWS's own
process, where its pollers reach SQS without HTTP (`local.in_process_sqs`), as AWS's do.

Whoever deploys the stack starts it once the stack exists, with `POST /_local/lambda` and
the deployment as JSON (`EmbeddedAws.lambda_start`); the runtime then reads what to run from
the template and the deployed resources, starts the execution environments, the pollers and
the order API's HTTP front, and answers with what it runs. It stops with the process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from local import hooks
from local.config import ACCOUNT_ID, LocalConfig
from local.deploy import Deployment
from local.embedded_aws import client
from local.enforcement import function_url_refusal, role_statements, trusts
from local.event_sources import SqsMapping
from local.hosts import content_length
from local.in_process_sqs import InProcessSqs
from local.lambda_runtime import FunctionSpec
from local.policies import Principal, evaluate
from local.runtime import LocalRuntime, Topology, read_topology, topology_merge

log = logging.getLogger("choreo.local")

CONTROL_PATH = "/_local/lambda"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def queue_arn_of(queue_url: str, region: str) -> str:
    account, name = queue_url.rstrip("/").rsplit("/", 2)[-2:]
    return f"arn:aws:sqs:{region}:{account}:{name}"


LAMBDA = "lambda.amazonaws.com"
# How long a function's role session lasts: Lambda refreshes its environments' credentials
# before they expire; the embedded AWS checks no expiry, so one session serves a whole run.
SESSION_SECONDS = 43_200


def role_session(spec: FunctionSpec, *, region: str) -> dict[str, str]:
    """Credentials of the function's execution role, assumed as Lambda assumes it (the role
    must trust `lambda.amazonaws.com`), registered so that every call made with them is
    evaluated against the role's policies (`local.enforcement`)."""
    from moto.sts.models import sts_backends

    account = spec.role_arn.split(":")[4] if spec.role_arn.count(":") >= 5 else ACCOUNT_ID
    assumable = trusts(spec.role_arn, LAMBDA)
    if not assumable:
        # AWS refuses to create such a function ("The role defined for the function cannot
        # be assumed by Lambda"); here it runs, and every call it makes is refused.
        log.error("%s: its role %s cannot be assumed by Lambda (its trust policy does not "
                  "allow %s): every call the function makes is refused", spec.name,
                  spec.role_arn or "(none)", LAMBDA)
    session = sts_backends[account]["aws"].assume_role(
        region_name=region, role_session_name=spec.name, role_arn=spec.role_arn,
        policy="", duration=SESSION_SECONDS, external_id="")
    hooks.PRINCIPALS[session.access_key_id] = Principal(
        account=account, arn=session.arn, role_arn=spec.role_arn if assumable else "")
    return {"AWS_ACCESS_KEY_ID": session.access_key_id,
            "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
            "AWS_SESSION_TOKEN": session.session_token}


def with_role_sessions(topology: Topology, *, region: str) -> Topology:
    functions = {
        logical_id: dataclasses.replace(spec, environment={
            **spec.environment, **role_session(spec, region=region)})
        for logical_id, spec in topology.functions.items()}
    return dataclasses.replace(topology, functions=functions)


# What Lambda's event source mapping calls with the function's role (Lambda Developer Guide,
# *Using Lambda with Amazon SQS*: execution role permissions).
MAPPING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


def mapping_allowed(mapping: SqsMapping, topology: Topology) -> bool:
    """Lambda refuses an SQS event source mapping whose function's role may not read the queue
    ("The provided execution role does not have permissions to call ReceiveMessage on SQS"):
    such a queue is not polled, and says why."""
    spec = next(spec for spec in topology.functions.values()
                if spec.name == mapping.function_name)
    principal = Principal(account=mapping.queue_arn.split(":")[4], role_arn=spec.role_arn)
    for action in MAPPING_ACTIONS:
        decision = evaluate(role_statements(spec.role_arn), action, mapping.queue_arn,
                            {"aws:SecureTransport": "true"}, principal)
        if not decision.allowed:
            reason = decision.statement or "no statement of its role's policies allows it"
            hooks.refusal_record(kind="mapping", principal=spec.role_arn, action=action,
                                 resource=mapping.queue_arn, statement=decision.statement,
                                 reason=f"{mapping.function_name} may not {action} "
                                        f"{mapping.queue_arn}: {reason}")
            log.error("%s: the event source mapping of %s is refused: its role may not %s "
                      "(%s); the queue is not polled", mapping.function_name,
                      mapping.queue_arn, action, reason)
            return False
    return True


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
            if hooks.ENFORCEMENT.enabled:
                topology = with_role_sessions(topology, region=config.region)
                topology = dataclasses.replace(topology, mappings=[
                    mapping for mapping in topology.mappings
                    if mapping_allowed(mapping, topology)])
            for tap in topology.async_taps:
                hooks.TAPS[queue_arn_of(tap.queue_url, config.region)] = hooks.TapTarget(
                    "function", tap.function_arn)
            for destination in topology.api_destination_taps:
                hooks.TAPS[queue_arn_of(destination.queue_url, config.region)] = \
                    hooks.TapTarget("api-destination", destination.target_arn)
            arns = {spec.name: spec.arn for spec in topology.functions.values()}
            runtime = LocalRuntime(config=config, topology=topology, sqs=sqs,
                                   url_refusal=lambda name: function_url_refusal(arns[name]))
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
