"""Attachments: the upload a client asks for, the files a send names, and how a message shows
them.

The bytes never pass through a function: ``prepare`` records the upload (owner, topic, name,
type, size) and hands back a presigned POST whose policy admits exactly that file, which the
client sends straight to the bucket. A ``send`` then names upload ids; ``resolve`` checks each is
the sender's own, for that topic, and that its object arrived (one HeadObject each, so a message
never links to nothing). URLs are never stored: ``view`` presigns a GET whenever a message is
shown (a push, a history page, a backlog), so a link lives ``attachment_url_s`` and a reader gets
a fresh one by reading again.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from hubbub.chat.settings import ChatSettings
from hubbub.clock import Clock
from hubbub.files.port import Files, FilesUnavailable
from hubbub.ids import Topic
from hubbub.protocol.attachments import (
    clean_filename,
    content_disposition,
    served_type,
    upload_refusal,
)
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.topics import topic_class
from hubbub.store.records import Attachment, Message, Upload, User
from hubbub.store.roles import Uploads

__all__ = ["Attachments", "object_key", "send_refusal"]

log = logging.getLogger(__name__)


def object_key(topic: Topic, attachment_id: str) -> str:
    """``attachments/{room|desk|user}/{id}``: the topic class leads, so the bucket's lifecycle
    rules can keep each class as long as its messages are kept. No user text in the key."""
    cls = topic_class(topic)
    return f"attachments/{cls.value if cls else 'other'}/{attachment_id}"


def send_refusal(
    user: User, topic: Topic, asked: list[str], found: dict[str, Upload], max_count: int
) -> ProtocolError | None:
    """Why a send may not carry these attachments (None: it may), from what the store knows."""
    if len(asked) > max_count:
        return ProtocolError(ErrorCode.TOO_LARGE, f"attachments: at most {max_count} per message")
    if len(set(asked)) != len(asked):
        return ProtocolError(ErrorCode.BAD_REQUEST, "attachments: an id is repeated")
    for attachment_id in asked:
        upload = found.get(attachment_id)
        if upload is None:
            return ProtocolError(ErrorCode.NOT_FOUND, f"no attachment {attachment_id!r}")
        if upload.owner != user.id:
            return ProtocolError(ErrorCode.FORBIDDEN, f"attachment {attachment_id!r} is not yours")
        if upload.topic != topic:
            return ProtocolError(
                ErrorCode.FORBIDDEN, f"attachment {attachment_id!r} was uploaded for another topic"
            )
    return None


class Attachments:
    def __init__(self, uploads: Uploads, files: Files, clock: Clock, settings: ChatSettings):
        self._uploads = uploads
        self._files = files
        self._clock = clock
        self._settings = settings

    def prepare(
        self, user: User, topic: Topic, filename: str, content_type: str, size: int
    ) -> dict[str, Any]:
        """An upload the caller may make (they may send on ``topic``: checked by the caller)."""
        if not self._files.enabled:
            raise ProtocolError(ErrorCode.FORBIDDEN, "attachments are not enabled here")
        refusal = upload_refusal(filename, content_type, size, self._settings.limits)
        if refusal is not None:
            raise refusal
        attachment_id = f"at_{secrets.token_hex(10)}"
        attachment = Attachment(
            id=attachment_id,
            filename=clean_filename(filename),
            content_type=content_type,
            size=size,
            key=object_key(topic, attachment_id),
        )
        now = self._clock.now_ms()
        self._uploads.put_upload(
            Upload(
                attachment,
                owner=user.id,
                topic=topic,
                created_at=now,
                expires_at=now // 1000 + self._settings.retention_s(topic),
            )
        )
        post = self._files.presign_upload(
            attachment.key, content_type, size, self._settings.upload_url_s
        )
        return {
            "uploadUrl": post.url,
            "fields": post.fields,
            "attachment": {
                "id": attachment.id,
                "filename": attachment.filename,
                "contentType": attachment.content_type,
                "size": attachment.size,
            },
        }

    def resolve(self, user: User, topic: Topic, ids: list[str]) -> tuple[Attachment, ...]:
        """The attachments a send names, checked; refused with a typed error otherwise."""
        if not ids:
            return ()
        if not self._files.enabled:
            raise ProtocolError(ErrorCode.FORBIDDEN, "attachments are not enabled here")
        limit = self._settings.limits.max_attachments
        found = {} if len(ids) > limit else self._found(ids)
        refusal = send_refusal(user, topic, ids, found, limit)
        if refusal is not None:
            raise refusal
        attachments = tuple(found[i].attachment for i in ids)
        for attachment in attachments:
            if self._stored_size(attachment) != attachment.size:
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST, f"attachment {attachment.id!r} has not been uploaded"
                )
        return attachments

    def _found(self, ids: list[str]) -> dict[str, Upload]:
        uploads = self._uploads.get_uploads(ids, self._clock.now_ms())
        return {u.attachment.id: u for u in uploads}

    def _stored_size(self, attachment: Attachment) -> int | None:
        try:
            return self._files.stored_size(attachment.key)
        except FilesUnavailable as exc:
            raise ProtocolError(
                ErrorCode.UNAVAILABLE, "file storage is busy; retry", retry_after=1.0
            ) from exc

    def discard(self, message: Message) -> None:
        """A deleted message's files go with its text. Best effort: the tombstone is already
        stored, so an object that cannot be deleted now is left to the bucket's lifecycle rule
        (its links lapse within ``attachment_url_s`` anyway)."""
        for attachment in message.attachments:
            try:
                self._files.delete(attachment.key)
            except FilesUnavailable as exc:
                log.warning("attachment %s left to the lifecycle rule: %s", attachment.id, exc)

    def view(self, attachment: Attachment) -> dict[str, Any]:
        """An attachment as a message shows it, with a GET presigned now."""
        return {
            "id": attachment.id,
            "filename": attachment.filename,
            "contentType": attachment.content_type,
            "size": attachment.size,
            "url": self._files.download_url(
                attachment.key,
                served_type(attachment.content_type),
                content_disposition(attachment.filename, attachment.content_type),
                self._settings.attachment_url_s,
            ),
        }
