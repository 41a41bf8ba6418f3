"""CloudWatch Logs: a log group's ARN as CloudFormation gives it."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models

from local.moto_patches.history import SpilledMapping


def log_group_arns_as_cloudformation_gives_them() -> None:
    """CloudFormation's `Fn::GetAtt [LogGroup, Arn]` is the log group's ARN with `:*` after
    it (CloudFormation User Guide, AWS::Logs::LogGroup, return values): the form a policy's
    `Resource` needs to cover the group's streams, and the form a rule's target names. moto's
    had no `:*`, so a policy that holds on AWS covered no stream here; and its EventBridge
    took the `:*` for part of the group's name."""
    from moto.logs.models import LogGroup

    group_class: Any = LogGroup
    original = group_class.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> str:
        value = str(original(self, attribute_name))
        return f"{value}:*" if attribute_name == "Arn" and not value.endswith(":*") else value

    group_class.get_cfn_attribute = get_cfn_attribute
    rule_class: Any = moto.events.models.Rule
    send = rule_class._send_to_cw_log_group
    rule_class._send_to_cw_log_group = lambda self, name, event: send(
        self, name.removesuffix(":*"), event)


# One lock for CloudWatch Logs: PutLogEvents reads a stream and then appends to it, and a
# stream is written out of memory only under this lock (`history.SpilledMapping`).
LOGS_LOCK = threading.RLock()


def log_streams_kept_on_disk() -> None:
    """Each log group's streams in a `SpilledMapping` (local/moto_patches/history.py): the log
    group keeps every event of the global bus, each in a stream of its own."""
    from moto.logs.models import LogGroup, LogsBackend

    group_class: Any = LogGroup
    init = group_class.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.streams = SpilledMapping(LOGS_LOCK, owner=self)

    group_class.__init__ = __init__
    backend_class: Any = LogsBackend
    for name in ("create_log_stream", "delete_log_stream", "put_log_events"):
        setattr(backend_class, name, _under(LOGS_LOCK, getattr(backend_class, name)))


def _under(lock: threading.RLock, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked
