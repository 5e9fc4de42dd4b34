"""Deliver stored messages to every matching subscription, once per connection.

Subscribers are found by one lookup per matching filter (the exact topic plus the registered
wildcard filters that match it), never by scanning connections. The wildcard filters come from
the registry entries anchored at the topic's own prefixes, matched through a ``FilterTrie``, so a
message costs the same however many filters are anchored elsewhere. The frame is encoded once
per message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hubbub.chat.mqtt import is_mqtt_member
from hubbub.chat.views import ShowAttachment, change_event
from hubbub.ids import ConnectionId, Topic, TopicFilter
from hubbub.protocol.events import encode
from hubbub.protocol.filtertrie import FilterTrie
from hubbub.push.port import Broadcast, NoBroadcast, Push, PushOutcome
from hubbub.store.records import Message
from hubbub.store.roles import Subscriptions

__all__ = ["FanOut", "FanOutReport", "filters_matching"]


def filters_matching(topic: Topic, wildcards: Iterable[TopicFilter]) -> list[TopicFilter]:
    """The filters a subscriber of ``topic`` may hold: the topic itself and each registered
    wildcard that matches it (one lookup each, never a scan)."""
    return [TopicFilter(topic), *FilterTrie(wildcards).matching(topic)]


@dataclass(slots=True)
class FanOutReport:
    delivered: int = 0
    gone: set[ConnectionId] = field(default_factory=set)
    failed: set[ConnectionId] = field(default_factory=set)


class FanOut:
    def __init__(
        self,
        subscriptions: Subscriptions,
        push: Push,
        broadcast: Broadcast | None = None,
        show: ShowAttachment | None = None,
    ) -> None:
        """``show`` mints attachment URLs as the frame is built (never stored: they expire)."""
        self._show = show
        self._subscriptions = subscriptions
        self._push = push
        self._broadcast = broadcast or NoBroadcast()

    def filters_of_topic(self, topic: Topic) -> list[TopicFilter]:
        """The filters that match ``topic`` among those subscribed with: the topic itself and the
        registry's wildcard filters anchored at its prefixes that match it."""
        return filters_matching(topic, self._subscriptions.wildcard_filters_for(topic))

    def recipients_of(self, topic: Topic) -> list[ConnectionId]:
        """Every WebSocket connection whose filters match ``topic``, once each. MQTT members
        are subscribers too (presence counts them) but the broker delivers to them: the one
        publish to the broker reaches them, never a post to ``@connections``."""
        seen: dict[ConnectionId, None] = {}
        for topic_filter in self.filters_of_topic(topic):
            for connection_id in self._subscriptions.subscriber_ids(topic_filter):
                if not is_mqtt_member(connection_id):
                    seen.setdefault(connection_id, None)
        return list(seen)

    def deliver(self, message: Message, *, inserted: bool = True) -> FanOutReport:
        """Push a new message (``inserted``), or the ``edited``/``deleted`` of a rewritten one."""
        report = FanOutReport()
        event = change_event(message, inserted=inserted, show=self._show)
        if event is None:
            return report
        recipients = self.recipients_of(message.topic)
        data = encode(event).encode("utf-8")
        if recipients:
            outcome: PushOutcome = self._push.post_many(data, recipients)
            report.gone = outcome.gone
            report.failed = outcome.failed
            report.delivered = len(recipients) - len(outcome.gone) - len(outcome.failed)
        if not report.failed:
            # once on the topic to the MQTT broker, which fans it out itself; if it raises, the
            # record is retried and WebSocket clients drop the repeat by seq
            self._broadcast.publish(message.topic, data)
        return report
