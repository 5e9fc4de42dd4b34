"""Operators' sanctions: mute (no sending or typing), ban (nothing on the topic, and out of it at
once), kick (out now, free to come back), and the listing the console lifts them from.

Sanctions are stored with their end (a TTL), so they survive restarts and expire by themselves;
reads drop expired ones because TTL deletes lag. The check on the send path is one read of the
user's sanctions on that topic (at most two small items), skipped for operators.
"""

from __future__ import annotations

from typing import Any

from hubbub.chat.mqtt import is_mqtt_member
from hubbub.chat.presence import Presence
from hubbub.clock import Clock
from hubbub.ids import Topic, TopicFilter, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.events import encode
from hubbub.protocol.topics import TopicClass, topic_class
from hubbub.push.port import Push
from hubbub.store.records import Role, Sanction, SanctionKind, User
from hubbub.store.roles import Directory, Sanctions, Subscriptions

__all__ = ["Moderation", "sanction_view"]

Event = dict[str, Any]

_STORED = {"mute": SanctionKind.MUTE, "ban": SanctionKind.BAN}
_LIFTED = {"unmute": SanctionKind.MUTE, "unban": SanctionKind.BAN}


def sanction_view(sanction: Sanction) -> Event:
    return {
        "topic": sanction.topic,
        "userId": sanction.user_id,
        "sanction": sanction.kind.value,
        "until": sanction.until_ms,
        "createdAt": sanction.created_at,
    }


class Moderation:
    def __init__(
        self,
        sanctions: Sanctions,
        subscriptions: Subscriptions,
        directory: Directory,
        presence: Presence,
        push: Push,
        clock: Clock,
    ) -> None:
        self._sanctions = sanctions
        self._subscriptions = subscriptions
        self._directory = directory
        self._presence = presence
        self._push = push
        self._clock = clock

    def check(self, user: User, topic: Topic, *, sending: bool) -> None:
        """``forbidden`` for a banned user on anything, for a muted one when ``sending``."""
        if user.role is Role.OPERATOR or topic_class(topic) is TopicClass.SYSTEM:
            return
        for sanction in self._sanctions.sanctions_on(topic, user.id, self._clock.now_ms()):
            if sanction.kind is SanctionKind.BAN:
                raise ProtocolError(ErrorCode.FORBIDDEN, f"you are banned from {topic}")
            if sending:
                raise ProtocolError(ErrorCode.FORBIDDEN, f"you are muted in {topic}")

    def moderate(
        self, operator: User, topic: Topic, user_id: UserId, sanction: str, seconds: int | None
    ) -> Event:
        self._check_operator(operator)
        if topic_class(topic) is TopicClass.SYSTEM:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "system topics have nobody to moderate")
        if seconds is not None and sanction not in _STORED:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "seconds: only a mute or a ban lasts")
        if self._directory.get_operator(user_id) is not None:
            raise ProtocolError(ErrorCode.FORBIDDEN, "operators are not moderated")
        now = self._clock.now_ms()
        reply: Event = {"type": "moderated", "topic": topic, "userId": user_id}
        reply["sanction"] = sanction
        if sanction in _STORED:
            until = None if seconds is None else now + seconds * 1000
            self._sanctions.put_sanction(Sanction(topic, user_id, _STORED[sanction], until, now))
            reply["until"] = until
        elif sanction in _LIFTED:
            self._sanctions.lift_sanction(topic, user_id, _LIFTED[sanction])
        if sanction in ("ban", "kick"):
            self._eject(topic, user_id, reply)
        return reply

    def list(self, operator: User, topic: Topic | None) -> Event:
        self._check_operator(operator)
        found = self._sanctions.list_sanctions(topic, self._clock.now_ms())
        reply: Event = {"type": "sanctions", "sanctions": [sanction_view(s) for s in found]}
        if topic is not None:
            reply["topic"] = topic
        return reply

    def _eject(self, topic: Topic, user_id: UserId, event: Event) -> None:
        """Unsubscribe the user's connections from the topic now (``left`` to the others), and
        tell those connections why with the ``moderated`` event itself. Best effort on the
        push: the subscriptions are gone whatever the gateway answers."""
        removed = [
            sub
            for sub in self._subscriptions.subscribers(TopicFilter(topic))
            if sub.user.id == user_id
            and self._subscriptions.unsubscribe(sub.connection_id, sub.filter)
        ]
        if not removed:
            return
        # an MQTT member leaves the room's presence; the broker, which knows nothing of
        # sanctions, is not told (docs/mqtt.md)
        told = sorted({s.connection_id for s in removed if not is_mqtt_member(s.connection_id)})
        if told:
            self._push.post_many(encode(event).encode("utf-8"), told)
        self._presence.departed(removed[:1], self._clock.now_ms())  # one user: one `left`

    @staticmethod
    def _check_operator(user: User) -> None:
        if user.role is not Role.OPERATOR:
            raise ProtocolError(ErrorCode.FORBIDDEN, "moderation is for operators")
