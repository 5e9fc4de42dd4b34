"""Who is in a topic, and the ephemeral events about it (``joined``, ``left``, ``typing``).

Presence is derived from exact-topic subscriptions, one entry per user however many connections
they hold, so it needs no state of its own: a connection that goes away takes its presence with it.
System topics have no presence: everyone may follow ``$sys/operators``, and who does is nobody's
business. These events are pushed directly by the action's handler, not through the stream: they
are never stored, and a lost one is repaired by the next ``presence`` query.

At scale (issue 18): per-member ``joined``/``left`` make a room that fills to N push about N²/2
frames, so a room larger than ``threshold`` subscriptions pushes no ``typing``, and a summary
``presence {topic, count}`` instead of ``joined``/``left``, at most once per ``every_ms``
whichever process sees the change: the window is claimed by one conditional write on the topic's
head count (``Headcounts.claim_summary``), the same on AWS, where every Lambda execution
environment is its own process, as locally. There is no timer (no long-lived process on AWS), so
the summary is pushed by the join or leave that finds the window over: the changes inside a
window show at the next change after it, and the last ones of a burst wait for the next change
at all (a ``presence`` query is always exact).
Deciding is O(1): the size is the head count (one GetItem), not a Query of the room.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hubbub.chat.fanout import FanOut
from hubbub.ids import ConnectionId, Topic, TopicFilter
from hubbub.protocol.events import encode
from hubbub.protocol.topics import TopicClass, is_wildcard, topic_class
from hubbub.push.port import Push, PushOutcome
from hubbub.store.records import Subscription, User
from hubbub.store.roles import Headcounts, Subscriptions

__all__ = ["Presence", "PresenceScale", "is_large", "makes_present"]


def is_large(size: int, threshold: int) -> bool:
    """Whether a room of ``size`` subscriptions (counting the one joining or leaving) gets
    summaries instead of per-member events: a room of exactly ``threshold`` still gets them."""
    return size > threshold


@dataclass(frozen=True, slots=True)
class PresenceScale:
    threshold: int = 100
    every_ms: int = 5000


def makes_present(topic_filter: TopicFilter) -> bool:
    """Whether subscribing with ``topic_filter`` puts its user in a topic's presence."""
    return not is_wildcard(topic_filter) and topic_class(topic_filter) is not TopicClass.SYSTEM


class Presence:
    def __init__(
        self,
        subscriptions: Subscriptions,
        counts: Headcounts,
        push: Push,
        fanout: FanOut,
        scale: PresenceScale | None = None,
    ) -> None:
        self._subscriptions = subscriptions
        self._counts = counts
        self._push = push
        self._fanout = fanout
        self.scale = scale or PresenceScale()

    def count(self, topic: Topic) -> int:
        return self._counts.member_count(topic)

    def large_with(self, topic: Topic, extra: int) -> bool:
        """Whether ``topic`` is large counting ``extra`` more than its head count (1 for the
        subscription about to be written, or just removed)."""
        return is_large(self.count(topic) + extra, self.scale.threshold)

    def changed(self, topic: Topic, now_ms: int) -> PushOutcome:
        """A large room's size changed: push the summary if this change opens a new window."""
        count = self._counts.claim_summary(topic, now_ms, self.scale.every_ms)
        if count is None:
            return PushOutcome()
        return self.publish(topic, {"type": "presence", "topic": topic, "count": count})

    def page(
        self, topic: Topic, after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One bounded page of members, in subscription order, each user once within the page
        (a user with connections on two pages shows on both), and the next page's cursor."""
        subs, cursor = self._subscriptions.subscribers_page(
            TopicFilter(topic), None if after is None else ConnectionId(after), limit
        )
        seen: dict[str, dict[str, Any]] = {}
        for sub in subs:
            seen.setdefault(sub.user.id, sub.user.public())
        return list(seen.values()), cursor

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

    def typing(
        self, topic: Topic, user: User, *, exclude: ConnectionId | None = None
    ) -> PushOutcome:
        """``typing`` to everyone watching ``topic``, except in a large room: there each member's
        keystrokes would be a post to every other member (N² again, with no window to claim),
        and nobody follows who types among hundreds. One GetItem (the head count) decides."""
        if self.large_with(topic, 0):
            return PushOutcome()
        return self.announce("typing", topic, user, exclude=exclude)

    def publish(
        self, topic: Topic, event: dict[str, Any], *, exclude: ConnectionId | None = None
    ) -> PushOutcome:
        """The one path of every ephemeral event (presence, typing, operator status): recipients
        found as a message's are, one push, nothing stored."""
        recipients = [c for c in self._fanout.recipients_of(topic) if c != exclude]
        if not recipients:
            return PushOutcome()
        return self._push.post_many(encode(event).encode("utf-8"), recipients)

    def arrived(self, subscription: Subscription, now_ms: int, expires_at: int) -> bool:
        """Record ``subscription`` and announce its user where that makes them present:
        ``joined`` to the others when it is the user's first way into the topic, the summary in
        a large room (never walked to ask whether the user is already there). The one path of
        every member, WebSocket or MQTT, so both edges see the same events. True when new."""
        topic_filter = subscription.filter
        present = makes_present(topic_filter)
        topic = Topic(topic_filter)
        large = present and self.large_with(topic, 1)
        already = (
            present
            and not large
            and self.is_present(topic, subscription.user, besides=subscription.connection_id)
        )
        is_new = self._subscriptions.subscribe(subscription, now_ms, expires_at)
        if present and is_new and large:
            self.changed(topic, now_ms)
        elif present and is_new and not already:
            self.announce("joined", topic, subscription.user, exclude=subscription.connection_id)
        return is_new

    def departed(self, removed: Iterable[Subscription], now_ms: int) -> PushOutcome:
        """``left`` for each exact topic a removed connection was the user's last presence in;
        a summary instead where the room was large (counting the one who left)."""
        outcome = PushOutcome()
        for sub in removed:
            if not makes_present(sub.filter):
                continue
            topic = Topic(sub.filter)
            if self.large_with(topic, 1):
                outcome.merge(self.changed(topic, now_ms))
            elif not self.is_present(topic, sub.user, besides=sub.connection_id):
                outcome.merge(self.announce("left", topic, sub.user))
        return outcome
