"""The deployments the graph is checked against, besides the default: Loyalty in an account of
its own with a replica of the observability in another region; the legacy consumer; and a
bigger choreography, three subdomains more on a copy of the model."""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from dashboard.shared.placements import Settings
from tests.dashboard.factories import HOME_ACCOUNT, LOYALTY_ACCOUNT
from workflow.model import CHOREOGRAPHY, Bus, Choreography, Function, Queue, Route, ToFunction, ToQueue

TOPOLOGIES = ("default", "accounts", "legacy", "bigger")
ACCOUNTS = Settings(subdomain_accounts=f"loyalty={LOYALTY_ACCOUNT}", replica_region="eu-west-1",
                    home_account=HOME_ACCOUNT, home_region="us-east-1")


class Subdomains(StrEnum):
    """The model's subdomains and three more (an enum cannot be extended; members of both
    compare and hash as their values)."""

    ORDER = "order"
    WAREHOUSE = "warehouse"
    PAYMENT = "payment"
    LOYALTY = "loyalty"
    AUDIT = "audit"
    INVOICING = "invoicing"
    SHIPPING = "shipping"


def _bigger() -> Choreography:
    """The model and three subdomains more: one fed by a queue with two routes, one by a queue
    with one, one a direct target of the global bus."""
    def function(name: str, subdomain: Subdomains, summary: str) -> Function:
        return Function(name, subdomain, f"tests.fixtures.{name.lower()}.handler", summary)  # type: ignore[arg-type]

    return dataclasses.replace(
        CHOREOGRAPHY,
        functions=(*CHOREOGRAPHY.functions,
                   function("Audit", Subdomains.AUDIT, "Keeps an audit trail of orders."),
                   function("Invoicing", Subdomains.INVOICING, "Issues an invoice per payment."),
                   function("Shipping", Subdomains.SHIPPING, "Books a carrier for each shipment.")),
        queues=(*CHOREOGRAPHY.queues,
                Queue("Audit", Subdomains.AUDIT, consumer="Audit"),  # type: ignore[arg-type]
                Queue("Invoicing", Subdomains.INVOICING, consumer="Invoicing")),  # type: ignore[arg-type]
        routes=(*CHOREOGRAPHY.routes,
                Route("order.placed", Bus.GLOBAL, ToQueue("Audit")),
                Route("order.cancelled", Bus.GLOBAL, ToQueue("Audit")),
                Route("payment.taken", Bus.GLOBAL, ToQueue("Invoicing")),
                Route("warehouse.order-shipped", Bus.GLOBAL, ToFunction("Shipping"))))


BIGGER = _bigger()
