"""How stored records look on the wire (server events built from domain records)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubbub.store.port import Attachment, Message

__all__ = [
    "ShowAttachment",
    "change_event",
    "deleted_event",
    "edited_event",
    "message_event",
    "message_view",
]


ShowAttachment = Callable[[Attachment], dict[str, Any]]
"""An attachment as a message shows it, with a URL minted at that moment
(``chat.attachments.Attachments.view``)."""


def _bare(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "contentType": attachment.content_type,
        "size": attachment.size,
    }


def message_view(message: Message, show: ShowAttachment | None = None) -> dict[str, Any]:
    """A message as history, backlogs and pushes show it; a deleted one is a tombstone that
    keeps its place (``seq`` stays gapless) and shows nothing of what it said. Attachments go
    through ``show``, which adds their URLs (without it, as in a conversation list's preview,
    they have none)."""
    if message.deleted:
        return {
            "topic": message.topic,
            "id": message.id,
            "seq": message.seq,
            "ts": message.ts,
            "deleted": True,
        }
    view = {
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
    if message.edited_at is not None:
        view["editedAt"] = message.edited_at
    if message.attachments:
        view["attachments"] = [(show or _bare)(a) for a in message.attachments]
    return view


def message_event(message: Message, show: ShowAttachment | None = None) -> dict[str, Any]:
    return {"type": "message", **message_view(message, show)}


def edited_event(message: Message) -> dict[str, Any]:
    return {
        "type": "edited",
        "topic": message.topic,
        "id": message.id,
        "seq": message.seq,
        "text": message.text,
        "editedAt": message.edited_at,
    }


def deleted_event(message: Message) -> dict[str, Any]:
    return {"type": "deleted", "topic": message.topic, "id": message.id, "seq": message.seq}


def change_event(
    message: Message, *, inserted: bool, show: ShowAttachment | None = None
) -> dict[str, Any] | None:
    """What subscribers are pushed for a change of a message item: ``message`` for a new one,
    ``edited``/``deleted`` for a rewrite, nothing for a change that is neither."""
    if inserted:
        return message_event(message, show)
    if message.deleted:
        return deleted_event(message)
    if message.edited_at is not None:
        return edited_event(message)
    return None
