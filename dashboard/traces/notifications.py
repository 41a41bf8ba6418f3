"""What the stack's notification receiver kept for an order, shown beside its trace."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dashboard import aws
from workflow.model import CHOREOGRAPHY
from workflow.outputs import NOTIFICATIONS_TABLE_NAME


def notification_list(*, order_id: str) -> list[dict[str, Any]] | None:
    """What the stack's own notification receiver kept for an order, oldest first; None where
    it cannot be asked (the stack sends its notifications to an endpoint outside it, or the
    table cannot be read)."""
    context = aws.current()
    outputs = context.outputs_or_none()
    table_name = outputs.values.get(NOTIFICATIONS_TABLE_NAME) if outputs else None
    if not table_name:
        return None
    key = CHOREOGRAPHY.notification_receiver.table.partition_key
    try:
        items = context.client("dynamodb").query(
            TableName=table_name, KeyConditionExpression="#key = :subject",
            ExpressionAttributeNames={"#key": key},
            ExpressionAttributeValues={":subject": {"S": order_id}})["Items"]
    except (BotoCoreError, ClientError):
        return None
    notifications = []
    for item in items:
        try:
            event = json.loads(item["event"]["S"])
        except (KeyError, ValueError):
            continue
        notifications.append({"receivedAt": item.get("receivedAt", {}).get("S", ""),
                              "contentType": item.get("contentType", {}).get("S", ""),
                              "event": event})
    return sorted(notifications, key=lambda notification: notification["receivedAt"])
