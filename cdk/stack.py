"""The one stack: every construct built from the choreography model, and the permissions
and settings that connect them."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.assets import dependency_layer_stage, lambda_source_stage
from cdk.constructs.boundaries import Boundaries
from cdk.constructs.buses import Buses
from cdk.constructs.defaults import ARCHITECTURE, RUNTIME
from cdk.constructs.naming import logical_id_set
from cdk.constructs.notifications import Notifications
from cdk.constructs.observability import Observability
from cdk.constructs.queues import RedrivenQueue
from cdk.constructs.routes import Routes, rule_delivery_grant
from cdk.constructs.subdomain import SubdomainServices
from cdk.constructs.tables import SharedTables
from cdk.settings import Settings
from workflow import outputs
from workflow.handler_env import EnvKind, EnvVar, handler_environment
from workflow.model import (
    CHOREOGRAPHY,
    IDEMPOTENCY_TABLE,
    Bus,
    Choreography,
    Function,
    ToNotification,
    ToQueue,
)
from workflow.placement import Placements, StackPlan, bus_arn, model_slice
from workflow.versions import emitted_versions

# What the handlers do with a table, and nothing more: a ledger is read and written by
# conditional puts and updates, alone or in transactions (functions/common/aws.py; a
# transaction needs the actions of its items), and never deleted from; Powertools'
# idempotency layer also deletes the record of a handler that failed, so that a retry may
# run it.
LEDGER_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
IDEMPOTENCY_ACTIONS = (*LEDGER_ACTIONS, "dynamodb:DeleteItem")
# An outbox relay writes nothing: it reads the records its batch of checks names, all in one
# BatchGetItem (functions/order/outbox.py), rather than one GetItem per check.
RELAY_ACTIONS = ("dynamodb:BatchGetItem",)


def table_actions(function: Function, table_id: str) -> tuple[str, ...]:
    if table_id == IDEMPOTENCY_TABLE:
        return IDEMPOTENCY_ACTIONS
    return RELAY_ACTIONS if function.relay_for is not None else LEDGER_ACTIONS


def publish_sources(choreography: Choreography, function: Function) -> list[str]:
    """The CloudEvent sources (the EventBridge `source`) of what a function publishes."""
    return sorted({choreography.event(name).producer.value for name in function.publishes})


class ChoreoStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *,
                 choreography: Choreography = CHOREOGRAPHY,
                 placements: Placements | None = None, plan: StackPlan | None = None,
                 home_stack_name: str | None = None, **kwargs: Any) -> None:
        """With no `plan`, the whole choreography in one stack. With one (a deployment
        across accounts and regions, `workflow.placement`), the part of the model the plan
        places here, wired to the other stacks' buses by their ARNs."""
        super().__init__(scope, construct_id, **kwargs)
        settings = self.settings = Settings.from_context(self)
        self.placements = placements or Placements()
        self.plan = plan
        whole = choreography
        home_stack_name = home_stack_name or construct_id
        if plan is not None:
            choreography = model_slice(plan, whole)
        local_buses = plan.buses if plan is not None else tuple(Bus)
        remote_buses = {
            bus: bus_arn(bus, self.placements.stack_of_bus(bus, home_stack_name, whole).name,
                         self.placements.of_bus(bus, whole))
            for bus in Bus if bus not in local_buses}
        remote_roles = {
            forward.bus: forward.role_arn
            for forward in self.placements.forwards(home_stack_name, whole)
            if forward.sender.name == self.stack_name and not forward.receiver.replica}

        code = lambda_.Code.from_asset(str(lambda_source_stage()))
        layer = lambda_.LayerVersion(
            self, "DependencyLayer",
            description="The handlers' third-party packages",
            code=lambda_.Code.from_asset(str(dependency_layer_stage(
                bundle=settings.bundle, python_version=RUNTIME.name.removeprefix("python")))),
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE])

        self.buses = Buses(self, "Buses", buses=local_buses)
        self.shared_tables = SharedTables(self, "Shared", choreography=choreography)
        self.subdomains = {
            subdomain: SubdomainServices(self, subdomain.value.title(), subdomain=subdomain,
                                         choreography=choreography, code=code, layer=layer)
            for subdomain in choreography.subdomains()}
        self.tables: dict[str, dynamodb.Table] = dict(self.shared_tables.tables)
        self.functions: dict[str, lambda_.Function] = {}
        self.queues: dict[str, RedrivenQueue] = {}
        self.failure_queues: dict[str, sqs.Queue] = {}
        for subdomain in self.subdomains.values():
            self.tables.update(subdomain.tables)
            self.functions.update(subdomain.functions)
            self.queues.update(subdomain.queues)
            self.failure_queues.update(subdomain.failure_queues)

        # The outside world's endpoint, where the routes that notify are.
        self.notifications = Notifications(
            self, "Notifications", choreography=choreography,
            endpoint=settings.notification_endpoint,
            api_key_secret_name=settings.notification_api_key_secret_name, code=code,
            layer=layer) if any(isinstance(route.target, ToNotification)
                                for route in choreography.routes) else None
        self.routes = Routes(
            self, "Routes", choreography=choreography, buses=self.buses.buses,
            queues={queue_id: redriven.queue for queue_id, redriven in self.queues.items()},
            functions=dict(self.functions),
            destinations=self.notifications.destinations if self.notifications else {},
            dead_letter_queue=self.buses.rule_target_dead_letter_queue, remote_buses=remote_buses,
            remote_roles=remote_roles)
        # Observed where the logged bus is: the home stack (the history of record).
        self.observability = Observability(
            self, "Observability", buses=self.buses.buses,
            observed_buses=choreography.observed_buses, logged_bus=choreography.logged_bus,
            dead_letter_queue=self.buses.rule_target_dead_letter_queue) \
            if choreography.logged_bus in local_buses else None

        self._grant_rule_deliveries(choreography)
        self._wire(choreography)
        self.boundaries = Boundaries(self, "Boundaries", choreography=whole,
                                     placements=self.placements, buses=self.buses.buses,
                                     home_stack_name=home_stack_name,
                                     dead_letter_queue=self.buses.rule_target_dead_letter_queue)
        self._outputs(choreography)

    def _grant_rule_deliveries(self, choreography: Choreography) -> None:
        """Each queue a rule delivers to accepts the rules of the buses its routes are on,
        in one statement however many rules there are."""
        rule_delivery_grant(self.buses.rule_target_dead_letter_queue,
                            list(self.buses.buses.values()), sid="UndeliveredRuleTargets")
        for queue in choreography.queues:
            buses = sorted({route.bus for route in choreography.routes
                            if isinstance(route.target, ToQueue) and route.target.queue == queue.id})
            if buses:
                rule_delivery_grant(self.queues[queue.id].queue,
                                    [self.buses.buses[bus] for bus in buses], sid="RouteRules")

    def _secrets(self, choreography: Choreography) -> dict[str, secretsmanager.Secret]:
        """The secrets the functions read, each generated by the stack (64 letters and digits)
        and never in the template."""
        names = dict.fromkeys(name for function in choreography.functions
                              for name in function.secrets)
        secrets = {}
        for name in names:
            secret = secretsmanager.Secret(
                self, name, description=f"{name}: read by the functions that need it",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    exclude_punctuation=True, include_space=False, password_length=64))
            logical_id_set(secret, f"{name}Secret")
            secrets[name] = secret
        return secrets

    def _wire(self, choreography: Choreography) -> None:
        """Give each function its event sources, and the environment the model declares for
        it (`workflow.handler_env`), each variable with the permission to use what it names."""
        dead_letter_queues: dict[str, sqs.IQueue] = dict(self.failure_queues)
        for queue in choreography.queues:
            redriven = self.queues[queue.id]
            self.functions[queue.consumer].add_event_source(event_sources.SqsEventSource(
                redriven.queue, batch_size=queue.batch_size, report_batch_item_failures=True,
                max_batching_window=Duration.seconds(queue.batching_window_seconds)
                if queue.batching_window_seconds else None))
            # A handler dead-letters what can never succeed to one queue.
            chosen = dead_letter_queues.setdefault(queue.consumer, redriven.dead_letter_queue)
            if chosen is not redriven.dead_letter_queue:
                raise ValueError(f"{queue.consumer} would have two dead-letter queues")

        self.secrets = self._secrets(choreography)
        for function in choreography.functions:
            resource = self.functions[function.id]
            for variable in handler_environment(choreography, function):
                value = self._environment_value(choreography, function, resource, variable,
                                                dead_letter_queues)
                if value is not None:
                    resource.add_environment(variable.name, value)

    def _environment_value(self, choreography: Choreography, function: Function,
                           resource: lambda_.Function, variable: EnvVar,
                           dead_letter_queues: dict[str, sqs.IQueue]) -> str | None:
        """What the stack puts in one variable of a function's environment, having granted the
        function what it needs to use it; None for an optional one it has nothing for."""
        match variable.kind:
            case EnvKind.SECRET_ARN:
                secret = self.secrets[variable.ref]
                secret.grant_read(resource)
                return secret.secret_arn
            case EnvKind.TABLE_NAME:
                table = self.tables[variable.ref]
                table.grant(resource, *table_actions(function, variable.ref))
                return table.table_name
            case EnvKind.QUEUE_URL:
                queue = self.queues[variable.ref].queue
                queue.grant_send_messages(resource)
                return queue.queue_url
            case EnvKind.IDEMPOTENCY_WINDOW:
                return str(choreography.idempotency_window_seconds)
            case EnvKind.BUS_NAME:
                bus = self.buses.buses[Bus(variable.ref)]
                # Only its own subdomain's events: a function cannot speak for another one.
                resource.add_to_role_policy(iam.PolicyStatement(
                    actions=["events:PutEvents"], resources=[bus.event_bus_arn],
                    conditions={"StringEquals": {"events:source": publish_sources(
                        choreography, function)}}))
                return bus.event_bus_name
            case EnvKind.EVENT_VERSIONS:
                # The version of each of its events it publishes: changing the setting
                # updates the function's configuration only, which Lambda applies to new
                # execution environments while the running ones finish what they hold.
                versions = {event_type: version for event_type, version
                            in emitted_versions(self.settings.event_versions).items()
                            if event_type in function.publishes}
                return ",".join(f"{event_type}={version}"
                                for event_type, version in versions.items()) or None
            case EnvKind.DEAD_LETTER_QUEUE_URL:
                dead_letter_queue = dead_letter_queues[function.id]
                dead_letter_queue.grant_send_messages(resource)
                return dead_letter_queue.queue_url
        raise ValueError(f"{function.id}: no value for {variable.name}, a {variable.kind}")

    def _outputs(self, choreography: Choreography) -> None:
        """Everything a client (the dashboard, a test, a script) needs to find, under the
        keys `workflow/outputs.py` names."""
        def output(key: str, value: str, description: str) -> None:
            CfnOutput(self, key, value=value, description=description)

        for bus, event_bus in self.buses.buses.items():
            output(outputs.bus_name(bus), event_bus.event_bus_name, f"The {bus.value} event bus")
        if self.observability is not None:
            output(outputs.OBSERVABILITY_QUEUE_URL, self.observability.queue.queue_url,
                   "Every observed event, tagged with its bus")
            output(outputs.OBSERVABILITY_LOG_GROUP_NAME,
                   self.observability.log_group.log_group_name,
                   f"Every event on the {choreography.logged_bus.value} bus, as EventBridge saw it")
        for queue in choreography.queues:
            output(outputs.queue_url(queue.id), self.queues[queue.id].queue.queue_url,
                   f"Feeds the {queue.consumer} function")
        dead_letter_queues = {
            **{outputs.dead_letter_queue_url(queue.id): self.queues[queue.id].dead_letter_queue
               for queue in choreography.queues},
            **{outputs.failure_queue_url(function_id): failures
               for function_id, failures in self.failure_queues.items()},
            outputs.dead_letter_queue_url(outputs.RULE_TARGET):
                self.buses.rule_target_dead_letter_queue,
        }
        if self.observability is not None:
            dead_letter_queues[outputs.dead_letter_queue_url(outputs.OBSERVABILITY)] = \
                self.observability.dead_letter_queue
        for dead_letters in outputs.dead_letter_outputs(choreography):
            if dead_letters.key not in dead_letter_queues:
                continue
            purpose = dead_letters.purpose
            output(dead_letters.key, dead_letter_queues[dead_letters.key].queue_url,
                   purpose[0].upper() + purpose[1:])
        for function in choreography.functions:
            output(outputs.function_name(function.id), self.functions[function.id].function_name,
                   function.summary)
        for table in choreography.tables:
            output(outputs.table_name(table.id), self.tables[table.id].table_name, table.summary)
        for api in choreography.http_apis:
            subdomain = self.subdomains[choreography.function(api.function).subdomain]
            output(outputs.http_api_url(api), subdomain.http_apis[api.id].api_endpoint,
                   f"The HTTP API served by the {api.function} function")
        self.boundaries.outputs_add(output)
        if self.notifications is None:
            return
        output(outputs.NOTIFICATION_ENDPOINT, self.notifications.endpoint,
               "Where the API destinations post notifications")
        output(outputs.NOTIFICATION_API_KEY_SECRET_ARN, self.notifications.api_key.secret_arn,
               "The API key the notifications are signed with")
        receiver = self.notifications.receiver
        if receiver is not None:
            spec = choreography.notification_receiver
            output(outputs.table_name(spec.table.id), receiver.table.table_name, spec.table.summary)
            output(outputs.function_name(spec.function), receiver.function.function_name,
                   spec.summary)
