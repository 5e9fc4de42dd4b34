"""A client's session: its subscriptions and its QoS 1 messages in flight or waiting.

A persistent session outlives its connection (IoT Core keeps it an hour by default): its
subscriptions keep matching, QoS 1 messages published meanwhile wait in its queue, and on
reconnect the unacknowledged ones are sent again with DUP set, then the queue (*MQTT*, "Using
MQTT persistent sessions"). QoS 0 messages are not kept for an absent client.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hubbub.runtime.iot.packets import Publish, Subscription
from hubbub.runtime.iot.quotas import TokenBucket

__all__ = ["Session"]


@dataclass(slots=True)
class Session:
    client_id: str
    expiry_s: int
    """0: the session ends with its connection."""
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    inflight: dict[int, Publish] = field(default_factory=dict)
    queue: deque[Publish] = field(default_factory=deque)
    identifier: str = field(default_factory=lambda: uuid.uuid4().hex)
    gone_at: float | None = None
    """When its last connection ended (monotonic), for expiry."""
    dropped: int = 0
    """Messages refused because the queue was full."""
    deliveries: TokenBucket | None = None
    """The client's outbound publishes per second (made on its first message)."""
    discarded: int = 0
    """Messages discarded because the client was over its outbound rate."""
    discards_logged: tuple[float, int] | None = None
    """When the discards were last logged, and how many there had been then."""
    _next_id: int = 1

    def expired(self, now: float) -> bool:
        return self.gone_at is not None and now - self.gone_at >= self.expiry_s

    def next_packet_id(self) -> int:
        for _ in range(65535):
            packet_id = self._next_id
            self._next_id = packet_id % 65535 + 1
            if packet_id not in self.inflight:
                return packet_id
        raise RuntimeError("no free packet identifier")

    def enqueue(self, message: Publish, limit: int) -> bool:
        if len(self.queue) >= limit:
            self.dropped += 1
            return False
        self.queue.append(message)
        return True

    def take_ready(self, inflight_limit: int) -> list[Publish]:
        """Queued QoS 1 messages that fit in the in-flight window, numbered and marked in
        flight, in order."""
        ready: list[Publish] = []
        while self.queue and len(self.inflight) < inflight_limit:
            message = self.queue.popleft()
            packet_id = self.next_packet_id()
            numbered = replace(message, packet_id=packet_id)
            self.inflight[packet_id] = numbered
            ready.append(numbered)
        return ready

    def acknowledge(self, packet_id: int) -> bool:
        return self.inflight.pop(packet_id, None) is not None

    def redeliveries(self) -> list[Publish]:
        """Messages sent and never acknowledged, again, with DUP set (same packet ids)."""
        return [replace(message, dup=True) for message in self.inflight.values()]

    def filters(self) -> frozenset[str]:
        return frozenset(self.subscriptions)

    def each_subscription(self, visit: Callable[[str], None]) -> None:
        for topic_filter in list(self.subscriptions):
            visit(topic_filter)
