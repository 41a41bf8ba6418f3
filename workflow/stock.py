"""The warehouse's stock of one product, as its table stores it.

One item per product, keyed `PRODUCT#<sku>`, counting units in four fields. Units move
between `available`, `reserved` and `shipped`; only a delivery to the warehouse (a seed or a
top-up) adds units, and it adds them to `initial` too. So, whatever happens to orders,
available + reserved + shipped == initial.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflow.products import Product

PRODUCT_KEY_PREFIX = "PRODUCT#"

AVAILABLE = "available"
RESERVED = "reserved"
SHIPPED = "shipped"
INITIAL = "initial"
STOCK_FIELDS = (AVAILABLE, RESERVED, SHIPPED, INITIAL)


def product_key(sku: str) -> str:
    return f"{PRODUCT_KEY_PREFIX}{sku}"


@dataclass(frozen=True)
class StockLevel:
    sku: str
    available: int = 0
    reserved: int = 0
    shipped: int = 0
    initial: int = 0

    @classmethod
    def stocked(cls, product: Product) -> StockLevel:
        """A product as first seeded: its initial stock on the shelf, nothing moved yet."""
        return cls(sku=product.sku, available=product.initial_stock,
                   initial=product.initial_stock)

    @classmethod
    def from_record(cls, sku: str, record: Mapping[str, Any]) -> StockLevel:
        return cls(sku, **{name: int(record.get(name, 0)) for name in STOCK_FIELDS})

    def to_record(self) -> dict[str, Any]:
        return {"sku": self.sku, **{name: getattr(self, name) for name in STOCK_FIELDS}}

    @property
    def conserved(self) -> bool:
        """No unit appeared or vanished: every unit delivered is on the shelf, reserved or
        shipped."""
        return self.available + self.reserved + self.shipped == self.initial
