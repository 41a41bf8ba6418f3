"""A function runs with its environment as deployed, but for the idempotency window, which
the local system shortens (its retries come within seconds, and its tables live in memory)."""

from __future__ import annotations

from dataclasses import replace

from local.config import LocalConfig
from local.runtime import _local_environment
from workflow.handler_env import IDEMPOTENCY_WINDOW_ENV

DEPLOYED = {"EVENT_BUS_NAME": "bus", IDEMPOTENCY_WINDOW_ENV: "3600"}


def test_the_local_window_replaces_the_deployed_one():
    config = replace(LocalConfig(), idempotency_window_seconds=600)
    assert _local_environment(config, DEPLOYED) == {"EVENT_BUS_NAME": "bus",
                                                    IDEMPOTENCY_WINDOW_ENV: "600"}


def test_zero_keeps_the_deployed_window_and_others_are_left_alone():
    assert _local_environment(replace(LocalConfig(), idempotency_window_seconds=0),
                              DEPLOYED) == DEPLOYED
    assert _local_environment(LocalConfig(), {"EVENT_BUS_NAME": "bus"}) == {"EVENT_BUS_NAME": "bus"}
