"""moto 5.2.5, made to hold load as the embedded AWS, and to deliver what AWS delivers.

moto is a reference implementation of AWS's APIs, not a server built for load: several of its
paths cost time in proportion to everything it holds, so under a steady stream of orders the
embedded AWS slowed down as its history grew, queues backed up, handlers timed out, and the
backlog made every call slower still. Most patches below remove one such cost, or one race
that concurrent callers could lose, without changing what any API answers. The others make
what moto hands to a target or a consumer the shape AWS hands out, where moto's differs
(`tests/local/test_event_shapes.py` reads each delivery with Powertools' models of AWS's
events). Each is named after what it fixes, says what it measured or what differed, and is
checked by tests/local/test_moto_patches.py, which also fails loudly when moto is no longer
the version they were written against.

Applied in the embedded AWS's process only (`local.moto_server`), and by the tests that check
them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import logging
import string
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jsonpath_ng.ext
import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models
from moto.core.common_models import BaseModel
from moto.core.exceptions import JsonRESTError
from moto.core.utils import (
    camelcase_to_underscores,
    iso_8601_datetime_without_milliseconds,
    utcfromtimestamp,
)
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.events.models import EventPattern
from moto.events.utils import _BASE_EVENT_MESSAGE as BASE_EVENT_MESSAGE
from moto.events.utils import EventTemplateParser
from moto.moto_api._internal import mock_random
from moto.sqs.models import Message, Queue, SQSBackend

from local import hooks

if TYPE_CHECKING:  # imported at run time by the functions that use it: it loads moto's IAM
    from local.enforcement import Refusal

MOTO_VERSION = "5.2.5"


class MotoVersionMismatch(RuntimeError):
    pass


def memoise_jsonpath() -> None:
    """moto builds a fresh JSONPath parser (a PLY grammar) eight times for every target of
    every event put on a bus, whether or not the target transforms its input: about a fifth
    of the embedded AWS's time under load. Parsing is a pure function of the path."""
    if getattr(jsonpath_ng.ext.parse, "cache_info", None):
        return
    parse: Any = jsonpath_ng.ext.parse
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(parse)


class _RecentFlatEvents:
    """The flattened form of the events being put, by event id: every rule of a bus matches
    its pattern against the same event."""

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self.events: dict[str, dict[str, Any]] = {}

    def get(self, event: Any, flatten: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        key = event.get("id") if isinstance(event, dict) else None
        if not isinstance(key, str):
            return flatten(event)
        flat = self.events.get(key)
        if flat is None:
            flat = self.events[key] = flatten(event)
            while len(self.events) > self.keep:
                self.events.pop(next(iter(self.events)), None)
        return flat


def match_each_event_once() -> None:
    """moto matches an event against every rule of its bus by serialising the event to JSON,
    parsing it back and flattening it, once per rule (a route to a FIFO queue is a rule per
    partition): ~6 % of the embedded AWS's time under load, most of it for rules that do not
    match. The flattened event is the same for every rule, so it is made once per event."""
    pattern_class: Any = EventPattern
    if getattr(pattern_class.matches_event, "patched", False):
        return
    recent = _RecentFlatEvents()

    def flatten(event: Any) -> dict[str, Any]:
        return dict(EventPattern._flatten_dict(json.loads(json.dumps(event))))

    def matches_event(self: EventPattern, event: Any) -> bool:
        if not self._pattern:
            return True
        return bool(self._does_event_match(recent.get(event, flatten), self._pattern))

    matches_event.patched = True  # type: ignore[attr-defined]
    pattern_class.matches_event = matches_event


class LiveInstances(weakref.WeakSet[Any]):
    """A model class's instances, as long as something else keeps them."""

    def append(self, instance: Any) -> None:  # moto appends to the list this replaces
        self.add(instance)


def track_live_instances_only() -> None:
    """moto keeps every instance of every model it ever made (for its `/moto-api/data.json`
    view): every SQS message ever sent, deleted or not, every version of every DynamoDB
    item ever written, every copy made on the way. That was most of the embedded AWS's
    growth: ~25 messages and ~30 items an order, forever. Each class now keeps its instances
    weakly, so the view shows what exists and the rest is freed."""
    if getattr(BaseModel.__new__, "patched", False):
        return

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance: Any = object.__new__(cls)
        tracked = cls.__dict__.get("instances_tracked")
        if not isinstance(tracked, LiveInstances):
            tracked = LiveInstances(tracked or ())
            type.__setattr__(cls, "instances_tracked", tracked)
        with contextlib.suppress(TypeError):  # a class that cannot be referred to weakly
            tracked.add(instance)
        return instance

    __new__.patched = True  # type: ignore[attr-defined]
    model_class: Any = BaseModel
    model_class.__new__ = staticmethod(__new__)


def memoise_backend_lookup() -> None:
    """To route each request, moto's server lists its own package directory and checks every
    entry with `isdir` (about 200 system calls), under a lock that every request takes: ~8 %
    of the server's time. The directory does not change while it runs."""
    if getattr(moto.backends.list_of_moto_modules, "cache_info", None):
        return
    modules = tuple(moto.backends.list_of_moto_modules())
    lookup: Any = functools.lru_cache(maxsize=1)(lambda: modules)
    moto.backends.list_of_moto_modules = lookup


def memoise_action_lookup() -> None:
    """To find the method that answers a request, moto lists every member of the response
    class with `inspect.getmembers`, on every request (~0.2 ms). A class's methods do not
    change while the server runs."""
    responses: Any = moto.core.responses
    if getattr(responses.method_names_from_class, "cache_info", None):
        return
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(
        responses.method_names_from_class)


def _now() -> float:
    return time.time()


def _now_millis() -> float:
    return time.time() * 1000.0


def fast_sqs_clock() -> None:
    """SQS reads the clock for every message it looks at (is it visible? delayed?), through a
    helper that builds two datetimes each time: ~30 µs a message, which made every receive
    and every send cost time in proportion to the queue's depth. The POSIX clock gives the
    same value."""
    sqs_models: Any = moto.sqs.models
    sqs_models.unix_time = lambda dt=None: _now() if dt is None else _unix_time(dt)
    sqs_models.unix_time_millis = lambda dt=None: _now_millis() if dt is None \
        else _unix_time(dt) * 1000.0


def _unix_time(dt: Any) -> float:
    from moto.core.utils import unix_time

    return float(unix_time(dt))


class QueueAttributes(Mapping[str, Any]):
    """A queue's attributes, each computed when it is read. moto computed all of them (three
    of which walk every message in the queue) whenever any one was needed: at every send, to
    see whether the queue deduplicates by content, and at every message received, to read its
    retention period."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        names = list(Queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += Queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += Queue.KMS_ATTRIBUTES
        self.names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        queue = self.queue
        if name == "Policy":
            value = queue.policy
        elif name == "RedrivePolicy" and queue.redrive_policy:
            value = json.dumps(queue.redrive_policy)
        else:
            value = getattr(queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def sqs_attributes_on_demand() -> None:
    queue_class: Any = Queue
    queue_class.attributes = property(QueueAttributes)

    original = SQSBackend.get_queue_attributes
    if getattr(original, "patched", False):
        return

    def get_queue_attributes(self: SQSBackend, queue_name: str,
                             attribute_names: list[str]) -> dict[str, Any]:
        # a plain dict, as moto's callers (and its JSON responses) expect
        return dict(original(self, queue_name, attribute_names))

    get_queue_attributes.patched = True  # type: ignore[attr-defined]
    backend_class: Any = SQSBackend
    backend_class.get_queue_attributes = get_queue_attributes

    def is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str,
                                                   message: Any) -> bool:
        queue = self.get_queue(queue_name)
        period = queue.message_retention_period  # type: ignore[attr-defined]
        retain_until = int(period) + message.sent_timestamp / 1000
        return bool(retain_until > _now())

    backend_class.is_message_valid_based_on_retention_period = \
        is_message_valid_based_on_retention_period


def fast_receipt_handles() -> None:
    """A receipt handle is 185 random letters, which moto draws one `random.choice` at a time
    for every message it hands out: ~5 % of the embedded AWS's time under load."""
    sqs_models: Any = moto.sqs.models

    def generate_receipt_handle() -> str:
        return "".join(mock_random.choices(string.ascii_lowercase, k=185))

    sqs_models.generate_receipt_handle = generate_receipt_handle


def _copy_for_receive(value: Any, memo: Any = None) -> Any:
    # The copy only has its message attributes replaced by a filtered dict, never mutated.
    return copy.copy(value) if isinstance(value, Message) else copy.deepcopy(value, memo)


def shallow_copy_received_messages() -> None:
    """Every message handed out was deep-copied (its body, attributes and receipt history),
    only so that its message attributes could be filtered on the copy."""
    sqs_models: Any = moto.sqs.models
    sqs_models.deepcopy = _copy_for_receive


def fast_events_clock() -> None:
    """EventBridge builds its event once per rule of the bus, reading the clock twice through
    the same datetime-heavy helper SQS used (see `fast_sqs_clock`)."""
    events_models: Any = moto.events.models
    events_models.unix_time = lambda dt=None: _now() if dt is None else _unix_time(dt)


def stamp_logged_events_in_milliseconds() -> None:
    """A log group target's log events were stamped to a fraction of a millisecond (the clock
    helper's float, its only reader in EventBridge); CloudWatch Logs' timestamps are whole
    milliseconds."""
    events_models: Any = moto.events.models
    events_models.unix_time_millis = lambda dt=None: int(
        _now_millis() if dt is None else _unix_time(dt) * 1000.0)


class _EventCopies:
    """moto's `copy` module as `put_events` sees it: the blank event it fills in once per rule
    of the bus is copied field by field (its only mutable fields are an empty list and an
    empty dict) rather than with the generic deep copy."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if value is BASE_EVENT_MESSAGE:
            return {**value, "resources": [], "detail": {}}
        return copy.deepcopy(value, memo)


def cheap_event_copies() -> None:
    assert BASE_EVENT_MESSAGE["resources"] == [] and BASE_EVENT_MESSAGE["detail"] == {}
    events_models: Any = moto.events.models
    events_models.copy = _EventCopies


# An event's fields as EventBridge hands it to a target, in the order it writes them (AWS's
# sample `eventBridgeEvent.json`).
EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region",
                "resources", "detail")


def as_delivered(event: Mapping[str, Any]) -> dict[str, Any]:
    """moto's working copy of an event as EventBridge shows it to a target: AWS's fields only
    (not moto's `ingestion-time`), the time as EventBridge writes it rather than a number."""
    delivered = {name: event[name] for name in EVENT_FIELDS if name in event}
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = iso_8601_datetime_without_milliseconds(
            utcfromtimestamp(delivered["time"]))
    return delivered


def _transform(template: str, paths: Mapping[str, str], event: Mapping[str, Any]) -> Any:
    """moto's input transformer (`EventTemplateParser.parse`) step for step, but for
    `<aws.events.event.json>`, which is the event as delivered. The input paths still read
    moto's working copy: its targets rewrite a `time` they are handed, from a number."""
    parser: Any = EventTemplateParser
    for name, path in (paths or parser.DEFAULT_EVENT_INPUT_PATHS_MAP).items():
        matches = jsonpath_ng.ext.parse(path).find(event)
        value = parser._stringify(matches[0].value) if matches else None
        if value:
            template = template.replace(f"<{name}>", value)
    template = template.replace("<aws.events.event.json>", json.dumps(as_delivered(event)))
    template = template.replace("<aws.events.event.ingestion-time>",
                                parser._stringify(event["ingestion-time"]))
    return json.loads(template)


def deliver_whole_events() -> None:
    """What moto hands a rule's targets as the whole event is not the event EventBridge hands
    them:
    - a target without an input transformer gets its input through a template of moto's that
      leaves out `account`, so every event delivered to a queue, a log group or another bus
      lacked a field every event from AWS has (and that Powertools' `EventBridgeModel`
      requires); the template also wrote `source` and `detail-type` into the JSON unescaped,
      so a quote in either failed the whole `PutEvents`;
    - an input transformer's `<aws.events.event.json>` (the observability queue's input) was
      moto's working copy: the time a number of seconds, and an `ingestion-time` field of
      moto's own.
    Both are now the event as delivered (the first keeps its time a number: moto's targets
    write it out as EventBridge does)."""
    parser: Any = EventTemplateParser
    if getattr(parser.parse, "patched", False):
        return

    def parse(input_template: str | None, input_paths_map: dict[str, str],
              event: Mapping[str, Any]) -> Any:
        if input_template:
            return _transform(input_template, input_paths_map, event)
        return {name: event[name] for name in EVENT_FIELDS if name in event}

    parse.patched = True  # type: ignore[attr-defined]
    parser.parse = staticmethod(parse)


def memoise_condition_lexing() -> None:
    """DynamoDB condition expressions are tokenised with a dozen regular expressions compiled
    anew for every token: about half of every conditional write. The tokens of an expression
    are a pure function of its text (and immutable), so each text is tokenised once."""
    parser_class: Any = ConditionExpressionParser
    original = parser_class._lex_condition_expression
    if getattr(original, "patched", False):
        return
    lexed: dict[str, tuple[Any, ...]] = {}

    def _lex_condition_expression(self: ConditionExpressionParser) -> deque[Any]:
        expression = self.condition_expression or ""
        if expression not in lexed:
            if len(lexed) > 4096:
                lexed.clear()
            lexed[expression] = tuple(original(self))
        return deque(lexed[expression])

    _lex_condition_expression.patched = True  # type: ignore[attr-defined]
    parser_class._lex_condition_expression = _lex_condition_expression


class RecentSet:
    """A set that keeps only its most recent `limit` members. The server's threads delete
    from one queue at once, so adding and evicting hold a lock (a look needs none)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.members: dict[str, None] = {}
        self._lock = threading.Lock()

    def __contains__(self, member: object) -> bool:
        return member in self.members

    def update(self, members: Any) -> None:
        with self._lock:
            for member in members:
                self.members[member] = None
            while len(self.members) > self.limit:
                del self.members[next(iter(self.members))]

    def __len__(self) -> int:
        return len(self.members)


# SQS's sequence numbers are 20 digits, and grow within a message group.
SEQUENCE_NUMBERS = itertools.count(10**19)


def number_every_fifo_message() -> None:
    """SQS gives every message of a FIFO queue a sequence number; moto only a message sent
    with an explicit deduplication id. EventBridge's deliveries to a FIFO queue are
    deduplicated by content, so none had one, and the records Lambda is handed for them
    lacked the `SequenceNumber` attribute AWS's records of a FIFO queue have."""
    original = Queue.add_message
    if getattr(original, "patched", False):
        return

    def add_message(self: Queue, message: Message) -> None:
        if self.fifo_queue and message.sequence_number is None:
            message.sequence_number = str(next(SEQUENCE_NUMBERS))
        original(self, message)

    add_message.patched = True  # type: ignore[attr-defined]
    queue_class: Any = Queue
    queue_class.add_message = add_message


# Deleting a message twice succeeds, as on SQS, for as long as its receipt handle is among the
# queue's most recent deletions.
DELETED_HANDLES_KEPT = 10_000


def sqs_bounded_deleted_handles() -> None:
    """moto remembers every receipt handle of every message ever deleted from a queue, so
    that a second delete succeeds: memory that grows with the queue's whole history."""
    original = Queue.__init__
    if getattr(original, "patched", False):
        return

    def __init__(self: Queue, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.deleted_messages = RecentSet(DELETED_HANDLES_KEPT)  # type: ignore[assignment]

    __init__.patched = True  # type: ignore[attr-defined]
    queue_class: Any = Queue
    queue_class.__init__ = __init__


# One lock for every DynamoDB table of every account and region: moto's item operations are
# not atomic (a conditional write reads, then writes), so two concurrent requests could both
# pass the same condition, and a cancelled transaction's rollback could undo another request's
# write. DynamoDB itself serialises writes to an item and isolates transactions.
DYNAMODB_LOCK = threading.RLock()

_SERIALISED = ("put_item", "update_item", "delete_item", "get_item", "transact_write_items")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return method(*args, **kwargs)

    locked.patched = True  # type: ignore[attr-defined]
    return locked


class _NoTableCopy:
    """moto's `copy` module as its transactions see it: a table is not copied (the whole
    table was deep-copied for every item of every transaction, so transactions slowed as
    tables grew, and churned memory); anything else is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_key(backend: DynamoDBBackend, operation: Mapping[str, Any]) -> tuple[Table, Any, Any]:
    table = backend.get_table(operation["TableName"])
    if "Item" in operation:
        attributes = operation["Item"]
        key = {name: attributes[name] for name in (table.hash_key_attr, table.range_key_attr)
               if name is not None and name in attributes}
    else:
        key = operation["Key"]
    hash_value, range_value = backend.get_keys_value(table, key)
    return table, hash_value, range_value


def _restore(table: Table, hash_value: Any, range_value: Any, item: Any) -> None:
    items: Any = table.items
    if range_value is None:
        if item is None:
            items.pop(hash_value, None)
        else:
            items[hash_value] = item
    elif item is None:
        items.get(hash_value, {}).pop(range_value, None)
    else:
        items[hash_value][range_value] = item


def dynamodb_isolated_writes() -> None:
    """Serialise item operations, and make a transaction's rollback restore only the items it
    touched (see `DYNAMODB_LOCK` and `_NoTableCopy`)."""
    backend_class: Any = DynamoDBBackend
    if getattr(backend_class.put_item, "patched", False):
        return
    dynamodb_models: Any = moto.dynamodb.models
    dynamodb_models.copy = _NoTableCopy
    transact = backend_class.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        before = []
        for request in transact_items:
            for operation in request.values():
                try:
                    table, hash_value, range_value = _item_key(self, operation)
                except Exception:
                    continue  # moto's own validation answers for a malformed item
                current = table.get_item(hash_value, range_value) \
                    if range_value is not None or not table.has_range_key else None
                before.append((table, hash_value, range_value, copy.deepcopy(current)))
        try:
            transact(self, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in reversed(before):
                _restore(table, hash_value, range_value, item)
            raise

    backend_class.transact_write_items = transact_write_items
    for name in _SERIALISED:
        setattr(backend_class, name, _serialised(getattr(backend_class, name)))


def _items(table: Table) -> Iterator[Any]:
    """Every item, unsorted (moto's `all_items` sorts them, which costs more than the sweep)."""
    for value in table.items.values():
        if table.range_key_attr:
            yield from value.values()
        else:
            yield value


def expire_ttl_items(now: float | None = None) -> int:
    """Delete the items whose time-to-live has passed, in every table that has TTL enabled,
    as DynamoDB does in the background (moto never does). Returns how many went."""
    cutoff = _now() if now is None else now
    expired = 0
    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            for table in list(backend.tables.values()):
                attribute = table.ttl.get("AttributeName")
                if table.ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
                    continue
                with DYNAMODB_LOCK:
                    for item in list(_items(table)):
                        value = item.attrs.get(attribute)
                        if value is None or value.type != "N":
                            continue
                        if float(value.value) < cutoff:
                            table.delete_item(item.hash_key, item.range_key)
                            expired += 1
    return expired


# --- EventBridge's deliveries: across accounts and regions, and what a target refuses ----
#
# Measured on moto 5.2.5 (docs/local-mode.md, tests/local/test_cross_account.py): a rule
# whose target is an event bus of another account or region does forward the event, through
# that backend's `put_events`, but
# - it never reads the receiving bus's resource policy: any account's rule reaches any bus;
# - it ignores the target's `RoleArn` and `DeadLetterConfig` (nothing is ever refused, so
#   nothing is ever dead-lettered);
# - the forwarded event's `account` becomes the receiving account (EventBridge keeps the
#   sending account's, which is how a receiving rule tells where an event came from), and
#   it gets a new `id` and `time` and loses its `resources` (as a forward within an account);
# - an event forwarded into a bus is forwarded again by that bus's rules, to any number of
#   buses (EventBridge routes an event received from another bus to no third bus);
# and a `PutEvents` naming another account's bus by its ARN is put on the caller's own bus
# of that name (or fails with "Event bus ... does not exist"): moto drops the ARN's account
# and region. moto's CloudFormation does not model `AWS::Events::EventBusPolicy` at all
# (`local.deploy` applies it with `PutPermission`, which moto stores but never checks).
# Whether a target's policy lets EventBridge deliver is decided in `local.enforcement`.

# The key, in moto's working copy of an event, naming the bus an event was forwarded from:
# never delivered (targets are handed `EVENT_FIELDS` only).
FORWARDED_FROM = "choreo-forwarded-from"


def _statement_principal_accounts(principal: Any) -> set[str]:
    """The accounts a policy statement's principal names ("*" for anyone)."""
    if principal == "*":
        return {"*"}
    values = principal.get("AWS", []) if isinstance(principal, dict) else principal
    values = [values] if isinstance(values, str) else list(values or [])
    accounts = set()
    for value in values:
        text = str(value)
        accounts.add("*" if text == "*" else text.split(":")[4] if text.startswith("arn:")
                     else text)
    return accounts


def bus_allows_put_events(bus: Any, account: str) -> bool:
    """Whether an event bus's resource policy lets `account` put events on it (an account
    needs no policy to put on its own bus). Deny wins over Allow, as in IAM."""
    if account == bus.account_id:
        return True
    allowed = False
    for statement in json.loads(bus.policy or "{}").get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(action in ("events:PutEvents", "events:*", "*") for action in actions):
            continue
        accounts = _statement_principal_accounts(statement.get("Principal"))
        if "*" not in accounts and account not in accounts:
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def bus_of(arn: str) -> Any:
    parsed = moto.events.models.parse_arn(arn)
    backend = moto.events.models.events_backends[parsed.account][parsed.region]
    return backend.event_buses.get(parsed.resource_id)


def _put_on_bus(bus: Any, event: Mapping[str, Any], forwarded_from: str | None = None) -> None:
    """What `put_events` does with one event, on a bus of any account and region, keeping
    the envelope's `account` and `region` (the sender's) and `resources`; a forwarded event
    remembers the bus it came from."""
    event_id = str(mock_random.uuid4())
    for rule in list(bus.rules.values()):
        message = _EventCopies.deepcopy(BASE_EVENT_MESSAGE)
        message.update({"id": event_id, "detail-type": event["detail-type"],
                        "source": event["source"], "account": event["account"],
                        "time": _now(), "region": event["region"],
                        "resources": list(event.get("resources", [])),
                        "detail": copy.deepcopy(event["detail"]), "ingestion-time": _now()})
        if forwarded_from:
            message[FORWARDED_FROM] = forwarded_from
        rule.send_to_targets(message)


def _send_dead_letter(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any],
                      refusal: Refusal) -> bool:
    """EventBridge's dead letter for a delivery it will not retry, with its error attributes;
    False when there is no dead-letter queue or it does not take EventBridge's messages."""
    from local.enforcement import dead_letter_allowed

    dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
    if not dead_letter or dead_letter_allowed(rule, dead_letter) is not None:
        return False
    queue = moto.events.models.parse_arn(dead_letter)
    sqs_backend = moto.sqs.models.sqs_backends[queue.account][queue.region]
    sqs_backend.send_message(
        queue_name=queue.resource_id, message_body=json.dumps(as_delivered(event)),
        message_attributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": refusal.code},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": refusal.reason[:250]},
            "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": "0"},
            "RULE_ARN": {"DataType": "String", "StringValue": rule.arn},
            "TARGET_ARN": {"DataType": "String", "StringValue": target["Arn"]}})
    return True


def _refuse(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any],
            refusal: Refusal) -> None:
    """A delivery EventBridge would not make: recorded, logged, and sent to the target's
    dead-letter queue, or dropped and counted when it has none that takes it."""
    detail = event.get("detail")
    dead_lettered = _send_dead_letter(rule, target, event, refusal)
    hooks.refusal_record(
        kind="delivery", rule=rule.arn, target=target["Arn"], account=event.get("account"),
        region=event.get("region"), source=event.get("source"),
        **{"detail-type": event.get("detail-type")}, code=refusal.code, reason=refusal.reason,
        statement=refusal.statement, deadLettered=dead_lettered,
        correlationid=detail.get("correlationid") if isinstance(detail, dict) else None)
    if not dead_lettered:
        hooks.DROPPED["count"] += 1
    logging.getLogger("choreo.local").warning(
        "EventBridge refused %s -> %s: %s %s%s", rule.arn, target["Arn"], refusal.code,
        refusal.reason, "" if dead_lettered else " (dropped: no dead-letter queue takes it)")


def _is_bus(target: Mapping[str, Any]) -> bool:
    return ":event-bus/" in str(target.get("Arn", ""))


def event_buses_across_accounts() -> None:
    """Each target of a matching rule is delivered as EventBridge delivers it: a bus target
    (of this or another account or region) only if it is not a third bus, its role may put
    events there and, across accounts, the receiving bus's policy allows the rule's account,
    keeping the sender's `account`, `region` and `resources`; any target only if its resource
    policy lets EventBridge in (with enforcement on, `local.enforcement`). A refused delivery
    is recorded (`local.hooks.REFUSED`), logged, and dead-lettered with its `ERROR_CODE`.
    A `PutEvents` naming another account's or region's bus by ARN goes to that bus, under the
    same policy, and is refused with `AccessDeniedException` when the policy does not allow
    the caller."""
    from local.enforcement import check_delivery

    rule_class: Any = moto.events.models.Rule
    if getattr(rule_class.send_to_targets, "patched", False):
        return
    send_to_targets = rule_class.send_to_targets
    parse: Any = EventTemplateParser.parse

    def send(self: Any, original_event: Any, transform_input: bool = True) -> None:
        checked = hooks.ENFORCEMENT.enabled or any(_is_bus(target) for target in self.targets)
        if not checked:
            send_to_targets(self, original_event, transform_input)
            return
        if not self.event_pattern.matches_event(original_event):
            return
        delivered = []
        for target in self.targets:
            refusal = check_delivery(self, target, original_event)
            if refusal is None and not _is_bus(target):
                delivered.append(target)
                continue
            transformer = target.get("InputTransformer", {})
            event = parse(input_template=transformer.get("InputTemplate"),
                          input_paths_map=transformer.get("InputPathsMap", {}),
                          event=original_event) if transform_input else dict(original_event)
            if refusal is not None:
                _refuse(self, target, event, refusal)
            else:
                _put_on_bus(bus_of(target["Arn"]), event,
                            forwarded_from=f"arn:aws:events:{self.region_name}:"
                                           f"{self.account_id}:event-bus/{self.event_bus_name}")
        if delivered:
            local = object.__new__(type(self))
            local.__dict__.update(self.__dict__)
            local.targets = delivered
            local.event_pattern = _MATCHED
            send_to_targets(local, original_event, transform_input)

    send.patched = True  # type: ignore[attr-defined]
    send.moto_send_to_targets = send_to_targets  # type: ignore[attr-defined]
    rule_class.send_to_targets = send

    backend_class: Any = moto.events.models.EventsBackend
    put_events = backend_class.put_events

    def put(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answers: list[dict[str, Any] | None] = []
        mine: list[dict[str, Any]] = []
        elsewhere: list[tuple[int, dict[str, Any], Any]] = []
        for event in events:
            name = str(event.get("EventBusName") or "")
            parsed = moto.events.models.parse_arn(name) \
                if name.startswith("arn:") and ":event-bus/" in name else None
            if parsed is None or (parsed.account, parsed.region) == (self.account_id,
                                                                      self.region_name):
                mine.append(event)
                answers.append(None)
                continue
            bus = bus_of(name)
            if bus is None or not bus_allows_put_events(bus, self.account_id):
                raise JsonRESTError("AccessDeniedException",
                                    f"User: arn:aws:iam::{self.account_id}:root is not "
                                    f"authorized to perform: events:PutEvents on resource: "
                                    f"{name}")
            elsewhere.append((len(answers), event, bus))
            answers.append({"EventId": str(mock_random.uuid4())})
        own = iter(put_events(self, mine) if mine else [])
        for _index, event, bus in elsewhere:
            _put_on_bus(bus, {"detail-type": event.get("DetailType"),
                              "source": event.get("Source"), "account": self.account_id,
                              "region": self.region_name,
                              "resources": event.get("Resources", []),
                              "detail": json.loads(event.get("Detail") or "{}")})
        return [answer if answer is not None else next(own) for answer in answers]

    put.patched = True  # type: ignore[attr-defined]
    put.moto_put_events = put_events  # type: ignore[attr-defined]
    backend_class.put_events = put


class _Matched:
    """The pattern of a rule already matched against the event it is handed."""

    @staticmethod
    def matches_event(event: Any) -> bool:
        return True


_MATCHED = _Matched()




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
    if getattr(original, "patched", False):
        return

    @functools.wraps(original)
    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        before = dict(self.environment_vars or {})
        answer: dict[str, Any] = original(self, config_updates)
        after = dict(self.environment_vars or {})
        if after != before:
            for listener in list(hooks.CONFIGURATION_LISTENERS):
                listener(self.function_name, before, after)
        return answer

    update_configuration.patched = True  # type: ignore[attr-defined]
    function_class.update_configuration = update_configuration


def log_group_arns_as_cloudformation_gives_them() -> None:
    """CloudFormation's `Fn::GetAtt [LogGroup, Arn]` is the log group's ARN with `:*` after
    it (CloudFormation User Guide, AWS::Logs::LogGroup, return values): the form a policy's
    `Resource` needs to cover the group's streams, and the form a rule's target names. moto's
    had no `:*`, so a policy that holds on AWS covered no stream here; and its EventBridge
    took the `:*` for part of the group's name."""
    from moto.logs.models import LogGroup

    group_class: Any = LogGroup
    original = group_class.get_cfn_attribute
    if getattr(original, "patched", False):
        return

    def get_cfn_attribute(self: Any, attribute_name: str) -> str:
        value = str(original(self, attribute_name))
        return f"{value}:*" if attribute_name == "Arn" and not value.endswith(":*") else value

    get_cfn_attribute.patched = True  # type: ignore[attr-defined]
    group_class.get_cfn_attribute = get_cfn_attribute
    rule_class: Any = moto.events.models.Rule
    send = rule_class._send_to_cw_log_group
    rule_class._send_to_cw_log_group = lambda self, name, event: send(
        self, name.removesuffix(":*"), event)


PATCHES: tuple[Callable[[], None], ...] = (
    track_live_instances_only,
    memoise_jsonpath,

    memoise_backend_lookup,
    memoise_action_lookup,
    match_each_event_once,
    fast_sqs_clock,
    fast_receipt_handles,
    shallow_copy_received_messages,
    fast_events_clock,
    stamp_logged_events_in_milliseconds,
    cheap_event_copies,
    deliver_whole_events,
    memoise_condition_lexing,
    sqs_attributes_on_demand,
    sqs_bounded_deleted_handles,
    number_every_fifo_message,
    dynamodb_isolated_writes,
    event_buses_across_accounts,
    configuration_updates_reach_the_runtime,
    log_group_arns_as_cloudformation_gives_them,
)


def apply() -> None:
    """Apply every patch; refuse to run on a moto they were not written against."""
    if moto.__version__ != MOTO_VERSION:
        raise MotoVersionMismatch(
            f"the embedded AWS's patches were written against moto {MOTO_VERSION}, not "
            f"{moto.__version__}: check each one in local/moto_patches.py, then update it")
    for patch in PATCHES:
        patch()
