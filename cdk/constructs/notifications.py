"""The outside world's notification endpoint, as EventBridge API destinations."""

from __future__ import annotations

from aws_cdk import SecretValue
from aws_cdk import aws_events as events
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from workflow.model import Choreography, ToNotification

API_KEY_HEADER = "x-api-key"


class Notifications(Construct):
    """One API destination per notification destination the routes name, each behind a
    connection that signs its calls with the endpoint's API key."""

    def __init__(self, scope: Construct, construct_id: str, *, choreography: Choreography,
                 endpoint: str, api_key: SecretValue) -> None:
        super().__init__(scope, construct_id)
        self.endpoint = endpoint
        names = dict.fromkeys(route.target.destination for route in choreography.routes
                              if isinstance(route.target, ToNotification))
        self.connections: dict[str, events.Connection] = {}
        self.destinations: dict[str, events.ApiDestination] = {}
        for name in names:
            connection = events.Connection(
                self, f"{name}Connection",
                description=f"Signs calls to {name} with its API key",
                authorization=events.Authorization.api_key(API_KEY_HEADER, api_key))
            logical_id_set(connection, f"{name}Connection")
            destination = events.ApiDestination(
                self, f"{name}Destination",
                description=f"{name}: HTTP POST of each CloudEvent",
                connection=connection, endpoint=endpoint, http_method=events.HttpMethod.POST)
            logical_id_set(destination, f"{name}Destination")
            self.connections[name] = connection
            self.destinations[name] = destination
