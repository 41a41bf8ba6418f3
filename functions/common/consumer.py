"""What every event consumer does with a delivered record, whatever delivered it.

1. Parse the double envelope and validate the CloudEvent against the catalogue, in the version
   it was published in, then read it in the model's version (`workflow.versions.read_as`). A
   record that can never succeed goes straight to the dead-letter queue with its reason: an
   invalid event, and one whose reading fails in a way nobody foresaw, since reading is pure
   work on what the record holds and would fail the same on every delivery (and, in a FIFO
   batch, fail every record after it each time).
2. Apply the subdomain's action once per CloudEvent `id` (Powertools idempotency on
   DynamoDB). The action itself is idempotent per order (see `workflow.ports`). The events it
   decides on are the outcome Powertools records with the `id`.
3. Publish the outcome: at once, or, inside `batch()`, every record's outcome in one
   `PutEvents` once the batch has been worked through. A delivery whose `id` was already
   applied publishes the recorded outcome again, with the same event ids: a crash between
   recording and publishing loses no event, and the consumers downstream, idempotent per id,
   apply it once. A failure anywhere raises, so the record (or the batch) is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import (
    DeadLetters,
    EventBridgePublisher,
    aws_client,
    env,
    event_bus_name,
    table_name_of,
)
from workflow.envelope import Event, InvalidEvent, parse_cloudevent, parse_eventbridge
from workflow.handler_env import IDEMPOTENCY_WINDOW_ENV
from workflow.model import CHOREOGRAPHY, IDEMPOTENCY_TABLE
from workflow.versions import read_as

Action = Callable[[Event], Event | Sequence[Event] | None]

logger = Logger()


def routed_actions(function_id: str, actions: Mapping[str, Action]) -> dict[str, Action]:
    """The action for each event type the model routes to a function, from its handler's
    actions by type: the model says what reaches a function, the handler what it does with
    each. A type routed there with no action, or an action for a type that never gets there,
    fails the handler's import, rather than the first such event or never."""
    routed = CHOREOGRAPHY.consumed_by(function_id)
    missing = [event_type for event_type in routed if event_type not in actions]
    stray = [event_type for event_type in actions if event_type not in routed]
    if missing or stray:
        raise LookupError(f"{function_id}: routed to it with no action: {missing}; "
                          f"with an action, but not routed to it: {stray}")
    return {event_type: actions[event_type] for event_type in routed}


class EventConsumer:
    def __init__(self, *, actions: Mapping[str, Action], publisher: EventBridgePublisher,
                 dead_letters: DeadLetters, idempotency_table: str,
                 idempotency_window_seconds: int) -> None:
        self.actions = dict(actions)
        self.publisher = publisher
        self._pending: list[Event] | None = None
        self.dead_letters = dead_letters
        self.config = IdempotencyConfig(event_key_jmespath="id",
                                        expires_after_seconds=idempotency_window_seconds)
        self._apply_once = idempotent_function(
            data_keyword_argument="cloudevent",
            persistence_store=DynamoDBPersistenceLayer(table_name=idempotency_table,
                                                       boto3_client=aws_client("dynamodb")),
            config=self.config,
        )(self._apply)

    @classmethod
    def from_environment(cls, actions: Mapping[str, Action]) -> EventConsumer:
        return cls(
            actions=actions,
            publisher=EventBridgePublisher(bus_name=event_bus_name()),
            dead_letters=DeadLetters.from_environment(),
            idempotency_table=table_name_of(IDEMPOTENCY_TABLE),
            idempotency_window_seconds=int(env(IDEMPOTENCY_WINDOW_ENV)),
        )

    def bind(self, context: LambdaContext) -> None:
        self.config.register_lambda_context(context)

    def consume(self, eventbridge_event: str | dict[str, Any], *, source: str) -> None:
        try:
            # read in the version this consumer reads, whichever was published
            event = read_as(parse_eventbridge(eventbridge_event))
            if event.type not in self.actions:
                raise InvalidEvent(f"{event.type} is not consumed here")
        except InvalidEvent as error:
            logger.error("dead-lettering an invalid event", reason=str(error), source=source)
            self._dead_letter(eventbridge_event, reason=str(error), source=source)
            return
        except Exception as error:
            reason = f"unreadable: {type(error).__name__}: {error}"
            logger.exception("dead-lettering an event that could not be read", reason=reason,
                             source=source)
            self._dead_letter(eventbridge_event, reason=reason, source=source)
            return
        logger.append_keys(correlation_id=event.correlation_id, event_id=event.id,
                           event_type=event.type, order_id=event.subject)
        try:
            outcome = self._apply_once(cloudevent=event.to_dict())
        finally:
            logger.remove_keys(["correlation_id", "event_id", "event_type", "order_id"])
        # an outcome recorded before outcomes were kept whole names its events only
        decided = [parse_cloudevent(published) for published in outcome.get("published", ())
                   if isinstance(published, dict)]
        if self._pending is None:
            self.publisher.publish(decided)
        else:
            self._pending += decided

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within it, what each record decides is published when the batch has been worked
        through, in as few `PutEvents` as there are tens of events: one call a batch instead
        of one a record. The outcomes of records that failed were never recorded, and are not
        published; if publishing fails, the batch fails, and its records are delivered again."""
        self._pending = []
        try:
            yield
            # a batch that holds one event twice (a duplicate delivery) publishes it once
            self.publisher.publish(list({event.id: event for event in self._pending}.values()))
        finally:
            self._pending = None

    def _dead_letter(self, eventbridge_event: str | dict[str, Any], *, reason: str,
                     source: str) -> None:
        body = eventbridge_event if isinstance(eventbridge_event, str) else \
            json.dumps(eventbridge_event, default=repr)
        self.dead_letters.send(body, reason=reason, source=source)

    def _apply(self, cloudevent: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        event = parse_cloudevent(cloudevent)
        outcome = self.actions[event.type](event)
        if outcome is None:
            decided: Sequence[Event] = ()
        elif isinstance(outcome, Event):
            decided = (outcome,)
        else:
            decided = outcome
        logger.info("applied", published=[f"{e.type} {e.id}" for e in decided])
        return {"published": [e.to_dict() for e in decided]}

