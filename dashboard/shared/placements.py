"""Where each part of the choreography runs, as this dashboard was told: the deployment's
placement settings read against the model. The live diagram draws it; the failures page
reads the dead-letter queues of the other accounts by it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from workflow import outputs as stack_outputs
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.placement import (
    HOME_ACCOUNT,
    HOME_REGION,
    REPLICA_REGION,
    SUBDOMAIN_ACCOUNTS,
    Placement,
    PlacementError,
    Placements,
)

log = logging.getLogger("dashboard.shared.placements")


@dataclass(frozen=True)
class Settings:
    """The placement settings as the dashboard was given them (strings, as in the
    environment): hashable, so a graph can be cached by them."""

    subdomain_accounts: str = ""
    replica_region: str = ""
    home_account: str = ""
    home_region: str = ""

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Settings:
        return cls(**{name: str(values.get(name, "") or "") for name in cls.__dataclass_fields__})


def current_settings() -> Settings:
    """The placement settings the dashboard runs with (`dashboard/settings.py`)."""
    from django.conf import settings

    return Settings(subdomain_accounts=settings.DASHBOARD_SUBDOMAIN_ACCOUNTS,
                    replica_region=settings.DASHBOARD_REPLICA_REGION,
                    home_account=settings.DASHBOARD_HOME_ACCOUNT,
                    home_region=settings.DASHBOARD_HOME_REGION)


def current_placements(outputs: Mapping[str, str] | None = None,
                       model: Choreography = CHOREOGRAPHY) -> Placements:
    """Where each part runs, as this dashboard was told (`outputs`: the home stack's)."""
    return placements_of(current_settings(), outputs, model)


def placements_of(settings: Settings, outputs: Mapping[str, str] | None = None,
                  model: Choreography = CHOREOGRAPHY) -> Placements:
    """Where each part runs, by the settings; the home account and region, unless set, are
    the home stack's outputs. Settings the deployment could not have been made with are
    logged and read as one place (the graph is still drawn)."""
    found = outputs or {}
    if not settings.subdomain_accounts and not settings.replica_region:
        return Placements(home=Placement(settings.home_account or found.get(stack_outputs.ACCOUNT),
                                         settings.home_region or found.get(stack_outputs.REGION)))
    context = {
        HOME_ACCOUNT: settings.home_account or found.get(stack_outputs.ACCOUNT, ""),
        HOME_REGION: settings.home_region or found.get(stack_outputs.REGION, ""),
        SUBDOMAIN_ACCOUNTS: settings.subdomain_accounts,
        REPLICA_REGION: settings.replica_region,
    }
    try:
        return Placements.from_context(context, model)
    except PlacementError as error:
        log.warning("placement settings ignored: %s", error)
        return Placements()
