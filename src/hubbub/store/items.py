"""The single-table item shapes of DESIGN §6, shared by every adapter.

The DynamoDB adapter writes these items; the SQLite adapter emits the same images into its stream
log, so the fan-out function decodes one shape whichever store produced the record. Both build
the message an append stores and returns with ``new_message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.ids import ClientMsgId, MessageId, Topic, UserId
from hubbub.store.records import AppendRequest, Message, Role

__all__ = [
    "MESSAGE_KIND",
    "message_from_item",
    "message_item",
    "message_sk",
    "new_message",
    "role_of",
    "topic_pk",
]

MESSAGE_KIND = "msg"


def topic_pk(topic: str) -> str:
    return f"T#{topic}"


def message_sk(seq: int) -> str:
    return f"M#{seq:012d}"


def new_message(request: AppendRequest, seq: int) -> Message:
    """The message an append stores and answers with, once ``seq`` is won: built here alone so
    that every adapter stores, streams and returns the very same message."""
    return Message(
        topic=request.topic,
        seq=seq,
        id=request.message_id,
        ts=request.now_ms,
        sender=request.sender,
        nickname=request.nickname,
        text=request.text,
        client_msg_id=request.client_msg_id,
        expires_at=request.expires_at,
        role=request.role,
    )


def message_item(message: Message) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": topic_pk(message.topic),
        "sk": message_sk(message.seq),
        "kind": MESSAGE_KIND,
        "topic": message.topic,
        "seq": message.seq,
        "id": message.id,
        "ts": message.ts,
        "from": message.sender,
        "text": message.text,
        "cmid": message.client_msg_id,
        "expiresAt": message.expires_at,
        "role": message.role.value,
    }
    if message.nickname is not None:
        item["nick"] = message.nickname
    return item


def message_from_item(item: Mapping[str, Any]) -> Message | None:
    if item.get("kind") != MESSAGE_KIND:
        return None
    nick = item.get("nick")
    return Message(
        topic=Topic(str(item["topic"])),
        seq=int(item["seq"]),
        id=MessageId(str(item["id"])),
        ts=int(item["ts"]),
        sender=UserId(str(item["from"])),
        nickname=None if nick is None else str(nick),
        text=str(item["text"]),
        client_msg_id=ClientMsgId(str(item["cmid"])),
        expires_at=int(item["expiresAt"]),
        role=role_of(item.get("role")),
    )


def role_of(stored: object) -> Role:
    """A stored message's sender role; one stored before roles were (or with a role this
    version does not know) reads as ``visitor``: never staff by default."""
    try:
        return Role(str(stored)) if stored is not None else Role.VISITOR
    except ValueError:
        return Role.VISITOR
