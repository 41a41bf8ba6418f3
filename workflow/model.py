"""The choreography, declared once as data.

Every reader follows this one model: the CDK app builds rules, queues and functions from it,
the local runtime finds its pollers through the template built from it, and the dashboard
draws its graph from it. Adding a consumer is one `Route` here plus one handler.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

# The partition of an event whose subject's partition is unknown: it was not one of ours
# when it was published (no `partitionkey`, or one that names no partition).
UNPARTITIONED = "unpartitioned"


class Bus(StrEnum):
    GLOBAL = "global"
    LOYALTY = "loyalty"


class Subdomain(StrEnum):
    ORDER = "order"
    WAREHOUSE = "warehouse"
    PAYMENT = "payment"
    LOYALTY = "loyalty"


class OrderStatus(StrEnum):
    """An order's status: placed until one of the events that end it (`concludes_as`)."""

    PLACED = "placed"
    SHIPPED = "shipped"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class EventType:
    """One kind of fact a subdomain announces. `name` is the CloudEvent `type` and the
    EventBridge `DetailType`; `producer` is the CloudEvent `source`."""

    name: str
    producer: Subdomain
    version: int
    summary: str
    concludes_as: OrderStatus | None = None  # the order status this event ends an order with

    @property
    def terminal(self) -> bool:
        return self.concludes_as is not None

    @property
    def dataschema(self) -> str:
        return f"urn:choreo:schema:{self.name}:{self.version}"


@dataclass(frozen=True)
class Function:
    """A Lambda function: one per service. `handler` is the dotted path Lambda calls."""

    id: str
    subdomain: Subdomain
    handler: str
    summary: str
    tables: tuple[str, ...] = ()
    publishes_to: Bus | None = None
    publishes: tuple[str, ...] = ()  # the event types it announces
    timeout_seconds: int = 10
    memory_mb: int = 256
    relay_for: str | None = None
    """the function whose outbox this one relays: that function writes each event it decides
    to publish together with its effect, unpublished, and asks this one, through the queue
    this one consumes, to publish it should it not get to it itself (see
    `Choreography.outbox_queues`). A relay publishes only what that function decided."""


FIFO_SUFFIX = ".fifo"


def queue_name(base: str, *, fifo: bool) -> str:
    """A queue's name: SQS requires a FIFO queue's to end in `.fifo`."""
    return f"{base}{FIFO_SUFFIX}" if fifo else base


@dataclass(frozen=True)
class Queue:
    """An SQS queue that buffers events for one function (an SQS event source mapping)."""

    id: str
    subdomain: Subdomain
    consumer: str
    fifo: bool = False
    batch_size: int = 10
    max_receive_count: int = 3
    delay_seconds: int = 0
    """how long SQS holds each message back from the consumer (at most 900)"""

    @property
    def name(self) -> str:
        return queue_name(self.id, fifo=self.fifo)

    def message_group_id(self, partition: str) -> str:
        """The FIFO message group of one partition of the orders: SQS keeps the events of a
        group in order and hands Lambda one batch of a group at a time, so partitions are
        what lets a FIFO queue be worked on in parallel."""
        return f"{self.id.lower()}-{partition}"


# A rule's target. Each kind says what it delivers to (`kind` and `ref`: the id of the queue,
# function or destination, or the bus's name), how a rule to it is named (`rule_name`), and
# which function, if any, ends up handling what it delivers (`consumer`).


@dataclass(frozen=True)
class ToQueue:
    queue: str
    kind: ClassVar[str] = "queue"

    @property
    def ref(self) -> str:
        return self.queue

    @property
    def rule_name(self) -> str:
        return self.queue

    def consumer(self, choreography: Choreography) -> str | None:
        return choreography.queue(self.queue).consumer


@dataclass(frozen=True)
class ToFunction:
    """A direct EventBridge → Lambda target: asynchronous invocation, retried by Lambda,
    failures sent to an OnFailure destination."""

    function: str
    retry_attempts: int = 2
    max_event_age_seconds: int = 3600
    kind: ClassVar[str] = "function"

    @property
    def ref(self) -> str:
        return self.function

    @property
    def rule_name(self) -> str:
        return self.function

    def consumer(self, choreography: Choreography) -> str | None:
        return self.function


@dataclass(frozen=True)
class ToBus:
    """A bus-to-bus forward: the event goes on, unchanged, to another bus's rules."""

    bus: Bus
    kind: ClassVar[str] = "bus"

    @property
    def ref(self) -> str:
        return self.bus.value

    @property
    def rule_name(self) -> str:
        return f"{self.bus.value.title()}Bus"

    def consumer(self, choreography: Choreography) -> str | None:
        return None


@dataclass(frozen=True)
class ToNotification:
    """An EventBridge API destination: an HTTP POST of the CloudEvent to an outside endpoint."""

    destination: str
    kind: ClassVar[str] = "notification"

    @property
    def ref(self) -> str:
        return self.destination

    @property
    def rule_name(self) -> str:
        return self.destination

    def consumer(self, choreography: Choreography) -> str | None:
        return None


Target = ToQueue | ToFunction | ToBus | ToNotification


@dataclass(frozen=True)
class Route:
    """An EventBridge rule on `bus` that matches exactly one (source, detail-type) pair."""

    event: str
    bus: Bus
    target: Target

    @property
    def rule_id(self) -> str:
        words = self.event.replace("-", ".").split(".")
        return "".join(w.title() for w in words) + "To" + self.target.rule_name


@dataclass(frozen=True)
class RouteRule:
    """One EventBridge rule of a route. A route to a FIFO queue is one rule per partition (and
    one for events that name no partition), each delivering to its own message group; any
    other route is one rule for all its events (`partition` None)."""

    rule_id: str
    partition: str | None
    message_group_id: str | None


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    summary: str
    publishes: str | None = None
    """the event a successful call publishes: the route that starts the choreography"""

    @property
    def key(self) -> str:
        """API Gateway's route key, `METHOD /path`."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class HttpApi:
    """An HTTP API in front of one function. Its stage admits `rate_limit` requests a second
    on average, bursts of up to `burst_limit`, and answers 429 beyond: a public endpoint that
    anyone can call must not let anyone drain the inventory or run up the bill."""

    id: str
    function: str
    routes: tuple[HttpRoute, ...]
    rate_limit: float = 20.0
    burst_limit: int = 40

    @property
    def entry_route(self) -> str:
        """The route key whose call starts the choreography (what a client does first)."""
        return next(route.key for route in self.routes if route.publishes is not None)


@dataclass(frozen=True)
class Table:
    """A DynamoDB table, keyed on a string attribute: `pk` for the subdomains' ledgers,
    `id` for Powertools' idempotency records (its persistence layer's default); a second
    string attribute sorts the items of one key where a table keeps several."""

    id: str
    subdomain: Subdomain | None
    summary: str
    ttl_attribute: str | None = None
    partition_key: str = "pk"
    sort_key: str | None = None


@dataclass(frozen=True)
class NotificationReceiver:
    """The notification endpoint a deployment gets when it names none of its own.

    The routes' notifications go to the world outside, through an EventBridge API destination,
    which calls only public `https://` endpoints. So that a deployment with no settings works
    end to end, the stack brings its own: a function behind its own URL (public HTTPS) that
    checks the API key the connection signs with and keeps each notification, by order, in
    a table where the dashboard finds it. It stands in for the outside world, so it belongs
    to no subdomain and is drawn as the outside world."""

    function: str = "NotificationReceiver"
    handler: str = "functions.notifications.receiver.lambda_handler"
    summary: str = "Receives the notifications and keeps them, by order, for two weeks."
    table: Table = Table("Notifications", None,
                         "What the notification endpoint received, by order (subject).",
                         ttl_attribute="expiresAt", partition_key="subject", sort_key="id")
    timeout_seconds: int = 10
    memory_mb: int = 256


@dataclass(frozen=True)
class Choreography:
    events: tuple[EventType, ...]
    functions: tuple[Function, ...]
    queues: tuple[Queue, ...]
    routes: tuple[Route, ...]
    tables: tuple[Table, ...]
    http_apis: tuple[HttpApi, ...]
    observed_buses: tuple[Bus, ...] = (Bus.GLOBAL, Bus.LOYALTY)
    # How long a consumer remembers that it handled a CloudEvent (Powertools idempotency;
    # its records expire by TTL). Redeliveries come within it (SQS retries, Lambda's
    # asynchronous retries within their one-hour maximum event age); anything later (a
    # redrive days on) runs the handler again, and the per-order effect records return the
    # recorded event, same id, so effects stay exactly-once whatever the window.
    idempotency_window_seconds: int = 3600
    # The bus whose every event the log group keeps (the history the dashboard replays):
    # every event of the choreography crosses it.
    logged_bus: Bus = Bus.GLOBAL
    happy_path: tuple[str, ...] = field(default=())
    # Every event of an order carries its order's partition (the CloudEvents `partitionkey`),
    # so that a FIFO queue can keep each order's events in order while several partitions
    # are worked on at once. EventBridge gives a rule's SQS target one fixed message group
    # and cannot compute one from the event, so a route to a FIFO queue is one rule per
    # partition (see cdk/constructs/routes.py): more partitions, more parallelism, more rules.
    partitions: int = 4
    notification_receiver: NotificationReceiver = NotificationReceiver()

    def partition_of(self, subject: str) -> str:
        """The partition of an order's events: a stable hash of the order id (the subject)."""
        return str(zlib.crc32(subject.encode()) % self.partitions)

    def partition_keys(self) -> tuple[str, ...]:
        return tuple(str(partition) for partition in range(self.partitions))

    def rules_of(self, route: Route) -> tuple[RouteRule, ...]:
        target = route.target
        if not isinstance(target, ToQueue) or not self.queue(target.queue).fifo:
            return (RouteRule(route.rule_id, None, None),)
        queue = self.queue(target.queue)
        rules = [RouteRule(f"{route.rule_id}Partition{partition}", partition,
                           queue.message_group_id(partition)) for partition in self.partition_keys()]
        return (*rules, RouteRule(f"{route.rule_id}Unpartitioned", UNPARTITIONED,
                                  queue.message_group_id(UNPARTITIONED)))

    def http_api(self, api_id: str) -> HttpApi:
        for api in self.http_apis:
            if api.id == api_id:
                return api
        raise KeyError(f"unknown HTTP API {api_id!r}")

    def event(self, name: str) -> EventType:
        for event in self.events:
            if event.name == name:
                return event
        raise KeyError(f"unknown event type {name!r}")

    def function(self, function_id: str) -> Function:
        for function in self.functions:
            if function.id == function_id:
                return function
        raise KeyError(f"unknown function {function_id!r}")

    def queue(self, queue_id: str) -> Queue:
        for queue in self.queues:
            if queue.id == queue_id:
                return queue
        raise KeyError(f"unknown queue {queue_id!r}")

    def routes_on(self, bus: Bus) -> tuple[Route, ...]:
        return tuple(route for route in self.routes if route.bus == bus)

    def routes_of(self, event_name: str) -> tuple[Route, ...]:
        return tuple(route for route in self.routes if route.event == event_name)

    def consumers_of(self, event_name: str) -> tuple[str, ...]:
        """The functions that act on an event, wherever its routes lead."""
        consumers = (route.target.consumer(self) for route in self.routes_of(event_name))
        return tuple(dict.fromkeys(consumer for consumer in consumers if consumer is not None))

    def publishers_of(self, event_name: str) -> tuple[Function, ...]:
        return tuple(f for f in self.functions if event_name in f.publishes)

    def outbox_queues(self, function_id: str) -> tuple[Queue, ...]:
        """The queues through which a function asks its outbox's relays to publish what it
        wrote: those its relays consume."""
        relays = {f.id for f in self.functions if f.relay_for == function_id}
        return tuple(queue for queue in self.queues if queue.consumer in relays)

    def consumed_by(self, function_id: str) -> tuple[str, ...]:
        """The event types routed to a function, by queue or directly."""
        return tuple(dict.fromkeys(route.event for route in self.routes
                                   if route.target.consumer(self) == function_id))

    def subdomains(self) -> tuple[Subdomain, ...]:
        """Every subdomain that has a function or produces an event, in the model's order."""
        return tuple(dict.fromkeys([*(function.subdomain for function in self.functions),
                                    *(event.producer for event in self.events)]))

    def direct_targets(self) -> dict[str, ToFunction]:
        """The functions EventBridge invokes directly, by id, with how Lambda retries them."""
        found: dict[str, ToFunction] = {}
        for route in self.routes:
            target = route.target
            # Lambda keeps one asynchronous invocation config per function.
            if isinstance(target, ToFunction) and found.setdefault(target.function, target) != target:
                raise ValueError(f"{target.function} is a direct target with two retry settings")
        return found

    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(event.producer.value for event in self.events))


WAREHOUSE_QUEUE = "Warehouse"
PAYMENT_QUEUE = "Payment"
ORDER_QUEUE = "Order"
ORDER_OUTBOX_QUEUE = "OrderOutbox"
NOTIFICATIONS = "OrderNotifications"
ORDER_API = "OrderHttpApi"
INVENTORY_TABLE = "Inventory"
IDEMPOTENCY_TABLE = "Idempotency"
# The environment variable a consumer reads its idempotency window from.
IDEMPOTENCY_WINDOW_ENV = "IDEMPOTENCY_WINDOW_SECONDS"

CHOREOGRAPHY = Choreography(
    events=(
        EventType("order.placed", Subdomain.ORDER, 1, "A customer placed an order."),
        EventType("warehouse.stock-reserved", Subdomain.WAREHOUSE, 1,
                  "Every line of the order is reserved in the warehouse."),
        EventType("warehouse.stock-unavailable", Subdomain.WAREHOUSE, 1,
                  "At least one line could not be reserved; nothing was reserved."),
        EventType("payment.taken", Subdomain.PAYMENT, 1, "The order's total was charged."),
        EventType("payment.declined", Subdomain.PAYMENT, 1, "The card was declined."),
        EventType("loyalty.points-awarded", Subdomain.LOYALTY, 1,
                  "The customer earned points for the order."),
        EventType("warehouse.order-shipped", Subdomain.WAREHOUSE, 1,
                  "The reserved stock left the warehouse.", concludes_as=OrderStatus.SHIPPED),
        EventType("warehouse.stock-released", Subdomain.WAREHOUSE, 1,
                  "A reservation was given back after a failed payment."),
        EventType("order.rejected", Subdomain.ORDER, 1,
                  "The order cannot be fulfilled: stock was short.", concludes_as=OrderStatus.REJECTED),
        EventType("order.cancelled", Subdomain.ORDER, 1,
                  "The order was cancelled after its payment was declined.",
                  concludes_as=OrderStatus.CANCELLED),
    ),
    functions=(
        Function("OrderApi", Subdomain.ORDER, "functions.order.api.lambda_handler",
                 "Order HTTP API: catalogue, place an order, order status.",
                 tables=("Orders",), publishes_to=Bus.GLOBAL, publishes=("order.placed",)),
        Function("OrderRelay", Subdomain.ORDER, "functions.order.relay.lambda_handler",
                 "Publishes each order.placed the order API wrote but did not get to publish.",
                 tables=("Orders",), publishes_to=Bus.GLOBAL, publishes=("order.placed",),
                 relay_for="OrderApi"),
        Function("OrderEvents", Subdomain.ORDER, "functions.order.events.lambda_handler",
                 "Keeps each order's status from the events that end it.",
                 tables=("Orders", IDEMPOTENCY_TABLE), publishes_to=Bus.GLOBAL,
                 publishes=("order.rejected", "order.cancelled")),
        Function("Warehouse", Subdomain.WAREHOUSE, "functions.warehouse.handler.lambda_handler",
                 "Reserves, ships and releases stock.",
                 tables=(INVENTORY_TABLE, IDEMPOTENCY_TABLE), publishes_to=Bus.GLOBAL,
                 publishes=("warehouse.stock-reserved", "warehouse.stock-unavailable",
                            "warehouse.order-shipped", "warehouse.stock-released")),
        Function("Payment", Subdomain.PAYMENT, "functions.payment.handler.lambda_handler",
                 "Takes payment for reserved orders.",
                 tables=("Payments", IDEMPOTENCY_TABLE), publishes_to=Bus.GLOBAL,
                 publishes=("payment.taken", "payment.declined")),
        Function("Loyalty", Subdomain.LOYALTY, "functions.loyalty.handler.lambda_handler",
                 "Awards loyalty points for paid orders.",
                 tables=("Loyalty", IDEMPOTENCY_TABLE), publishes_to=Bus.LOYALTY,
                 publishes=("loyalty.points-awarded",)),
    ),
    queues=(
        Queue(WAREHOUSE_QUEUE, Subdomain.WAREHOUSE, consumer="Warehouse", fifo=True),
        Queue(PAYMENT_QUEUE, Subdomain.PAYMENT, consumer="Payment"),
        Queue(ORDER_QUEUE, Subdomain.ORDER, consumer="OrderEvents"),
        # The order API asks for each order to be checked once it can no longer be running
        # (its timeout is 10 s): the relay publishes the order's event if it is still unpublished.
        Queue(ORDER_OUTBOX_QUEUE, Subdomain.ORDER, consumer="OrderRelay", delay_seconds=60),
    ),
    routes=(
        # 1. the order placed reaches the warehouse, which reserves stock
        Route("order.placed", Bus.GLOBAL, ToQueue(WAREHOUSE_QUEUE)),
        # 2. reserved stock is paid for
        Route("warehouse.stock-reserved", Bus.GLOBAL, ToQueue(PAYMENT_QUEUE)),
        # 3. payments cross into the loyalty subdomain's private bus ...
        Route("payment.taken", Bus.GLOBAL, ToBus(Bus.LOYALTY)),
        # ... where the loyalty function is a direct target
        Route("payment.taken", Bus.LOYALTY, ToFunction("Loyalty")),
        # 4. awarded points come back to the global bus, and the warehouse ships
        Route("loyalty.points-awarded", Bus.LOYALTY, ToBus(Bus.GLOBAL)),
        Route("loyalty.points-awarded", Bus.GLOBAL, ToQueue(WAREHOUSE_QUEUE)),
        # 5. shipping ends the order and is notified to the outside world
        Route("warehouse.order-shipped", Bus.GLOBAL, ToQueue(ORDER_QUEUE)),
        Route("warehouse.order-shipped", Bus.GLOBAL, ToNotification(NOTIFICATIONS)),
        # compensation: short stock rejects the order
        Route("warehouse.stock-unavailable", Bus.GLOBAL, ToQueue(ORDER_QUEUE)),
        Route("order.rejected", Bus.GLOBAL, ToNotification(NOTIFICATIONS)),
        # compensation: a declined card releases the reservation, then cancels the order
        Route("payment.declined", Bus.GLOBAL, ToQueue(WAREHOUSE_QUEUE)),
        Route("warehouse.stock-released", Bus.GLOBAL, ToQueue(ORDER_QUEUE)),
        Route("order.cancelled", Bus.GLOBAL, ToNotification(NOTIFICATIONS)),
    ),
    tables=(
        Table(IDEMPOTENCY_TABLE, None, "Powertools idempotency records, keyed by CloudEvent id.",
              ttl_attribute="expiration", partition_key="id"),
        Table("Orders", Subdomain.ORDER, "Each order and its status."),
        Table(INVENTORY_TABLE, Subdomain.WAREHOUSE, "Stock per product, reservations, shipments."),
        Table("Payments", Subdomain.PAYMENT, "One charge (or decline) per order."),
        Table("Loyalty", Subdomain.LOYALTY, "Points awarded per order and per customer."),
    ),
    http_apis=(
        HttpApi(ORDER_API, "OrderApi", (
            HttpRoute("GET", "/products", "The product catalogue."),
            HttpRoute("POST", "/orders", "Place an order.", publishes="order.placed"),
            HttpRoute("GET", "/orders/{orderId}", "An order's status."),
            HttpRoute("GET", "/openapi.json", "This API's OpenAPI document."),
        )),
    ),
    happy_path=("order.placed", "warehouse.stock-reserved", "payment.taken",
                "loyalty.points-awarded", "warehouse.order-shipped"),
)
