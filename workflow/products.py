"""The seeded product catalogue: prices belong to the order subdomain, stock to the warehouse.

Stock levels are small (tens of units) so that running out is easy to reach from the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow.money import Money

CURRENCY = "GBP"


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    unit_price: Money
    initial_stock: int

    def to_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "unitPrice": self.unit_price.to_dict(),
                "currency": self.unit_price.currency}


PRODUCTS: tuple[Product, ...] = (
    Product("TEA-EARL-GREY", "Earl Grey tea, 250 g", Money(650, CURRENCY), 40),
    Product("MUG-STONEWARE", "Stoneware mug", Money(1200, CURRENCY), 25),
    Product("KETTLE-STEEL", "Stovetop kettle", Money(3450, CURRENCY), 12),
    Product("BISCUIT-TIN", "Shortbread tin", Money(899, CURRENCY), 30),
    Product("TEAPOT-CAST", "Cast-iron teapot", Money(4999, CURRENCY), 10),
    Product("INFUSER-MESH", "Mesh tea infuser", Money(450, CURRENCY), 50),
)

PRODUCTS_BY_SKU: dict[str, Product] = {product.sku: product for product in PRODUCTS}
