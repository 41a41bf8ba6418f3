"""What every subdomain is made of, built from the model: its tables, its functions, the
queues that feed them, the OnFailure queue of a function EventBridge invokes directly, and
its HTTP API. Permissions between these and anything outside are the stack's business."""

from __future__ import annotations

import json

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.defaults import ARCHITECTURE, LOG_RETENTION, REMOVAL_POLICY, RUNTIME
from cdk.constructs.naming import logical_id_set
from cdk.constructs.queues import RedrivenQueue, dead_letter_queue
from cdk.constructs.tables import table_create
from workflow.model import Choreography, Function, HttpApi, Subdomain, ToFunction

# One JSON object per request, with the fields HTTP APIs provide.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "sourceIp": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integrationErrorMessage",
})


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, *, destination: apigwv2.IAccessLogDestination,
                 format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


def function_create(scope: Construct, function_id: str, *, handler: str, summary: str,
                    service: str, timeout_seconds: int, memory_mb: int, code: lambda_.Code,
                    layer: lambda_.ILayerVersion) -> lambda_.Function:
    """A function as every function here is made: the project's code and dependency layer,
    its own log group, and its own role that may write only there."""
    scope = Construct(scope, f"{function_id}Function")
    log_group = logs.LogGroup(scope, "LogGroup", retention=LOG_RETENTION,
                              removal_policy=REMOVAL_POLICY)
    # Its own role rather than the default one with AWS's managed basic-execution policy:
    # that policy lets a function write to every log group in the account.
    role = iam.Role(scope, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description=f"The {function_id} function")
    log_group.grant_write(role)
    resource = lambda_.Function(
        scope, "Function",
        description=summary,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=code,
        layers=[layer],
        timeout=Duration.seconds(timeout_seconds),
        memory_size=memory_mb,
        role=role,
        log_group=log_group,
        environment={
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        },
    )
    logical_id_set(resource, f"{function_id}Function")
    return resource


class SubdomainServices(Construct):
    """A subdomain's resources, as the model declares them: every subdomain of the model is
    one of these, so a subdomain added to the model needs no construct of its own."""

    def __init__(self, scope: Construct, construct_id: str, *, subdomain: Subdomain,
                 choreography: Choreography, code: lambda_.Code,
                 layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        self.subdomain = subdomain
        self.tables: dict[str, dynamodb.Table] = {
            table.id: table_create(self, table)
            for table in choreography.tables if table.subdomain == self.subdomain}
        self.functions: dict[str, lambda_.Function] = {
            function.id: self._function(function, code=code, layer=layer)
            for function in choreography.functions if function.subdomain == self.subdomain}
        self.queues: dict[str, RedrivenQueue] = {
            queue.id: RedrivenQueue(
                self, f"{queue.id}Queue", name=queue.id, logical_id=queue.id, fifo=queue.fifo,
                max_receive_count=queue.max_receive_count,
                visibility_timeout=Duration.seconds(choreography.visibility_timeout_seconds(queue.id)),
                delivery_delay=Duration.seconds(queue.delay_seconds) if queue.delay_seconds else None)
            for queue in choreography.queues if queue.subdomain == self.subdomain}
        self.failure_queues: dict[str, sqs.Queue] = {
            function_id: self._failure_queue(function_id, target)
            for function_id, target in choreography.direct_targets().items()
            if function_id in self.functions}
        self.http_apis: dict[str, apigwv2.HttpApi] = {
            api.id: self._http_api(api)
            for api in choreography.http_apis if api.function in self.functions}

    def _function(self, function: Function, *, code: lambda_.Code,
                  layer: lambda_.ILayerVersion) -> lambda_.Function:
        return function_create(self, function.id, handler=function.handler,
                               summary=function.summary, service=self.subdomain.value,
                               timeout_seconds=function.timeout_seconds,
                               memory_mb=function.memory_mb, code=code, layer=layer)

    def _failure_queue(self, function_id: str, target: ToFunction) -> sqs.Queue:
        """Where Lambda sends an event it gave up invoking the function with."""
        failures = dead_letter_queue(self, f"{function_id}FailureQueue",
                                     logical_id=f"{function_id}FailureQueue")
        self.functions[function_id].configure_async_invoke(
            on_failure=destinations.SqsDestination(failures),
            retry_attempts=target.retry_attempts,
            max_event_age=Duration.seconds(target.max_event_age_seconds),
        )
        return failures

    def _http_api(self, api: HttpApi) -> apigwv2.HttpApi:
        scope = Construct(self, api.id)
        http_api = apigwv2.HttpApi(scope, "Api", api_name=f"{Stack.of(self).stack_name}-{api.id}",
                                   description=f"{api.id}: served by the {api.function} function",
                                   # The stage below replaces it, to log every request.
                                   create_default_stage=False)
        logical_id_set(http_api, api.id)
        access_logs = logs.LogGroup(scope, "AccessLogs", retention=LOG_RETENTION,
                                    removal_policy=REMOVAL_POLICY)
        apigwv2.HttpStage(scope, "DefaultStage", http_api=http_api, auto_deploy=True,
                          stage_name="$default",
                          throttle=apigwv2.ThrottleSettings(rate_limit=api.rate_limit,
                                                            burst_limit=api.burst_limit),
                          access_log_settings=_AccessLogSettings(
                              destination=apigwv2.LogGroupLogDestination(access_logs),
                              format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT)))
        integration = integrations.HttpLambdaIntegration(f"{api.id}Integration",
                                                         self.functions[api.function])
        for route in api.routes:
            http_api.add_routes(path=route.path, methods=[apigwv2.HttpMethod(route.method)],
                                integration=integration)
        return http_api
