"""Handlers for the Lambda emulation's own tests, run in forked execution environments."""

from __future__ import annotations

import os
import time
from typing import Any


def echo(event: Any, context: Any) -> dict[str, Any]:
    return {"event": event, "pid": os.getpid(), "function": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "setting": os.environ.get("SETTING")}


def sleep(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(float(event["seconds"]))
    return {"pid": os.getpid()}


def fail(event: Any, context: Any) -> None:
    raise ValueError(f"failed on {event!r}")


def crash(event: Any, context: Any) -> None:
    os._exit(3)
