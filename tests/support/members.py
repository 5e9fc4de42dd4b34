"""Members of a room as the end-to-end tests of the MQTT edge meet them: a registered WebSocket
client, and the presence frame that names a user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hubbub.client import HubbubClient

__all__ = ["presence_event", "registered"]


async def registered(
    connect: Callable[[], Awaitable[HubbubClient]], nickname: str
) -> tuple[HubbubClient, str, str]:
    """A new connection registered as a guest named ``nickname``: (client, token, user id)."""
    client = await connect()
    welcome = await client.register(nickname)
    return client, str(welcome["token"]), str(welcome["user"]["id"])


def presence_event(kind: str, topic: str, user_id: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a frame is ``kind`` (``joined``, ``left``) on ``topic`` about ``user_id``."""

    def wanted(frame: dict[str, Any]) -> bool:
        return (
            frame.get("type") == kind
            and frame.get("topic") == topic
            and frame.get("user", {}).get("id") == user_id
        )

    return wanted
