"""The notification receiver, behind a Lambda function URL (payload format 2.0).

EventBridge's API destination posts each notification here as a structured CloudEvent
(`application/cloudevents+json`), signed with the connection's API key. The receiver
answers as an outside endpoint should:

- a missing or wrong API key → 401, compared in constant time with the key in Secrets Manager
  (read once per execution environment and cached for five minutes, so a rotated key is
  picked up without a redeploy);
- anything but POST → 405; a body that is not a valid CloudEvent of the choreography → 400;
- otherwise the notification is kept, by order (the CloudEvent `subject`) and event id, and
  answered 202. The API destination delivers at least once: a second delivery of the same
  event keeps the first one's arrival time and is answered 202 again.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.common.aws import aws_client, item, secret, table_name_of
from workflow.envelope import InvalidEvent, parse_cloudevent
from workflow.model import CHOREOGRAPHY, NOTIFICATION_API_KEY

API_KEY_HEADER = "x-api-key"
# Kept this long, then DynamoDB's TTL removes it: enough to look back on a fortnight.
KEEP_SECONDS = 14 * 24 * 3600
MAX_BODY_BYTES = 256 * 1024  # EventBridge's own event size limit

TABLE = CHOREOGRAPHY.notification_receiver.table
logger = Logger()


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    content_type = "application/json" if status < 400 else "application/problem+json"
    return {"statusCode": status, "headers": {"content-type": content_type},
            "body": json.dumps(body)}


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return _answer(status, {"type": "about:blank", "title": title, "status": status,
                            "detail": detail})


def _authorized(headers: dict[str, str]) -> bool:
    given = next((value for name, value in headers.items() if name.lower() == API_KEY_HEADER),
                 None)
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), secret(NOTIFICATION_API_KEY).encode())


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def notification_keep(cloudevent: dict[str, Any], *, content_type: str,
                      now: float | None = None) -> bool:
    """Keep one notification; False if this event was kept before (a redelivery)."""
    now = time.time() if now is None else now
    record = {TABLE.partition_key: cloudevent["subject"], str(TABLE.sort_key): cloudevent["id"],
              "receivedAt": datetime.fromtimestamp(now, UTC).isoformat(),
              "contentType": content_type, "event": json.dumps(cloudevent),
              str(TABLE.ttl_attribute): int(now) + KEEP_SECONDS}
    try:
        aws_client("dynamodb").put_item(
            TableName=table_name_of(TABLE.id), Item=item(record),
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": TABLE.partition_key})
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers") or {}
    if not _authorized(headers):
        return _problem(401, "Unauthorized", f"missing or wrong {API_KEY_HEADER}")
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    if method != "POST":
        return _problem(405, "Method Not Allowed", "notifications are POSTed")
    try:
        body = _body(event)
    except ValueError:
        return _problem(400, "Malformed notification", "the body is not valid base64")
    if len(body) > MAX_BODY_BYTES:
        return _problem(413, "Notification too large", f"at most {MAX_BODY_BYTES} bytes")
    try:
        cloudevent = parse_cloudevent(body)
    except InvalidEvent as error:
        return _problem(400, "Malformed notification", str(error))
    fresh = notification_keep(cloudevent.to_dict(),
                              content_type=headers.get("content-type", ""))
    logger.info("notification received" if fresh else "notification received again",
                event_id=cloudevent.id, event_type=cloudevent.type, order_id=cloudevent.subject)
    return _answer(202, {"status": "accepted", "id": cloudevent.id})
