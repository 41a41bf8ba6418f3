"""The small ports through which the domain touches the world.

Each business effect is applied at most once per order, whatever events ask for it: an
adapter applies an effect atomically together with a record of the event it caused, and when
asked again returns that same recorded event (same `id`), so a retry after a crash re-publishes
the identical CloudEvent and downstream idempotency on `id` absorbs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from workflow.envelope import Event


class PreconditionNotMet(Exception):
    """The event arrived before what it depends on (say, ship before reserve). Retried later:
    neither applied nor dropped."""


class EffectConflict(Exception):
    """The event asks for something the order's recorded state forbids (say, ship a released
    reservation). Retrying cannot help."""


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int


class EventPublisher(Protocol):
    def publish(self, events: Sequence[Event]) -> None: ...


class Inventory(Protocol):
    def reserve(self, *, order_id: str, lines: Sequence[Line], reserved: Event,
                unavailable: Callable[[Sequence[Shortage]], Event]) -> Event:
        """Reserve every line or none. Returns the recorded outcome event."""
        ...

    def ship(self, *, order_id: str, shipped: Event) -> Event:
        """Move a reservation to shipped. PreconditionNotMet if nothing is reserved yet."""
        ...

    def release(self, *, order_id: str, released: Event) -> Event:
        """Give a reservation back. PreconditionNotMet if nothing is reserved yet."""
        ...


class Payments(Protocol):
    def charge_once(self, *, order_id: str, outcome: Event) -> Event: ...


class LoyaltyLedger(Protocol):
    def award_once(self, *, order_id: str, customer_id: str, points: int,
                   awarded: Event) -> Event: ...


class Orders(Protocol):
    def conclude(self, *, order_id: str, status: str, concluded_by: Event,
                 announcement: Event | None) -> Event | None:
        """Move a placed order to a terminal status once; returns the recorded announcement."""
        ...
