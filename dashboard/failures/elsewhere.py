"""The dead-letter queues of the stacks in other accounts.

With a subdomain in an account of its own (`workflow/placement.py`), what its rules could
not deliver is dead-lettered there: an event the home bus's policy refuses goes to the
rule-target DLQ of the account that sent it. The Failures page lists those queues too,
read from that stack's outputs (`<stack>-<subdomain>`, `Placements.stacks`) in its account:
in the embedded AWS as that account (moto's `x-moto-account-id`), on AWS with the boto3
profile `CHOREO_ACCOUNT_PROFILES` names for it. They are shown, not redriven from here: a
refused event goes nowhere until the policy lets it in, and a redrive publishes with the
credentials of the account that holds the queue.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.conf import settings

from dashboard import aws
from dashboard.failures.dead_letter_queues import DeadLetterQueue, dead_letter_queues
from dashboard.shared.placements import current_placements
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.placement import model_slice

log = logging.getLogger("dashboard.failures.elsewhere")


def account_profiles() -> dict[str, str]:
    """`CHOREO_ACCOUNT_PROFILES`: `<account>=<boto3 profile>`, comma-separated."""
    pairs = {}
    for item in settings.DASHBOARD_ACCOUNT_PROFILES.split(","):
        account, _, profile = item.partition("=")
        if account.strip() and profile.strip():
            pairs[account.strip()] = profile.strip()
    return pairs


@dataclasses.dataclass(frozen=True)
class Unreadable:
    """A stack in another account whose queues could not be read, and why."""

    stack: str
    account: str
    reason: str


def other_dead_letter_queues(
        home_outputs: dict[str, str], *, stack_name: str,
        model: Choreography = CHOREOGRAPHY) -> tuple[list[tuple[DeadLetterQueue, Any]], list[Unreadable]]:
    """Each dead-letter queue of each stack in another account, with an SQS client in that
    account; and the stacks that could not be read."""
    placements = current_placements(home_outputs, model)
    found: list[tuple[DeadLetterQueue, Any]] = []
    unreadable: list[Unreadable] = []
    for plan in placements.stacks(stack_name, model)[1:]:
        if plan.replica or plan.placement.account is None:
            continue
        account = plan.placement.account
        context = aws.in_account(account, stack_name=plan.name, region=plan.placement.region,
                                 profiles=account_profiles())
        if context is None:
            unreadable.append(Unreadable(plan.name, account, "set CHOREO_ACCOUNT_PROFILES "
                                         f"to a profile in account {account} to read it"))
            continue
        outputs = context.outputs_or_none()
        if outputs is None:
            unreadable.append(Unreadable(plan.name, account, "its stack could not be read"))
            continue
        suffix = plan.name.removeprefix(f"{stack_name}-")
        for queue in dead_letter_queues(outputs.values, model_slice(plan, model)):
            found.append((dataclasses.replace(queue, name=f"{queue.name}-{suffix}",
                                              account=account, stack=plan.name),
                          context.client("sqs")))
    return found, unreadable
