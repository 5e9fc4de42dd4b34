"""The ``read`` action: a user's read marker moves forward, and their other tabs are told.

A read marker is the user's, not the tab's, so the user's other connections that follow the
topic clear the same unread badge. Kept apart from ``service.py`` because it is the one action
that pushes to the actor's own other connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubbub.chat import policy
from hubbub.chat.desk import Desk
from hubbub.chat.fanout import FanOut
from hubbub.chat.mqtt import is_mqtt_member
from hubbub.ids import Topic
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.events import encode
from hubbub.protocol.limits import Limits
from hubbub.protocol.topics import parse_topic
from hubbub.push.port import Push
from hubbub.store.records import Connection, Role
from hubbub.store.roles import Subscriptions

if TYPE_CHECKING:
    from hubbub.protocol import actions as a

__all__ = ["ReadMarkers"]


class ReadMarkers:
    def __init__(
        self,
        desk: Desk,
        subscriptions: Subscriptions,
        fanout: FanOut,
        push: Push,
        limits: Limits,
    ) -> None:
        self._desk = desk
        self._subscriptions = subscriptions
        self._fanout = fanout
        self._push = push
        self._limits = limits

    def read(self, connection: Connection, action: a.Read) -> dict[str, Any]:
        """Move the user's marker (never back); guests keep none."""
        user = connection.user
        topic = parse_topic(action.topic, self._limits)
        policy.check_read(user, topic)
        if user.role is Role.GUEST:
            raise ProtocolError(ErrorCode.FORBIDDEN, "register to keep read markers")
        marker = self._desk.mark_read(user, topic, action.seq)
        event: dict[str, Any] = {"type": "read", "topic": topic, "seq": marker}
        self._tell_other_tabs(connection, topic, event)
        return event

    def _tell_other_tabs(self, connection: Connection, topic: Topic, event: dict[str, Any]) -> None:
        """The user's other connections that follow the topic (exactly or by a wildcard, as an
        operator's console follows desk/+). Best effort: one that is gone is left for the
        fan-out to forget."""
        others = {
            sub.connection_id
            for topic_filter in self._fanout.filters_of_topic(topic)
            for sub in self._subscriptions.subscribers(topic_filter)
            if sub.user.id == connection.user.id
            and sub.connection_id != connection.id
            and not is_mqtt_member(sub.connection_id)
        }
        if others:
            self._push.post_many(encode(event).encode("utf-8"), sorted(others))
