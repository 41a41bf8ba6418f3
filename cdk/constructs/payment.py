"""The payment subdomain: the queue and the function that charges reserved orders, and the
payments ledger."""

from __future__ import annotations

from cdk.constructs.subdomain import SubdomainServices
from workflow.model import Subdomain


class PaymentSubdomain(SubdomainServices):
    subdomain = Subdomain.PAYMENT
