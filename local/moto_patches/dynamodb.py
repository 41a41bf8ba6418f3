"""DynamoDB: condition expressions tokenised once, writes isolated as DynamoDB isolates
them, and time-to-live applied."""

from __future__ import annotations

import copy
import functools
import json
import math
import pickle
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
    UpdateExpressionValidator,
    UpdateHashRangeKeyValidator,
)

from local.moto_patches import clock
from local.moto_patches.history import SpilledMapping, peek, under


def memoise_condition_lexing() -> None:
    """DynamoDB condition expressions are tokenised with a dozen regular expressions compiled
    anew for every token: about half of every conditional write. The tokens of an expression
    are a pure function of its text (and immutable), so each text is tokenised once."""
    parser_class: Any = ConditionExpressionParser
    original = parser_class._lex_condition_expression
    lexed: dict[str, tuple[Any, ...]] = {}

    def _lex_condition_expression(self: ConditionExpressionParser) -> deque[Any]:
        expression = self.condition_expression or ""
        if expression not in lexed:
            if len(lexed) > 4096:
                lexed.clear()
            lexed[expression] = tuple(original(self))
        return deque(lexed[expression])

    parser_class._lex_condition_expression = _lex_condition_expression


# How many distinct expression texts are remembered before the memory starts over: an
# application writes a handful; one that builds them from data cannot grow it without bound.
EXPRESSIONS_REMEMBERED = 4096

# The checks of an update expression that depend on its text, the attribute names it is
# given and the table's key alone: two SET clauses, overlapping paths, a key attribute.
_STRUCTURAL_CHECKS = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)


class _RememberingValidator(UpdateExpressionValidator):
    """moto's validator of an update expression, skipping the structural checks for an
    expression that has passed them with the same names on a table with the same key."""

    def __init__(self, expression: Any, expression_attribute_names: dict[str, str],
                 expression_attribute_values: dict[str, dict[str, Any]], item: Any,
                 table: Any) -> None:
        # What moto's `Validator.__init__` does, but for the copy of the tree the passes
        # rewrite: `deepcopy` walked every node in Python on every UpdateItem; the tree is
        # pickled once (before this class marks it) and each copy unpickled, in C, ~6 times faster.
        pickled = expression.__dict__.get("_pickled")
        if pickled is None:
            pickled = pickle.dumps(expression, pickle.HIGHEST_PROTOCOL)
            expression.__dict__["_pickled"] = pickled
        self._expression = expression
        self._passed: set[Any] = expression.__dict__.setdefault("_structure_passed", set())
        self._structure = (tuple(sorted((expression_attribute_names or {}).items())),
                           tuple(table.table_key_attrs))
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item = item
        self.table = table
        self.processors = self.get_ast_processors()
        self.node_to_validate = pickle.loads(pickled)

    def get_ast_processors(self) -> list[Any]:
        processors: list[Any] = super().get_ast_processors()
        if self._structure in self._passed:
            return [p for p in processors if not isinstance(p, _STRUCTURAL_CHECKS)]
        return processors

    def validate(self) -> Any:
        validated = super().validate()
        self._passed.add(self._structure)
        return validated


def memoise_update_expressions() -> None:
    """Every `UpdateItem` parsed its expression into a tree, and validated the tree with ten
    passes over it, one of them quadratic in its clauses: a fifth of the embedded AWS's time
    under load (Powertools' idempotency alone updates an item per record). The tree is a pure
    function of the text, and moto only reads it (its validator works on a copy), so each
    text is parsed once; and the passes that depend only on the text, the names and the
    table's key run once per such combination. The passes that read the item and the values
    run on every request, and an expression that fails any check fails it every time."""
    parser: Any = UpdateExpressionParser
    make = parser.make
    parsed: dict[str, Any] = {}

    def remembered(cls: Any, expression: str) -> Any:
        tree = parsed.get(expression)
        if tree is None:
            tree = make(expression)  # a malformed expression raises, and is not remembered
            if len(parsed) >= EXPRESSIONS_REMEMBERED:
                parsed.clear()
            parsed[expression] = tree
        return tree

    parser.make = classmethod(remembered)
    dynamodb_models: Any = moto.dynamodb.models
    dynamodb_models.UpdateExpressionValidator = _RememberingValidator

    # Each pass asked its processor for a fresh map of node classes to bound methods twice
    # for every node of the tree; a processor's map does not change, so it is made once.
    traverser: Any = DepthFirstTraverser

    def _processors(self: Any) -> tuple[tuple[type, Callable[[Any], Any]], ...]:
        processors = self.__dict__.get("_processors")
        if processors is None:
            processors = self.__dict__["_processors"] = tuple(self._processing_map().items())
        return processors

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        classes = self.__dict__.get("_node_classes")
        if classes is None:
            classes = self.__dict__["_node_classes"] = tuple(cls for cls, _ in _processors(self))
        return classes

    def process(self: Any, node: Any) -> Any:
        for node_class, processor in _processors(self):
            if isinstance(node, node_class):
                return processor(node)
        return None

    traverser.nodes_to_be_processed = nodes_to_be_processed
    traverser.process = process


_PLAIN = (str, int, float, bool)


def _plain(value: Any) -> bool:
    """JSON as it stands: no bytes (a binary attribute is base64 in JSON), no timestamps, no
    nulls (a member that is absent in AWS's answer)."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return False


def plain_json_item_results() -> None:
    """moto turns each DynamoDB answer into JSON by walking botocore's model of its shape, a
    recursive walk through every attribute of every item: a tenth of the embedded AWS's time
    under load. What the item operations answer is DynamoDB JSON already (attribute values as
    `{"S": ...}`), so an answer made only of strings, numbers, booleans, maps and lists is
    written as it stands; anything else (a binary value, a timestamp) still takes the walk."""
    from moto.dynamodb.responses import DynamoResult

    result_class: Any = DynamoResult
    execute_result = result_class.execute_result

    def plain_or_walked(self: Any, context: Any) -> Any:
        result = self.result
        if isinstance(result, dict) and _plain(result):
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(result)
        return execute_result(self, context)

    result_class.execute_result = plain_or_walked


# One lock for every DynamoDB table of every account and region: moto's item operations are
# not atomic (a conditional write reads, then writes), so two concurrent requests could both
# pass the same condition, and a cancelled transaction's rollback could undo another request's
# write. DynamoDB itself serialises writes to an item and isolates transactions.
DYNAMODB_LOCK = threading.RLock()

_SERIALISED = ("put_item", "update_item", "delete_item", "get_item", "transact_write_items")


# Set while an UpdateItem on a table without a stream runs, in the thread running it.
_UPDATING_WITHOUT_STREAM = threading.local()


class _NoTableCopy:
    """moto's `copy` module as its DynamoDB backend sees it: a table is not copied (the whole
    table was deep-copied for every item of every transaction, so transactions slowed as
    tables grew, and churned memory); nor is the item an UpdateItem is about to change when
    its table has no stream — moto copies it only to hand the stream the old image, and the
    copy was 7 % of the embedded AWS's time under load. Anything else is copied."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            return value
        if isinstance(value, Item) and getattr(_UPDATING_WITHOUT_STREAM, "active", False):
            return value
        return copy.deepcopy(value, memo)


def _update_without_stream_copy(update_item: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(update_item)
    def updated(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        if self.get_table(table_name).stream_shard is not None:
            return update_item(self, table_name, *args, **kwargs)
        _UPDATING_WITHOUT_STREAM.active = True
        try:
            return update_item(self, table_name, *args, **kwargs)
        finally:
            _UPDATING_WITHOUT_STREAM.active = False

    return updated


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
    backend_class.update_item = _update_without_stream_copy(backend_class.update_item)
    for name in _SERIALISED:
        setattr(backend_class, name, under(DYNAMODB_LOCK, getattr(backend_class, name)))


# Items a sweep looks at while it holds `DYNAMODB_LOCK`: between slices every other DynamoDB
# call gets its turn, so a sweep of a large table delays none of them by more than a slice.
SWEEP_SLICE = 512


def _candidates(table: Table, cutoff: float) -> list[tuple[Any, Any]]:
    """The keys of the items that may have expired: every item, less those written out to disk
    with a note (`_expiry_note`) that they expire later, or never."""
    items: Any = table.items
    if isinstance(items, SpilledMapping):
        hash_keys = [hash_key for hash_key, note in items.noted()
                     if note is None or note < cutoff]
    else:
        hash_keys = list(items)
    if not table.range_key_attr:
        return [(hash_key, None) for hash_key in hash_keys]
    return [(hash_key, range_key) for hash_key in hash_keys
            for range_key in list(peek(items, hash_key) or {})]


def _expiry_note(table: Table, value: Any) -> float | None:
    """What the sweep needs to know of an item (or a partition's items) written out: the
    soonest expiry under the table's TTL attribute, `math.inf` for never; `None` (no note)
    while the table has no TTL. One float: the notes live as long as the history, tens of
    thousands of them (the attribute they were taken under is not kept with each; a change
    of attribute drops them all, `notes_forgotten_on_ttl_change`)."""
    attribute = table.ttl.get("AttributeName")
    if table.ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
        return None
    soonest = math.inf
    for item in value.values() if isinstance(value, dict) else (value,):
        expiry = item.attrs.get(attribute)
        if expiry is None or expiry.type != "N":
            continue
        try:
            soonest = min(soonest, float(expiry.value))
        except ValueError:
            continue
    return soonest


def notes_forgotten_on_ttl_change() -> None:
    """UpdateTimeToLive drops the notes of the table's items written out: each says when an
    item expires under the attribute in force when it was written, and an item with no note
    is one the sweep reads back to look."""
    update: Any = DynamoDBBackend.update_time_to_live

    def update_time_to_live(self: DynamoDBBackend, table_name: str,
                            ttl_spec: dict[str, Any]) -> None:
        with DYNAMODB_LOCK:
            update(self, table_name, ttl_spec)
            items = self.get_table(table_name).items
            if isinstance(items, SpilledMapping):
                items.forget_notes()

    DynamoDBBackend.update_time_to_live = update_time_to_live  # type: ignore[method-assign]


def _look(table: Table, hash_key: Any, range_key: Any) -> Any:
    """An item as it is, read without making it recent (`SpilledMapping.peek`)."""
    found = peek(table.items, hash_key)
    if range_key is None or found is None:
        return None if table.has_range_key else found
    return found.get(range_key)


def _expired(item: Any, attribute: str, cutoff: float) -> bool:
    value = item.attrs.get(attribute)
    return value is not None and value.type == "N" and float(value.value) < cutoff


def expire_ttl_items(now: float | None = None) -> int:
    """Delete the items whose time-to-live has passed, in every table that has TTL enabled,
    as DynamoDB does in the background (moto never does). Returns how many went.

    DynamoDB "typically deletes expired items within two days of expiration", and expired
    items "still show up in reads, queries, and scans" until then (UpdateTimeToLive, DynamoDB
    API Reference): readers cannot rely on the moment, so a sweep may be rare and slow. It
    reads the table in slices, each under the lock and each item read again by its key,
    rather than holding every call up for a walk of the whole table; an item kept on disk is
    read only if the note taken when it was written out says it may have expired."""
    cutoff = clock.now() if now is None else now
    expired = 0
    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            for table in list(backend.tables.values()):
                attribute = table.ttl.get("AttributeName")
                if table.ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
                    continue
                with DYNAMODB_LOCK:
                    keys = _candidates(table, cutoff)
                for start in range(0, len(keys), SWEEP_SLICE):
                    with DYNAMODB_LOCK:
                        for hash_key, range_key in keys[start:start + SWEEP_SLICE]:
                            item = _look(table, hash_key, range_key)
                            if item is not None and _expired(item, attribute, cutoff):
                                table.delete_item(hash_key, range_key)
                                expired += 1
    return expired


def _pack_key(key: Any) -> Any:
    """What the index keeps of a key: the string of a string key, the key itself otherwise
    (DynamoDB compares numbers by value, as the key's own equality does)."""
    return key.value if type(key) is DynamoType and key.type == "S" else key


def _unpack_key(packed: Any) -> Any:
    return DynamoType({"S": packed}) if isinstance(packed, str) else packed


# Set while a Query without an index runs, in the thread running it: the partition it reads.
_QUERYING = threading.local()


def items_kept_on_disk() -> None:
    """Each table's items in a `SpilledMapping` (local/moto_patches/history.py says why), and
    the three walks moto made of a whole table where DynamoDB reads less: a Query reads its
    partition, not every item (moto sorted the whole table for each); counting a table
    without a sort key needs no item read; the TTL sweep looks without keeping."""
    table_class: Any = Table
    init = table_class.__init__

    def __init__(self: Table, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.items = SpilledMapping(  # type: ignore[assignment]
            DYNAMODB_LOCK, default_factory=dict if self.range_key_attr else None,
            pack_key=_pack_key, unpack_key=_unpack_key,
            note=functools.partial(_expiry_note, self))

    table_class.__init__ = __init__
    length = table_class.__len__
    table_class.__len__ = lambda self: length(self) if self.has_range_key else len(self.items)
    query, all_items = table_class.query, table_class.all_items

    def query_one_partition(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        _QUERYING.partition = None if index_name or hash_key is None else hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERYING.partition = None

    def partition_items(self: Table) -> list[Item]:
        partition = getattr(_QUERYING, "partition", None)
        if partition is None:
            return all_items(self)
        found = peek(self.items, partition)
        if found is None:
            return []
        if not self.range_key_attr:
            return [found]
        return sorted(found.values(), key=lambda item: item.range_key)

    table_class.query = query_one_partition
    table_class.all_items = partition_items
