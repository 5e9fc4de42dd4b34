"""Who is in a topic, and the ephemeral events about it (``joined``, ``left``, ``typing``).

Presence is derived from exact-topic subscriptions, one entry per user however many connections
they hold, so it needs no state of its own: a connection that goes away takes its presence with it.
System topics have no presence: everyone may follow ``$sys/operators``, and who does is nobody's
business. These events are pushed directly by the action's handler, not through the stream: they
are never stored, and a lost one is repaired by the next ``presence`` query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hubbub.chat.fanout import FanOut
from hubbub.ids import ConnectionId, Topic, TopicFilter
from hubbub.protocol.events import encode
from hubbub.protocol.topics import TopicClass, is_wildcard, topic_class
from hubbub.push.port import Push, PushOutcome
from hubbub.store.records import Subscription, User
from hubbub.store.roles import Subscriptions

__all__ = ["Presence", "makes_present"]


def makes_present(topic_filter: TopicFilter) -> bool:
    """Whether subscribing with ``topic_filter`` puts its user in a topic's presence."""
    return not is_wildcard(topic_filter) and topic_class(topic_filter) is not TopicClass.SYSTEM


class Presence:
    def __init__(self, subscriptions: Subscriptions, push: Push, fanout: FanOut) -> None:
        self._subscriptions = subscriptions
        self._push = push
        self._fanout = fanout

    def members(self, topic: Topic) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for sub in self._subscriptions.subscribers(TopicFilter(topic)):
            seen.setdefault(sub.user.id, sub.user.public())
        return sorted(seen.values(), key=lambda m: (m["nickname"] or "", m["id"]))

    def is_present(self, topic: Topic, user: User, *, besides: ConnectionId) -> bool:
        """Whether ``user`` is in ``topic`` through a connection other than ``besides``."""
        return any(
            sub.user.id == user.id and sub.connection_id != besides
            for sub in self._subscriptions.subscribers(TopicFilter(topic))
        )

    def announce(
        self, kind: str, topic: Topic, user: User, *, exclude: ConnectionId | None = None
    ) -> PushOutcome:
        """Push ``joined``/``left``/``typing`` to everyone watching ``topic`` but ``exclude``."""
        event = {"type": kind, "topic": topic, "user": user.public()}
        return self.publish(topic, event, exclude=exclude)

    def publish(
        self, topic: Topic, event: dict[str, Any], *, exclude: ConnectionId | None = None
    ) -> PushOutcome:
        """The one path of every ephemeral event (presence, typing, operator status): recipients
        found as a message's are, one push, nothing stored."""
        recipients = [c for c in self._fanout.recipients_of(topic) if c != exclude]
        if not recipients:
            return PushOutcome()
        return self._push.post_many(encode(event).encode("utf-8"), recipients)

    def departed(self, removed: Iterable[Subscription]) -> PushOutcome:
        """``left`` for each exact topic a removed connection was the user's last presence in."""
        outcome = PushOutcome()
        for sub in removed:
            if not makes_present(sub.filter):
                continue
            topic = Topic(sub.filter)
            if not self.is_present(topic, sub.user, besides=sub.connection_id):
                outcome.merge(self.announce("left", topic, sub.user))
        return outcome
