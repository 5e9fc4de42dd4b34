"""Operators' sanctions: mute (no sending or typing), ban (nothing on the topic, and out of it at
once), kick (out now, free to come back), and the listing the console lifts them from.

An MQTT member ejected by a ban or a kick is disconnected from IoT Core too (the broker knows
nothing of sanctions and would go on delivering the topic); a ban also stands in the MQTT
authorizer's policy (``banned_topics``), so a client that connects again cannot follow it.

Sanctions are stored with their end (a TTL), so they survive restarts and expire by themselves;
reads drop expired ones because TTL deletes lag. The check on the send path is one read of the
user's sanctions on that topic (at most two small items), skipped for operators.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hubbub.chat.mqtt import is_mqtt_member
from hubbub.chat.presence import Presence
from hubbub.clock import Clock
from hubbub.ids import ConnectionId, Topic, TopicFilter, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.events import encode
from hubbub.protocol.topics import TopicClass, topic_class
from hubbub.push.port import MqttHangup, NoMqttHangup, Push
from hubbub.store.records import Connection, Role, Sanction, SanctionKind, User
from hubbub.store.roles import Connections, Directory, Sanctions, Subscriptions

__all__ = ["Moderation", "banned_topics", "mqtt_clients", "sanction_view"]

log = logging.getLogger(__name__)

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


def banned_topics(user: User, sanctions: Sequence[Sanction]) -> list[Topic]:
    """The topics ``sanctions`` (unexpired, any user's) ban ``user`` from, sorted; none for an
    operator, who is never moderated."""
    if user.role is Role.OPERATOR:
        return []
    found = {s.topic for s in sanctions if s.user_id == user.id and s.kind is SanctionKind.BAN}
    return sorted(found)


def mqtt_clients(connections: Sequence[Connection | None]) -> list[str]:
    """The client ids to close for the ejected members' stored connections: a connection gone
    already (its ``disconnected`` event came first) or stored before client ids were recorded
    has none to close."""
    return sorted({c.client_id for c in connections if c is not None and c.client_id})


class Moderation:
    def __init__(
        self,
        sanctions: Sanctions,
        subscriptions: Subscriptions,
        directory: Directory,
        presence: Presence,
        push: Push,
        clock: Clock,
        connections: Connections,
        mqtt_hangup: MqttHangup | None = None,
    ) -> None:
        """Without ``mqtt_hangup`` (a stack without the MQTT edge) an ejected MQTT member
        leaves the topic's presence only."""
        self._connections = connections
        self._mqtt_hangup = mqtt_hangup or NoMqttHangup()
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

    def banned_topics(self, user: User) -> list[Topic]:
        """Where ``user`` is banned now, for the MQTT authorizer's policy: one read of the
        user's own sanctions (a sparse index's Query), on connect and on each policy refresh,
        never on the message path; none for operators, who are not read for."""
        if user.role is Role.OPERATOR:
            return []
        return banned_topics(user, self._sanctions.sanctions_of(user.id, self._clock.now_ms()))

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
        told = sorted({s.connection_id for s in removed if not is_mqtt_member(s.connection_id)})
        if told:
            self._push.post_many(encode(event).encode("utf-8"), told)
        members = sorted({s.connection_id for s in removed if is_mqtt_member(s.connection_id)})
        if members:
            self._hang_up(members)
        self._presence.departed(removed[:1], self._clock.now_ms())  # one user: one `left`

    def _hang_up(self, members: Sequence[ConnectionId]) -> None:
        """Disconnect the ejected MQTT members from IoT Core (docs/mqtt.md): the broker would
        deliver the topic to them still. Their ``disconnected`` lifecycle events then remove
        what is left of them. Best effort, as the push above: they are out of the topic here
        whatever IoT Core answers, and a ban's policy refuses them the topic by the next
        refresh."""
        found = [self._connections.get_connection(member) for member in members]
        missed = self._mqtt_hangup.disconnect_clients(mqtt_clients(found))
        if missed:
            log.warning("moderation: %d mqtt client(s) not disconnected", len(missed))

    @staticmethod
    def _check_operator(user: User) -> None:
        if user.role is not Role.OPERATOR:
            raise ProtocolError(ErrorCode.FORBIDDEN, "moderation is for operators")
