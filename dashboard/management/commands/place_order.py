"""Place an order through the order API, as the dashboard's form does."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.orders import services
from dashboard.orders.forms import DECLINING_CARD, GOOD_CARD
from dashboard.orders.order_api import OrderApiError


class Command(BaseCommand):
    help = "Place an order: --sku X --quantity N (repeat for more lines)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sku", action="append", required=True, help="a product's SKU")
        parser.add_argument("--quantity", action="append", type=int,
                            help="its quantity (one per --sku; default 1)")
        parser.add_argument("--card", default=GOOD_CARD,
                            help=f"card number (default {GOOD_CARD}; {DECLINING_CARD} is declined)")
        parser.add_argument("--declined", action="store_true", help="use the declining test card")
        parser.add_argument("--customer", default="cli-customer", help="customer id")

    def handle(self, *args: Any, **options: Any) -> None:
        skus: list[str] = options["sku"]
        quantities: list[int] = options["quantity"] or []
        if len(quantities) > len(skus):
            raise CommandError("more --quantity than --sku")
        quantities += [1] * (len(skus) - len(quantities))
        lines = [services.OrderLine(sku=sku, quantity=quantity)
                 for sku, quantity in zip(skus, quantities, strict=True)]
        try:
            answer = services.order_place(customer_id=options["customer"], lines=lines,
                                          card_number=DECLINING_CARD if options["declined"]
                                          else options["card"])
        except OrderApiError as error:
            problem = error.problem
            details = "".join(f"\n  {e.field}: {e.message}" for e in problem.errors)
            raise CommandError(f"{problem.status} {problem.title}: {problem.detail}{details}") from None
        self.stdout.write(json.dumps(answer, indent=2))
