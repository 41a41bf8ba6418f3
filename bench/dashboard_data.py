"""What the dashboard's benchmarks share: a throwaway read model, and orders' events as the
observability queue and the log group carry them.

Events are made by the domain rules themselves (with ports that apply every effect), so they
are the size and shape of real ones and pass the dashboard's validation.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from bench.common import free_port
from local.config import LocalConfig
from local.embedded_aws import EmbeddedAws
from workflow.domain.loyalty import points_award
from workflow.domain.order import order_place
from workflow.domain.payment import GOOD_TEST_CARD, CardVault, payment_take
from workflow.domain.warehouse import order_ship, stock_reserve
from workflow.envelope import Event
from workflow.ports import Line, Shortage

# The benchmarks' card-token key (a deployment's is generated into Secrets Manager).
VAULT = CardVault(b"bench-card-token-key-" + b"0" * 16)

GLOBAL_BUS = "global"
LOYALTY_BUS = "loyalty"
# What crosses to the loyalty bus, so the dashboard sees it twice (see workflow/model.py).
ON_BOTH_BUSES = {"payment.taken", "loyalty.points-awarded"}


@dataclass(frozen=True)
class Sighting:
    """An event on one bus: the observability queue's message is `{"bus", "event"}`."""

    bus: str
    envelope: dict[str, Any]
    """The EventBridge event, as moto delivers it."""

    @property
    def queue_body(self) -> dict[str, Any]:
        return {"bus": self.bus, "event": self.envelope}


class _EveryEffectApplied:
    """Inventory, payments and loyalty that grant whatever is asked: each returns the event
    it was handed."""

    def reserve(self, *, order_id: str, lines: Sequence[Line], reserved: Event,
                unavailable: Callable[[Sequence[Shortage]], Event]) -> Event:
        return reserved

    def ship(self, *, order_id: str, shipped: Event) -> Event:
        return shipped

    def release(self, *, order_id: str, released: Event) -> Event:
        return released

    def charge_once(self, *, order_id: str, outcome: Event) -> Event:
        return outcome

    def award_once(self, *, order_id: str, customer_id: str, points: int, awarded: Event) -> Event:
        return awarded


def shipped_order(customer_id: str) -> list[Event]:
    """The five events of an order that ships, from `order.placed` to `warehouse.order-shipped`."""
    effects = _EveryEffectApplied()
    placed = order_place(vault=VAULT, request={"customerId": customer_id, "card": {"number": GOOD_TEST_CARD},
                                  "items": [{"sku": "MUG-STONEWARE", "quantity": 2},
                                            {"sku": "TEA-EARL-GREY", "quantity": 1}]})
    reserved = stock_reserve(placed, inventory=effects)
    taken = payment_take(reserved, payments=effects, vault=VAULT)
    awarded = points_award(taken, ledger=effects)
    return [placed, reserved, taken, awarded, order_ship(awarded, inventory=effects)]


def envelope(event: Event) -> dict[str, Any]:
    """An EventBridge event around a CloudEvent; each bus wraps it in an envelope of its own."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": event.type,
            "source": event.source, "time": event.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1", "resources": [], "detail": event.to_dict()}


def sightings(orders: int) -> Iterator[Sighting]:
    """Shipped orders' events as the dashboard sees them: each on the global bus, and the two
    that cross buses on the loyalty bus too (seven sightings per order)."""
    for number in range(orders):
        for event in shipped_order(f"bench-{number % 500}"):
            yield Sighting(GLOBAL_BUS, envelope(event))
            if event.type in ON_BOTH_BUSES:
                yield Sighting(LOYALTY_BUS, envelope(event))


def orders_for(sighting_count: int) -> int:
    """Orders enough for about this many sightings."""
    per_order = 5 + len(ON_BOTH_BUSES)
    return max(1, round(sighting_count / per_order))


_read_model_dir: str | None = None


def read_model_ready() -> None:
    """Django set up on an empty SQLite read model of its own (once per process), migrated.

    The local profile is forced and any DATABASE_URL ignored: a benchmark clears and fills
    the read model, which must never be somebody's real one.
    """
    global _read_model_dir
    if _read_model_dir is not None:
        return
    _read_model_dir = tempfile.mkdtemp(prefix="choreo-bench-")
    atexit.register(shutil.rmtree, _read_model_dir, ignore_errors=True)
    os.environ.pop("DATABASE_URL", None)
    os.environ.update({"CHOREO_PROFILE": "local", "CHOREO_CACHE_DIR": _read_model_dir,
                       "DJANGO_SETTINGS_MODULE": "dashboard.settings",
                       "DASHBOARD_LOG_LEVEL": "WARNING"})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


@contextmanager
def embedded_aws() -> Iterator[LocalConfig]:
    """The embedded AWS alone (no stack, no runtime) on a spare port."""
    config = replace(LocalConfig.from_environment(), aws_port=free_port())
    aws = EmbeddedAws(config)
    aws.start()
    try:
        yield config
    finally:
        aws.stop()
