"""The outside world's notification endpoint, as EventBridge API destinations, and the
receiver the stack brings when the deployment names no endpoint of its own."""

from __future__ import annotations

from aws_cdk import SecretValue
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from cdk.constructs.subdomain import function_create
from cdk.constructs.tables import table_create
from workflow.handler_env import EnvKind, handler_environment
from workflow.model import NOTIFICATION_API_KEY, Choreography, ToNotification

API_KEY_HEADER = "x-api-key"
# Letters and digits only: the key travels in an HTTP header.
API_KEY_LENGTH = 48


class Receiver(Construct):
    """The stand-in endpoint: a function behind its own URL (public HTTPS, which is what API
    destinations call) that checks the API key itself, since a function URL can only check
    AWS signatures, which API destinations do not make. What it receives goes to a table."""

    def __init__(self, scope: Construct, construct_id: str, *, choreography: Choreography,
                 api_key: secretsmanager.ISecret, code: lambda_.Code,
                 layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        receiver = choreography.notification_receiver
        self.table: dynamodb.Table = table_create(self, receiver.table)
        self.function = function_create(
            self, receiver.function, handler=receiver.handler, summary=receiver.summary,
            service="notifications", timeout_seconds=receiver.timeout_seconds,
            memory_mb=receiver.memory_mb, code=code, layer=layer)
        # Its environment, as the model declares it: the table's name and the key's ARN.
        values = {EnvKind.TABLE_NAME: self.table.table_name, EnvKind.SECRET_ARN: api_key.secret_arn}
        for variable in handler_environment(choreography, receiver):
            self.function.add_environment(variable.name, values[variable.kind])
        api_key.grant_read(self.function)
        self.table.grant(self.function, "dynamodb:PutItem")
        self.url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        logical_id_set(self.url, f"{receiver.function}Endpoint")


class Notifications(Construct):
    """One API destination per notification destination the routes name, each behind a
    connection that signs its calls with the endpoint's API key.

    The key is never in the template: it is generated into Secrets Manager (or read from the
    secret the deployment names) and the connection refers to it dynamically, so
    CloudFormation resolves it at deploy time. With no endpoint named, the calls go to the
    stack's own `Receiver`."""

    def __init__(self, scope: Construct, construct_id: str, *, choreography: Choreography,
                 endpoint: str | None, api_key_secret_name: str | None, code: lambda_.Code,
                 layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        if api_key_secret_name:
            self.api_key: secretsmanager.ISecret = secretsmanager.Secret.from_secret_name_v2(
                self, "ApiKey", api_key_secret_name)
        else:
            generated = secretsmanager.Secret(
                self, "ApiKey",
                description="The API key notifications are signed with",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    exclude_punctuation=True, include_space=False,
                    password_length=API_KEY_LENGTH))
            logical_id_set(generated, NOTIFICATION_API_KEY)
            self.api_key = generated
        self.receiver: Receiver | None = None
        if endpoint is None:
            self.receiver = Receiver(self, "Receiver", choreography=choreography,
                                     api_key=self.api_key, code=code, layer=layer)
            endpoint = self.receiver.url.url
        self.endpoint = endpoint
        names = dict.fromkeys(route.target.destination for route in choreography.routes
                              if isinstance(route.target, ToNotification))
        self.connections: dict[str, events.Connection] = {}
        self.destinations: dict[str, events.ApiDestination] = {}
        for name in names:
            connection = events.Connection(
                self, f"{name}Connection",
                description=f"Signs calls to {name} with its API key",
                authorization=events.Authorization.api_key(
                    API_KEY_HEADER, SecretValue.secrets_manager(self.api_key.secret_arn)))
            logical_id_set(connection, f"{name}Connection")
            destination = events.ApiDestination(
                self, f"{name}Destination",
                description=f"{name}: HTTP POST of each CloudEvent",
                connection=connection, endpoint=endpoint, http_method=events.HttpMethod.POST)
            logical_id_set(destination, f"{name}Destination")
            self.connections[name] = connection
            self.destinations[name] = destination
