"""``$disconnect``: leave the room (the room comes from the authorizer's context)."""

from __future__ import annotations

from typing import Any

from rooms import caller, member_key, room_key, table


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _, room = caller(event)
    connection_id = event["requestContext"]["connectionId"]
    table.delete_item(Key={"pk": room_key(room), "sk": member_key(connection_id)})
    return {"statusCode": 200}
