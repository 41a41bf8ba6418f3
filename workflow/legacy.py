"""A consumer that reads `order.placed` version 1 only, kept working through the producer's
switch to version 2, as an outside team's legacy consumer would be (docs/versioning.md).

The sales ledger keeps each day's sales per currency in minor units; its handler reads
`data.order.total.amount` as an integer and never goes through the converter
(`workflow.versions.read_as`), so version 2's decimal text would break it. Two routes of
`order.placed` feed it, each pinned to a version (`Route.versions`, a rule that also matches
the CloudEvent's `dataschema`):

- version 1 goes straight to the ledger's queue;
- version 2 goes to a translator, which renders the event as version 1 (the converter's own
  down-conversion) and sends it to the ledger's queue itself, in the shape the pinned rule
  would have delivered: the same EventBridge event, its `detail` the version 1 CloudEvent with
  the same id, so the ledger's once-per-order record holds whichever way an order came.

Off unless the deployment asks for it (`workflow.deployment.LEGACY_CONSUMER`):
`with_legacy_consumer` is the model with them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from workflow.catalogue import dataschema_of, validate_data, version_of
from workflow.envelope import Event, InvalidEvent
from workflow.model import (
    CHOREOGRAPHY,
    Bus,
    Choreography,
    Function,
    Queue,
    Route,
    Subdomain,
    Table,
    ToFunction,
    ToQueue,
)
from workflow.versions import READ_CONVERTERS

LEGACY_EVENT = "order.placed"
LEGACY_VERSION = 1
SALES_LEDGER = "SalesLedger"
SALES_LEDGER_QUEUE = "SalesLedger"
SALES_LEDGER_TABLE = "SalesLedger"
TRANSLATOR = "OrderPlacedV1Translator"


def legacy_parts(model: Choreography = CHOREOGRAPHY) -> Choreography:
    """The ledger, its translator, their queue, table and pinned routes: the versions of
    `order.placed` the model publishes other than 1 are the translator's."""
    others = tuple(version for (event_type, version, to) in READ_CONVERTERS
                   if event_type == LEGACY_EVENT and to == LEGACY_VERSION)
    return dataclasses.replace(
        model,
        functions=(
            Function(SALES_LEDGER, Subdomain.ORDER, "functions.sales.ledger.lambda_handler",
                     "Keeps each day's sales per currency, reading order.placed version 1 only.",
                     tables=(SALES_LEDGER_TABLE,)),
            Function(TRANSLATOR, Subdomain.ORDER, "functions.sales.translator.lambda_handler",
                     "Delivers each order.placed of a later version to the sales ledger as "
                     "version 1.", delivers_to=(SALES_LEDGER_QUEUE,)),
        ),
        queues=(Queue(SALES_LEDGER_QUEUE, Subdomain.ORDER, consumer=SALES_LEDGER),),
        routes=(
            Route(LEGACY_EVENT, Bus.GLOBAL, ToQueue(SALES_LEDGER_QUEUE),
                  versions=(LEGACY_VERSION,)),
            Route(LEGACY_EVENT, Bus.GLOBAL, ToFunction(TRANSLATOR), versions=others),
        ),
        tables=(Table(SALES_LEDGER_TABLE, Subdomain.ORDER,
                      "Sales per day and currency in minor units, and each order counted."),),
    )


def with_legacy_consumer(model: Choreography = CHOREOGRAPHY) -> Choreography:
    """`model` with the v1-only sales ledger and its translator."""
    parts = legacy_parts(model)
    return dataclasses.replace(
        model, functions=(*model.functions, *parts.functions),
        queues=(*model.queues, *parts.queues), routes=(*model.routes, *parts.routes),
        tables=(*model.tables, *parts.tables))


def as_version_one(event: Event) -> Event:
    """A later version of `order.placed` as version 1, the converter's down-conversion, the
    result validated against version 1's schema; same id, subject, time and partition."""
    version = version_of(event.dataschema, event.type)
    if event.type != LEGACY_EVENT or version is None:
        raise InvalidEvent(f"{event.type} ({event.dataschema}) is not the ledger's to translate")
    if version == LEGACY_VERSION:
        return event
    converter = READ_CONVERTERS.get((event.type, version, LEGACY_VERSION))
    if converter is None:
        raise InvalidEvent(f"no reading of {event.type} version {version} as version 1")
    try:
        data = converter(event.data)
        validate_data(event.type, data, LEGACY_VERSION)
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidEvent(f"{event.type} version {version} not readable: {error}") from None
    return dataclasses.replace(event, data=data,
                               dataschema=dataschema_of(event.type, LEGACY_VERSION))


def delivered_as(eventbridge_event: dict[str, Any], event: Event) -> dict[str, Any]:
    """The EventBridge event a rule would deliver, with `event` as its `detail`."""
    return {**eventbridge_event, "detail": event.to_dict()}
