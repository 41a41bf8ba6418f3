"""Where each part of the choreography runs: which AWS account and region.

Where a subdomain is deployed is a deployment setting, not part of the model: the model says
what exists and what follows what; the settings (`choreo:homeAccount`, `choreo:homeRegion`,
`choreo:subdomainAccounts`, `choreo:replicaRegion`, read by `Placements.from_context`) say
which subdomains leave the home account, and whether a replica of the observability runs in
another region. Everything else follows from the model:

- a bus belongs to the subdomain that alone publishes to it (its private bus: the loyalty
  bus), else to the home account (the global bus, which every subdomain shares);
- a route's rule lives with its bus; a function, its queues and tables with its subdomain;
- a route whose bus and target are in different places crosses a boundary: allowed when the
  target is another bus (EventBridge's cross-account and cross-region bus targets, with a
  role, a dead-letter queue and the receiving bus's resource policy), refused otherwise.

With no settings everything is in one place, `HOME`: one stack, as the app always was.
`placement_of` answers for any element, so that what draws accounts and regions (the
dashboard's graph, a trace's hops) asks one function.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from workflow.model import (
    CHOREOGRAPHY,
    Bus,
    Choreography,
    Function,
    Queue,
    Route,
    Subdomain,
    Table,
    ToBus,
    ToNotification,
)

HOME_ACCOUNT = "choreo:homeAccount"
HOME_REGION = "choreo:homeRegion"
SUBDOMAIN_ACCOUNTS = "choreo:subdomainAccounts"
REPLICA_REGION = "choreo:replicaRegion"
KEYS = (HOME_ACCOUNT, HOME_REGION, SUBDOMAIN_ACCOUNTS, REPLICA_REGION)

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


class PlacementError(ValueError):
    """Settings that place the choreography where it cannot run."""


@dataclass(frozen=True)
class Placement:
    """An account and region; None for either: the one the deploying credentials are in
    (only the single-stack default may leave them unsaid)."""

    account: str | None = None
    region: str | None = None

    def __str__(self) -> str:
        return f"{self.account or 'the current account'} in {self.region or 'the current region'}"


HOME = Placement()


@dataclass(frozen=True)
class StackPlan:
    """One stack of a deployment: its name, where it goes, and what it holds."""

    name: str
    placement: Placement
    subdomains: tuple[Subdomain, ...]
    buses: tuple[Bus, ...]
    replica: bool = False  # a replica of the observability, and nothing else


def _parse_accounts(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, account = item.partition("=")
        pairs[name.strip()] = account.strip()
    return pairs


@dataclass(frozen=True)
class Placements:
    home: Placement = HOME
    subdomains: dict[Subdomain, Placement] = field(default_factory=dict)
    replica_region: str | None = None

    @classmethod
    def from_context(cls, context: dict[str, Any],
                     choreography: Choreography = CHOREOGRAPHY) -> Placements:
        """The placements the settings ask for; `PlacementError` names every setting that
        cannot be deployed, and why."""
        def setting(key: str) -> str | None:
            value = context.get(key)
            return str(value).strip() or None if value is not None else None

        home_account, home_region = setting(HOME_ACCOUNT), setting(HOME_REGION)
        accounts = _parse_accounts(setting(SUBDOMAIN_ACCOUNTS) or "")
        replica_region = setting(REPLICA_REGION)
        problems = []
        known = {subdomain.value: subdomain for subdomain in choreography.subdomains()}
        for name, account in accounts.items():
            if name not in known:
                problems.append(f"{SUBDOMAIN_ACCOUNTS}: {name!r} is not a subdomain of the "
                                f"model (one of {', '.join(known)})")
            if not _ACCOUNT.fullmatch(account):
                problems.append(f"{SUBDOMAIN_ACCOUNTS}: {name}={account!r} is not a 12-digit "
                                "AWS account id")
        for key, value in ((HOME_REGION, home_region), (REPLICA_REGION, replica_region)):
            if value is not None and not _REGION.fullmatch(value):
                problems.append(f"{key}={value!r} is not an AWS region name (like eu-west-1)")
        if home_account is not None and not _ACCOUNT.fullmatch(home_account):
            problems.append(f"{HOME_ACCOUNT}={home_account!r} is not a 12-digit AWS account id")
        elsewhere = bool(accounts) or replica_region is not None
        if elsewhere and (home_account is None or home_region is None):
            problems.append(f"placing a subdomain or a replica elsewhere needs {HOME_ACCOUNT} "
                            f"and {HOME_REGION}: each side's policies and targets name the "
                            "other's account and region")
        if replica_region is not None and replica_region == home_region:
            problems.append(f"{REPLICA_REGION}={replica_region!r} is the home region: a "
                            "replica is for another region")
        if problems:
            raise PlacementError("\n  - ".join(problems))
        home = Placement(home_account, home_region)
        placements = cls(home=home, replica_region=replica_region, subdomains={
            known[name]: Placement(account, home_region) for name, account in accounts.items()
            if account != home_account})
        crossing = placements.problems(choreography)
        if crossing:
            raise PlacementError("\n  - ".join(crossing))
        return placements

    @property
    def single(self) -> bool:
        return not self.subdomains and self.replica_region is None

    @property
    def replica(self) -> Placement | None:
        return None if self.replica_region is None else Placement(self.home.account,
                                                                  self.replica_region)

    # -- where each element is ------------------------------------------------------------

    def of_subdomain(self, subdomain: Subdomain | None) -> Placement:
        return self.subdomains.get(subdomain, self.home) if subdomain is not None else self.home

    def of_bus(self, bus: Bus, choreography: Choreography = CHOREOGRAPHY) -> Placement:
        return self.of_subdomain(bus_owner(bus, choreography))

    def of_function(self, function: Function) -> Placement:
        return self.of_subdomain(function.subdomain)

    def of_queue(self, queue: Queue, choreography: Choreography = CHOREOGRAPHY) -> Placement:
        return self.of_function(choreography.function(queue.consumer))

    def of_route(self, route: Route, choreography: Choreography = CHOREOGRAPHY) -> Placement:
        """A route's rule is on its bus, so it is where its bus is."""
        return self.of_bus(route.bus, choreography)

    def of_target(self, route: Route, choreography: Choreography = CHOREOGRAPHY) -> Placement | None:
        """Where a route delivers; None for the world outside (a notification)."""
        target = route.target
        if isinstance(target, ToBus):
            return self.of_bus(target.bus, choreography)
        if isinstance(target, ToNotification):
            return None
        consumer = target.consumer(choreography)
        assert consumer is not None
        return self.of_function(choreography.function(consumer))

    def crossings(self, choreography: Choreography = CHOREOGRAPHY) -> tuple[Route, ...]:
        """The routes that deliver from one place to another."""
        return tuple(route for route in choreography.routes
                     if (where := self.of_target(route, choreography)) is not None
                     and where != self.of_route(route, choreography))

    def problems(self, choreography: Choreography = CHOREOGRAPHY) -> list[str]:
        found = []
        for route in self.crossings(choreography):
            if not isinstance(route.target, ToBus):
                found.append(
                    f"{SUBDOMAIN_ACCOUNTS}: the {route.event} route on the {route.bus.value} bus "
                    f"({self.of_route(route, choreography)}) would deliver to the "
                    f"{route.target.kind} {route.target.ref} in "
                    f"{self.of_target(route, choreography)}: a subdomain in another account is "
                    "reached through its own bus")
        for function in choreography.functions:
            bus = function.publishes_to
            if bus is not None and self.of_bus(bus, choreography) != self.of_function(function):
                found.append(
                    f"{SUBDOMAIN_ACCOUNTS}: {function.id} ({self.of_function(function)}) "
                    f"publishes to the {bus.value} bus ({self.of_bus(bus, choreography)}): a "
                    "subdomain that leaves the home account takes its own bus with it")
        return found

    def forwarded_to(self, bus: Bus, choreography: Choreography = CHOREOGRAPHY
                     ) -> dict[Placement, set[tuple[str, str]]]:
        """The other places whose routes forward to `bus`, and the events they forward, as
        (source, detail-type) pairs."""
        here = self.of_bus(bus, choreography)
        found: dict[Placement, set[tuple[str, str]]] = {}
        for route in self.crossings(choreography):
            where = self.of_route(route, choreography)
            if isinstance(route.target, ToBus) and route.target.bus == bus and where != here:
                found.setdefault(where, set()).add(
                    (choreography.event(route.event).producer.value, route.event))
        return found

    def accepted_sources(self, bus: Bus,
                         choreography: Choreography = CHOREOGRAPHY) -> dict[Placement, list[str]]:
        """The other places whose rules forward to `bus`, and the event sources they forward:
        what the bus's resource policy allows, and nothing more."""
        return {where: sorted({source for source, _ in events})
                for where, events in self.forwarded_to(bus, choreography).items()}

    def accepted_detail_types(self, bus: Bus, choreography: Choreography = CHOREOGRAPHY
                              ) -> dict[Placement, list[str]]:
        """The other places whose rules forward to `bus`, and the detail-types they forward:
        with `accepted_sources`, all the bus's resource policy lets in from each."""
        return {where: sorted({detail_type for _, detail_type in events})
                for where, events in self.forwarded_to(bus, choreography).items()}

    def forwards(self, stack_name: str,
                 choreography: Choreography = CHOREOGRAPHY) -> tuple[Forward, ...]:
        """Every bus target across an account boundary, from the stack whose rules have it to
        the stack of the bus: the routes' forwards, and the replication to the replica of
        what is published on a bus of another account (`Choreography.replicated_from`). Within
        one account a forward needs no bus policy, so none is listed."""
        found: dict[tuple[StackPlan, StackPlan, Bus], set[tuple[str, str]]] = {}

        def add(sender: StackPlan, receiver: StackPlan, bus: Bus,
                events: set[tuple[str, str]]) -> None:
            if events and sender.placement.account != receiver.placement.account:
                found.setdefault((sender, receiver, bus), set()).update(events)

        for route in self.crossings(choreography):
            if isinstance(route.target, ToBus):
                add(self.stack_of_bus(route.bus, stack_name, choreography),
                    self.stack_of_bus(route.target.bus, stack_name, choreography),
                    route.target.bus,
                    {(choreography.event(route.event).producer.value, route.event)})
        replica = next((plan for plan in self.stacks(stack_name, choreography) if plan.replica),
                       None)
        if replica is not None:
            for bus in Bus:
                replicated = choreography.replicated_from(bus)
                if replicated:
                    add(self.stack_of_bus(bus, stack_name, choreography), replica,
                        choreography.logged_bus,
                        {(source, detail_type) for source, types in replicated.items()
                         for detail_type in types})
        return tuple(Forward(sender, receiver, bus, tuple(sorted(events)))
                     for (sender, receiver, bus), events in found.items())

    def forwarding_stacks(self, stack_name: str, choreography: Choreography = CHOREOGRAPHY
                          ) -> tuple[ForwardingPlan, ...]:
        """A stack of roles beside each stack that forwards to another account: deployed
        before any stack, so that the bus policies naming its roles can be written (IAM
        resolves a role named in a policy when the policy is written)."""
        by_sender: dict[StackPlan, list[Forward]] = {}
        for forward in self.forwards(stack_name, choreography):
            by_sender.setdefault(forward.sender, []).append(forward)
        return tuple(ForwardingPlan(forwarding_stack_name(sender.name), sender.placement,
                                    tuple(forwards))
                     for sender, forwards in by_sender.items())

    # -- the stacks ---------------------------------------------------------------------

    def stacks(self, stack_name: str, choreography: Choreography = CHOREOGRAPHY) -> tuple[StackPlan, ...]:
        """The stacks of the deployment, in the order they deploy: the home stack first
        (named `stack_name`), then one per other account (`<stack>-<subdomain>`), then the
        replica (`<stack>-replica`)."""
        def gathered(where: Placement) -> tuple[tuple[Subdomain, ...], tuple[Bus, ...]]:
            return (tuple(s for s in choreography.subdomains() if self.of_subdomain(s) == where),
                    tuple(b for b in Bus if self.of_bus(b, choreography) == where))

        subdomains, buses = gathered(self.home)
        stacks = [StackPlan(stack_name, self.home, subdomains, buses)]
        for where in dict.fromkeys(self.subdomains.values()):
            subdomains, buses = gathered(where)
            stacks.append(StackPlan(f"{stack_name}-{'-'.join(s.value for s in subdomains)}",
                                where, subdomains, buses))
        replica = self.replica
        if replica is not None:
            stacks.append(StackPlan(replica_stack_name(stack_name), replica, (), (choreography.logged_bus,),
                                replica=True))
        return tuple(stacks)

    def stack_of_bus(self, bus: Bus, stack_name: str,
                     choreography: Choreography = CHOREOGRAPHY) -> StackPlan:
        return next(stack for stack in self.stacks(stack_name, choreography)
                    if not stack.replica and bus in stack.buses)


def bus_owner(bus: Bus, choreography: Choreography = CHOREOGRAPHY) -> Subdomain | None:
    """The subdomain a bus is private to: the one whose functions alone publish to it (and
    not the logged bus, which every event crosses); None for a shared bus."""
    if bus == choreography.logged_bus:
        return None
    publishers = {function.subdomain for function in choreography.functions
                  if function.publishes_to == bus}
    return next(iter(publishers)) if len(publishers) == 1 else None


def bus_arn(bus: Bus, stack_name: str, where: Placement) -> str:
    """The ARN of a bus of a stack (its name is `<stack>-<bus>`: `workflow.deployment`)."""
    return f"arn:aws:events:{where.region}:{where.account}:event-bus/{stack_name}-{bus.value}"


def model_slice(stack: StackPlan, choreography: Choreography = CHOREOGRAPHY) -> Choreography:
    """The part of the model one stack builds: its subdomains' functions, queues and tables
    (the shared ones its functions use), the routes of its buses and the HTTP APIs of its
    functions. The events stay whole: every stack knows every event type."""
    functions = tuple(f for f in choreography.functions if f.subdomain in stack.subdomains)
    ids = {function.id for function in functions}
    used = {table for function in functions for table in function.tables}
    return replace(
        choreography, functions=functions,
        queues=tuple(queue for queue in choreography.queues if queue.consumer in ids),
        routes=tuple(route for route in choreography.routes if route.bus in stack.buses),
        tables=tuple(table for table in choreography.tables
                     if table.id in used or _owned(table, stack)),
        http_apis=tuple(api for api in choreography.http_apis if api.function in ids),
        observed_buses=tuple(bus for bus in choreography.observed_buses if bus in stack.buses))


def _owned(table: Table, stack: StackPlan) -> bool:
    return table.subdomain is not None and table.subdomain in stack.subdomains


# IAM's longest role name.
_LONGEST_ROLE_NAME = 64


def forwarding_role_name(stack_name: str, where: Placement, bus_name: str) -> str:
    """The name of the role the rules of stack `stack_name` (in `where`) put events on the bus
    `bus_name` of another account as: derived, so that the receiving stack's bus policy names
    it without waiting for the other stack's outputs. Role names are per account, not per
    region: the region keeps two deployments of one stack name in one account apart. A name
    longer than IAM allows keeps its beginning and a hash of the whole."""
    name = f"{stack_name}-{where.region}-to-{bus_name}"
    if len(name) <= _LONGEST_ROLE_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:_LONGEST_ROLE_NAME - len(digest) - 1]}-{digest}"


def forwarding_stack_name(stack_name: str) -> str:
    """The name of the stack of the forwarding roles of the stack `stack_name`."""
    return f"{stack_name}-forwarding"


@dataclass(frozen=True)
class Forward:
    """The rules of one stack that put events on a bus of another account. EventBridge puts
    them there as the rule target's role, a role of the sending account (EventBridge User
    Guide, *Sending and receiving events between AWS accounts*:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html), and the
    receiving bus's policy lets in that role alone, for the sources and detail-types it
    carries."""

    sender: StackPlan
    receiver: StackPlan  # the stack that holds the bus
    bus: Bus
    events: tuple[tuple[str, str], ...]  # (source, detail-type), sorted

    @property
    def bus_arn(self) -> str:
        return bus_arn(self.bus, self.receiver.name, self.receiver.placement)

    @property
    def role_name(self) -> str:
        return forwarding_role_name(self.sender.name, self.sender.placement,
                                    f"{self.receiver.name}-{self.bus.value}")

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.sender.placement.account}:role/{self.role_name}"

    @property
    def sources(self) -> list[str]:
        return sorted({source for source, _ in self.events})

    @property
    def detail_types(self) -> list[str]:
        return sorted({detail_type for _, detail_type in self.events})


@dataclass(frozen=True)
class ForwardingPlan:
    """The stack of the roles a stack's forwards to other accounts put events as."""

    name: str
    placement: Placement
    forwards: tuple[Forward, ...]


def replica_stack_name(stack_name: str) -> str:
    """The name of the observability replica's stack, beside the home stack `stack_name`."""
    return f"{stack_name}-replica"


def placement_of_envelope(eventbridge: dict[str, Any]) -> Placement:
    """Where an observed event was published: the `account` and `region` of its EventBridge
    envelope, which EventBridge keeps across accounts and regions (the dashboard's read model
    keeps the envelope: `ObservedEvent.eventbridge`). Drawing a hop's boundary compares this
    with `Placements.of_route` / `of_function` of the elements it crossed."""
    account, region = eventbridge.get("account"), eventbridge.get("region")
    return Placement(str(account) if account else None, str(region) if region else None)
