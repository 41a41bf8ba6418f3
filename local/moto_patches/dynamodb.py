"""DynamoDB: condition expressions tokenised once, writes isolated as DynamoDB isolates
them, and time-to-live applied."""

from __future__ import annotations

import copy
import functools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table

from local.moto_patches import clock


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
    cutoff = clock.now() if now is None else now
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
