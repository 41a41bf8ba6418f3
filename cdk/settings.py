"""What a deployment may choose, read from CDK context (`cdk synth -c key=value`, or the
`context` argument of `cdk.app.build_app`). Everything else follows from the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

BUNDLE = "choreo:bundle"
NOTIFICATION_ENDPOINT = "choreo:notificationEndpoint"
NOTIFICATION_API_KEY = "choreo:notificationApiKey"
NOTIFICATION_API_KEY_SECRET_NAME = "choreo:notificationApiKeySecretName"


def _truthy(value: Any) -> bool:
    # The CLI hands context values over as strings (`-c choreo:bundle=true`), Python as booleans.
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    # Off by default so that synth is fast and offline; a deployment turns it on to ship the
    # handlers' third-party packages in the dependency layer.
    bundle: bool = False
    # The local notification receiver; a real deployment points this at its HTTPS endpoint.
    notification_endpoint: str = "http://127.0.0.1:4567/notifications"
    notification_api_key: str = "local-notification-key"
    # When set, the API key is read from this Secrets Manager secret at deploy time and the
    # key above is not used.
    notification_api_key_secret_name: str | None = None

    @classmethod
    def from_context(cls, scope: Construct) -> Settings:
        node = scope.node
        defaults = cls()
        bundle = node.try_get_context(BUNDLE)
        secret_name = node.try_get_context(NOTIFICATION_API_KEY_SECRET_NAME)
        return cls(
            bundle=_truthy(bundle) if bundle is not None else defaults.bundle,
            notification_endpoint=str(node.try_get_context(NOTIFICATION_ENDPOINT)
                                      or defaults.notification_endpoint),
            notification_api_key=str(node.try_get_context(NOTIFICATION_API_KEY)
                                     or defaults.notification_api_key),
            notification_api_key_secret_name=str(secret_name) if secret_name else None,
        )
