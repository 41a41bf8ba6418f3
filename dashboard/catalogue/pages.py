"""The catalogue, assembled from the model and the event schemas: what each event looks like,
who sends it, where its routes lead and who reads it; what each function consumes (through which
queue, or directly), publishes, and keeps.

Nothing here is written per event or per function: a route, an event type or a function added
to the model is an entry, a row or a link here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow.catalogue import SCHEMAS, JsonSchema, schema_document
from workflow.examples import example_event
from workflow.model import (
    CHOREOGRAPHY,
    Choreography,
    Function,
    Route,
    ToFunction,
    ToNotification,
    ToQueue,
)

# The schemas' dialect (their `$schema`), as AsyncAPI names a schema format.
SCHEMA_FORMAT = "application/schema+json;version=2020-12"


@dataclass(frozen=True)
class RouteEntry:
    """One rule of the model: on `bus`, an event type to a target."""

    event: str
    bus: str
    rule_id: str
    rules: int
    """how many EventBridge rules it is (one per partition for a FIFO queue, and one more)"""
    target_kind: str  # queue | function | bus | notification
    target: str
    """what it delivers to: a queue's name, a function's id, a bus, a destination"""
    consumer: str | None
    """the function that ends up acting on it, if any"""
    versions: tuple[int, ...] = ()
    """the versions of the event its rule is pinned to (on `dataschema`); empty: any"""

    @property
    def pin_label(self) -> str:
        """How its pin reads: `v1 only`, `v1, v2 only`; empty for a route of any version."""
        return ", ".join(f"v{version}" for version in self.versions) + " only" \
            if self.versions else ""

    @property
    def target_label(self) -> str:
        """How its target reads: `Warehouse.fifo queue`, `loyalty bus`."""
        return f"{self.target} {self.target_kind}"


@dataclass(frozen=True)
class Consumption:
    """An event type a function acts on, and how it reaches it."""

    event: str
    bus: str
    via: str
    """the queue's name, or `directly` for an EventBridge → Lambda target"""
    rule_id: str
    then: tuple[str, ...]
    """what it publishes in reaction (one of them; none: the event ends its part)"""


@dataclass(frozen=True)
class SchemaField:
    """One row of a schema read as a table: a property's path and what it must be."""

    path: str
    depth: int
    type: str
    required: bool
    rules: str


@dataclass(frozen=True)
class EventEntry:
    name: str
    summary: str
    version: int
    dataschema: str
    producer: str
    publishers: tuple[str, ...]
    routes: tuple[RouteEntry, ...]
    consumers: tuple[str, ...]
    followed_by: tuple[str, ...]
    """the events its consumers may publish in reaction, the happy path's first"""
    notified_to: tuple[str, ...]
    concludes_as: str | None
    starts_from: tuple[str, ...]
    """the HTTP routes (`METHOD /path`) whose call publishes it"""
    schema: JsonSchema | None
    fields: tuple[SchemaField, ...]
    example: dict[str, Any]

    @property
    def anchor(self) -> str:
        return f"event-{self.name}"


@dataclass(frozen=True)
class FunctionEntry:
    id: str
    subdomain: str
    summary: str
    handler: str
    consumes: tuple[Consumption, ...]
    publishes: tuple[str, ...]
    publishes_to: str | None
    tables: tuple[str, ...]
    secrets: tuple[str, ...]
    http_routes: tuple[str, ...]
    relay_for: str | None
    asks_relay_through: tuple[str, ...]
    """the queues through which it asks its outbox's relay to publish"""

    @property
    def anchor(self) -> str:
        return f"function-{self.id}"


@dataclass(frozen=True)
class Catalogue:
    events: tuple[EventEntry, ...]
    functions: tuple[FunctionEntry, ...]

    def event(self, name: str) -> EventEntry:
        for entry in self.events:
            if entry.name == name:
                return entry
        raise KeyError(name)


def _rules(schema: JsonSchema) -> str:
    """What a value must be beyond its type, in a few words."""
    said = []
    if "enum" in schema:
        said.append("one of " + ", ".join(str(value) for value in schema["enum"]))
    if "format" in schema:
        said.append(schema["format"])
    if "pattern" in schema:
        said.append(f"matches {schema['pattern']}")
    if "minimum" in schema:
        said.append(f"≥ {schema['minimum']}")
    if "maximum" in schema:
        said.append(f"≤ {schema['maximum']}")
    if "minLength" in schema or "maxLength" in schema:
        said.append(f"{schema.get('minLength', 0)} to {schema.get('maxLength', '∞')} characters")
    if "minItems" in schema:
        said.append(f"at least {schema['minItems']}")
    if schema.get("additionalProperties") is False:
        said.append("no other properties")
    return "; ".join(said)


def schema_fields(schema: JsonSchema, *, prefix: str = "", depth: int = 0) -> list[SchemaField]:
    """A schema read as a table: every property, nested ones after their parent, arrays'
    items as `name[]`."""
    found = []
    required = set(schema.get("required", []))
    for name, part in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        kind = part.get("type", "enum" if "enum" in part else "any")
        if kind == "array":
            items = part.get("items", {})
            found.append(SchemaField(path, depth, f"array of {items.get('type', 'any')}",
                                     name in required, _rules(part)))
            found.extend(schema_fields(items, prefix=f"{path}[]", depth=depth + 1))
        else:
            found.append(SchemaField(path, depth, kind, name in required, _rules(part)))
            found.extend(schema_fields(part, prefix=path, depth=depth + 1))
    return found


def _route_entry(route: Route, model: Choreography) -> RouteEntry:
    target = route.target
    shown = model.queue(target.queue).name if isinstance(target, ToQueue) else target.ref
    return RouteEntry(event=route.event, bus=route.bus.value, rule_id=route.rule_id,
                      rules=len(model.rules_of(route)), target_kind=target.kind, target=shown,
                      consumer=target.consumer(model), versions=route.versions)


def _consumption(route: Route, function: Function, model: Choreography) -> Consumption:
    target = route.target
    via = model.queue(target.queue).name if isinstance(target, ToQueue) else "directly"
    then = tuple(published for reaction in function.reactions if reaction.consumes == route.event
                 for published in reaction.publishes)
    return Consumption(event=route.event, bus=route.bus.value, via=via, rule_id=route.rule_id,
                       then=then)


def catalogue_build(*, model: Choreography = CHOREOGRAPHY,
                    schemas: dict[str, JsonSchema] = SCHEMAS) -> Catalogue:
    events = []
    for event in model.events:
        schema = (schema_document(event.name, model=model, schemas=schemas)
                  if event.name in schemas else None)
        routes = model.routes_of(event.name)
        events.append(EventEntry(
            name=event.name, summary=event.summary, version=event.version,
            dataschema=event.dataschema, producer=event.producer.value,
            publishers=tuple(function.id for function in model.publishers_of(event.name)),
            routes=tuple(_route_entry(route, model) for route in routes),
            consumers=model.consumers_of(event.name), followed_by=model.followers_of(event.name),
            notified_to=tuple(dict.fromkeys(route.target.ref for route in routes
                                            if isinstance(route.target, ToNotification))),
            concludes_as=event.concludes_as.value if event.concludes_as else None,
            starts_from=tuple(route.key for api in model.http_apis for route in api.routes
                              if route.publishes == event.name),
            schema=schema, fields=tuple(schema_fields(schema)) if schema else (),
            example=example_event(event.name, model=model, schemas=schemas)))
    functions = []
    for function in model.functions:
        consumes = tuple(_consumption(route, function, model) for route in model.routes
                         if isinstance(route.target, ToQueue | ToFunction)
                         and route.target.consumer(model) == function.id)
        functions.append(FunctionEntry(
            id=function.id, subdomain=function.subdomain.value, summary=function.summary,
            handler=function.handler, consumes=consumes, publishes=function.publishes,
            publishes_to=function.publishes_to.value if function.publishes_to else None,
            tables=function.tables, secrets=function.secrets,
            http_routes=tuple(route.key for api in model.http_apis if api.function == function.id
                              for route in api.routes),
            relay_for=function.relay_for,
            asks_relay_through=tuple(queue.name for queue in model.outbox_queues(function.id))))
    return Catalogue(events=tuple(events), functions=tuple(functions))


def catalogue_document(catalogue: Catalogue) -> dict[str, Any]:
    """The catalogue as JSON (`/api/catalogue`)."""
    return {
        "events": [{
            "type": entry.name, "summary": entry.summary, "version": entry.version,
            "dataschema": entry.dataschema, "source": entry.producer,
            "publishers": list(entry.publishers), "consumers": list(entry.consumers),
            "followedBy": list(entry.followed_by),
            "notifiedTo": list(entry.notified_to), "concludesAs": entry.concludes_as,
            "startsFrom": list(entry.starts_from), "schema": entry.schema,
            "example": entry.example,
            "routes": [{"bus": route.bus, "ruleId": route.rule_id, "rules": route.rules,
                        "target": {"kind": route.target_kind, "name": route.target},
                        "consumer": route.consumer, "versions": list(route.versions)}
                       for route in entry.routes],
        } for entry in catalogue.events],
        "functions": [{
            "id": entry.id, "subdomain": entry.subdomain, "summary": entry.summary,
            "handler": entry.handler, "publishes": list(entry.publishes),
            "publishesTo": entry.publishes_to, "tables": list(entry.tables),
            "secrets": list(entry.secrets), "httpRoutes": list(entry.http_routes),
            "relayFor": entry.relay_for,
            "consumes": [{"type": item.event, "bus": item.bus, "via": item.via,
                          "ruleId": item.rule_id, "then": list(item.then)} for item in entry.consumes],
        } for entry in catalogue.functions],
    }


def _channel_id(bus: str, event: str) -> str:
    return f"{bus}:{event}"


def asyncapi_document(catalogue: Catalogue, *, model: Choreography = CHOREOGRAPHY) -> dict[str, Any]:
    """The catalogue as an AsyncAPI 3.0 document: a channel per (bus, event type) that a route
    or a publisher uses, a message per event type (its payload the schema of the CloudEvent's
    `data`, its example a whole CloudEvent), and per function an operation for each event it
    sends and each it receives."""
    used = dict.fromkeys([*((route.bus, route.event) for entry in catalogue.events
                            for route in entry.routes),
                          *((function.publishes_to, event) for function in catalogue.functions
                            if function.publishes_to for event in function.publishes)])
    messages = {entry.name: {
        "name": entry.name, "title": entry.name, "summary": entry.summary,
        "contentType": "application/cloudevents+json",
        "payload": {"schemaFormat": SCHEMA_FORMAT,
                    "schema": entry.schema or {}},
        "examples": [{"name": "example", "payload": entry.example}],
        "x-choreo-dataschema": entry.dataschema, "x-choreo-source": entry.producer,
    } for entry in catalogue.events}
    channels = {_channel_id(bus, event): {
        "address": bus, "title": f"{event} on the {bus} bus",
        "description": f"EventBridge bus `{bus}`, detail-type `{event}`",
        "messages": {event: {"$ref": f"#/components/messages/{event}"}},
    } for bus, event in used}
    operations: dict[str, Any] = {}
    for function in catalogue.functions:
        for event in function.publishes:
            if function.publishes_to:
                operations[f"{function.id}.send.{event}"] = {
                    "action": "send", "summary": f"{function.id} publishes {event}",
                    "channel": {"$ref": f"#/channels/{_channel_id(function.publishes_to, event)}"}}
        for item in function.consumes:
            operations[f"{function.id}.receive.{item.event}.{item.bus}"] = {
                "action": "receive", "summary": f"{function.id} reads {item.event} ({item.via})",
                "channel": {"$ref": f"#/channels/{_channel_id(item.bus, item.event)}"},
                "x-choreo-rule": item.rule_id}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "choreo order fulfilment", "version": "1",
                 "description": "The events of the choreography, generated from its model."},
        "defaultContentType": "application/cloudevents+json",
        "servers": {bus.value: {"host": "events.amazonaws.com", "protocol": "eventbridge",
                                "description": f"the {bus.value} EventBridge bus"}
                    for bus in dict.fromkeys(route.bus for route in model.routes)},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }

