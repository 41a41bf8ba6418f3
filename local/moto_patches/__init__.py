"""moto 5.2.5, made to hold load as the embedded AWS, and to deliver what AWS delivers.

moto is a reference implementation of AWS's APIs, not a server built for load: several of its
paths cost time in proportion to everything it holds, so under a steady stream of orders the
embedded AWS slowed down as its history grew, queues backed up, handlers timed out, and the
backlog made every call slower still. Most patches remove one such cost, or one race that
concurrent callers could lose, without changing what any API answers. The others make what
moto hands to a target or a consumer the shape AWS hands out, where moto's differs
(`tests/local/test_event_shapes.py` reads each delivery with Powertools' models of AWS's
events). Each is named after what it fixes, says what it measured or what differed, and is
checked by tests/local/test_moto_patches.py, which also fails loudly when moto is no longer
the version they were written against.

One module per service of moto's that it patches, as moto keeps them (`core`, `sqs`,
`events`, `dynamodb`, `awslambda`, `logs`, `ec2`; `clock` is what several share). `PATCHES` says in
which order they apply; `apply_each` is the one place that makes sure each applies once.
Enforcement (`local.enforcement`) registers its patches the same way.

Applied in the embedded AWS's process only (`local.moto_server`), and by the tests that check
them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import moto

from local.moto_patches import awslambda, core, dynamodb, ec2, events, logs, sqs
from local.moto_patches.dynamodb import DYNAMODB_LOCK, expire_ttl_items
from local.moto_patches.events import (
    BASE_EVENT_MESSAGE,
    EVENT_FIELDS,
    FORWARDED_FROM,
    account_root,
    as_delivered,
    bus_of,
    bus_policy_decision,
    role_session,
)
from local.moto_patches.sqs import RecentSet

__all__ = ["BASE_EVENT_MESSAGE", "DYNAMODB_LOCK", "EVENT_FIELDS", "FORWARDED_FROM", "PATCHES",
           "MotoVersionMismatch", "RecentSet", "account_root", "apply", "apply_each",
           "as_delivered", "bus_of", "bus_policy_decision",
           "expire_ttl_items", "role_session"]

MOTO_VERSION = "5.2.5"

Patch = Callable[[], None]

# In the order they apply: the first must see every model instance made after it (moto's S3
# makes some when it is imported, which `awslambda` and the enforcement do).
PATCHES: tuple[Patch, ...] = (
    core.track_live_instances_only,
    events.memoise_jsonpath,
    core.memoise_backend_lookup,
    core.memoise_action_lookup,
    core.count_calls,
    events.match_each_event_once,
    sqs.fast_sqs_clock,
    sqs.fast_receipt_handles,
    sqs.shallow_copy_received_messages,
    events.fast_events_clock,
    events.stamp_logged_events_in_milliseconds,
    events.cheap_event_copies,
    events.deliver_whole_events,
    dynamodb.memoise_condition_lexing,
    dynamodb.memoise_update_expressions,
    dynamodb.plain_json_item_results,
    sqs.sqs_attributes_on_demand,
    sqs.sqs_bounded_deleted_handles,
    sqs.number_every_fifo_message,
    sqs.fifo_long_polls_wait_for_a_deliverable_group,
    dynamodb.dynamodb_isolated_writes,
    dynamodb.items_kept_on_disk,
    dynamodb.notes_forgotten_on_ttl_change,
    events.event_buses_across_accounts,
    awslambda.configuration_updates_reach_the_runtime,
    logs.log_group_arns_as_cloudformation_gives_them,
    logs.log_streams_kept_on_disk,
    logs.filter_log_events_a_stream_at_a_time,
    ec2.instance_type_offerings_on_demand,
)

_APPLIED: set[Patch] = set()
_LOCK = threading.Lock()


class MotoVersionMismatch(RuntimeError):
    pass


def apply_each(patches: Iterable[Patch]) -> None:
    """Apply each patch, in order, once per process however often it is asked for."""
    with _LOCK:
        for patch in patches:
            if patch not in _APPLIED:
                patch()
                _APPLIED.add(patch)


def apply() -> None:
    """Apply every patch; refuse to run on a moto they were not written against."""
    if moto.__version__ != MOTO_VERSION:
        raise MotoVersionMismatch(
            f"the embedded AWS's patches were written against moto {MOTO_VERSION}, not "
            f"{moto.__version__}: check each one in local/moto_patches/, then update it")
    apply_each(PATCHES)
