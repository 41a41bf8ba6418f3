"""The clock moto reads, read the cheap way (see `local.moto_patches.sqs.fast_sqs_clock`)."""

from __future__ import annotations

import time
from typing import Any


def now() -> float:
    return time.time()


def now_millis() -> float:
    return time.time() * 1000.0


def seconds_of(dt: Any) -> float:
    from moto.core.utils import unix_time

    return float(unix_time(dt))
