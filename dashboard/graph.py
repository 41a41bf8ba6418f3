"""The choreography graph, laid out from the model — never drawn by hand.

Reading `workflow.model.CHOREOGRAPHY` (and, when the stack is up, the deployed names from its
outputs), this builds the picture the original design drew: subdomains as areas, the global
bus as a hub, queues and functions inside their subdomain, events as labelled edges, one per
route. The global bus is drawn as a backplane across the middle: every area sits above or
below it and talks to it by a straight vertical line, so lines never cross and each event's
label sits on its own line.

Three kinds of data come out, all positions included: edges (one per route, per published
event type, per queue delivery...), connectors (the lines actually drawn: edges between the
same two nodes share one, with a label per event), and flights — for each event type seen
on each bus, the paths a token follows across the picture.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from workflow import outputs as stack_outputs
from workflow.model import (
    CHOREOGRAPHY,
    ORDER_API,
    Bus,
    Choreography,
    Function,
    Route,
    Subdomain,
    ToFunction,
    ToNotification,
    ToQueue,
)

NODE_W, NODE_H = 138, 52
TEXT_X = 41  # where a node's text starts, right of its icon
COL_GAP = 22
LINK_GAP = 36  # between side-by-side nodes joined by a line, before its caption
ACTOR_GAP = 38
NOTE_CHAR_W = 5.9
AREA_GAP = 30
AREA_PAD = 16
AREA_HEADER = 30
ROW_GAP = 78  # between a column's two nodes, room for two labels
PLAIN_ROW_GAP = 46  # ... when no label runs between them
BAND_MARGIN = 16
CHIP_H, CHIP_GAP = 19, 5
CHIP_CHAR_W = 6.63  # an 11px monospace font is 0.6 em wide per character
CHIP_PAD = 16
PORT_SPREAD = 26
AREA_TITLE_X = 14
AREA_TITLE_CHAR_W = 9.2  # 12px bold capitals, letter-spaced
PAIR_OFFSET = 12  # half the distance between two opposite lines
MARGIN = 18
BAR_THICKNESS = 10
BAR_LABEL_W = 104
OBSERVABILITY = "observability"
OUTSIDE = "outside"


def chip_width(text: str) -> float:
    return round(len(text) * CHIP_CHAR_W + CHIP_PAD, 1)


def _link_gap(note: str) -> float:
    return max(LINK_GAP, len(note) * NOTE_CHAR_W + 20)


@dataclass
class Node:
    id: str
    kind: str
    title: str
    subtitle: str
    area: str
    detail: str = ""
    deployed: str = ""
    x: float = 0
    y: float = 0
    w: float = NODE_W
    h: float = NODE_H

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def title_room(self) -> float:
        return self.w - TEXT_X - 8

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


Column = tuple[Node, Node | None]
"""A column of a row: the node near the bar, and the one behind it, if any."""


@dataclass
class Edge:
    """One fact of the choreography: a route, an event type a function publishes, a queue's
    delivery to its function, a request, an observation."""

    id: str
    kind: str  # route | publish | delivery | request | observe
    source: str
    target: str
    connector: str = ""
    event: str = ""
    bus: str = ""
    rule: str = ""


@dataclass
class Chip:
    edge: str
    text: str
    x: float
    y: float
    w: float
    area: str  # the producer's subdomain, for its colour
    muted: bool = False

    @property
    def left(self) -> float:
        return self.x - self.w / 2


@dataclass
class Connector:
    id: str
    kind: str  # event | delivery | request | observe
    points: list[tuple[float, float]]
    chips: list[Chip] = field(default_factory=list)
    note: str = ""  # a small caption for lines that carry no event
    note_x: float = 0
    note_y: float = 0
    note_anchor: str = "middle"

    @property
    def path(self) -> str:
        return rounded_path(self.points)


@dataclass
class Area:
    id: str
    title: str
    x: float
    y: float
    w: float
    h: float
    framed: bool = True


@dataclass
class Bar:
    bus: str
    title: str
    deployed: str
    x1: float
    x2: float
    y: float
    label_x: float = 0


@dataclass
class Flight:
    """A token's journey for one event type seen on one bus."""

    path: str
    connectors: list[str]
    edges: list[str]


@dataclass
class Graph:
    width: float
    height: float
    areas: list[Area]
    nodes: list[Node]
    edges: list[Edge]
    connectors: list[Connector]
    bar: Bar
    flights: dict[str, list[Flight]]
    observe: dict[str, list[str]]
    """Per bus, the connectors every observed event lights up."""

    @property
    def junctions(self) -> list[tuple[float, float]]:
        """Where lines meet the bar."""
        return sorted({point for connector in self.connectors for point in connector.points
                       if point[1] == self.bar.y})

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width, "height": self.height,
            "areas": [asdict(area) for area in self.areas],
            "nodes": [asdict(node) for node in self.nodes],
            "edges": [asdict(edge) for edge in self.edges],
            "connectors": [{**asdict(connector), "path": connector.path}
                           for connector in self.connectors],
            "bar": asdict(self.bar),
            "flights": {key: [asdict(flight) for flight in flights]
                        for key, flights in self.flights.items()},
            "observe": self.observe,
        }


def flight_key(event_type: str, bus: str) -> str:
    return f"{event_type}@{bus}"


def rounded_path(points: list[tuple[float, float]], radius: float = 10) -> str:
    """An SVG path through the points, corners rounded."""
    if not points:
        return ""
    parts = [f"M{points[0][0]:g},{points[0][1]:g}"]
    for index in range(1, len(points) - 1):
        (x0, y0), (x1, y1), (x2, y2) = points[index - 1], points[index], points[index + 1]
        before = math.hypot(x1 - x0, y1 - y0)
        after = math.hypot(x2 - x1, y2 - y1)
        r = min(radius, before / 2, after / 2)
        if r <= 0:
            parts.append(f"L{x1:g},{y1:g}")
            continue
        ax, ay = x1 - (x1 - x0) / before * r, y1 - (y1 - y0) / before * r
        bx, by = x1 + (x2 - x1) / after * r, y1 + (y2 - y1) / after * r
        parts.append(f"L{ax:g},{ay:g}Q{x1:g},{y1:g} {bx:g},{by:g}")
    parts.append(f"L{points[-1][0]:g},{points[-1][1]:g}")
    return "".join(parts)


def _short_name(value: str) -> str:
    """The last segment of an ARN, URL or path."""
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def producers_of(model: Choreography, event_name: str) -> tuple[Function, ...]:
    """The functions that publish an event type, as the model declares them."""
    return model.publishers_of(event_name)


class _Layout:
    def __init__(self, model: Choreography, outputs: dict[str, str]) -> None:
        self.model = model
        self.outputs = outputs
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.connectors: dict[str, Connector] = {}
        self.areas: list[Area] = []
        self.bar_bus = self._bar_bus()
        self.home = self._private_bus_homes()

    # --- what there is -------------------------------------------------------------------

    def _bar_bus(self) -> str:
        counts = {bus.value: 0 for bus in Bus}
        for route in self.model.routes:
            counts[route.bus.value] += 1
        return max(counts, key=lambda bus: counts[bus])

    def _private_bus_homes(self) -> dict[str, Subdomain]:
        homes: dict[str, Subdomain] = {}
        for bus in Bus:
            if bus.value == self.bar_bus:
                continue
            publishers = [f.subdomain for f in self.model.functions if f.publishes_to == bus]
            targets = [self.model.function(r.target.function).subdomain
                       for r in self.model.routes_on(bus) if isinstance(r.target, ToFunction)]
            if publishers or targets:
                homes[bus.value] = (publishers or targets)[0]
        return homes

    def _deployed(self, key: str) -> str:
        return self.outputs.get(key, "")

    def _function_node(self, function: Function) -> Node:
        deployed = self._deployed(stack_outputs.function_name(function.id))
        return Node(id=f"function:{function.id}", kind="function", title=function.id,
                    subtitle="Lambda", area=function.subdomain.value,
                    detail=function.summary, deployed=deployed)

    def _queue_node(self, queue_id: str) -> Node:
        queue = self.model.queue(queue_id)
        url = self._deployed(stack_outputs.queue_url(queue.id))
        return Node(id=f"queue:{queue.id}", kind="queue",
                    title=queue.name,
                    subtitle="SQS FIFO queue" if queue.fifo else "SQS queue",
                    area=queue.subdomain.value,
                    detail=f"delivers to {queue.consumer} in batches of up to {queue.batch_size}; "
                           f"dead-lettered after {queue.max_receive_count} receives",
                    deployed=_short_name(url) if url else "")

    def _bus_node(self, bus: str, area: str) -> Node:
        return Node(id=f"bus:{bus}", kind="bus", title=f"{bus} bus", subtitle="EventBridge bus",
                    area=area, detail=f"the {bus} event bus",
                    deployed=self._deployed(stack_outputs.bus_name(Bus(bus))))

    # --- columns ---------------------------------------------------------------------------

    def _columns_of(self, subdomain: Subdomain) -> list[Column]:
        """(near the bar, far from it) nodes, column by column, in an order that keeps each
        subdomain's own lines short: request → function, queue → consumer, bus → target."""
        model = self.model
        columns: list[Column] = []
        placed: set[str] = set()
        for api in model.http_apis:
            function = model.function(api.function)
            if function.subdomain != subdomain:
                continue
            routes = ", ".join(f"{r.method} {r.path}" for r in api.routes)
            title = api.id.removesuffix("HttpApi").removesuffix("Api") + " API"
            api_node = Node(id=f"api:{api.id}", kind="api", title=title, subtitle="HTTP API",
                            area=subdomain.value, detail=routes,
                            deployed=self._deployed(stack_outputs.ORDER_API_URL))
            columns.append((self._function_node(function), api_node))
            placed.add(function.id)
        for queue in model.queues:
            if queue.subdomain != subdomain:
                continue
            columns.append((self._queue_node(queue.id), None))
            consumer = model.function(queue.consumer)
            if consumer.id not in placed and consumer.subdomain == subdomain:
                columns.append((self._function_node(consumer), None))
                placed.add(consumer.id)
        for bus, home in self.home.items():
            if home != subdomain:
                continue
            far: list[Function] = []
            for function in model.functions:
                if function.subdomain == subdomain and function.id not in placed and \
                        self._lives_on_private_bus(function, bus):
                    far.append(function)
            bus_node = self._bus_node(bus, subdomain.value)
            columns.append((bus_node, self._function_node(far[0]) if far else None))
            placed.update(function.id for function in far[:1])
        for function in model.functions:
            if function.subdomain == subdomain and function.id not in placed:
                columns.append((self._function_node(function), None))
                placed.add(function.id)
        return columns

    def _lives_on_private_bus(self, function: Function, bus: str) -> bool:
        """A function that only hears from and talks to one private bus sits behind it."""
        hears = {r.bus.value for r in self.model.routes
                 if isinstance(r.target, ToFunction) and r.target.function == function.id}
        fed_by_queue = any(q.consumer == function.id for q in self.model.queues)
        return hears == {bus} and not fed_by_queue and (
            function.publishes_to is None or function.publishes_to.value == bus)

    def _observability_columns(self) -> list[Column]:
        queue_url = self._deployed(stack_outputs.OBSERVABILITY_QUEUE_URL)
        log_group = self._deployed(stack_outputs.OBSERVABILITY_LOG_GROUP_NAME)
        return [
            (Node(id="observability:queue", kind="queue", title="Observability",
                  subtitle="SQS queue", area=OBSERVABILITY,
                  detail="every event, from every bus: what this dashboard polls",
                  deployed=_short_name(queue_url) if queue_url else ""),
             Node(id="observability:dashboard", kind="dashboard", title="Dashboard",
                  subtitle="this page", area=OBSERVABILITY,
                  detail="polls the queue live; rebuilds history from the log group")),
            (Node(id="observability:logs", kind="logs", title="Log group",
                  subtitle="CloudWatch Logs", area=OBSERVABILITY,
                  detail="every event on the global bus: the history of record",
                  deployed=log_group), None),
        ]

    def _notification_columns(self) -> list[Column]:
        destinations = dict.fromkeys(r.target.destination for r in self.model.routes
                                     if isinstance(r.target, ToNotification))
        return [(Node(id=f"notification:{destination}", kind="endpoint", title="Notifications",
                      subtitle="API destination", area=OUTSIDE,
                      detail=f"{destination}: an outside HTTP endpoint, sent each CloudEvent"),
                 None) for destination in destinations]

    # --- edges -------------------------------------------------------------------------

    def _route_target(self, route: Route) -> str:
        return f"{route.target.kind}:{route.target.ref}"

    def _collect_edges(self) -> None:
        model = self.model
        for api in model.http_apis:
            self.edges.append(Edge(id=f"request:customer:{api.id}", kind="request",
                                   source="actor:customer", target=f"api:{api.id}"))
            self.edges.append(Edge(id=f"request:{api.id}:{api.function}", kind="request",
                                   source=f"api:{api.id}", target=f"function:{api.function}"))
        for event in model.events:
            for function in producers_of(model, event.name):
                assert function.publishes_to is not None
                self.edges.append(Edge(
                    id=f"publish:{function.id}:{event.name}", kind="publish",
                    source=f"function:{function.id}", target=f"bus:{function.publishes_to.value}",
                    event=event.name, bus=function.publishes_to.value))
        for route in model.routes:
            self.edges.append(Edge(id=route.rule_id, kind="route", source=f"bus:{route.bus.value}",
                                   target=self._route_target(route), event=route.event,
                                   bus=route.bus.value, rule=route.rule_id))
        for queue in model.queues:
            self.edges.append(Edge(id=f"delivery:{queue.id}", kind="delivery",
                                   source=f"queue:{queue.id}", target=f"function:{queue.consumer}"))
        for bus in model.observed_buses:
            self.edges.append(Edge(id=f"observe:{bus.value}", kind="observe",
                                   source=f"bus:{bus.value}", target="observability:queue",
                                   bus=bus.value))
        self.edges.append(Edge(id=f"observe:{self.bar_bus}:logs", kind="observe",
                               source=f"bus:{self.bar_bus}", target="observability:logs",
                               bus=self.bar_bus))
        self.edges.append(Edge(id="observe:poll", kind="observe", source="observability:queue",
                               target="observability:dashboard"))
        self.edges.append(Edge(id="observe:history", kind="observe", source="observability:logs",
                               target="observability:dashboard"))

    # --- geometry ------------------------------------------------------------------------

    def _bundles(self) -> dict[tuple[str, str], list[Edge]]:
        bundles: dict[tuple[str, str], list[Edge]] = {}
        for edge in self.edges:
            bundles.setdefault((edge.source, edge.target), []).append(edge)
        return bundles

    def _chip_text(self, edge: Edge) -> str:
        if edge.kind == "observe":
            return "every event"
        return edge.event

    def _producer_area(self, edge: Edge) -> str:
        if edge.event:
            return self.model.event(edge.event).producer.value
        return OBSERVABILITY

    def build(self) -> Graph:
        self._collect_edges()
        bundles = self._bundles()
        bar_node = f"bus:{self.bar_bus}"
        subdomains = list(self.model.subdomains())
        top_count = math.ceil(len(subdomains) / 2)
        # Top row: the first half of the subdomains, then the outside world the events leave
        # for; bottom row: the rest, then observability.
        rows: list[list[tuple[str, list[Column]]]] = [
            [(s.value, self._columns_of(s)) for s in subdomains[:top_count]]
            + [(OUTSIDE, self._notification_columns())],
            [(s.value, self._columns_of(s)) for s in subdomains[top_count:]]
            + [(OBSERVABILITY, self._observability_columns())],
        ]
        to_bar = self._bar_groups(bundles, bar_node)
        linked = {frozenset(pair): self._note(edges) for pair, edges in bundles.items()}

        def column_width(near: Node, far: Node | None) -> float:
            widths: list[float] = [NODE_W]
            for _, edges in to_bar.get(near.id, []):
                widths += [chip_width(self._chip_text(e)) for e in edges]
            if far is not None:
                widths += [chip_width(e.event) for pair in ((near.id, far.id), (far.id, near.id))
                           for e in bundles.get(pair, []) if e.event]
            return max(widths)

        def band(row: list[tuple[str, list[Column]]]) -> float:
            """Room between a row and the bar for the tallest stack of labels."""
            tallest = 0.0
            for _, columns in row:
                for near, _far in columns:
                    groups = to_bar.get(near.id, [])
                    tallest = max(tallest, sum(_stack_height(len(edges)) for _, edges in groups)
                                  + 2 * CHIP_GAP * max(0, len(groups) - 1))
            return tallest + 2 * BAND_MARGIN + BAR_THICKNESS / 2

        has_far = [any(far is not None for _, columns in row for _, far in columns) for row in rows]

        def far_gap(row: list[tuple[str, list[Column]]]) -> float:
            labelled = any(e.event for _, columns in row for near, far in columns if far
                           for pair in ((near.id, far.id), (far.id, near.id))
                           for e in bundles.get(pair, []))
            return ROW_GAP if labelled else PLAIN_ROW_GAP

        # The customer stands above the API it calls, outside the subdomain.
        customer, called_api = self._customer()
        top_far_y = MARGIN + (NODE_H + ACTOR_GAP if customer else 0) + AREA_HEADER
        top_near_y = top_far_y + (NODE_H + far_gap(rows[0]) if has_far[0] else 0)
        top_area_bottom = top_near_y + NODE_H + AREA_PAD
        bar_y = top_area_bottom + band(rows[0])
        bottom_area_top = bar_y + band(rows[1])
        bottom_near_y = bottom_area_top + AREA_HEADER
        bottom_far_y = bottom_near_y + NODE_H + far_gap(rows[1])
        bottom_area_bottom = (bottom_far_y if has_far[1] else bottom_near_y) + NODE_H + AREA_PAD
        height = bottom_area_bottom + MARGIN
        levels = [(top_near_y, top_far_y), (bottom_near_y, bottom_far_y)]

        # Columns left to right, row by row; then the narrower row is centred.
        row_widths: list[float] = []
        row_nodes: list[list[Node]] = []
        row_areas: list[list[Area]] = []
        for row_index, row in enumerate(rows):
            near_y, far_y = levels[row_index]
            x: float = MARGIN
            placed: list[Node] = []
            areas: list[Area] = []
            previous: Column | None = None
            for area_id, columns in row:
                framed = area_id != OUTSIDE
                area_x = x
                for index, (near, far) in enumerate(columns):
                    width = column_width(near, far)
                    lead = AREA_PAD if framed and index == 0 else 0.0
                    if framed and index == 0 and row_index == 1:
                        # lines come down through the header: keep them clear of the title
                        port_count = len(to_bar.get(near.id, []))
                        leftmost = (width / 2) - (port_count - 1) * PORT_SPREAD
                        title_end = AREA_TITLE_X + len(self._area_title(area_id)) * AREA_TITLE_CHAR_W + 10
                        lead = max(lead, title_end - leftmost)
                    if previous is not None:
                        # Side-by-side nodes joined by a line need room for its caption.
                        right_edge = max(n.x + n.w for n in previous if n is not None)
                        gap = x + lead + (width - NODE_W) / 2 - right_edge
                        needed = max([_link_gap(linked[frozenset((a.id, b.id))])
                                      for a in previous if a for b in (near, far)
                                      if b and frozenset((a.id, b.id)) in linked] + [0.0])
                        x += max(0.0, needed - gap)
                    if index == 0:
                        area_x = x
                    x += lead
                    for node, y in ((near, near_y), (far, far_y)):
                        if node is not None:
                            node.x, node.y = x + (width - NODE_W) / 2, y
                            placed.append(node)
                    x += width + COL_GAP
                    previous = (near, far)
                x -= COL_GAP
                if framed:
                    x += AREA_PAD
                    own_far = any(far is not None for _, far in columns)
                    top = (far_y if own_far else near_y) - AREA_HEADER if row_index == 0 \
                        else bottom_area_top
                    bottom = top_area_bottom if row_index == 0 else \
                        (far_y if own_far else near_y) + NODE_H + AREA_PAD
                    areas.append(Area(id=area_id, title=self._area_title(area_id), x=area_x,
                                      y=top, w=x - area_x, h=bottom - top))
                x += AREA_GAP
            row_widths.append(x - AREA_GAP + MARGIN)
            row_nodes.append(placed)
            row_areas.append(areas)
        width = max(row_widths)
        for row_width, placed, areas in zip(row_widths, row_nodes, row_areas, strict=True):
            shift = (width - row_width) / 2
            for node in placed:
                node.x += shift
                self.nodes[node.id] = node
            for area in areas:
                area.x += shift
                self.areas.append(area)
        if customer is not None:
            api = self.nodes[called_api]
            customer.x, customer.y = api.x, MARGIN
            self.nodes[customer.id] = customer

        self._connect_to_bar(to_bar, bar_y, top_area_bottom, bottom_area_top)
        self._connect_neighbours(bundles, bar_node)
        for node in self.nodes.values():
            node.x, node.y = round(node.x, 1), round(node.y, 1)
        ports = sorted(x for c in self.connectors.values() for x, y in c.points if y == bar_y)
        bar_start: float = MARGIN
        bar_end = max([*ports, width - 2 * MARGIN]) + MARGIN
        stops = [bar_start, *ports, bar_end]
        # The bar's name goes where no line meets it: the first stretch wide enough, from the left.
        gaps = list(itertools.pairwise(stops))
        wide = [g for g in gaps if g[1] - g[0] >= BAR_LABEL_W]
        gap_start, gap_end = wide[0] if wide else max(gaps, key=lambda g: g[1] - g[0])
        bar = Bar(bus=self.bar_bus, title=f"{self.bar_bus} bus",
                  deployed=self._deployed(stack_outputs.bus_name(Bus(self.bar_bus))),
                  x1=bar_start, x2=bar_end, y=bar_y, label_x=round((gap_start + gap_end) / 2, 1))
        return Graph(width=round(width, 1), height=round(height, 1), areas=self.areas,
                     nodes=list(self.nodes.values()), edges=self.edges,
                     connectors=list(self.connectors.values()), bar=bar,
                     flights=self._flights(bar_y), observe=self._observe())

    def _area_title(self, area_id: str) -> str:
        return "Observability" if area_id == OBSERVABILITY else area_id.title()

    def _customer(self) -> tuple[Node | None, str]:
        """Whoever calls the first HTTP API, the actor every order starts from; and that API."""
        if not self.model.http_apis:
            return None, ""
        node = Node(id="actor:customer", kind="actor", title="Customer", subtitle="places orders",
                    area=OUTSIDE, detail="a client of the order API")
        return node, f"api:{self.model.http_apis[0].id}"

    def _bar_groups(self, bundles: dict[tuple[str, str], list[Edge]],
                    bar_node: str) -> dict[str, list[tuple[str, list[Edge]]]]:
        """Per node, its bundles to and from the bar: incoming first, then outgoing."""
        groups: dict[str, list[tuple[str, list[Edge]]]] = {}
        for (source, target), edges in bundles.items():
            if bar_node in (source, target):
                other = target if source == bar_node else source
                groups.setdefault(other, []).append(("in" if source == bar_node else "out", edges))
        for found in groups.values():
            found.sort(key=lambda group: (group[0] == "out", self.edges.index(group[1][0])))
        return groups

    def _connect_to_bar(self, to_bar: dict[str, list[tuple[str, list[Edge]]]], bar_y: float,
                        top_area_bottom: float, bottom_area_top: float) -> None:
        """Straight vertical lines between each node and the bar, several side by side when a
        node both hears and speaks; labels stacked on each, in bands that never overlap."""
        taken_ports: list[float] = []
        # Nodes above the bar first: ports below it step aside so no two lines meet the bar at
        # one point.
        for node_id, groups in sorted(to_bar.items(), key=lambda item: self.nodes[item[0]].y):
            node = self.nodes[node_id]
            above = node.y < bar_y
            node_edge = node.y + node.h if above else node.y
            if above:
                band_start, band_end = top_area_bottom + BAND_MARGIN, bar_y - BAR_THICKNESS / 2 - BAND_MARGIN
            else:
                band_start, band_end = bar_y + BAR_THICKNESS / 2 + BAND_MARGIN, bottom_area_top - BAND_MARGIN
            count = len(groups)
            sub = (band_end - band_start) / count
            for index, (direction, edges) in enumerate(groups):
                x = node.cx + (index - (count - 1) / 2) * 2 * PORT_SPREAD
                x = _free_port(x, taken_ports, node)
                taken_ports.append(x)
                points = [(x, bar_y), (x, node_edge)] if direction == "in" else [(x, node_edge), (x, bar_y)]
                connector = Connector(id=f"c:{edges[0].source}>{edges[0].target}",
                                      kind=self._kind(edges), points=points)
                lo = band_start + (index if above else count - 1 - index) * sub
                y = lo + (sub - _stack_height(len(edges))) / 2
                for edge in edges:
                    text = self._chip_text(edge)
                    connector.chips.append(Chip(edge=edge.id, text=text, x=x, y=round(y, 1),
                                                w=chip_width(text), area=self._producer_area(edge),
                                                muted=edge.kind == "observe"))
                    y += CHIP_H + CHIP_GAP
                self._register(connector, edges)

    def _connect_neighbours(self, bundles: dict[tuple[str, str], list[Edge]], bar_node: str) -> None:
        """Lines between neighbours in a row, or between a column's two rows."""
        for (source, target), edges in bundles.items():
            if bar_node in (source, target):
                continue
            a, b = self.nodes[source], self.nodes[target]
            # Two opposite lines between the same nodes run side by side.
            offset = PAIR_OFFSET if (target, source) in bundles else 0
            if abs(a.cx - b.cx) < 1:
                down = a.y < b.y
                x = a.cx + (2 * offset if down else -2 * offset)
                points = [(x, a.y + a.h if down else a.y), (x, b.y if down else b.y + b.h)]
            elif abs(a.cy - b.cy) < 1:
                right = a.x < b.x
                y = a.cy + (offset if right else -offset)
                points = [(a.x + a.w if right else a.x, y), (b.x if right else b.x + b.w, y)]
            else:  # leave towards the target's row, turn into its side that faces the source
                down = a.cy < b.cy
                points = [(a.cx, a.y + a.h if down else a.y), (a.cx, b.cy),
                          (b.x + b.w if a.cx > b.cx else b.x, b.cy)]
            connector = Connector(id=f"c:{source}>{target}", kind=self._kind(edges), points=points)
            labelled = [edge for edge in edges if edge.event]
            vertical = abs(points[0][0] - points[-1][0]) < 1
            if labelled and vertical:
                top, bottom = sorted((points[0][1], points[-1][1]))
                height = _stack_height(len(labelled))
                if not offset:
                    y = top + (bottom - top - height) / 2
                elif points[0][1] < points[-1][1]:  # the downward line labels high, upward low
                    y = top + 6
                else:
                    y = bottom - 6 - height
                centre = (a.cx if abs(a.cx - points[0][0]) <= 2 * offset + 1 else points[0][0])
                for edge in labelled:
                    connector.chips.append(Chip(edge=edge.id, text=edge.event, x=centre,
                                                y=round(y, 1), w=chip_width(edge.event),
                                                area=self._producer_area(edge)))
                    y += CHIP_H + CHIP_GAP
            else:
                (x0, y0), (x1, y1) = points[0], points[1]
                connector.note = self._note(edges)
                if vertical:
                    connector.note_x, connector.note_y = x0 + 8, (y0 + y1) / 2 + 4
                    connector.note_anchor = "start"
                else:
                    connector.note_x, connector.note_y = (x0 + x1) / 2, min(y0, y1) - 7
            self._register(connector, edges)

    def _note(self, edges: list[Edge]) -> str:
        edge = edges[0]
        if edge.kind == "delivery":
            return ""
        if edge.id == "observe:poll":
            return "polls"
        if edge.id == "observe:history":
            return "replays"
        if edge.source == "actor:customer":
            return self.model.http_api(ORDER_API).entry_route
        if edge.kind == "request":
            return "invokes"
        return ""

    def _kind(self, edges: list[Edge]) -> str:
        kind = edges[0].kind
        return "event" if kind in {"route", "publish"} else kind

    def _register(self, connector: Connector, edges: Iterable[Edge]) -> None:
        self.connectors[connector.id] = connector
        for edge in edges:
            edge.connector = connector.id

    # --- flights -----------------------------------------------------------------------

    def _observe(self) -> dict[str, list[str]]:
        connectors = {edge.id: edge.connector for edge in self.edges}
        observe: dict[str, list[str]] = {}
        for bus in self.model.observed_buses:
            observe[bus.value] = [connectors[f"observe:{bus.value}"]]
            if f"observe:{bus.value}:logs" in connectors:
                observe[bus.value].append(connectors[f"observe:{bus.value}:logs"])
        return observe

    def _flights(self, bar_y: float) -> dict[str, list[Flight]]:
        model = self.model
        by_id = {edge.id: edge for edge in self.edges}
        flights: dict[str, list[Flight]] = {}
        for event in model.events:
            for bus in Bus:
                publish = [e for e in self.edges if e.kind == "publish" and e.event == event.name
                           and e.bus == bus.value]
                arrival = [e for e in self.edges if e.kind == "route" and e.event == event.name
                           and e.target == f"bus:{bus.value}"]
                routes = [r for r in model.routes_of(event.name) if r.bus == bus]
                if not (publish or arrival):
                    continue
                lead: list[Edge] = []
                start: tuple[float, float] | None = None
                if publish:
                    lead = [*self._requests_before(publish[0], event.name), publish[0]]
                elif bus.value == self.bar_bus:
                    start = self.connectors[arrival[0].connector].points[-1]
                else:
                    node = self.nodes[f"bus:{bus.value}"]
                    start = (node.cx, node.cy)
                branches = []
                for route in routes:
                    branch = [by_id[route.rule_id]]
                    if isinstance(route.target, ToQueue):
                        branch.append(by_id[f"delivery:{route.target.queue}"])
                    branches.append(branch)
                flights[flight_key(event.name, bus.value)] = [
                    self._flight(start, [*lead, *branch], bar_y) for branch in branches or [[]]]
        return flights

    def _requests_before(self, publish: Edge, event_name: str) -> list[Edge]:
        """The order that starts it all is asked for over HTTP: its token starts at the
        customer."""
        if not self.model.happy_path or event_name != self.model.happy_path[0]:
            return []
        into_function = [e for e in self.edges if e.kind == "request" and e.target == publish.source]
        if not into_function:
            return []
        into_api = [e for e in self.edges if e.kind == "request" and
                    e.target == into_function[0].source]
        return [*into_api[:1], into_function[0]]

    def _flight(self, start: tuple[float, float] | None, edges: list[Edge], bar_y: float) -> Flight:
        points: list[tuple[float, float]] = [start] if start else []
        for edge in edges:
            segment = self.connectors[edge.connector].points
            if points and segment[0] != points[-1] and not (points[-1][1] == bar_y == segment[0][1]):
                # Through the node that hands the event on; along the bar, straight.
                node = self.nodes[edge.source]
                points.append((node.cx, node.cy))
            points.extend(segment)
        deduped = [p for index, p in enumerate(points) if index == 0 or p != points[index - 1]]
        return Flight(path=rounded_path(deduped, radius=8),
                      connectors=list(dict.fromkeys(self.connectors[e.connector].id for e in edges)),
                      edges=[edge.id for edge in edges])


def _free_port(x: float, taken: list[float], node: Node, gap: float = 16) -> float:
    """The nearest x to `x`, within the node, at least `gap` from every port taken."""
    candidates = sorted((abs(dx), x + dx) for dx in range(-60, 61, 2)
                        if node.x + 14 <= x + dx <= node.x + node.w - 14)
    for _, candidate in candidates:
        if all(abs(candidate - other) >= gap for other in taken):
            return candidate
    return x


def _stack_height(count: int) -> float:
    return count * CHIP_H + max(0, count - 1) * CHIP_GAP


def graph_build(model: Choreography = CHOREOGRAPHY, outputs: dict[str, str] | None = None) -> Graph:
    """The laid-out graph of a choreography (the one deployed, by default)."""
    return _Layout(model, outputs or {}).build()
