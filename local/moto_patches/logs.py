"""CloudWatch Logs: a log group's ARN as CloudFormation gives it."""

from __future__ import annotations

import threading
from typing import Any

import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models

from local.moto_patches.history import SpilledMapping, peek, under


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
        setattr(backend_class, name, under(LOGS_LOCK, getattr(backend_class, name)))


def filter_log_events_a_stream_at_a_time() -> None:
    """FilterLogEvents as moto answers it (the same events, order, pages and tokens), reading
    one stream at a time and keeping of each match only where to find it again: moto held
    every stream and every matching event in memory at once for each page, which for a log
    group kept on disk (`log_streams_kept_on_disk`) would bring the whole history back into
    memory for each page the dashboard's replay reads."""
    from moto.logs.models import LogGroup

    def filter_log_events(self: Any, log_group_name: str, log_stream_names: list[str],
                          start_time: int, end_time: int, limit: int | None,
                          next_token: str | None, filter_pattern: str,
                          interleaved: bool) -> tuple[list[dict[str, Any]], str | None,
                                                      list[dict[str, Any]]]:
        limit = limit or 10000
        searched: list[str] = []
        # (timestamp, stream, event id, the event's place in what its stream matched)
        found: list[tuple[int, str, str, int]] = []
        for name, stream in self.streams.items():
            if log_stream_names and name not in log_stream_names:
                continue
            searched.append(name)
            matched = stream.filter_log_events(start_time, end_time, filter_pattern)
            found += [(event["timestamp"], name, event["eventId"], place)
                      for place, event in enumerate(matched)]
        if interleaved:
            found.sort(key=lambda match: match[0])
        first = 0
        if next_token:
            group, stream_name, event_id = [*next_token.split("@"), "", ""][:3]
            first = next((index + 1 for index, match in enumerate(found)
                          if group == log_group_name and match[1:3] == (stream_name, event_id)),
                         -1)
            if first < 0:  # AWS answers an invalid token with no events
                found, first = [], 0
        page = found[first:first + limit]
        matched_by_stream: dict[str, list[dict[str, Any]]] = {}
        for _, name, _, _ in page:
            if name not in matched_by_stream:
                matched_by_stream[name] = peek(self.streams, name).filter_log_events(
                    start_time, end_time, filter_pattern)
        events = [matched_by_stream[name][place] for _, name, _, place in page]
        token = None
        if events and first + limit < len(found):
            token = f"{log_group_name}@{events[-1]['logStreamName']}@{events[-1]['eventId']}"
        return events, token, [{"logStreamName": name, "searchedCompletely": True}
                               for name in searched]

    group_class: Any = LogGroup
    group_class.filter_log_events = filter_log_events
