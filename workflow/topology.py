"""The choreography as a picture sees it, before any geometry: what is drawn (elements in
areas, in rows and columns), what joins them (links), what each link says, and the path of
each event type's token. Derived from the model alone; `dashboard/live/graph.py` lays it out, and
`workflow/diagram.py` is the same model as a Mermaid flowchart.

The arrangement keeps the original design's reading: the busiest bus is a backplane across
the middle, the subdomains above it and below it in the model's order, split where the two
rows come out nearest in width; the outside world (notification
endpoints) ends the top row and observability the bottom one. Within a subdomain each column
is the element next to the backplane and, behind it, the one it serves: an HTTP API behind
its function, a private bus's one listener behind the bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workflow import outputs
from workflow.model import (
    CHOREOGRAPHY,
    Bus,
    Choreography,
    Function,
    Queue,
    Subdomain,
    ToFunction,
)

OBSERVABILITY = "observability"
REPLICA = "replica"
OUTSIDE = "outside"
CUSTOMER = "actor:customer"


@dataclass(frozen=True)
class Element:
    """Something drawn as a box."""

    id: str  # "<kind>:<name>", the name as the model has it
    kind: str  # function | queue | bus | api | endpoint | dashboard | logs | actor
    title: str
    subtitle: str
    area: str  # a subdomain, OBSERVABILITY or OUTSIDE
    detail: str = ""
    output: str = ""
    """the stack output that names the deployed resource, if any"""
    short: bool = False
    """show only the last segment of the output's value (a queue's URL: its name)"""


@dataclass(frozen=True)
class Link:
    """One fact of the choreography: a route, an event type a function publishes, a queue's
    delivery to its function, a request, an observation."""

    id: str
    kind: str  # route | publish | delivery | send | request | observe
    source: str
    target: str
    event: str = ""
    bus: str = ""
    rule: str = ""


Column = tuple[Element, Element | None]
"""A column of a row: the element next to the backplane, and the one behind it, if any."""
Row = list[tuple[str, list[Column]]]
"""A row of areas, left to right, each with its columns."""


@dataclass(frozen=True)
class FlightPlan:
    """How a token for one event type on one bus travels: the links it leads in by (a
    request and a publish), or where it appears if it only arrives (`starts_at`: the link it
    arrives by, or the bus it appears on); then one branch of links per route."""

    lead: tuple[str, ...]
    starts_at: str | None
    arrives_by: str | None
    branches: tuple[tuple[str, ...], ...]


@dataclass
class Topology:
    backplane: str
    """the bus drawn across the middle (the one with the most routes)"""
    rows: list[Row]
    links: list[Link]
    customer: Element | None
    """whoever calls the first HTTP API, drawn above it"""
    customer_api: str
    flights: dict[tuple[str, str], FlightPlan] = field(default_factory=dict)
    """by (event type, bus)"""
    observe: dict[str, list[str]] = field(default_factory=dict)
    """per observed bus, the links every event on it lights up"""
    model: Choreography = CHOREOGRAPHY

    def note(self, links: list[Link]) -> str:
        """The caption of a line that carries no event type."""
        link = links[0]
        if link.id == "observe:poll":
            return "polls"
        if link.id == "observe:history":
            return "replays"
        if link.id == "observe:replica:logs":
            return "keeps"
        if link.kind == "send":
            outbox = self.model.outbox_queues(link.source.removeprefix("function:"))
            return "outbox" if link.target in {f"queue:{queue.id}" for queue in outbox} \
                else "delivers"
        if link.source == CUSTOMER:
            return self.model.http_apis[0].entry_route
        if link.kind == "request":
            return "invokes"
        return ""

    def chip_text(self, link: Link) -> str:
        """The label a link carries near the backplane."""
        return "every event" if link.kind == "observe" else link.event

    def producer_area(self, link: Link) -> str:
        """The area whose colour a link's label takes: its event's producer."""
        return self.model.event(link.event).producer.value if link.event else OBSERVABILITY

    @staticmethod
    def line_kind(links: list[Link]) -> str:
        kind = links[0].kind
        return "event" if kind in {"route", "publish"} else kind

    @staticmethod
    def area_title(area: str) -> str:
        return {OBSERVABILITY: "Observability", REPLICA: "Replica"}.get(area, area.title())


def _backplane(model: Choreography) -> str:
    counts = {bus.value: 0 for bus in Bus}
    for route in model.routes:
        counts[route.bus.value] += 1
    return max(counts, key=lambda bus: counts[bus])


def _private_bus_homes(model: Choreography, backplane: str) -> dict[str, Subdomain]:
    """The subdomain each other bus is drawn in: its first publisher's, or its first
    listener's."""
    homes: dict[str, Subdomain] = {}
    for bus in Bus:
        if bus.value == backplane:
            continue
        publishers = [f.subdomain for f in model.functions if f.publishes_to == bus]
        targets = [model.function(r.target.function).subdomain
                   for r in model.routes_on(bus) if isinstance(r.target, ToFunction)]
        if publishers or targets:
            homes[bus.value] = (publishers or targets)[0]
    return homes


def _function(function: Function) -> Element:
    return Element(id=f"function:{function.id}", kind="function", title=function.id,
                   subtitle="Lambda", area=function.subdomain.value, detail=function.summary,
                   output=outputs.function_name(function.id))


def _queue(model: Choreography, queue_id: str) -> Element:
    queue = model.queue(queue_id)
    held = f"holds each message {queue.delay_seconds} s, then " if queue.delay_seconds else ""
    return Element(id=f"queue:{queue.id}", kind="queue", title=queue.name,
                   subtitle="SQS FIFO queue" if queue.fifo else "SQS queue",
                   area=queue.subdomain.value,
                   detail=f"{held}delivers to {queue.consumer} in batches of up to "
                          f"{queue.batch_size}; dead-lettered after {queue.max_receive_count} receives",
                   output=outputs.queue_url(queue.id), short=True)


def _bus(bus: str, area: str) -> Element:
    return Element(id=f"bus:{bus}", kind="bus", title=f"{bus} bus", subtitle="EventBridge bus",
                   area=area, detail=f"the {bus} event bus", output=outputs.bus_name(Bus(bus)))


def _senders_of(model: Choreography, queue: Queue) -> list[Function]:
    """The functions that send to a queue themselves, not through a rule."""
    return [function for function in model.functions
            if queue.id in function.delivers_to
            or queue in model.outbox_queues(function.id)]


def _lives_on_private_bus(model: Choreography, function: Function, bus: str) -> bool:
    """A function that only hears from and talks to one private bus sits behind it."""
    hears = {r.bus.value for r in model.routes
             if isinstance(r.target, ToFunction) and r.target.function == function.id}
    fed_by_queue = any(q.consumer == function.id for q in model.queues)
    return hears == {bus} and not fed_by_queue and (
        function.publishes_to is None or function.publishes_to.value == bus)


def _columns_of(model: Choreography, subdomain: Subdomain,
                homes: dict[str, Subdomain]) -> list[Column]:
    """A subdomain's columns, in an order that keeps its own lines short: request → function,
    queue → consumer, bus → target, then whatever is left."""
    columns: list[Column] = []
    placed: set[str] = set()
    queued: set[str] = set()

    def queue_column(queue: Queue) -> None:
        """A queue beside whoever sends to it in person (an outbox's writer, a translator),
        then its consumer."""
        for sender in _senders_of(model, queue):
            if sender.id not in placed and sender.subdomain == subdomain:
                columns.append((_function(sender), None))
                placed.add(sender.id)
        columns.append((_queue(model, queue.id), None))
        queued.add(queue.id)
        consumer = model.function(queue.consumer)
        if consumer.id not in placed and consumer.subdomain == subdomain:
            columns.append((_function(consumer), None))
            placed.add(consumer.id)

    for api in model.http_apis:
        function = model.function(api.function)
        if function.subdomain != subdomain:
            continue
        title = api.id.removesuffix("HttpApi").removesuffix("Api") + " API"
        api_element = Element(id=f"api:{api.id}", kind="api", title=title, subtitle="HTTP API",
                              area=subdomain.value,
                              detail=", ".join(route.key for route in api.routes),
                              output=outputs.http_api_url(api))
        columns.append((_function(function), api_element))
        placed.add(function.id)
        for queue in model.queues:  # the API's own queues next to it, so its line is short
            if queue.subdomain == subdomain and function in _senders_of(model, queue):
                queue_column(queue)
    for queue in model.queues:
        if queue.subdomain == subdomain and queue.id not in queued:
            queue_column(queue)
    for bus, home in homes.items():
        if home != subdomain:
            continue
        behind = [function for function in model.functions
                  if function.subdomain == subdomain and function.id not in placed
                  and _lives_on_private_bus(model, function, bus)]
        columns.append((_bus(bus, subdomain.value), _function(behind[0]) if behind else None))
        placed.update(function.id for function in behind[:1])
    for function in model.functions:
        if function.subdomain == subdomain and function.id not in placed:
            columns.append((_function(function), None))
            placed.add(function.id)
    return columns


def _observability_columns() -> list[Column]:
    return [
        (Element(id="observability:queue", kind="queue", title="Observability",
                 subtitle="SQS queue", area=OBSERVABILITY,
                 detail="every event, from every bus: what this dashboard polls",
                 output=outputs.OBSERVABILITY_QUEUE_URL, short=True),
         Element(id="observability:dashboard", kind="dashboard", title="Dashboard",
                 subtitle="this page", area=OBSERVABILITY,
                 detail="polls the queue live; rebuilds history from the log group")),
        (Element(id="observability:logs", kind="logs", title="Log group",
                 subtitle="CloudWatch Logs", area=OBSERVABILITY,
                 detail="every event on the global bus: the history of record",
                 output=outputs.OBSERVABILITY_LOG_GROUP_NAME), None),
    ]


def _replica_columns(backplane: str, region: str) -> list[Column]:
    return [(Element(id=f"{REPLICA}:bus", kind="bus", title=f"{backplane} bus",
                     subtitle=f"replica, {region}", area=REPLICA,
                     detail=f"a copy of the {backplane} bus in {region}, sent every event: its "
                            "history survives the home region"),
             Element(id=f"{REPLICA}:logs", kind="logs", title="Log group",
                     subtitle="CloudWatch Logs", area=REPLICA,
                     detail=f"every event the replica received, kept in {region}"))]


def _notification_columns(model: Choreography) -> list[Column]:
    destinations = dict.fromkeys(r.target.ref for r in model.routes
                                 if r.target.kind == "notification")
    return [(Element(id=f"notification:{destination}", kind="endpoint", title="Notifications",
                     subtitle="API destination", area=OUTSIDE,
                     detail=f"{destination}: an outside HTTP endpoint, sent each CloudEvent"),
             None) for destination in destinations]


def _links(model: Choreography, backplane: str, replica: bool) -> list[Link]:
    links: list[Link] = []
    for api in model.http_apis:
        links.append(Link(id=f"request:customer:{api.id}", kind="request", source=CUSTOMER,
                          target=f"api:{api.id}"))
        links.append(Link(id=f"request:{api.id}:{api.function}", kind="request",
                          source=f"api:{api.id}", target=f"function:{api.function}"))
    for event in model.events:
        for function in model.publishers_of(event.name):
            assert function.publishes_to is not None
            links.append(Link(id=f"publish:{function.id}:{event.name}", kind="publish",
                              source=f"function:{function.id}",
                              target=f"bus:{function.publishes_to.value}",
                              event=event.name, bus=function.publishes_to.value))
    for route in model.routes:
        links.append(Link(id=route.rule_id, kind="route", source=f"bus:{route.bus.value}",
                          target=f"{route.target.kind}:{route.target.ref}", event=route.event,
                          bus=route.bus.value, rule=route.rule_id))
    for queue in model.queues:
        for sender in _senders_of(model, queue):
            links.append(Link(id=f"send:{sender.id}:{queue.id}", kind="send",
                              source=f"function:{sender.id}", target=f"queue:{queue.id}"))
        links.append(Link(id=f"delivery:{queue.id}", kind="delivery", source=f"queue:{queue.id}",
                          target=f"function:{queue.consumer}"))
    for bus in model.observed_buses:
        links.append(Link(id=f"observe:{bus.value}", kind="observe", source=f"bus:{bus.value}",
                          target="observability:queue", bus=bus.value))
    links.append(Link(id=f"observe:{backplane}:logs", kind="observe", source=f"bus:{backplane}",
                      target="observability:logs", bus=backplane))
    links.append(Link(id="observe:poll", kind="observe", source="observability:queue",
                      target="observability:dashboard"))
    links.append(Link(id="observe:history", kind="observe", source="observability:logs",
                      target="observability:dashboard"))
    if replica:
        links.append(Link(id=f"observe:{backplane}:{REPLICA}", kind="observe",
                          source=f"bus:{backplane}", target=f"{REPLICA}:bus", bus=backplane))
        links.append(Link(id=f"observe:{REPLICA}:logs", kind="observe",
                          source=f"{REPLICA}:bus", target=f"{REPLICA}:logs"))
    return links


def _requests_before(model: Choreography, links: list[Link], publish: Link) -> list[str]:
    """The order that starts it all is asked for over HTTP: its token starts at the
    customer."""
    if not model.happy_path or publish.event != model.happy_path[0]:
        return []
    into_function = [link for link in links if link.kind == "request"
                     and link.target == publish.source]
    if not into_function:
        return []
    into_api = [link for link in links if link.kind == "request"
                and link.target == into_function[0].source]
    return [link.id for link in [*into_api[:1], into_function[0]]]


def _flights(model: Choreography, links: list[Link],
             backplane: str) -> dict[tuple[str, str], FlightPlan]:
    flights: dict[tuple[str, str], FlightPlan] = {}
    for event in model.events:
        for bus in Bus:
            publish = [link for link in links if link.kind == "publish"
                       and link.event == event.name and link.bus == bus.value]
            arrival = [link for link in links if link.kind == "route"
                       and link.event == event.name and link.target == f"bus:{bus.value}"]
            if not (publish or arrival):
                continue
            branches = []
            for route in model.routes_of(event.name):
                if route.bus != bus:
                    continue
                branch = [route.rule_id]
                if route.target.kind == "queue":
                    branch.append(f"delivery:{route.target.ref}")
                branches.append(tuple(branch))
            if publish:
                lead = (*_requests_before(model, links, publish[0]), publish[0].id)
                starts_at, arrives_by = None, None
            else:
                lead = ()
                starts_at = None if bus.value == backplane else f"bus:{bus.value}"
                arrives_by = arrival[0].id if bus.value == backplane else None
            flights[event.name, bus.value] = FlightPlan(lead, starts_at, arrives_by,
                                                        tuple(branches) or ((),))
    return flights


def _split(sizes: list[int], top_extra: int, bottom_extra: int) -> int:
    """How many subdomains go above the backplane, in the model's order: the split whose
    wider row has the fewest columns (the picture is as wide as its wider row)."""
    if len(sizes) < 2:
        return len(sizes)
    return min(range(1, len(sizes)),
               key=lambda k: (max(sum(sizes[:k]) + top_extra, sum(sizes[k:]) + bottom_extra),
                              -k))


def topology(model: Choreography = CHOREOGRAPHY, replica_region: str | None = None) -> Topology:
    """The picture of `model`; with `replica_region`, the observability's replica there too."""
    backplane = _backplane(model)
    homes = _private_bus_homes(model, backplane)
    # A subdomain whose own bus is observed goes last, next to the observability its line
    # runs to, so that line crosses no other area.
    observed = {homes[bus.value] for bus in model.observed_buses if bus.value in homes}
    subdomains = sorted(model.subdomains(), key=lambda subdomain: subdomain in observed)
    areas = [(s.value, _columns_of(model, s, homes)) for s in subdomains]
    outside = [(OUTSIDE, _notification_columns(model))]
    observing = [(OBSERVABILITY, _observability_columns())]
    if replica_region:
        observing.append((REPLICA, _replica_columns(backplane, replica_region)))
    top_count = _split([len(columns) for _, columns in areas],
                       sum(len(columns) for _, columns in outside),
                       sum(len(columns) for _, columns in observing))
    rows: list[Row] = [areas[:top_count] + outside, areas[top_count:] + observing]
    links = _links(model, backplane, replica=bool(replica_region))
    customer = Element(id=CUSTOMER, kind="actor", title="Customer", subtitle="places orders",
                       area=OUTSIDE, detail="a client of the order API") \
        if model.http_apis else None
    observe = {bus.value: [f"observe:{bus.value}",
                           *([f"observe:{bus.value}:logs"] if bus.value == backplane else []),
                           *([f"observe:{bus.value}:{REPLICA}"]
                             if bus.value == backplane and replica_region else [])]
               for bus in model.observed_buses}
    return Topology(backplane=backplane, rows=rows, links=links, customer=customer,
                    customer_api=f"api:{model.http_apis[0].id}" if model.http_apis else "",
                    flights=_flights(model, links, backplane), observe=observe, model=model)
