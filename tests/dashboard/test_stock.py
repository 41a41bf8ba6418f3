"""Stock seeding and top-ups against moto's in-process DynamoDB, and the `seed` command that
wraps them: every write keeps available + reserved + shipped == initial."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from dashboard import aws
from dashboard.orders.stock import UnknownSku, stock_levels, stock_seed, stock_top_up
from workflow.products import PRODUCTS, PRODUCTS_BY_SKU
from workflow.stock import StockLevel, product_key

REGION = "us-east-1"
TABLE = "test-Inventory"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        yield client


def reserve(dynamodb: Any, sku: str, units: int) -> None:
    """What the warehouse does when it reserves a line."""
    dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": product_key(sku)}},
                         UpdateExpression="SET available = available - :q, reserved = reserved + :q",
                         ExpressionAttributeValues={":q": {"N": str(units)}})


def test_seeding_stocks_each_product_once_with_its_initial_stock(dynamodb: Any) -> None:
    assert stock_seed(dynamodb=dynamodb, table_name=TABLE) == len(PRODUCTS)
    assert stock_seed(dynamodb=dynamodb, table_name=TABLE) == 0

    levels = stock_levels(dynamodb=dynamodb, table_name=TABLE)
    assert levels == {p.sku: StockLevel(p.sku, available=p.initial_stock, initial=p.initial_stock)
                      for p in PRODUCTS}
    assert all(level.conserved for level in levels.values())


def test_seeding_again_leaves_stock_that_has_moved_alone(dynamodb: Any) -> None:
    stock_seed(dynamodb=dynamodb, table_name=TABLE)
    reserve(dynamodb, "MUG-STONEWARE", 3)

    assert stock_seed(dynamodb=dynamodb, table_name=TABLE) == 0

    mug = stock_levels(dynamodb=dynamodb, table_name=TABLE, skus=["MUG-STONEWARE"])["MUG-STONEWARE"]
    initial = PRODUCTS_BY_SKU["MUG-STONEWARE"].initial_stock
    assert (mug.available, mug.reserved, mug.initial) == (initial - 3, 3, initial)


def test_a_top_up_adds_to_the_shelf_and_to_what_was_delivered(dynamodb: Any) -> None:
    stock_seed(dynamodb=dynamodb, table_name=TABLE)
    reserve(dynamodb, "KETTLE-STEEL", 5)

    after = stock_top_up(dynamodb=dynamodb, table_name=TABLE, units={"KETTLE-STEEL": 7})

    initial = PRODUCTS_BY_SKU["KETTLE-STEEL"].initial_stock
    assert after == {"KETTLE-STEEL": StockLevel("KETTLE-STEEL", available=initial - 5 + 7,
                                                reserved=5, initial=initial + 7)}
    assert stock_levels(dynamodb=dynamodb, table_name=TABLE)["KETTLE-STEEL"] == after["KETTLE-STEEL"]
    assert all(level.conserved for level in stock_levels(dynamodb=dynamodb, table_name=TABLE).values())


def test_a_top_up_of_a_product_never_stocked_creates_its_record(dynamodb: Any) -> None:
    after = stock_top_up(dynamodb=dynamodb, table_name=TABLE, units={"TEAPOT-CAST": 4})

    assert after["TEAPOT-CAST"] == StockLevel("TEAPOT-CAST", available=4, initial=4)
    assert stock_levels(dynamodb=dynamodb, table_name=TABLE) == after
    # seeding stocks the others, and leaves the record the top-up made
    assert stock_seed(dynamodb=dynamodb, table_name=TABLE) == len(PRODUCTS) - 1
    assert stock_levels(dynamodb=dynamodb, table_name=TABLE)["TEAPOT-CAST"].initial == 4


def test_a_top_up_refuses_unknown_products_and_empty_deliveries_before_writing(dynamodb: Any) -> None:
    with pytest.raises(UnknownSku, match="NOT-A-SKU"):
        stock_top_up(dynamodb=dynamodb, table_name=TABLE, units={"MUG-STONEWARE": 1, "NOT-A-SKU": 1})
    with pytest.raises(ValueError, match="at least one unit"):
        stock_top_up(dynamodb=dynamodb, table_name=TABLE, units={"MUG-STONEWARE": 0})

    assert stock_levels(dynamodb=dynamodb, table_name=TABLE) == {}


@pytest.fixture
def inventory_stack(dynamodb: Any) -> Iterator[aws.AwsContext]:
    context = aws.configure(region=REGION, stack_name="choreo", endpoint_url=None,
                            outputs={"InventoryTableName": TABLE},
                            credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    yield context
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9", outputs={})


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed", *args, stdout=out)
    return out.getvalue()


def test_the_seed_command_seeds_then_tops_up_the_named_products(
        inventory_stack: aws.AwsContext, dynamodb: Any) -> None:
    first = seed()
    assert f"seeded {len(PRODUCTS)} of {len(PRODUCTS)} products" in first

    output = seed("--top-up", "5", "--sku", "MUG-STONEWARE", "--sku", "TEAPOT-CAST")

    levels = stock_levels(dynamodb=dynamodb, table_name=TABLE)
    for product in PRODUCTS:
        added = 5 if product.sku in {"MUG-STONEWARE", "TEAPOT-CAST"} else 0
        assert levels[product.sku].initial == product.initial_stock + added
        assert levels[product.sku].conserved
    assert "seeded 0 of" in output
    mug_row = next(line for line in output.splitlines() if line.startswith("MUG-STONEWARE"))
    assert mug_row.split()[1:] == ["30", "0", "0", "30"]


def test_the_seed_command_tops_up_every_product_without_sku(
        inventory_stack: aws.AwsContext, dynamodb: Any) -> None:
    seed("--top-up", "2")

    levels = stock_levels(dynamodb=dynamodb, table_name=TABLE)
    assert {sku: level.available for sku, level in levels.items()} == {
        p.sku: p.initial_stock + 2 for p in PRODUCTS}


@pytest.mark.parametrize(("args", "message"), [
    (["--sku", "MUG-STONEWARE"], "give --top-up too"),
    (["--top-up", "0"], "at least one unit"),
    (["--top-up", "1", "--sku", "NOT-A-SKU"], "no product NOT-A-SKU"),
])
def test_the_seed_command_refuses_what_it_cannot_do(
        inventory_stack: aws.AwsContext, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        seed(*args)


def test_the_seed_command_says_which_output_is_missing(dynamodb: Any) -> None:
    aws.configure(region=REGION, stack_name="choreo", endpoint_url=None, outputs={},
                  credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    try:
        with pytest.raises(CommandError, match="no output InventoryTableName"):
            seed()
    finally:
        aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                      outputs={})


def test_the_seed_command_says_when_the_stack_is_not_deployed(dynamodb: Any) -> None:
    aws.configure(region=REGION, stack_name="not-deployed", endpoint_url=None,
                  credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    try:
        with pytest.raises(CommandError, match=r"stack not-deployed .* does not exist"):
            seed()
    finally:
        aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                      outputs={})
