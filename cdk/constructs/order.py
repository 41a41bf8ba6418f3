"""The order subdomain: the HTTP API customers place orders through, the function that
keeps each order's status from the events that end it, and the orders table."""

from __future__ import annotations

from cdk.constructs.subdomain import SubdomainServices
from workflow.model import Subdomain


class OrderSubdomain(SubdomainServices):
    subdomain = Subdomain.ORDER
