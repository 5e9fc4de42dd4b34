"""``send``: store the message; the table's stream hands it to the broadcast function.

The route has a route response, so what this returns is the sender's acknowledgement.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rooms import caller, room_key, table

RETENTION_S = 24 * 3600


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user, room = caller(event)
    try:
        text = str(json.loads(event.get("body") or "{}").get("text", ""))
    except ValueError:
        return {"statusCode": 400, "body": json.dumps({"error": "the frame is not JSON"})}
    if not text:
        return {"statusCode": 400, "body": json.dumps({"error": "text is required"})}
    now_ms = event["requestContext"]["requestTimeEpoch"]
    message_id = event["requestContext"]["messageId"]
    table.put_item(
        Item={
            "pk": room_key(room),
            "sk": f"MSG#{now_ms:013d}#{message_id}",
            "user": user,
            "text": text,
            "expiresAt": int(time.time()) + RETENTION_S,
        }
    )
    return {"statusCode": 200, "body": json.dumps({"sent": message_id, "room": room})}
