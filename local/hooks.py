"""What the embedded AWS's patches and the local runtime share, in the embedded AWS's process:
the runtime tells the patches who its functions are and what its tap queues stand for, and
reads back what was refused. Nothing else crosses between them."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the policies import moto's IAM, which must load after `moto_patches`
    from local.policies import Principal


@dataclass
class Enforcement:
    """Whether the embedded AWS refuses what AWS refuses; `local.moto_server` sets it from
    CHOREO_ENFORCEMENT (`local.config`)."""

    enabled: bool = False
    # Bumped by every change to a policy (identity or resource): cached decisions older than
    # it are not used again.
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def changed(self) -> None:
        with self.lock:
            self.generation += 1


ENFORCEMENT = Enforcement()

# The credentials the Lambda service issued to each function's execution environments, by
# access key id: a call signed with one is that role's session and is evaluated against the
# role's policies. Any other key is its account's root, as `test`/`test` is.
PRINCIPALS: dict[str, Principal] = {}
# Who signed the call being answered (in this thread): one of `PRINCIPALS`, or None for its
# account's root. Set for every call by `local.enforcement`; read where a backend decides
# by a resource's policy (a `PutEvents` on another account's bus).
CALLER: ContextVar[Principal | None] = ContextVar("CALLER", default=None)


@dataclass(frozen=True)
class TapTarget:
    """What a rule's tap queue stands for (`local.template`): the target AWS would deliver to."""

    kind: str  # "function" | "api-destination"
    arn: str  # the function's or API destination's ARN


# By the tap queue's ARN.
TAPS: dict[str, TapTarget] = {}

# What was refused, newest last: each call or delivery the embedded AWS refused, with the
# policy statement that denied it or the note that none allowed it.
REFUSED: deque[dict[str, Any]] = deque(maxlen=1000)
# Events EventBridge could not deliver and could not dead-letter either (the target has no
# dead-letter queue, or its dead-letter queue refuses EventBridge): AWS's
# `InvocationsFailedToBeSentToDlq`, here a count.
DROPPED = {"count": 0}


def refusal_record(**details: Any) -> dict[str, Any]:
    record = {**details, "at": time.time()}
    REFUSED.append(record)
    return record


# Told of each function configuration update, with the function's name, its environment
# variables before and after: the local runtime (`LocalRuntime.reconfigure`).
ConfigurationListener = Callable[[str, dict[str, str], dict[str, str]], None]
CONFIGURATION_LISTENERS: list[ConfigurationListener] = []


class CallLedger:
    """Every call the embedded AWS answered, by service and operation: what an order costs in
    calls (`/_local/stats` `awsCalls`, and the benchmarks' C1). `internal` counts the calls
    AWS's own pollers make inside AWS (SQS event source mappings, rule targets' taps), which
    no client pays for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.public: Counter[tuple[str, str]] = Counter()
        self.internal: Counter[tuple[str, str]] = Counter()
        self.callers: Counter[tuple[str, str, str]] = Counter()

    def count(self, service: str, operation: str, *, internal: bool = False,
              caller: str = "") -> None:
        with self._lock:
            (self.internal if internal else self.public)[(service, operation)] += 1
            if caller:
                self.callers[(caller, service, operation)] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """`public` and `internal` by `service:operation`; `byCaller` the public calls by the
        role that made them (`role/service:operation`), where a function made them."""
        with self._lock:
            snapshot = {kind: {f"{service}:{operation}": count
                               for (service, operation), count in sorted(counter.items())}
                        for kind, counter in (("public", self.public),
                                              ("internal", self.internal))}
            snapshot["byCaller"] = {f"{caller}/{service}:{operation}": count for
                                    (caller, service, operation), count in
                                    sorted(self.callers.items())}
            return snapshot


CALLS = CallLedger()
