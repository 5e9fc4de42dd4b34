"""The MQTT control packets of 3.1.1 and 5 as plain values, and the codec's typed errors.

One model serves both versions: a field MQTT 3.1.1 lacks (properties, reason codes on
acknowledgements) is empty or zero there, and the codec writes it only for version 5. Keeping
the packets as data lets the broker's decisions be pure functions of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

__all__ = [
    "MQTT5",
    "MQTT311",
    "Ack",
    "Auth",
    "Connack",
    "Connect",
    "Disconnect",
    "MalformedPacket",
    "MqttError",
    "Packet",
    "PacketTooLarge",
    "PacketType",
    "Pingreq",
    "Pingresp",
    "Properties",
    "PropertyValue",
    "Publish",
    "Suback",
    "Subscribe",
    "Subscription",
    "Unsuback",
    "Unsubscribe",
    "UnsupportedProtocolVersion",
    "Will",
]

MQTT311 = 4
"""The protocol level byte of MQTT 3.1.1."""
MQTT5 = 5


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class MqttError(Exception):
    """Bytes that are not MQTT: the connection that sent them is closed, and only that one."""

    reason_code = 0x81  # Malformed Packet (MQTT 5 reason code, sent in a DISCONNECT)


class MalformedPacket(MqttError):
    pass


class PacketTooLarge(MqttError):
    reason_code = 0x95


class UnsupportedProtocolVersion(MqttError):
    """A CONNECT of a version this broker does not speak (3.1, or anything past 5): answered
    with CONNACK "unacceptable protocol version" before the connection is closed."""

    reason_code = 0x84


PropertyValue = int | str | bytes | tuple[str, str]


@dataclass(frozen=True, slots=True)
class Properties:
    """MQTT 5 properties in wire order: (identifier, value) pairs. User properties and
    subscription identifiers may repeat; the codec refuses any other duplicate."""

    items: tuple[tuple[int, PropertyValue], ...] = ()

    def get(self, ident: int) -> PropertyValue | None:
        for key, value in self.items:
            if key == ident:
                return value
        return None

    def int_or(self, ident: int, default: int) -> int:
        value = self.get(ident)
        return value if isinstance(value, int) else default

    def str_or_none(self, ident: int) -> str | None:
        value = self.get(ident)
        return value if isinstance(value, str) else None

    def user(self) -> tuple[tuple[str, str], ...]:
        return tuple(v for k, v in self.items if k == 0x26 and isinstance(v, tuple))

    def without(self, *idents: int) -> Properties:
        return Properties(tuple((k, v) for k, v in self.items if k not in idents))

    def __bool__(self) -> bool:
        return bool(self.items)


NO_PROPERTIES = Properties()


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Connect:
    client_id: str
    version: int = MQTT311
    clean_start: bool = True
    keepalive: int = 60
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Connack:
    session_present: bool = False
    reason: int = 0
    """MQTT 5 reason code, or MQTT 3.1.1 return code (0-5)."""
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Ack:
    """PUBACK, and the QoS 2 handshake's PUBREC/PUBREL/PUBCOMP, which share its layout."""

    kind: PacketType
    packet_id: int
    reason: int = 0
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Subscription:
    topic_filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Suback:
    packet_id: int
    reasons: tuple[int, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Unsuback:
    packet_id: int
    reasons: tuple[int, ...] = ()
    """MQTT 5 only: 3.1.1's UNSUBACK has no payload."""
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Pingreq:
    pass


@dataclass(frozen=True, slots=True)
class Pingresp:
    pass


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason: int = 0
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True)
class Auth:
    reason: int = 0
    properties: Properties = NO_PROPERTIES


Packet = (
    Connect
    | Connack
    | Publish
    | Ack
    | Subscribe
    | Suback
    | Unsubscribe
    | Unsuback
    | Pingreq
    | Pingresp
    | Disconnect
    | Auth
)
