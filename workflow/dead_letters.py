"""What sits in a dead-letter queue, read the same way whatever put it there.

Four kinds of message end up dead-lettered, each saying why in its own way:
- a consumer refused an event that can never succeed (not a CloudEvent, fails its schema):
  the consumer sent it with a `reason` message attribute;
- a queue's redrive policy moved a message its consumer kept failing: the receive count
  says how often it was tried, the function's logs say why;
- an EventBridge rule could not deliver to its target: `ERROR_CODE` / `ERROR_MESSAGE`
  attributes, and the rule that tried (`NO_PERMISSIONS`: the receiving bus's policy refused
  the sending account, read as refused);
- Lambda gave up on an asynchronous invocation: an invocation record whose
  `responsePayload` holds the error and whose `requestPayload` holds the event.

Redriving is the same in spirit for all: hand the original event back to where it failed,
and let idempotency absorb whatever had already been applied.

How often a message was tried: SQS's receive count keeps growing in the dead-letter queue,
because a look at a queue is a receive too. Where the number is known otherwise — the
redrive policy moved the message after exactly `maxReceiveCount` receives; EventBridge says
`RETRY_ATTEMPTS`; Lambda counts its invocations — that number is used, so it does not grow
each time someone looks. An undelivered event without `RETRY_ATTEMPTS` says nothing of its
tries (its receive count only counts looks), so its attempts are unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["refused", "exhausted", "undeliverable", "async-failure"]

NO_PERMISSIONS = "NO_PERMISSIONS"
"""EventBridge's `ERROR_CODE` for an event the target bus's resource policy refused."""
REFUSED_BY_POLICY = "refused by the bus policy"


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    kind: Kind
    reason: str
    attempts: int | None  # deliveries tried; None where nothing says (see above)
    dead_lettered_at: datetime | None
    body: str
    eventbridge_event: dict[str, Any] | None  # the event to hand back, if there is one
    rule_arn: str | None = None

    @property
    def cloudevent(self) -> dict[str, Any] | None:
        detail = (self.eventbridge_event or {}).get("detail")
        return detail if isinstance(detail, dict) else None

    @property
    def event_type(self) -> str | None:
        event = self.cloudevent
        return str(event.get("type")) if event and event.get("type") else None

    @property
    def order_id(self) -> str | None:
        event = self.cloudevent
        return str(event.get("subject")) if event and event.get("subject") else None

    def age_seconds(self, now: datetime | None = None) -> float | None:
        if self.dead_lettered_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.dead_lettered_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {"messageId": self.message_id, "kind": self.kind, "reason": self.reason,
                "attempts": self.attempts, "eventType": self.event_type,
                "orderId": self.order_id, "ageSeconds": self.age_seconds(),
                "deadLetteredAt": self.dead_lettered_at.isoformat()
                if self.dead_lettered_at else None, "body": self.body}


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return str(value["StringValue"]) if value and "StringValue" in value else None


def _json(text: str) -> Any:
    """The JSON a body holds; None if it holds none, or nests past what the parser recurses
    through (a refused event is dead-lettered as it came, whatever it holds)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _count(value: Any) -> int | None:
    """A count as AWS writes it, a number or ASCII digits; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def _timestamp(message: dict[str, Any]) -> datetime | None:
    sent = _count(message.get("Attributes", {}).get("SentTimestamp"))
    return datetime.fromtimestamp(sent / 1000, UTC) if sent else None


def read_dead_letter(message: dict[str, Any], *, max_receive_count: int | None = None) -> DeadLetter:
    """One message received (with all attributes) from a dead-letter queue; pass the source
    queue's `max_receive_count` where a redrive policy feeds the dead-letter queue."""
    body = message.get("Body", "")
    parsed = _json(body)
    attempts = _count(message.get("Attributes", {}).get("ApproximateReceiveCount")) or 0
    common = {"message_id": message["MessageId"], "body": body,
              "dead_lettered_at": _timestamp(message)}
    eventbridge_event = parsed if isinstance(parsed, dict) and "detail-type" in parsed else None

    if isinstance(parsed, dict) and "requestContext" in parsed and "requestPayload" in parsed:
        error = parsed.get("responsePayload")
        error = error if isinstance(error, dict) else {}
        context = parsed["requestContext"]
        invocations = _count(context.get("approximateInvokeCount")) \
            if isinstance(context, dict) else None
        payload = parsed.get("requestPayload")
        return DeadLetter(
            kind="async-failure", reason=f"{error.get('errorType', 'Error')}: "
            f"{error.get('errorMessage', 'the function failed')}",
            attempts=attempts if invocations is None else invocations,
            eventbridge_event=payload if isinstance(payload, dict) else None, **common)
    refused = _attribute(message, "reason")
    if refused is not None:
        return DeadLetter(kind="refused", reason=refused, attempts=1,
                          eventbridge_event=eventbridge_event, **common)
    error_code = _attribute(message, "ERROR_CODE")
    if error_code == NO_PERMISSIONS:
        # The receiving bus's resource policy does not let the sending account in: nothing
        # is retried, and nothing will get through until the policy allows it.
        target = _attribute(message, "TARGET_ARN") or "its target"
        return DeadLetter(kind="refused",
                          reason=f"{REFUSED_BY_POLICY} of {target}: "
                                 f"{_attribute(message, 'ERROR_MESSAGE') or error_code}",
                          attempts=1, eventbridge_event=eventbridge_event,
                          rule_arn=_attribute(message, "RULE_ARN"), **common)
    if error_code is not None:
        retries = _count(_attribute(message, "RETRY_ATTEMPTS"))
        return DeadLetter(kind="undeliverable",
                          reason=f"{error_code}: {_attribute(message, 'ERROR_MESSAGE') or ''}".strip(),
                          attempts=retries + 1 if retries is not None else None,
                          eventbridge_event=eventbridge_event,
                          rule_arn=_attribute(message, "RULE_ARN"), **common)
    return DeadLetter(kind="exhausted",
                      reason="its consumer failed on every delivery; see the function's logs",
                      attempts=max_receive_count or attempts, eventbridge_event=eventbridge_event,
                      **common)
