"""The broker's decisions as pure functions of a packet, the quotas and the permissions: what a
CONNECT is answered, which filters of a SUBSCRIBE are granted, whether a PUBLISH is routed,
refused or ends the connection, and what each ending is called on the wire and in lifecycle
events. The connection loop (``connection.py``) only carries them out.

Sources: the *MQTT* page of the AWS IoT developer guide ("AWS IoT differences from MQTT
specifications"), *AWS IoT Core endpoints and quotas*, *Lifecycle events*, *Reserved topics*
(``reserved.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hubbub.runtime.iot.hooks import DisconnectReason, Permissions
from hubbub.runtime.iot.packets import MQTT5, Connect, Publish, Subscribe
from hubbub.runtime.iot.quotas import IotQuotas
from hubbub.runtime.iot.reserved import publish_allowed, subscribe_allowed
from hubbub.runtime.iot.topics import (
    filter_problem,
    is_shared,
    topic_problem,
)

__all__ = [
    "PROBLEMS",
    "Problem",
    "PublishVerdict",
    "Refusal",
    "client_id_refusal",
    "connack_code",
    "effective_keepalive",
    "keepalive_timeout_s",
    "publish_verdict",
    "session_expiry_s",
    "subscribe_problem",
    "subscribe_verdicts",
    "will_is_sent",
]


class Refusal(Enum):
    """Why a CONNECT is refused: answered with a CONNACK carrying the code, then closed."""

    UNSUPPORTED_VERSION = "unsupported protocol version"
    BAD_CLIENT_ID = "client identifier not valid"
    NOT_AUTHORIZED = "not authorized"
    THROTTLED = "connection rate exceeded"


# (MQTT 3.1.1 return code, MQTT 5 reason code)
_CONNACK = {
    Refusal.UNSUPPORTED_VERSION: (0x01, 0x84),
    Refusal.BAD_CLIENT_ID: (0x02, 0x85),
    Refusal.NOT_AUTHORIZED: (0x05, 0x87),
    Refusal.THROTTLED: (0x03, 0x9F),  # 3.1.1 has no rate code: "server unavailable"
}


def connack_code(refusal: Refusal, version: int) -> int:
    v311, v5 = _CONNACK[refusal]
    return v5 if version == MQTT5 else v311


def client_id_refusal(connect: Connect, quotas: IotQuotas) -> Refusal | None:
    """An empty client id is given one by the broker, except for an MQTT 3.1.1 persistent
    session (3.1.1 §3.1.3-8); a client id over IoT Core's 128 bytes is refused."""
    if len(connect.client_id.encode()) > quotas.client_id_bytes:
        return Refusal.BAD_CLIENT_ID
    if not connect.client_id and not connect.clean_start and connect.version != MQTT5:
        return Refusal.BAD_CLIENT_ID
    return None


def effective_keepalive(requested: int, quotas: IotQuotas) -> int:
    """IoT Core takes a keep-alive of 0 or over the maximum as the maximum (1200 s), and one
    under 30 s as 30 s."""
    if requested == 0 or requested > quotas.keepalive_max_s:
        return quotas.keepalive_max_s
    return max(requested, quotas.keepalive_min_s)


def keepalive_timeout_s(keepalive: int) -> float:
    """No packet from the client for 1.5 times its keep-alive closes the connection."""
    return 1.5 * keepalive


def session_expiry_s(connect: Connect, quotas: IotQuotas) -> int:
    """How long the session outlives its connection: 0 for a clean session; the account's
    expiry for an MQTT 3.1.1 persistent session; MQTT 5's Session Expiry Interval, at most
    the account's."""
    if connect.version == MQTT5:
        return min(connect.properties.int_or(0x11, 0), quotas.session_expiry_s)
    return 0 if connect.clean_start else quotas.session_expiry_s


class Problem(Enum):
    """Why the broker closes a connection."""

    MALFORMED = "malformed packet"
    PROTOCOL_ERROR = "protocol error"
    PACKET_TOO_LARGE = "packet too large"
    TOPIC_INVALID = "topic name invalid"
    TOPIC_FILTER_INVALID = "topic filter invalid"
    TOPIC_ALIAS_INVALID = "topic alias invalid"
    QOS_NOT_SUPPORTED = "QoS 2 is not supported"
    NOT_AUTHORIZED = "not authorized"
    KEEPALIVE_TIMEOUT = "keep alive timeout"
    SESSION_TAKEN_OVER = "session taken over"
    SHUTTING_DOWN = "server shutting down"
    API_DISCONNECT = "administrative action"
    AUTH_EXPIRED = "maximum connect time"


# Problem -> (MQTT 5 DISCONNECT reason code, lifecycle disconnectReason)
PROBLEMS: dict[Problem, tuple[int, DisconnectReason]] = {
    Problem.MALFORMED: (0x81, DisconnectReason.CLIENT_ERROR),
    Problem.PROTOCOL_ERROR: (0x82, DisconnectReason.CLIENT_ERROR),
    Problem.PACKET_TOO_LARGE: (0x95, DisconnectReason.CLIENT_ERROR),
    Problem.TOPIC_INVALID: (0x90, DisconnectReason.CLIENT_ERROR),
    Problem.TOPIC_FILTER_INVALID: (0x8F, DisconnectReason.CLIENT_ERROR),
    Problem.TOPIC_ALIAS_INVALID: (0x94, DisconnectReason.CLIENT_ERROR),
    Problem.QOS_NOT_SUPPORTED: (0x9B, DisconnectReason.CLIENT_ERROR),
    Problem.NOT_AUTHORIZED: (0x87, DisconnectReason.AUTH_ERROR),
    Problem.KEEPALIVE_TIMEOUT: (0x8D, DisconnectReason.MQTT_KEEP_ALIVE_TIMEOUT),
    Problem.SESSION_TAKEN_OVER: (0x8E, DisconnectReason.DUPLICATE_CLIENTID),
    Problem.SHUTTING_DOWN: (0x8B, DisconnectReason.SERVER_INITIATED_DISCONNECT),
    Problem.API_DISCONNECT: (0x98, DisconnectReason.API_INITIATED_DISCONNECT),
    Problem.AUTH_EXPIRED: (0xA0, DisconnectReason.CUSTOMAUTH_TTL_EXPIRATION),
}


def will_is_sent(reason: DisconnectReason) -> bool:
    """The *Lifecycle events* table: every ending but the client's own DISCONNECT publishes
    the will."""
    return reason is not DisconnectReason.CLIENT_INITIATED_DISCONNECT


@dataclass(frozen=True, slots=True)
class PublishVerdict:
    route: bool
    problem: Problem | None = None
    """Set when the connection must be closed."""
    puback_reason: int = 0
    """MQTT 5: the PUBACK reason code of a refused QoS 1 PUBLISH (0x87 not authorized)."""


ROUTE = PublishVerdict(True)


def publish_verdict(
    publish: Publish, version: int, permissions: Permissions, quotas: IotQuotas
) -> PublishVerdict:
    """QoS 2 is not supported (the connection closes); a payload over 128 KB closes it
    (``CLIENT_ERROR``); so does a topic over the depth or size quota, and a ``$`` topic
    *Reserved topics* does not let clients publish to (lifecycle events, ``$SYS/...``, a topic
    nobody may create). A publish the policy refuses closes an MQTT 3.1.1 connection and gets
    reason code 0x87 in MQTT 5."""
    if publish.qos == 2:
        return PublishVerdict(False, Problem.QOS_NOT_SUPPORTED)
    if len(publish.payload) > quotas.payload_bytes:
        return PublishVerdict(False, Problem.PACKET_TOO_LARGE)
    if topic_problem(publish.topic, quotas.topic_bytes, quotas.topic_slashes):
        return PublishVerdict(False, Problem.TOPIC_INVALID)
    if not publish_allowed(publish.topic):
        return PublishVerdict(False, Problem.TOPIC_INVALID)
    if (publish.retain and publish.topic.startswith("$aws/")) or not permissions.can_publish(
        publish.topic
    ):
        if version == MQTT5:
            return PublishVerdict(False, None, 0x87)
        return PublishVerdict(False, Problem.NOT_AUTHORIZED)
    return ROUTE


# SUBACK failure codes: (MQTT 3.1.1, MQTT 5)
FILTER_INVALID = (0x80, 0x8F)
NOT_AUTHORIZED = (0x80, 0x87)
QUOTA_EXCEEDED = (0x80, 0x97)
SHARED_NOT_SUPPORTED = (0x80, 0x9E)


def subscribe_problem(subscribe: Subscribe) -> Problem | None:
    """A SUBSCRIBE with a ``$`` filter that *Reserved topics* does not let clients subscribe to
    (``$SYS/#``, a Basic Ingest topic, a topic nobody may create) ends the connection rather than
    getting a SUBACK failure: "unsupported publish or subscribe operations to reserved topics can
    result in a terminated connection". Shared subscriptions are refused per filter instead."""
    for sub in subscribe.subscriptions:
        if not is_shared(sub.topic_filter) and not subscribe_allowed(sub.topic_filter):
            return Problem.TOPIC_FILTER_INVALID
    return None


def subscribe_verdicts(
    subscribe: Subscribe,
    version: int,
    permissions: Permissions,
    quotas: IotQuotas,
    current: frozenset[str],
) -> tuple[int, ...] | None:
    """The SUBACK's code for each filter, or None when the SUBSCRIBE asks for QoS 2: IoT Core
    then sends no SUBACK at all. Filters past the 8th of one SUBSCRIBE, and new filters past
    50 on the connection, are refused with "quota exceeded"."""
    if any(sub.qos == 2 for sub in subscribe.subscriptions):
        return None
    pick = 1 if version == MQTT5 else 0
    held = set(current)
    codes: list[int] = []
    for i, sub in enumerate(subscribe.subscriptions):
        topic_filter = sub.topic_filter
        failure: tuple[int, int] | None = None
        if i >= quotas.filters_per_subscribe:
            failure = QUOTA_EXCEEDED
        elif is_shared(topic_filter):
            failure = SHARED_NOT_SUPPORTED
        elif filter_problem(topic_filter, quotas.topic_bytes, quotas.topic_slashes):
            failure = FILTER_INVALID
        elif not permissions.can_subscribe(topic_filter):
            failure = NOT_AUTHORIZED
        elif topic_filter not in held and len(held) >= quotas.subscriptions_per_connection:
            failure = QUOTA_EXCEEDED
        if failure is not None:
            codes.append(failure[pick])
            continue
        held.add(topic_filter)
        codes.append(sub.qos)
    return tuple(codes)
