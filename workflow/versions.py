"""Event versions in flight: what a consumer reads when a producer has moved on.

A producer may publish any published version of its event (its environment's
`workflow.handler_env.EVENT_VERSIONS_ENV`, read by `emitted_versions`); consumers read the
version the model names (`EventType.version`), and an event of another version is converted
into it, here and only here, where a consumer parses what it was delivered (`read_as`).
Consumers read the model's version rather than the newest because every later event carries
the order forward in that version's shape: a consumer that read `order.placed` version 2 would
have to write version 1 back into each event it publishes, one conversion per consumer instead
of this one. The model's version moves once every producer publishes the newer one; the
converter turns round with it. See docs/versioning.md.

`breaking_changes` tells, structurally, whether one version of a schema can be read as the one
before it: the compatibility test holds each version's declaration (`COMPATIBILITY`) to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from workflow.catalogue import JsonSchema, dataschema_of, validate_data, version_of
from workflow.envelope import Event, InvalidEvent
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.money import Money, decimal_text, from_decimal_text

Data = dict[str, Any]
Converter = Callable[[Data], Data]


def _order_money_to_minor_units(data: Data) -> Data:
    """`order.placed` version 2 read as version 1: each decimal amount in minor units."""
    def minor(money: dict[str, str]) -> dict[str, Any]:
        return from_decimal_text(money["value"], money["currency"]).to_dict()
    order = data["order"]
    return {**data, "order": {
        **order, "total": minor(order["total"]),
        "lines": [{**line, "unitPrice": minor(line["unitPrice"])} for line in order["lines"]]}}


def _order_money_to_decimal(data: Data) -> Data:
    """`order.placed` version 1 written as version 2: what a producer on version 2 publishes."""
    def decimal(money: dict[str, Any]) -> dict[str, str]:
        return {"value": decimal_text(Money.from_dict(money)), "currency": money["currency"]}
    order = data["order"]
    return {**data, "order": {
        **order, "total": decimal(order["total"]),
        "lines": [{**line, "unitPrice": decimal(line["unitPrice"])} for line in order["lines"]]}}


# The one converter consumers read through, per (type, from version, to version), and the
# producer's writer of each newer version from the shape the domain builds (the model's).
READ_CONVERTERS: dict[tuple[str, int, int], Converter] = {
    ("order.placed", 2, 1): _order_money_to_minor_units,
}
WRITERS: dict[tuple[str, int, int], Converter] = {
    ("order.placed", 1, 2): _order_money_to_decimal,
}


def event_version(event: Event) -> int:
    """The version an event was published in, as its `dataschema` names it."""
    version = version_of(event.dataschema, event.type)
    if version is None:
        raise InvalidEvent(f"unsupported dataschema {event.dataschema!r}")
    return version


def read_as(event: Event, *, model: Choreography = CHOREOGRAPHY,
            converters: Mapping[tuple[str, int, int], Converter] = READ_CONVERTERS) -> Event:
    """The event as consumers read it: in the model's version of its type. An event of another
    published version is converted (and its result validated); one no converter reads is
    refused, as an event that can never succeed."""
    wanted = model.event(event.type).version
    version = event_version(event)
    if version == wanted:
        return event
    converter = converters.get((event.type, version, wanted))
    if converter is None:
        raise InvalidEvent(f"{event.type} version {version} cannot be read as version {wanted}")
    try:
        data = converter(event.data)
        validate_data(event.type, data, wanted)
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidEvent(f"{event.type} version {version} not readable: {error}") from None
    return dataclasses.replace(event, data=data, dataschema=dataschema_of(event.type, wanted))


def written_as(event: Event, version: int, *, model: Choreography = CHOREOGRAPHY) -> Event:
    """An event the domain built (in the model's version) as the producer publishes it."""
    current = model.event(event.type).version
    if version == current:
        return event
    writer = WRITERS.get((event.type, current, version))
    if writer is None:
        raise ValueError(f"{event.type} cannot be published as version {version}")
    data = writer(event.data)
    validate_data(event.type, data, version)
    return dataclasses.replace(event, data=data, dataschema=dataschema_of(event.type, version))


def emitted_versions(setting: str | None, *, model: Choreography = CHOREOGRAPHY) -> dict[str, int]:
    """The versions a producer's setting names (`workflow.handler_env.EVENT_VERSIONS_ENV`);
    refuses a version that was never published, or that it could not write."""
    from workflow.catalogue import SCHEMA_VERSIONS
    versions: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in (setting or "").split(","))):
        event_type, _, version = item.partition("=")
        event_type, version = event_type.strip(), version.strip()
        model.event(event_type)  # KeyError for a type the model does not have
        # str.isdigit() alone takes "²" (which int() refuses) and Arabic-Indic digits
        if not (version.isascii() and version.isdigit()) \
                or int(version) not in SCHEMA_VERSIONS[event_type]:
            raise ValueError(f"{event_type} has no published version {version!r}")
        versions[event_type] = int(version)
    return versions


def _types(schema: JsonSchema) -> set[str]:
    kind = schema.get("type")
    if kind is None:
        return set()
    return {kind} if isinstance(kind, str) else set(kind)


def breaking_changes(old: JsonSchema, new: JsonSchema, path: str = "") -> list[str]:
    """What makes data valid against `new` unreadable as `old` (a consumer of `old` reading the
    new version), structurally: a field `old` requires that `new` no longer does (removed or
    renamed), a field whose type changed, a field `new` adds where `old` refuses others, an enum
    or constant that `new` widens. Empty when `new` is backward compatible."""
    problems: list[str] = []
    where = path or "data"
    old_types, new_types = _types(old), _types(new)
    if old_types and (not new_types or (not new_types <= old_types
                      and not (new_types == {"integer"} and "number" in old_types))):
        problems.append(f"{where}: type {sorted(old_types)} became {sorted(new_types) or 'any'}")
        return problems
    if "enum" in old and not set(map(str, new.get("enum", ()))) <= set(map(str, old["enum"])):
        problems.append(f"{where}: enum widened")
    for keyword in ("pattern", "format", "const"):
        if keyword in old and new.get(keyword) != old[keyword]:
            problems.append(f"{where}: {keyword} changed")
    old_properties = old.get("properties", {})
    new_properties = new.get("properties", {})
    for name in old.get("required", []):
        if name not in new.get("required", []):
            problems.append(f"{where}.{name}: required, and no longer required or gone")
    if old.get("additionalProperties") is False:
        for name in new_properties:
            if name not in old_properties:
                problems.append(f"{where}.{name}: new, where no other field was allowed")
    for name, old_property in old_properties.items():
        if name in new_properties:
            problems.extend(breaking_changes(old_property, new_properties[name], f"{where}.{name}"))
    if "items" in old and "items" in new:
        problems.extend(breaking_changes(old["items"], new["items"], f"{where}[]"))
    return problems


def schema_fields(schema: JsonSchema, path: str = "data") -> dict[str, str]:
    """Every field a schema describes, by path, with its type (and `required` when it is):
    what the catalogue lists side by side to show what changed between versions."""
    fields: dict[str, str] = {}
    required = set(schema.get("required", []))
    for name, child in schema.get("properties", {}).items():
        child_path = f"{path}.{name}"
        kind = child.get("type", "enum" if "enum" in child else "any")
        fields[child_path] = f"{kind}{', required' if name in required else ''}"
        fields.update(schema_fields(child, child_path))
    if isinstance(schema.get("items"), dict):
        fields.update(schema_fields(schema["items"], f"{path}[]"))
    return fields


def schema_differences(old: JsonSchema, new: JsonSchema) -> dict[str, list[str]]:
    """The fields one version has and the other has not, or has with another type."""
    before, after = schema_fields(old), schema_fields(new)
    return {
        "removed": [f"{path}: {before[path]}" for path in before if path not in after],
        "added": [f"{path}: {after[path]}" for path in after if path not in before],
        "changed": [f"{path}: {before[path]} → {after[path]}" for path in before
                    if path in after and before[path] != after[path]],
    }
