"""The read model: what the dashboard has observed, rebuilt at will from CloudWatch Logs.

Facts are kept per event and per sighting (an event seen on one bus), so that what comes
next — per-edge statistics, stuck-order deadlines, planned-vs-actual — reads these rows
instead of reshaping them: each event keeps its cause's type and the hop latency from its
cause, and its observed lag; each order keeps its last event.
"""

from __future__ import annotations

from django.db import models

from workflow.model import OrderStatus as ModelOrderStatus


class Origin:
    """Where a sighting came from."""

    LIVE = "live"
    HISTORY = "history"
    choices = [(LIVE, "observability queue"), (HISTORY, "CloudWatch Logs")]


class OrderStatus:
    """An order's status, as its events tell it: the model's (workflow.model.OrderStatus)."""

    PLACED = ModelOrderStatus.PLACED.value
    SHIPPED = ModelOrderStatus.SHIPPED.value
    REJECTED = ModelOrderStatus.REJECTED.value
    CANCELLED = ModelOrderStatus.CANCELLED.value
    values = tuple(status.value for status in ModelOrderStatus)
    choices = [(value, value) for value in values]


class ObservedEvent(models.Model):
    """One CloudEvent, however many times and on however many buses it was seen.

    An event that failed validation is kept too (`valid=False`, with the reason), because an
    operator needs to see it; it never changes an order's status.
    """

    event_id = models.CharField(max_length=128, unique=True)
    type = models.CharField(max_length=128, blank=True)
    source = models.CharField(max_length=128, blank=True)
    # order_id and correlation_id are the first columns of indexes below (event_order_time,
    # event_search_corr): an index of their own would only cost every insert.
    order_id = models.CharField(max_length=128, blank=True, help_text="The CloudEvent subject.")
    correlation_id = models.CharField(max_length=128, blank=True)
    causation_id = models.CharField(max_length=128, blank=True, db_index=True)
    time = models.DateTimeField(null=True, help_text="The CloudEvent time, set by the producer.")
    observed_at = models.DateTimeField(help_text="When the dashboard first saw it.")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.LIVE)
    buses = models.JSONField(default=list, help_text="Every bus it was seen on.")
    valid = models.BooleanField(default=True)
    invalid_reason = models.TextField(blank=True)
    envelope = models.JSONField(default=dict, help_text="CloudEvent attributes, without data.")
    data = models.JSONField(null=True)
    eventbridge = models.JSONField(default=dict,
                                   help_text="The first EventBridge envelope, without detail.")
    # Per-hop facts: filled when both this event and its cause have been seen, in any order.
    cause_type = models.CharField(max_length=128, blank=True)
    shared_terms = models.ForeignKey(
        "TermSet", on_delete=models.PROTECT, null=True, related_name="events",
        help_text="The searchable terms of the part of its data every event of its order "
                  "carries alike, kept once for them all (see dashboard/insight/search.py).")
    hop_latency_ms = models.FloatField(null=True, help_text="time - the cause's time")
    observed_lag_ms = models.FloatField(null=True, help_text="observed_at - time")

    class Meta:
        ordering = ["time", "observed_at"]
        indexes = [
            models.Index(fields=["order_id", "time"], name="event_order_time"),
            # A trace reads the first and the newest events of its subject, however many it
            # has, and counts them.
            models.Index(fields=["order_id", "observed_at", "id"], name="event_order_seen"),
            models.Index(fields=["-observed_at"], name="event_recent"),
            # The failures page lists the latest invalid events: few among very many.
            models.Index(fields=["-observed_at"], condition=models.Q(valid=False),
                         name="event_invalid_recent"),
            # Search finds events by attribute, newest first (see dashboard/insight/search.py).
            models.Index(fields=["-time", "-id"], name="event_search_time"),
            models.Index(fields=["type", "-time", "-id"], name="event_search_type"),
            models.Index(fields=["source", "-time", "-id"], name="event_search_source"),
            models.Index(fields=["correlation_id", "-time", "-id"], name="event_search_corr"),
            # The catalogue counts each type's recent events and finds its last one.
            models.Index(fields=["type", "observed_at", "valid"], name="event_type_seen"),
            # A route's page lists the latest events of its type, however rare (this index,
            # read backwards), and the latest hops of its consumer, per (cause type, type),
            # which the per-edge figures read too:
            models.Index(fields=["cause_type", "type", "-observed_at"], name="event_edge_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.type or '(invalid)'} {self.event_id}"

    @property
    def cloudevent(self) -> dict[str, object]:
        """The CloudEvent as it was published: its attributes, then its data."""
        if self.data is None:
            return dict(self.envelope)
        return {**self.envelope, "data": self.data}


class Sighting(models.Model):
    """An event seen on one bus. A forward to another bus is a new EventBridge envelope
    (its own id and time) around the same CloudEvent."""

    event = models.ForeignKey(ObservedEvent, on_delete=models.CASCADE, related_name="sightings")
    bus = models.CharField(max_length=64)
    observed_at = models.DateTimeField()
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.LIVE)
    eventbridge_id = models.CharField(max_length=128, blank=True)
    eventbridge_time = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "bus"], name="one_sighting_per_bus")]

    def __str__(self) -> str:
        return f"{self.event_id} on {self.bus}"


class TermSet(models.Model):
    """Searchable (path, value) pairs shared by the events whose data carries the same part
    alike: every event of an order carries the whole order, so its terms are kept once per
    order (and per change of it), not once per event. Found by `digest`, a hash of its
    sorted terms; never changed once made."""

    digest = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.digest[:12]


class SharedTerm(models.Model):
    """One (path, value) pair of a TermSet: `order.customerId` = `c-42`."""

    term_set = models.ForeignKey(TermSet, on_delete=models.CASCADE, related_name="terms")
    path = models.CharField(max_length=128)
    value = models.CharField(max_length=128)

    class Meta:
        # Search's index, and each pair once per set however many writers make the set.
        constraints = [models.UniqueConstraint(fields=["path", "value", "term_set"],
                                               name="shared_term")]

    def __str__(self) -> str:
        return f"{self.path}={self.value}"


class SearchTerm(models.Model):
    """One searchable (path, value) pair of an event's data: `order.customerId` = `c-42`.

    Search finds events by any data field through this table's index rather than by a JSON
    query, which no index can serve for an arbitrary path (docs/dashboard.md, Search, says
    what that costs). Items of a list share their list's path: `order.lines.sku`.
    """

    event = models.ForeignKey(ObservedEvent, on_delete=models.CASCADE,
                              related_name="search_terms")
    path = models.CharField(max_length=128)
    value = models.CharField(max_length=128)

    class Meta:
        indexes = [models.Index(fields=["path", "value", "event"], name="search_term")]

    def __str__(self) -> str:
        return f"{self.path}={self.value}"


class Order(models.Model):
    """An order as its events tell it; recomputed from them whenever one arrives."""

    order_id = models.CharField(max_length=128, primary_key=True)
    correlation_id = models.CharField(max_length=128, blank=True, db_index=True)
    customer_id = models.CharField(max_length=128, blank=True)
    # status leads three indexes below: one of its own would only cost every change.
    status = models.CharField(max_length=16, choices=OrderStatus.choices,
                              default=OrderStatus.PLACED)
    placed_at = models.DateTimeField(help_text="order.placed's time, else the first event's.")
    observed_at = models.DateTimeField(
        help_text="When the dashboard first saw one of its valid events: what newest first means, "
                  "since a publisher can claim any time but cannot choose this one.")
    concluded_at = models.DateTimeField(null=True, help_text="The terminal event's time.")
    duration_ms = models.FloatField(null=True)
    event_count = models.PositiveIntegerField(default=0)
    last_event_type = models.CharField(max_length=128, blank=True)
    last_event_at = models.DateTimeField(null=True)
    total_amount = models.BigIntegerField(null=True, help_text="Minor units.")
    currency = models.CharField(max_length=3, blank=True)
    deviation = models.CharField(
        max_length=300, blank=True,
        help_text="Why its events did not do what the model says, first seen ('' while they do).")

    class Meta:
        ordering = ["-observed_at", "-placed_at"]
        indexes = [models.Index(fields=["-observed_at", "-placed_at"], name="order_seen_recent"),
                   models.Index(fields=["status", "-observed_at", "-placed_at"],
                                name="order_status_seen_recent"),
                   # Stuck orders: those still placed whose last event, of one type, is older
                   # than that type's deadline; one index range per event type.
                   models.Index(fields=["status", "last_event_type", "last_event_at"],
                                name="order_stopped_at"),
                   # The orders list filtered to those that deviate: few among very many.
                   models.Index(fields=["-observed_at", "-placed_at"],
                                condition=~models.Q(deviation=""), name="order_deviating_recent"),
                   # A typical order of an ending: the median duration among that status's.
                   models.Index(fields=["status", "duration_ms"], name="order_status_duration")]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.status})"

    @property
    def terminal(self) -> bool:
        return self.status != OrderStatus.PLACED


class RouteMinute(models.Model):
    """What passed through one route (an EventBridge rule of the model, by rule id) in one
    minute: kept up to date as events are recorded, so that a route's figures over an hour
    read at most sixty rows however many events there were (see `dashboard/insight/routes.py`).

    `events` counts the events of the route's type in that minute (by their time), `invalid`
    those among them that failed validation; `latency_*` and `histogram` the hops its
    consumer made (an event caused by one this route delivered, by the effect's time).
    `histogram` maps a log-scale bin (`dashboard.readmodel.route_minutes.latency_bin`) to a count."""

    route = models.CharField(max_length=256)
    minute = models.DateTimeField()
    events = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    latency_count = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0)
    histogram = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["route", "minute"], name="one_row_per_route_minute")]
        indexes = [models.Index(fields=["minute"], name="route_minute_time")]

    def __str__(self) -> str:
        return f"{self.route} at {self.minute:%H:%M}"


class RouteVersionMinute(models.Model):
    """How many events of each version of its type passed through one route (an EventBridge
    rule of the model, by rule id) in one minute, by their time: kept up to date as events are
    recorded, so that the share of each version per route over an hour reads at most sixty rows
    per route and version (see `dashboard/insight/versions.py`). Valid events only: an invalid
    one's version is only what it claimed."""

    route = models.CharField(max_length=256)
    version = models.PositiveIntegerField()
    minute = models.DateTimeField()
    events = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["route", "version", "minute"],
                                               name="one_row_per_route_version_minute")]
        indexes = [models.Index(fields=["minute"], name="route_version_minute_time")]

    def __str__(self) -> str:
        return f"{self.route} v{self.version} at {self.minute:%H:%M}"


class UndeclaredSighting(models.Model):
    """An event seen on an observed bus whose EventBridge `source` the model does not declare:
    who put it there, what they called it, on which bus and when. The observing rules match
    every event (`workflow.rules.observation_event_pattern`), so that drift can say which
    sources nobody declared and how often they publish.

    It is no event of the model (no route delivers it, no consumer fails on it), so it is
    neither an `ObservedEvent` nor a failure: one small row each, whatever it carried, kept
    once per bus however often it is delivered or replayed, and pruned with the events."""

    bus = models.CharField(max_length=64)
    eventbridge_id = models.CharField(max_length=128)
    source = models.CharField(max_length=256)
    detail_type = models.CharField(max_length=256, blank=True)
    account = models.CharField(max_length=32, blank=True)
    observed_at = models.DateTimeField()
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.LIVE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bus", "eventbridge_id"],
                                               name="undeclared_sighting_once")]
        indexes = [
            # Drift counts each source's and each (source, type)'s sightings, first and last.
            models.Index(fields=["source", "detail_type", "observed_at"], name="undeclared_seen"),
            # Pruning forgets the oldest first.
            models.Index(fields=["observed_at"], name="undeclared_oldest"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.detail_type} on {self.bus}"


class DriftNoticed(models.Model):
    """When the dashboard first saw one difference between the deployment and the model (a
    `workflow.drift` key: a rule nobody declared, a route missing or changed), kept while it
    lasts. EventBridge keeps no date of a rule's creation or change, so this is the only
    "since when" there is; a difference that goes and comes back starts again."""

    key = models.CharField(max_length=512, unique=True)
    bus = models.CharField(max_length=64)
    first_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} since {self.first_seen:%Y-%m-%d %H:%M}"


class UnroutedSighting(models.Model):
    """An event of the model seen on a bus where no route of the model takes it: put "into the
    void" (`workflow.traffic_drift.Routing.unrouted`), which only the observing rules saw.
    Recorded as its sighting is, once per event and bus, and forgotten with its event, so that
    drift lists it, with how many and when, for as long as the events are kept."""

    event = models.ForeignKey(ObservedEvent, on_delete=models.CASCADE, related_name="+")
    bus = models.CharField(max_length=64)
    type = models.CharField(max_length=128)
    source = models.CharField(max_length=128)
    observed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "bus"], name="unrouted_sighting_once")]
        # Drift counts each (bus, type, source)'s sightings, first and last.
        indexes = [models.Index(fields=["bus", "type", "source", "observed_at"], name="unrouted_seen")]

    def __str__(self) -> str:
        return f"{self.type} on {self.bus}, routed nowhere"


class UndeclaredLink(models.Model):
    """An observed event whose cause (its `causationid`) is of a type the model does not have it
    follow: no function's reaction publishes `type` on consuming `cause_type`
    (`workflow.traffic_drift.undeclared_link`). Recorded once the event and its cause have both
    been seen (in either order), and forgotten with the event."""

    event = models.OneToOneField(ObservedEvent, on_delete=models.CASCADE, related_name="+")
    cause_type = models.CharField(max_length=128)
    type = models.CharField(max_length=128)
    source = models.CharField(max_length=128, help_text="the effect's source")
    observed_at = models.DateTimeField()

    class Meta:
        # Drift counts each (cause type, type)'s links, first and last.
        indexes = [models.Index(fields=["cause_type", "type", "source", "observed_at"],
                                name="undeclared_link_seen")]

    def __str__(self) -> str:
        return f"{self.cause_type} -> {self.type} (not in the model)"
