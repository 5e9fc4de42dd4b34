"""IoT Core's message broker quotas, AWS defaults, each configurable
(``hubbub serve --iot-quota NAME=VALUE``), and the token bucket that enforces the rates.

Defaults are the *AWS IoT Core endpoints and quotas* page's (message broker limits); the few
that are this emulator's own bounds say so. What happens when each is exceeded is in
docs/runtime.md ("IoT Core (MQTT)").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IotQuotas", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class IotQuotas:
    payload_bytes: int = 128 * 1024
    subscriptions_per_connection: int = 50
    filters_per_subscribe: int = 8
    topic_slashes: int = 7
    topic_bytes: int = 256
    publishes_per_second: float = 100.0
    """Inbound PUBLISH requests per second per connection; a faster client is held to it."""
    deliveries_per_second: float = 100.0
    """Outbound PUBLISH requests per second per client: the same AWS quota as inbound
    (*Publish requests per second per connection*, "inbound and outbound", not adjustable),
    metered on its own; past it a message for the client is discarded, as IoT Core discards
    it."""
    connects_per_second_per_client_id: float = 1.0
    client_id_bytes: int = 128
    inflight_per_client: int = 100
    """Outbound QoS 1 messages awaiting PUBACK; more wait in the session's queue."""
    keepalive_min_s: int = 30
    keepalive_max_s: int = 1200
    """A keep-alive of 0 or above this is taken as this; below the minimum, as the minimum."""
    session_expiry_s: int = 3600
    """Persistent sessions end this long after their client went away (AWS default 1 hour)."""
    topic_aliases: int = 8
    queued_per_second: float = 500.0
    """Queued messages per second per account: QoS 1 messages for absent persistent sessions
    past it are dropped ("New incoming messages that would exceed the limits are dropped")."""
    queued_per_session: int = 1000
    """This emulator's bound on messages held for one session (AWS meters them per account)."""
    connect_timeout_s: float = 10.0
    """This emulator's bound on the time between the TCP/WebSocket connection and CONNECT."""
    outbound_bytes: int = 8 * 1024 * 1024
    """This emulator's bound on bytes waiting to be written to one slow client; QoS 0 messages
    past it are dropped (QoS 1 ones wait in the session)."""

    @property
    def max_packet_bytes(self) -> int:
        """The largest packet the decoder buffers: a full payload plus room for the topic,
        the properties and the headers."""
        return self.payload_bytes + 16 * 1024


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up. Pure: the caller passes the time."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def try_take(self, now: float) -> bool:
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def reserve(self, now: float) -> float:
        """Take a token now, in debt if need be: how long the caller must wait to have
        honestly earned it."""
        self._refill(now)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def wait_s(self, now: float) -> float:
        """How long until a token is there (0 when one is)."""
        self._refill(now)
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate
