"""The loyalty subdomain: the function its private bus invokes directly, the queue Lambda
sends the events it gave up on to, and the points ledger."""

from __future__ import annotations

from cdk.constructs.subdomain import SubdomainServices
from workflow.model import Subdomain


class LoyaltySubdomain(SubdomainServices):
    subdomain = Subdomain.LOYALTY
