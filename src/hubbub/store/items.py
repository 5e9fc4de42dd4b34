"""The single-table item shapes of DESIGN §6, shared by every adapter.

The DynamoDB adapter writes these items; the SQLite adapter emits the same images into its stream
log, so the fan-out function decodes one shape whichever store produced the record. Both build
the message an append stores and returns with ``new_message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hubbub.ids import ClientMsgId, MessageId, Topic, UserId
from hubbub.store.records import AppendRequest, Attachment, Message, Role, placed_message_id

__all__ = [
    "MESSAGE_KIND",
    "attachment_of",
    "attachment_view",
    "message_from_item",
    "message_item",
    "message_sk",
    "new_message",
    "revised",
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
        id=placed_message_id(request.message_id, seq),
        ts=request.now_ms,
        sender=request.sender,
        nickname=request.nickname,
        text=request.text,
        client_msg_id=request.client_msg_id,
        expires_at=request.expires_at,
        role=request.role,
        attachments=request.attachments,
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
        "cmid": message.client_msg_id,
        "expiresAt": message.expires_at,
        "role": message.role.value,
    }
    if not message.deleted:
        item["text"] = message.text
    if message.nickname is not None:
        item["nick"] = message.nickname
    if message.edited_at is not None:
        item["editedAt"] = message.edited_at
    if message.deleted:
        item["deleted"] = True
    if message.attachments and not message.deleted:
        item["atts"] = [attachment_view(a) for a in message.attachments]
    return item


def attachment_view(attachment: Attachment) -> dict[str, Any]:
    """An attachment as the message item (and the SQLite column, as JSON) stores it."""
    return {
        "id": attachment.id,
        "name": attachment.filename,
        "type": attachment.content_type,
        "size": attachment.size,
        "key": attachment.key,
    }


def attachment_of(stored: Mapping[str, Any]) -> Attachment:
    return Attachment(
        id=str(stored["id"]),
        filename=str(stored["name"]),
        content_type=str(stored["type"]),
        size=int(stored["size"]),
        key=str(stored["key"]),
    )


def message_from_item(item: Mapping[str, Any]) -> Message | None:
    if item.get("kind") != MESSAGE_KIND:
        return None
    nick = item.get("nick")
    edited = item.get("editedAt")
    return Message(
        topic=Topic(str(item["topic"])),
        seq=int(item["seq"]),
        id=MessageId(str(item["id"])),
        ts=int(item["ts"]),
        sender=UserId(str(item["from"])),
        nickname=None if nick is None else str(nick),
        text=str(item.get("text", "")),
        client_msg_id=ClientMsgId(str(item["cmid"])),
        expires_at=int(item["expiresAt"]),
        role=role_of(item.get("role")),
        edited_at=None if edited is None else int(edited),
        deleted=bool(item.get("deleted", False)),
        attachments=tuple(attachment_of(a) for a in item.get("atts") or ()),
    )


def role_of(stored: object) -> Role:
    """A stored message's sender role; one stored before roles were (or with a role this
    version does not know) reads as ``visitor``: never staff by default."""
    try:
        return Role(str(stored)) if stored is not None else Role.VISITOR
    except ValueError:
        return Role.VISITOR


def revised(message: Message, text: str | None, now_ms: int) -> Message:
    """The message after an edit (new ``text``, ``edited_at``) or a delete (``text`` None: a
    tombstone keeps its place, sender and id, and loses its text): built here so both adapters
    store, stream and answer the same thing."""
    if text is None:  # a tombstone shows nothing of what the message carried either
        return replace(message, text="", deleted=True, attachments=())
    return replace(message, text=text, edited_at=now_ms)
