"""The local runtime: everything Lambda, EventBridge targets and API Gateway would do around
the handlers, wired from the deployed template rather than from a second description."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.config import ChaosControl, LocalConfig
from local.deploy import Deployment
from local.event_sources import Backlog, PollerStats, SqsMapping, SqsPoller
from local.hooks import CALLS, CONFIGURATION_LISTENERS, DROPPED, REFUSED
from local.http_front import Admission, ApiRoute, HttpFront, TokenBucket
from local.lambda_runtime import FunctionSpec, FunctionWorker
from local.targets import (
    ApiDestinationCaller,
    ApiDestinationTap,
    AsyncInvoker,
    AsyncInvokeTap,
    TapPoller,
    TapStats,
)
from local.template import Template, function_url_path
from workflow.handler_env import IDEMPOTENCY_WINDOW_ENV

log = logging.getLogger("choreo.local")


def _logical_id(value: Any) -> str:
    """The resource a `Ref` or `Fn::GetAtt` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    raise ValueError(f"not a reference: {value!r}")


def _resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: resource.get("Properties", {})
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == resource_type}


@dataclass
class Topology:
    """What the runtime needs, read from the original template and the deployed stack."""

    functions: dict[str, FunctionSpec]  # by logical id
    mappings: list[SqsMapping]
    async_taps: list[AsyncInvokeTap]
    api_destination_taps: list[ApiDestinationTap]
    routes: list[ApiRoute]
    function_urls: dict[str, str] = field(default_factory=dict)  # function name by front path
    throttle: tuple[float, int] | None = None  # the API stage's rate and burst limits
    queue_urls: dict[str, str] = field(default_factory=dict)  # by logical id


def _local_environment(config: LocalConfig, deployed: dict[str, str]) -> dict[str, str]:
    """A function's environment as deployed, with the local idempotency window if set."""
    if IDEMPOTENCY_WINDOW_ENV in deployed and config.idempotency_window_seconds:
        return {**deployed, IDEMPOTENCY_WINDOW_ENV: str(config.idempotency_window_seconds)}
    return deployed


_DYNAMIC_SECRET = re.compile(r"\{\{resolve:secretsmanager:(?P<secret>[^:}]+(?::[^:}]+){0,6}?)"
                             r":SecretString:(?P<json_key>[^:}]*):[^:}]*:[^:}]*\}\}")


def _secret_resolve(value: Any, *, physical_ids: dict[str, str], secrets: Any) -> str:
    """A template value that names a secret's value dynamically (`{{resolve:secretsmanager:
    ...}}`, what CloudFormation resolves at deploy time), resolved as CloudFormation would."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        value = separator.join(part if isinstance(part, str) else physical_ids[_logical_id(part)]
                               for part in parts)
    if not isinstance(value, str):
        raise ValueError(f"cannot resolve {value!r}")
    found = _DYNAMIC_SECRET.fullmatch(value)
    if found is None:
        return value
    secret = secrets.get_secret_value(SecretId=found["secret"])["SecretString"]
    return str(json.loads(secret)[found["json_key"]]) if found["json_key"] else str(secret)


def read_topology(deployment: Deployment, config: LocalConfig, *, sqs: Any,
                  lambda_client: Any, secrets: Any) -> Topology:
    template = deployment.original
    ids = deployment.physical_ids

    queue_urls: dict[str, str] = {}
    for logical_id in [*_resources(template, "AWS::SQS::Queue"),
                       *(tap.queue_logical_id for tap in deployment.adapted.taps)]:
        physical = ids[logical_id]
        queue_urls[logical_id] = physical if physical.startswith("http") else \
            sqs.get_queue_url(QueueName=physical)["QueueUrl"]

    account = deployment.account

    def queue_arn(logical_id: str) -> str:
        return f"arn:aws:sqs:{config.region}:{account}:{queue_urls[logical_id].rsplit('/', 1)[1]}"

    functions: dict[str, FunctionSpec] = {}
    for logical_id in _resources(template, "AWS::Lambda::Function"):
        deployed = lambda_client.get_function_configuration(FunctionName=ids[logical_id])
        functions[logical_id] = FunctionSpec(
            name=deployed["FunctionName"], arn=deployed["FunctionArn"],
            handler=deployed["Handler"], timeout_seconds=int(deployed.get("Timeout", 3)),
            memory_mb=int(deployed.get("MemorySize", 128)), role_arn=str(deployed.get("Role", "")),
            environment={**_local_environment(config, deployed.get("Environment", {}).get(
                "Variables", {})), **(deployment.credentials or {})})

    mappings = []
    for properties in _resources(template, "AWS::Lambda::EventSourceMapping").values():
        queue_id = _logical_id(properties["EventSourceArn"])
        function_id = _logical_id(properties["FunctionName"])
        mappings.append(SqsMapping(
            queue_url=queue_urls[queue_id], queue_arn=queue_arn(queue_id),
            function_name=functions[function_id].name,
            batch_size=int(properties.get("BatchSize", 10)),
            batching_window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
            report_batch_item_failures="ReportBatchItemFailures" in
            properties.get("FunctionResponseTypes", [])))

    invoke_configs = {_logical_id(p["FunctionName"]): p
                      for p in _resources(template, "AWS::Lambda::EventInvokeConfig").values()}
    connections = _resources(template, "AWS::Events::Connection")
    destinations = _resources(template, "AWS::Events::ApiDestination")
    async_taps, api_destination_taps = [], []
    for tap in deployment.adapted.taps:
        target = tap.target
        if tap.kind == "function":
            spec = functions[tap.target_logical_id]
            invoke = invoke_configs.get(tap.target_logical_id, {})
            on_failure = invoke.get("DestinationConfig", {}).get("OnFailure", {})
            async_taps.append(AsyncInvokeTap(
                queue_url=queue_urls[tap.queue_logical_id], function_name=spec.name,
                function_arn=spec.arn,
                maximum_retry_attempts=int(invoke.get("MaximumRetryAttempts", 2)),
                on_failure_queue_url=queue_urls[_logical_id(on_failure["Destination"])]
                if on_failure else None))
            continue
        destination = destinations[tap.target_logical_id]
        connection = connections[_logical_id(destination["ConnectionArn"])]
        headers = dict(target.get("HttpParameters", {}).get("HeaderParameters", {}))
        key_auth = connection.get("AuthParameters", {}).get("ApiKeyAuthParameters")
        if key_auth:
            headers[key_auth["ApiKeyName"]] = _secret_resolve(
                key_auth["ApiKeyValue"], physical_ids=ids, secrets=secrets)
        endpoint = destination["InvocationEndpoint"]
        if not isinstance(endpoint, str):  # a function URL of the stack
            endpoint = deployment.adapted.function_urls[_logical_id(endpoint)]
        dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
        api_destination_taps.append(ApiDestinationTap(
            queue_url=queue_urls[tap.queue_logical_id],
            endpoint=endpoint,
            method=destination.get("HttpMethod", "POST"), headers=headers,
            input_path=target.get("InputPath"),
            maximum_retry_attempts=int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)),
            dead_letter_queue_url=queue_urls[_logical_id(dead_letter)] if dead_letter else None,
            rule_arn=f"arn:aws:events:{config.region}:{account}:rule/{tap.rule_logical_id}",
            target_arn=f"arn:aws:events:{config.region}:{account}:api-destination/"
                       f"{tap.target_logical_id}"))

    integrations = {logical_id: _logical_id(p["IntegrationUri"])
                    for logical_id, p in _resources(template, "AWS::ApiGatewayV2::Integration").items()}
    routes = []
    for properties in _resources(template, "AWS::ApiGatewayV2::Route").values():
        method, path = properties["RouteKey"].split(" ", 1)
        target = properties["Target"]
        integration_id = next(part["Ref"] for part in target["Fn::Join"][1]
                              if isinstance(part, dict) and "Ref" in part)
        routes.append(ApiRoute(method, path, functions[integrations[integration_id]].name))
    throttle = None
    for stage in _resources(template, "AWS::ApiGatewayV2::Stage").values():
        settings = stage.get("DefaultRouteSettings", {})
        if "ThrottlingRateLimit" in settings:
            throttle = (float(settings["ThrottlingRateLimit"]),
                        int(settings.get("ThrottlingBurstLimit", settings["ThrottlingRateLimit"])))
    function_urls = {function_url_path(function_id): functions[function_id].name
                     for function_id in deployment.adapted.url_functions.values()}
    return Topology(functions=functions, mappings=mappings, async_taps=async_taps,
                    api_destination_taps=api_destination_taps, routes=routes,
                    function_urls=function_urls, queue_urls=queue_urls, throttle=throttle)


def topology_merge(home: Topology, *others: Topology) -> Topology:
    """One runtime for the stacks of every account: the functions, pollers and taps of all,
    and the home stack's HTTP front (only it has the HTTP API and function URLs)."""
    merged = Topology(functions=dict(home.functions), mappings=list(home.mappings),
                      async_taps=list(home.async_taps),
                      api_destination_taps=list(home.api_destination_taps),
                      routes=list(home.routes), function_urls=dict(home.function_urls),
                      throttle=home.throttle, queue_urls=dict(home.queue_urls))
    for other in others:
        clashing = set(merged.functions) & set(other.functions)
        if clashing:
            raise ValueError(f"functions in two stacks: {sorted(clashing)}")
        merged.functions.update(other.functions)
        merged.mappings += other.mappings
        merged.async_taps += other.async_taps
        merged.api_destination_taps += other.api_destination_taps
    return merged


@dataclass
class RuntimeStats:
    pollers: PollerStats = field(default_factory=PollerStats)
    taps: TapStats = field(default_factory=TapStats)


class LocalRuntime:
    """Lambda's side of the local system, given an SQS client to poll with: in the embedded
    AWS's own process, one that reaches moto's SQS directly (`local.in_process_sqs`)."""

    def __init__(self, *, config: LocalConfig, topology: Topology, sqs: Any,
                 url_refusal: Callable[[str], str | None] | None = None) -> None:
        self.config = config
        self.topology = topology
        self.stop_event = threading.Event()
        self.stats = RuntimeStats()
        self.chaos = ChaosControl(config.chaos)
        worker_env = {**config.client_environment(),
                      "CHOREO_LOG_DIR": str(config.cache_dir / "logs")}
        self.workers = {spec.name: FunctionWorker(spec, worker_env,
                                                  concurrency=config.lambda_concurrency)
                        for spec in topology.functions.values()}
        self.threads: list[SqsPoller | TapPoller] = []
        for mapping in topology.mappings:
            backlog = Backlog()
            self.threads += [SqsPoller(
                mapping=mapping, worker=self.workers[mapping.function_name], sqs=sqs,
                region=config.region, stop=self.stop_event, chaos=self.chaos,
                stats=self.stats.pollers, retry_delay_seconds=config.retry_delay_seconds,
                backlog=backlog, scale_out=index > 0)
                for index in range(config.lambda_concurrency)]
        for tap in topology.async_taps:
            self.threads.append(AsyncInvoker(tap=tap, worker=self.workers[tap.function_name],
                                             sqs=sqs, stop=self.stop_event,
                                             stats=self.stats.taps))
        for destination in topology.api_destination_taps:
            self.threads.append(ApiDestinationCaller(tap=destination, sqs=sqs,
                                                     stop=self.stop_event, stats=self.stats.taps))
        self.sqs = sqs
        self.worked_queues = [mapping.queue_url for mapping in topology.mappings] + \
            [tap.queue_url for tap in topology.async_taps]
        throttle = TokenBucket(rate=topology.throttle[0], burst=topology.throttle[1]) \
            if topology.throttle else None
        self.front = HttpFront(host=config.host, port=config.api_port, routes=topology.routes,
                               function_urls=topology.function_urls, url_refusal=url_refusal,
                               workers=self.workers, chaos=self.chaos,
                               stats=self.stats_summary, admission=Admission(
                                   throttle=throttle, behind=self.behind,
                                   behind_after_seconds=config.behind_after_seconds))

    def backlog(self) -> int:
        """Messages waiting for, or being worked on by, the functions."""
        return sum(self.sqs.depth(queue_url) for queue_url in self.worked_queues)

    def behind(self) -> float:
        """How long the event that has waited longest for a function has waited, in seconds."""
        return max((self.sqs.longest_wait(queue_url) for queue_url in self.worked_queues),
                   default=0.0)

    def stats_summary(self) -> dict[str, Any]:
        pollers, taps = self.stats.pollers, self.stats.taps
        return {
            "sqs": {"batches": pollers.batches, "records": pollers.records,
                    "failedRecords": pollers.failed_records,
                    "injectedFailures": pollers.injected_failures,
                    "injectedDuplicates": pollers.injected_duplicates,
                    "poisonedRecords": pollers.poisoned_records,
                    "delayedRecords": pollers.delayed_records},
            "asyncInvocations": {"invocations": taps.invocations, "retries": taps.retries,
                                 "sentToOnFailure": taps.failures_sent},
            "apiDestinationCalls": len(taps.http_calls),
            "apiRefused": {str(status): count for status, count in self.front.refused.items()},
            "backlog": self.backlog(),
            "behindSeconds": round(self.behind(), 3),
            "behindByQueue": {queue_url.rsplit("/", 1)[-1]: round(self.sqs.longest_wait(queue_url), 3)
                              for queue_url in self.worked_queues},
            "functions": {name: {"invocations": worker.invocations,
                                 "coldStarts": worker.cold_starts,
                                 "errors": worker.errors,
                                 "timeouts": worker.timeouts,
                                 "environments": worker.environments,
                                 "peakConcurrency": worker.peak_concurrency,
                                 "meanDurationMs": worker.duration_ms_total / worker.invocations
                                 if worker.invocations else None}
                          for name, worker in self.workers.items()},
            "chaos": self.chaos.chaos.to_dict(),
            # Calls and deliveries the embedded AWS refused as AWS would (each delivery also
            # dead-lettered where its target's dead-letter queue takes it, else dropped).
            # every call the embedded AWS answered, by service and operation
            "awsCalls": CALLS.snapshot(),
            "refusedDeliveries": {"count": len(REFUSED), "latest": list(REFUSED)[-50:],
                                  "dropped": DROPPED["count"]},
        }

    def reconfigure(self, function_name: str, before: dict[str, str],
                    after: dict[str, str]) -> None:
        """A function's environment was updated (`UpdateFunctionConfiguration`): the variables
        the update removed or changed take their new values in its new execution environments,
        with the runtime's own additions (credentials, the local idempotency window) kept."""
        worker = self.workers.get(function_name)
        if worker is None:
            return
        kept = {name: value for name, value in worker.spec.environment.items()
                if name not in before}
        worker.reconfigure({**kept, **_local_environment(self.config, after)})
        log.info("%s reconfigured: new execution environments take the update", function_name)

    def start(self) -> None:
        CONFIGURATION_LISTENERS.append(self.reconfigure)
        self.front.start()
        for thread in self.threads:
            thread.start()

    def warm(self) -> None:
        """Start every function's execution environment now rather than on first use."""
        threads = [threading.Thread(target=worker.warm) for worker in self.workers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        if self.reconfigure in CONFIGURATION_LISTENERS:
            CONFIGURATION_LISTENERS.remove(self.reconfigure)
        self.stop_event.set()
        self.front.stop()
        for thread in self.threads:
            thread.join(timeout=3)
        for worker in self.workers.values():
            worker.stop()

