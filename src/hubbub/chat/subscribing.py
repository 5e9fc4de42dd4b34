"""Subscribing and unsubscribing: the checks a filter passes, presence, and a resume's backlog.

Kept apart from the service because a subscribe is where most of the chat's rules meet (the
topic policy, moderation, the wildcard registry's bounds, presence at scale, the operators'
status and the resume after a gap), and each of them is owned by a service of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubbub.chat import policy
from hubbub.chat.budget import fit
from hubbub.chat.desk import Desk
from hubbub.chat.moderation import Moderation
from hubbub.chat.presence import Presence
from hubbub.chat.settings import ChatSettings
from hubbub.chat.views import ShowAttachment, message_view
from hubbub.clock import Clock
from hubbub.ids import TopicFilter
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.topics import (
    OPERATORS_TOPIC,
    can_match_a_topic,
    is_wildcard,
    parse_filter,
    parse_topic,
)
from hubbub.store.port import Connection, Role, Store, Subscription, User

if TYPE_CHECKING:
    from hubbub.protocol import actions as a

__all__ = ["Subscribing"]

Event = dict[str, Any]


class Subscribing:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: ChatSettings,
        presence: Presence,
        moderation: Moderation,
        desk: Desk,
        show: ShowAttachment | None = None,
    ) -> None:
        self._show = show
        self._store = store
        self._clock = clock
        self._settings = settings
        self._limits = settings.limits
        self._presence = presence
        self._moderation = moderation
        self._desk = desk

    def subscribe(self, connection: Connection, action: a.Subscribe) -> Event:
        topic_filter = parse_filter(action.topic, self._limits)
        policy.check_subscribe(connection.user, topic_filter)
        current = self._store.filters_of(connection.id)
        if len(current) >= self._limits.max_subscriptions and topic_filter not in current:
            raise ProtocolError(
                ErrorCode.CONFLICT,
                f"at most {self._limits.max_subscriptions} subscriptions per connection",
            )
        now = self._clock.now_ms()
        reply: Event = {"type": "subscribed", "topic": topic_filter}
        subscription = Subscription(connection.id, topic_filter, connection.user)
        if is_wildcard(topic_filter):
            if topic_filter not in current:
                self._check_wildcard_bounds(connection.user, topic_filter, current)
            self._store.subscribe(subscription, now, connection.expires_at)
            return reply
        topic = parse_topic(topic_filter, self._limits)
        self._moderation.check(connection.user, topic, sending=False)
        self._presence.arrived(subscription, now, connection.expires_at)
        if topic == OPERATORS_TOPIC:
            # the status to start from travels in the reply, as a resume's backlog does: one
            # route response, no @connections post
            reply.update(self._desk.operators_status(now))
        reply["lastSeq"] = self._store.last_seq(topic)
        if action.since is not None:
            page = self._store.read_after(
                topic, action.since, self._limits.resume_max_messages, now
            )
            views, clipped = fit(
                [message_view(m, self._show) for m in page.messages],
                self._limits.reply_budget_bytes,
            )
            reply["messages"] = views
            reply["hasMore"] = page.has_more or clipped
        return reply

    def _check_wildcard_bounds(
        self, user: User, topic_filter: TopicFilter, current: list[TopicFilter]
    ) -> None:
        """Every distinct wildcard filter is looked up for the messages it may match, and the
        registry holds them all: a filter that can match nothing is refused, and so is one more
        than the connection's share (guests' smaller) or the deployment's bound (issue 15, item
        4). A filter someone already uses adds nothing to the registry, so only the per
        connection share applies to it."""
        if not can_match_a_topic(topic_filter):
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                "this filter matches no topic: room, desk and user topics have two levels",
            )
        guest = user.role is Role.GUEST
        share = self._limits.max_guest_wildcards if guest else self._limits.max_wildcards
        if sum(1 for f in current if is_wildcard(f)) >= share:
            who = "guest connection; register for more" if guest else "connection"
            raise ProtocolError(ErrorCode.FORBIDDEN, f"at most {share} wildcard filters per {who}")
        bound = self._settings.max_wildcard_filters
        if (
            not self._store.subscriber_ids(topic_filter)
            and len(self._store.wildcard_filters()) >= bound
        ):
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                f"the server already follows its {bound} distinct wildcard filters: subscribe to"
                " exact topics, or to a filter in use such as room/+",
            )

    def unsubscribe(self, connection: Connection, action: a.Unsubscribe) -> Event:
        topic_filter = parse_filter(action.topic, self._limits)
        removed = self._store.unsubscribe(connection.id, topic_filter)
        if removed:
            self._presence.departed(
                [Subscription(connection.id, topic_filter, connection.user)], self._clock.now_ms()
            )
        return {"type": "unsubscribed", "topic": topic_filter, "removed": removed}
