"""What the embedded AWS refused as AWS would (local mode only): a function's call its role's
policies do not allow, a delivery its target's resource policy does not allow, an event for
a third bus — each with the statement that refused it, or the note that none allowed it
(docs/local-mode.md, the fidelity ledger). A refused delivery is also a dead letter; a
refused call shows here and in the function's log only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from dashboard import aws
from dashboard.orders.order_api import OrderApi, OrderApiError
from workflow.outputs import ORDER_API_URL


@dataclass(frozen=True)
class Refusal:
    kind: str  # "call", "delivery" or "mapping"
    by: str  # the principal that called, or the rule that delivered
    what: str  # the action, or the target
    reason: str
    code: str  # EventBridge's ERROR_CODE for a delivery, else ""
    correlation_id: str
    at: datetime | None
    dead_lettered: bool


@dataclass(frozen=True)
class Refusals:
    count: int
    dropped: int
    latest: list[Refusal]  # newest first


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _refusal(record: dict[str, Any]) -> Refusal:
    at = record.get("at")
    delivery = record.get("kind") == "delivery"
    return Refusal(
        kind=_text(record, "kind"), by=_text(record, "rule" if delivery else "principal"),
        what=_text(record, "target" if delivery else "action"), reason=_text(record, "reason"),
        code=_text(record, "code"), correlation_id=_text(record, "correlationid"),
        at=datetime.fromtimestamp(at, UTC) if isinstance(at, int | float) else None,
        dead_lettered=record.get("deadLettered") is True)


def refusal_list(*, correlation_id: str | None = None) -> Refusals | None:
    """The latest refusals (of one order, with `correlation_id`); None where there is no
    embedded AWS to ask: the production profile, or a stack on AWS itself."""
    if settings.PRODUCTION:
        return None
    outputs = aws.current().outputs_or_none()
    if outputs is None or ORDER_API_URL not in outputs.values:
        return None
    try:
        stats = OrderApi(outputs.order_api_url).runtime_stats()
    except OrderApiError:
        return None
    refused = stats.get("refusedDeliveries")
    if not isinstance(refused, dict):
        return None
    records = [record for record in refused.get("latest") or [] if isinstance(record, dict)]
    latest = [_refusal(record) for record in reversed(records)]
    count, dropped = refused.get("count"), refused.get("dropped")
    if correlation_id is not None:  # of one order: what the latest hold of it
        latest = [refusal for refusal in latest if refusal.correlation_id == correlation_id]
        return Refusals(count=len(latest), dropped=0, latest=latest)
    return Refusals(count=count if isinstance(count, int) else len(latest),
                    dropped=dropped if isinstance(dropped, int) else 0, latest=latest)
