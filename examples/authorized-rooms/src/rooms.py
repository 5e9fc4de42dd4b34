"""What the room functions share: the table, its keys, and the caller the authorizer named."""

from __future__ import annotations

import os
from typing import Any

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def caller(event: dict[str, Any]) -> tuple[str, str]:
    """(user, room), from the authorizer's context, present on every event of the connection."""
    authorizer = event["requestContext"]["authorizer"]
    return str(authorizer["user"]), str(authorizer["room"])


def room_key(room: str) -> str:
    return f"ROOM#{room}"


def member_key(connection_id: str) -> str:
    return f"CONN#{connection_id}"
