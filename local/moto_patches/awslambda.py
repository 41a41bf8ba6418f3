"""Lambda: a configuration update reaches the functions' new execution environments."""

from __future__ import annotations

import functools
from typing import Any

from local import hooks


def configuration_updates_reach_the_runtime() -> None:
    """moto records `UpdateFunctionConfiguration` and runs nothing; Lambda applies a new
    environment to the execution environments it starts from then on, while those running
    finish what they hold. The local runtime does the same once told here (a producer switches
    the version it publishes this way, without a deploy: docs/versioning.md)."""
    # Imported here, not with the module: it imports moto's S3, whose import-time instances
    # must be made after `track_live_instances_only` is applied (one of them is unhashable).
    import moto.awslambda.models

    function_class: Any = moto.awslambda.models.LambdaFunction
    original = function_class.update_configuration

    @functools.wraps(original)
    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        before = dict(self.environment_vars or {})
        answer: dict[str, Any] = original(self, config_updates)
        after = dict(self.environment_vars or {})
        if after != before:
            for listener in list(hooks.CONFIGURATION_LISTENERS):
                listener(self.function_name, before, after)
        return answer

    function_class.update_configuration = update_configuration
