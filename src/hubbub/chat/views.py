"""How stored records look on the wire (server events built from domain records)."""

from __future__ import annotations

from typing import Any

from hubbub.store.port import Message

__all__ = ["message_event", "message_view"]


def message_view(message: Message) -> dict[str, Any]:
    return {
        "topic": message.topic,
        "id": message.id,
        "seq": message.seq,
        "ts": message.ts,
        "from": message.sender,
        "nickname": message.nickname,
        "role": message.role.value,
        "text": message.text,
        "clientMsgId": message.client_msg_id,
    }


def message_event(message: Message) -> dict[str, Any]:
    return {"type": "message", **message_view(message)}
