"""The warehouse subdomain: the FIFO queue and the function that reserves, ships and
releases stock, and the inventory table."""

from __future__ import annotations

from cdk.constructs.subdomain import SubdomainServices
from workflow.model import Subdomain


class WarehouseSubdomain(SubdomainServices):
    subdomain = Subdomain.WAREHOUSE
