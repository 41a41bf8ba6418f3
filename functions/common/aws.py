"""boto3 adapters of the domain's ports, shared by the handlers.

Clients are created once per execution environment (at import), as Lambda recommends.
`AWS_ENDPOINT_URL` (read by boto3 itself) points them at the embedded AWS in local mode.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from workflow.domain.payment import CardVault
from workflow.envelope import Event, parse_cloudevent, put_events_entry
from workflow.handler_env import (
    DEAD_LETTER_QUEUE_URL_ENV,
    EVENT_BUS_NAME_ENV,
    LAMBDA_FUNCTION_NAME_ENV,
    queue_env_var,
    secret_env_var,
    table_env_var,
)
from workflow.model import CARD_TOKEN_KEY, FIFO_SUFFIX

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# BatchGetItem reads at most 100 keys a call, and may leave some for the caller to ask for
# again (throttling): asked again with a growing pause, this many times in all.
BATCH_GET_KEYS = 100
BATCH_GET_ATTEMPTS = 5


@cache
def aws_client(service: str) -> Any:
    """One client per service per execution environment: each costs ~100 ms to create, paid
    at a cold start, so the handlers and Powertools share them."""
    factory: Any = boto3.client
    return factory(service)


def env(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise RuntimeError(f"environment variable {name} is not set") from None


# What the stack put in the environment, by the model's names (workflow.handler_env): a handler
# asks for a table or a queue of the model, never for a variable it spells itself.


def table_name_of(table_id: str) -> str:
    """The name of one of the function's tables."""
    return env(table_env_var(table_id))


def queue_url_of(queue_id: str) -> str:
    """The URL of a queue the function sends to."""
    return env(queue_env_var(queue_id))


def event_bus_name() -> str:
    """The name of the bus the function publishes to."""
    return env(EVENT_BUS_NAME_ENV)


# How long a secret read from Secrets Manager is trusted before it is read again (a rotated
# value is picked up within this, without a redeploy).
SECRET_MAX_AGE_SECONDS = 300


def secret(secret_id: str) -> str:
    """A secret of the model, by the ARN the stack put in the environment; cached per
    execution environment."""
    value: str = parameters.get_secret(env(secret_env_var(secret_id)),
                                       max_age=SECRET_MAX_AGE_SECONDS)
    return value


def card_vault() -> CardVault:
    return CardVault(secret(CARD_TOKEN_KEY).encode())


def item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def unitem(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in values.items()}


class PublishFailed(RuntimeError):
    pass


class TransactionConflict(RuntimeError):
    """DynamoDB cancelled a transaction because another request was writing one of its items
    at the same moment: nothing was written, and trying again is the cure."""


class EventBridgePublisher:
    def __init__(self, *, bus_name: str, client: Any | None = None) -> None:
        self.bus_name = bus_name
        self.client: Any = client or aws_client("events")

    def publish(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), 10):
            batch = events[start:start + 10]
            response = self.client.put_events(
                Entries=[put_events_entry(event, bus_name=self.bus_name) for event in batch])
            if response.get("FailedEntryCount"):
                failures = [entry for entry in response["Entries"] if entry.get("ErrorCode")]
                raise PublishFailed(f"put_events failed for {len(failures)} entries: {failures[:1]}")


class DeadLetters:
    """Sends a message that can never succeed straight to the dead-letter queue, with its
    reason, instead of burning the retry budget on it."""

    def __init__(self, *, queue_url: str, function_name: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self.function_name = function_name
        self._client = client

    @classmethod
    def from_environment(cls) -> DeadLetters:
        """The function's own dead-letter queue, each message signed with its name."""
        return cls(queue_url=env(DEAD_LETTER_QUEUE_URL_ENV),
                   function_name=env(LAMBDA_FUNCTION_NAME_ENV))

    @property
    def client(self) -> Any:
        # only a message that can never succeed needs SQS: no client at a cold start for it
        if self._client is None:
            self._client = aws_client("sqs")
        return self._client

    def send(self, body: str, *, reason: str, source: str) -> None:
        attributes = {
            "reason": {"DataType": "String", "StringValue": reason[:1000]},
            "function": {"DataType": "String", "StringValue": self.function_name},
            "source": {"DataType": "String", "StringValue": source},
        }
        kwargs: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": body or "(empty)",
                                  "MessageAttributes": attributes}
        if self.queue_url.endswith(FIFO_SUFFIX):
            kwargs["MessageGroupId"] = "dead-letters"
            # the same refusal sent twice (a redelivered record) is kept once
            kwargs["MessageDeduplicationId"] = hashlib.sha256(
                f"{reason}\n{body}".encode()).hexdigest()
        self.client.send_message(**kwargs)


class EffectRecords:
    """One DynamoDB table as a ledger of effects: an effect is written in one transaction with
    the event it caused, and asking again returns that recorded event."""

    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self.client: Any = client or aws_client("dynamodb")

    def get(self, key: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.table_name, Key=item({"pk": key}),
                                        ConsistentRead=True)
        return unitem(response["Item"]) if "Item" in response else None

    def get_many(self, keys: Iterable[str], attributes: Sequence[str] = ()
                 ) -> dict[str, dict[str, Any]]:
        """The records of `keys` that exist, by key, read consistently in as few calls as
        DynamoDB allows (BatchGetItem, 100 keys each); only `attributes`, if named. Keys
        DynamoDB leaves unprocessed (throttling) are asked for again."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            request: dict[str, Any] = {
                "Keys": [item({"pk": key}) for key in wanted[start:start + BATCH_GET_KEYS]],
                "ConsistentRead": True}
            if attributes:
                names = {f"#a{index}": name for index, name in enumerate(("pk", *attributes))}
                request["ProjectionExpression"] = ", ".join(names)
                request["ExpressionAttributeNames"] = names
            for attempt in range(BATCH_GET_ATTEMPTS):
                if attempt:
                    time.sleep(0.05 * 2 ** attempt)
                response = self.client.batch_get_item(RequestItems={self.table_name: request})
                for record in response.get("Responses", {}).get(self.table_name, []):
                    values = unitem(record)
                    found[values["pk"]] = values
                unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name)
                if not unprocessed:
                    break
                request = unprocessed
            else:
                raise RuntimeError(f"{self.table_name}: keys left unprocessed after "
                                   f"{BATCH_GET_ATTEMPTS} batch reads")
        return found

    def recorded_event(self, key: str, attribute: str = "event") -> Event | None:
        record = self.get(key)
        if record is None or attribute not in record:
            return None
        return parse_cloudevent(record[attribute])

    def put_new(self, key: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """A transaction item that creates `key`, failing if it exists."""
        return {"Put": {"TableName": self.table_name, "Item": item({"pk": key, **values}),
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    def update(self, key: str, expression: str, values: Mapping[str, Any],
               condition: str | None = None, names: Mapping[str, str] | None = None,
               ) -> dict[str, Any]:
        update: dict[str, Any] = {"TableName": self.table_name, "Key": item({"pk": key}),
                                  "UpdateExpression": expression,
                                  "ExpressionAttributeValues": item(values)}
        if condition:
            update["ConditionExpression"] = condition
        if names:
            update["ExpressionAttributeNames"] = dict(names)
        return {"Update": update}

    def transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Apply all items or none. Returns None on success, else the cancellation codes.

        A single item is written as a plain conditional write: the same guarantee, half the
        write capacity of a transaction on AWS, and on the embedded AWS no copy of the
        whole table (moto backs every transaction item up that way)."""
        if len(items) == 1:
            [(operation, request)] = items[0].items()
            write = {"Put": self.client.put_item, "Update": self.client.update_item}[operation]
            try:
                write(**request)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                return ["ConditionalCheckFailed"]
            return None
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            return [reason.get("Code", "None") for reason in reasons] or ["Unknown"]
        return None

    def once(self, key: str, event: Event, effects: list[dict[str, Any]],
             on_conflict: Callable[[list[str]], Event] | None = None,
             values: Mapping[str, Any] | None = None) -> Event:
        """Apply `effects` together with a record of `event` under `key`, once. The write
        comes first: a repeat is rare, and its cancelled transaction tells us to read."""
        codes = self.transact([self.put_new(key, {"event": event.to_json(), **(values or {})}),
                               *effects])
        if codes is None:
            return event
        if "TransactionConflict" in codes:
            raise TransactionConflict(f"transaction for {key} conflicted with another write")
        recorded = self.recorded_event(key)
        if recorded is not None:  # a concurrent delivery won the race: it stands
            return recorded
        if on_conflict is None:
            raise RuntimeError(f"transaction for {key} cancelled: {codes}")
        return on_conflict(codes)

