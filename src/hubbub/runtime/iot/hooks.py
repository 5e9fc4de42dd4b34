"""The seams where IoT Core's other features plug into the broker.

- :class:`Authenticator` decides each CONNECT (a custom authorizer, an IoT policy) and hands
  back :class:`Permissions` that the broker asks on connect, subscribe, publish and receive;
- :class:`PublishSink` is offered every accepted PUBLISH before any subscriber sees it (topic
  rules; Basic Ingest consumes its topics);
- :class:`LifecycleSink` hears connects, disconnects, subscribes and unsubscribes with the
  fields IoT Core's lifecycle events carry.

The defaults are what a template without IoT resources gets: everyone may connect and do
anything (on AWS a device would need a certificate, SigV4 or a custom authorizer), no rules, and
lifecycle events published on their ``$aws/events/...`` topics by ``lifecycle.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from hubbub.runtime.iot.packets import NO_PROPERTIES, Properties

__all__ = [
    "ALLOW_ALL",
    "AllowAll",
    "AuthResult",
    "Authenticator",
    "ConnectRequest",
    "ConnectedEvent",
    "DisconnectReason",
    "DisconnectedEvent",
    "Hooks",
    "InboundMessage",
    "LifecycleSink",
    "NoLifecycle",
    "NoRules",
    "OpenDoor",
    "Permissions",
    "PublishSink",
    "SubscriptionEvent",
]


class DisconnectReason(StrEnum):
    """``disconnectReason`` of IoT Core's disconnect lifecycle event (*Lifecycle events*)."""

    AUTH_ERROR = "AUTH_ERROR"
    CLIENT_INITIATED_DISCONNECT = "CLIENT_INITIATED_DISCONNECT"
    CLIENT_ERROR = "CLIENT_ERROR"
    CONNECTION_LOST = "CONNECTION_LOST"
    DUPLICATE_CLIENTID = "DUPLICATE_CLIENTID"
    FORBIDDEN_ACCESS = "FORBIDDEN_ACCESS"
    MQTT_KEEP_ALIVE_TIMEOUT = "MQTT_KEEP_ALIVE_TIMEOUT"
    SERVER_ERROR = "SERVER_ERROR"
    SERVER_INITIATED_DISCONNECT = "SERVER_INITIATED_DISCONNECT"
    THROTTLED = "THROTTLED"
    WEBSOCKET_TTL_EXPIRATION = "WEBSOCKET_TTL_EXPIRATION"
    CUSTOMAUTH_TTL_EXPIRATION = "CUSTOMAUTH_TTL_EXPIRATION"
    API_INITIATED_DISCONNECT = "API_INITIATED_DISCONNECT"


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What a custom authorizer's event is made from (``protocolData.mqtt``/``http``,
    ``connectionMetadata.id``), plus what the broker knows of the connection."""

    client_id: str
    username: str | None
    password: bytes | None
    protocol_version: int
    """4 for MQTT 3.1.1, 5 for MQTT 5."""
    transport: str
    """``tcp`` or ``websocket``."""
    source_ip: str
    connection_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """The WebSocket handshake's headers (empty over TCP)."""
    query: Mapping[str, str] = field(default_factory=dict)
    """The WebSocket URL's query string parameters (empty over TCP)."""
    query_string: str = ""
    """The WebSocket URL's query string as sent, without the ``?`` (``protocolData.http``'s
    ``queryString``)."""
    clean_start: bool = True
    keepalive: int = 0


class Permissions(Protocol):
    """The answers of an IoT policy: ``iot:Connect`` on ``client/<id>``, ``iot:Publish`` on
    ``topic/<topic>``, ``iot:Subscribe`` on ``topicfilter/<filter>``, ``iot:Receive`` on
    ``topic/<topic>``."""

    def can_connect(self, client_id: str) -> bool: ...

    def can_publish(self, topic: str) -> bool: ...

    def can_subscribe(self, topic_filter: str) -> bool: ...

    def can_receive(self, topic: str) -> bool: ...


class AllowAll:
    def can_connect(self, client_id: str) -> bool:
        return True

    def can_publish(self, topic: str) -> bool:
        return True

    def can_subscribe(self, topic_filter: str) -> bool:
        return True

    def can_receive(self, topic: str) -> bool:
        return True


ALLOW_ALL: Permissions = AllowAll()


@dataclass(frozen=True, slots=True)
class AuthResult:
    allowed: bool
    principal: str = ""
    """``principalIdentifier`` of lifecycle events, ``principal()`` of rules."""
    permissions: Permissions = ALLOW_ALL
    disconnect_after_s: float | None = None
    """A custom authorizer's ``disconnectAfterInSeconds``: the connection is closed then, with
    ``CUSTOMAUTH_TTL_EXPIRATION``."""
    refresh_after_s: float | None = None
    """A custom authorizer's ``refreshAfterInSeconds``: the authorizer is asked again then."""


class Authenticator(Protocol):
    async def authenticate(self, request: ConnectRequest) -> AuthResult: ...


class OpenDoor:
    """No authorizer in the template: every client may connect and do anything."""

    async def authenticate(self, request: ConnectRequest) -> AuthResult:
        return AuthResult(True, principal=request.client_id)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A PUBLISH the broker accepted (from a client, a will, or the broker's own API)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    client_id: str
    """Empty for messages published through the API (``iot-data`` Publish)."""
    principal: str
    timestamp_ms: int
    properties: Properties = NO_PROPERTIES


class PublishSink(Protocol):
    def offer(self, message: InboundMessage) -> bool:
        """True when the sink consumed the message: it then reaches no subscriber. Basic
        Ingest topics (``$aws/rules/...``) never reach subscribers whatever this returns.
        Called on the broker's loop: it must not block (start work, don't wait for it)."""
        ...


class NoRules:
    def offer(self, message: InboundMessage) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ConnectedEvent:
    client_id: str
    timestamp_ms: int
    session_identifier: str
    principal_identifier: str
    ip_address: str
    version_number: int


@dataclass(frozen=True, slots=True)
class DisconnectedEvent:
    client_id: str
    timestamp_ms: int
    session_identifier: str
    principal_identifier: str
    client_initiated_disconnect: bool
    disconnect_reason: DisconnectReason
    version_number: int


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    client_id: str
    timestamp_ms: int
    session_identifier: str
    principal_identifier: str
    topics: tuple[str, ...]


class LifecycleSink(Protocol):
    def connected(self, event: ConnectedEvent) -> None: ...

    def disconnected(self, event: DisconnectedEvent) -> None: ...

    def subscribed(self, event: SubscriptionEvent) -> None: ...

    def unsubscribed(self, event: SubscriptionEvent) -> None: ...


class NoLifecycle:
    def connected(self, event: ConnectedEvent) -> None:
        pass

    def disconnected(self, event: DisconnectedEvent) -> None:
        pass

    def subscribed(self, event: SubscriptionEvent) -> None:
        pass

    def unsubscribed(self, event: SubscriptionEvent) -> None:
        pass


@dataclass(slots=True)
class Hooks:
    authenticator: Authenticator = field(default_factory=OpenDoor)
    publish_sink: PublishSink = field(default_factory=NoRules)
    lifecycle: LifecycleSink = field(default_factory=NoLifecycle)
