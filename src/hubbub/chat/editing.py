"""Editing and deleting messages: the author's (and for a delete, an operator's) second thought.

Neither pushes anything itself: the store's rewrite of the message item is a change the stream
carries (a MODIFY on DynamoDB, the outbox locally), and the fan-out pushes ``edited`` or
``deleted`` from it as it pushes ``message`` from an insert. A repeat that changes nothing
(the same text again, a second delete) writes nothing, so it is answered but pushed once only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubbub.chat import policy
from hubbub.chat.views import deleted_event, edited_event
from hubbub.clock import Clock
from hubbub.ids import MessageId, Topic
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import Limits
from hubbub.protocol.topics import parse_topic
from hubbub.store.records import Message, Role, User, seq_of_message_id
from hubbub.store.roles import MessageLog

__all__ = ["Editing"]

Event = dict[str, Any]


class Editing:
    def __init__(self, log: MessageLog, clock: Clock, limits: Limits) -> None:
        self._log = log
        self._clock = clock
        self._limits = limits

    def topic_of(self, raw_topic: str) -> Topic:
        return parse_topic(raw_topic, self._limits)

    def edit(self, user: User, topic: Topic, message_id: str, text: str) -> Event:
        """The author's new text, or ``forbidden`` for anyone else (operators included: an
        operator may delete a message, never put words in someone's mouth)."""
        policy.check_send(user, topic)
        if not text.strip():
            raise ProtocolError(ErrorCode.BAD_REQUEST, "text: must not be blank")
        if len(text) > self._limits.max_text_chars:
            raise ProtocolError(ErrorCode.TOO_LARGE, "text is too long")
        current = self._find(topic, message_id)
        if current.sender != user.id:
            raise ProtocolError(ErrorCode.FORBIDDEN, "only its author may edit a message")
        if current.deleted:
            raise ProtocolError(ErrorCode.NOT_FOUND, "that message was deleted")
        if current.text == text:
            return edited_event(current)
        after = self._log.edit_message(
            topic, current.seq, current.id, user.id, text, self._clock.now_ms()
        )
        if after is None:  # deleted or expired between the read and the write
            raise ProtocolError(ErrorCode.NOT_FOUND, "that message is gone")
        return edited_event(after)

    def delete(
        self,
        user: User,
        topic: Topic,
        message_id: str,
        deleted: Callable[[Message], None] | None = None,
    ) -> Event:
        """``deleted`` is told the message as it was, once, by the delete that removed it."""
        policy.check_read(user, topic)
        current = self._find(topic, message_id)
        if current.sender != user.id and user.role is not Role.OPERATOR:
            raise ProtocolError(
                ErrorCode.FORBIDDEN, "only its author or an operator may delete a message"
            )
        if current.deleted:
            return deleted_event(current)
        after = self._log.delete_message(topic, current.seq, current.id, self._clock.now_ms())
        if after is None:  # someone else deleted it first, or it expired meanwhile
            again = self._find(topic, message_id)
            return deleted_event(again)
        if deleted is not None:
            deleted(current)
        return deleted_event(after)

    def _find(self, topic: Topic, message_id: str) -> Message:
        seq = seq_of_message_id(message_id)
        found = None if seq is None else self._log.get_message(topic, seq, self._clock.now_ms())
        if found is None or found.id != MessageId(message_id):
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such message in this topic")
        return found
