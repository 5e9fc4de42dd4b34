"""``$connect``: the authorizer let the connection in; add it to its room."""

from __future__ import annotations

from typing import Any

from rooms import caller, member_key, room_key, table


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user, room = caller(event)
    request = event["requestContext"]
    table.put_item(
        Item={
            "pk": room_key(room),
            "sk": member_key(request["connectionId"]),
            "user": user,
            "connectedAt": request["connectedAt"],
        }
    )
    return {"statusCode": 200}
