"""Stock in the warehouse's table of a stack, local or deployed: seed it, top it up, read it.

The one way stock gets into a stack from outside (`manage.py seed`, the load generator).
Each function takes a DynamoDB client and the table's name (the stack output
`InventoryTableName`), so that it works against any stack without the dashboard's settings.
Every write adds the same units to `available` and `initial`, so stock stays conserved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from workflow.products import PRODUCTS, PRODUCTS_BY_SKU
from workflow.stock import AVAILABLE, INITIAL, RESERVED, SHIPPED, StockLevel, product_key

_deserializer = TypeDeserializer()
_serializer = TypeSerializer()
BATCH_GET_LIMIT = 100

# One atomic write for a record that exists and one that does not yet: a missing field
# counts from zero.
TOP_UP_EXPRESSION = (
    f"SET {AVAILABLE} = if_not_exists({AVAILABLE}, :zero) + :units, "
    f"{INITIAL} = if_not_exists({INITIAL}, :zero) + :units, "
    f"{RESERVED} = if_not_exists({RESERVED}, :zero), "
    f"{SHIPPED} = if_not_exists({SHIPPED}, :zero), sku = :sku")


class UnknownSku(ValueError):
    """The catalogue has no product with this SKU."""


def _item(level: StockLevel) -> dict[str, Any]:
    return {name: _serializer.serialize(value)
            for name, value in {"pk": product_key(level.sku), **level.to_record()}.items()}


def _level(sku: str, item: Mapping[str, Any]) -> StockLevel:
    return StockLevel.from_record(sku, {name: _deserializer.deserialize(value)
                                        for name, value in item.items()})


def stock_seed(*, dynamodb: Any, table_name: str) -> int:
    """Stock every catalogue product that has no stock record yet with its initial stock;
    products already stocked are left alone. Returns how many records were created."""
    created = 0
    for product in PRODUCTS:
        try:
            dynamodb.put_item(TableName=table_name, Item=_item(StockLevel.stocked(product)),
                              ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue
        created += 1
    return created


def stock_top_up(*, dynamodb: Any, table_name: str,
                 units: Mapping[str, int]) -> dict[str, StockLevel]:
    """Deliver `units[sku]` more units of each product: onto the shelf (`available`) and into
    the count of all units ever delivered (`initial`). A product with no record yet gets one
    holding just these units. Returns each product's level right after its delivery."""
    unknown = sorted(set(units) - set(PRODUCTS_BY_SKU))
    if unknown:
        raise UnknownSku(f"no product {', '.join(unknown)} in the catalogue")
    refused = {sku: count for sku, count in units.items() if count < 1}
    if refused:
        raise ValueError(f"a top-up adds at least one unit: {refused}")
    levels = {}
    for sku, count in units.items():
        answer = dynamodb.update_item(
            TableName=table_name, Key={"pk": {"S": product_key(sku)}},
            UpdateExpression=TOP_UP_EXPRESSION, ReturnValues="ALL_NEW",
            ExpressionAttributeValues={":zero": {"N": "0"}, ":units": {"N": str(count)},
                                       ":sku": {"S": sku}})
        levels[sku] = _level(sku, answer["Attributes"])
    return levels


def stock_levels(*, dynamodb: Any, table_name: str,
                 skus: Iterable[str] | None = None) -> dict[str, StockLevel]:
    """The current stock of each product (every catalogue product unless `skus` names some),
    read consistently; a product with no record is left out."""
    wanted = list(dict.fromkeys(skus if skus is not None else PRODUCTS_BY_SKU))
    levels: dict[str, StockLevel] = {}
    for start in range(0, len(wanted), BATCH_GET_LIMIT):
        keys: list[dict[str, Any]] = [{"pk": {"S": product_key(sku)}}
                                      for sku in wanted[start:start + BATCH_GET_LIMIT]]
        while keys:
            answer = dynamodb.batch_get_item(RequestItems={
                table_name: {"Keys": keys, "ConsistentRead": True}})
            for item in answer["Responses"].get(table_name, []):
                sku = _deserializer.deserialize(item["sku"])
                levels[sku] = _level(sku, item)
            keys = answer.get("UnprocessedKeys", {}).get(table_name, {}).get("Keys", [])
    return {sku: levels[sku] for sku in wanted if sku in levels}
