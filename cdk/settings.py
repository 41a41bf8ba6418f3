"""What a deployment may choose, read from CDK context (`cdk deploy -c key=value`, or the
`context` argument of `cdk.app.build_app`). Everything else follows from the model.

With no settings at all, the app synthesizes what `cdk deploy` can deploy and run: the code
bundled with its packages, notifications going to the stack's own receiver, the API key
generated into Secrets Manager. A setting that would give a template that cannot work on AWS
stops the synth with a message naming it (`SettingsError`); only the embedded AWS, where the
local runtime runs the handlers with the project's own packages, may skip the bundling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from workflow.deployment import (
    BUNDLE,
    EVENT_VERSIONS,
    LEGACY_CONSUMER,
    LOCAL,
    NOTIFICATION_API_KEY_SECRET_NAME,
    NOTIFICATION_ENDPOINT,
)
from workflow.versions import emitted_versions

# What settings that no longer exist did, and what replaces them.
RETIRED = {
    "choreo:notificationApiKey": (
        "a literal API key would be readable by anyone who can read the template; name a "
        f"Secrets Manager secret with {NOTIFICATION_API_KEY_SECRET_NAME}, or leave both unset "
        "to have a key generated"),
}


class SettingsError(ValueError):
    """A setting that would synthesize a template that cannot work on AWS."""


def _truthy(value: Any) -> bool:
    # The CLI hands context values over as strings (`-c choreo:bundle=true`), Python as booleans.
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    # The handlers' third-party packages in the dependency layer. Only local mode turns it
    # off (its runtime imports the packages from the project's environment).
    bundle: bool = True
    # Where notifications go; None: the stack's own receiver (its function URL).
    notification_endpoint: str | None = None
    # A Secrets Manager secret holding the API key the endpoint expects; None: the stack
    # generates one (the endpoint's owner reads it from Secrets Manager).
    notification_api_key_secret_name: str | None = None
    local: bool = False
    # Which version of each event its producers publish, "order.placed=2"; empty: the model's.
    event_versions: str = ""
    # The v1-only sales ledger and its translator beside the choreography (workflow.legacy).
    legacy_consumer: bool = False

    @classmethod
    def from_context(cls, scope: Construct) -> Settings:
        node = scope.node
        retired = [f"{key} is no longer a setting: {why}" for key, why in RETIRED.items()
                   if node.try_get_context(key) is not None]
        bundle = node.try_get_context(BUNDLE)
        endpoint = node.try_get_context(NOTIFICATION_ENDPOINT)
        secret_name = node.try_get_context(NOTIFICATION_API_KEY_SECRET_NAME)
        settings = cls(
            bundle=_truthy(bundle) if bundle is not None else cls.bundle,
            notification_endpoint=str(endpoint) if endpoint else None,
            notification_api_key_secret_name=str(secret_name) if secret_name else None,
            local=_truthy(node.try_get_context(LOCAL)),
            event_versions=str(node.try_get_context(EVENT_VERSIONS) or ""),
            legacy_consumer=_truthy(node.try_get_context(LEGACY_CONSUMER)),
        )
        problems = retired + settings.problems()
        if problems:
            raise SettingsError("cannot synthesize a deployable stack:\n  - "
                                + "\n  - ".join(problems))
        return settings

    @staticmethod
    def legacy_consumer_of(scope: Construct) -> bool:
        """Whether the app carries the legacy consumer (read before its stacks exist, since it
        changes the model they are built from)."""
        return _truthy(scope.node.try_get_context(LEGACY_CONSUMER))

    def problems(self) -> list[str]:
        found = []
        if not self.bundle and not self.local:
            found.append(f"{BUNDLE}=false leaves the dependency layer empty: every function "
                         "would fail to import its packages on AWS (only local mode, whose "
                         "runtime brings its own packages, may skip the bundling)")
        endpoint = self.notification_endpoint
        if endpoint is not None and not re.fullmatch(r"https://[^/\s]+(/\S*)?", endpoint):
            found.append(f"{NOTIFICATION_ENDPOINT}={endpoint!r}: EventBridge API destinations "
                         "call only public https:// endpoints (leave it unset to use the "
                         "stack's own receiver)")
        try:
            emitted_versions(self.event_versions)
        except (ValueError, KeyError) as error:
            found.append(f"{EVENT_VERSIONS}={self.event_versions!r}: {error}")
        return found
