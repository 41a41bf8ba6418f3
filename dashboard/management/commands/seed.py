"""Stock the warehouse of a stack, local or deployed.

    python manage.py seed                            # stock the products that have none
    python manage.py seed --top-up 50                # ... then 50 more units of each
    python manage.py seed --top-up 50 --sku MUG-STONEWARE --sku KETTLE-STEEL
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import aws
from dashboard.management.stack import stack_errors
from dashboard.orders.stock import stock_levels, stock_seed, stock_top_up
from workflow.products import PRODUCTS, PRODUCTS_BY_SKU
from workflow.stock import StockLevel


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def levels_table(levels: dict[str, StockLevel]) -> list[str]:
    width = max([len("sku"), *(len(sku) for sku in levels)])
    lines = [f"{'sku':<{width}}  available  reserved  shipped  initial"]
    lines += [f"{level.sku:<{width}}  {level.available:>9}  {level.reserved:>8}  "
              f"{level.shipped:>7}  {level.initial:>7}"
              f"{'' if level.conserved else '  NOT CONSERVED'}" for level in levels.values()]
    return lines


class Command(BaseCommand):
    help = ("Stock every catalogue product that has no stock in the stack's warehouse; with "
            "--top-up N, deliver N more units of each (or of the --sku products). Prints the "
            "levels after.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--top-up", type=int, metavar="N",
                            help="units to add to each product (or to each --sku)")
        parser.add_argument("--sku", action="append", dest="skus", metavar="SKU",
                            help="with --top-up: only this product (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        top_up: int | None = options["top_up"]
        skus: list[str] = options["skus"] or []
        if skus and top_up is None:
            raise CommandError("--sku says which products --top-up N tops up: give --top-up too")
        if top_up is not None and top_up < 1:
            raise CommandError("--top-up adds at least one unit")
        unknown = [sku for sku in skus if sku not in PRODUCTS_BY_SKU]
        if unknown:
            raise CommandError(f"no product {', '.join(unknown)}; the catalogue has: "
                               f"{', '.join(PRODUCTS_BY_SKU)}")
        context = aws.current()
        with stack_errors(context):
            table_name = context.outputs().inventory_table_name
            dynamodb = context.client("dynamodb")
            created = stock_seed(dynamodb=dynamodb, table_name=table_name)
            others = " (the others had stock already)" if created < len(PRODUCTS) else ""
            self.stdout.write(f"seeded {created} of {len(PRODUCTS)} products{others}")
            if top_up is not None:
                targets = skus or list(PRODUCTS_BY_SKU)
                stock_top_up(dynamodb=dynamodb, table_name=table_name,
                             units=dict.fromkeys(targets, top_up))
                self.stdout.write(f"delivered {_count(top_up, 'unit')} of "
                                  f"{', '.join(targets) if skus else 'each product'}")
            levels = stock_levels(dynamodb=dynamodb, table_name=table_name)
        self.stdout.write("\n".join(levels_table(levels)))
