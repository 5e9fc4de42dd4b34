"""MQTT clients as members of hubbub's topics: presence from IoT Core's lifecycle events.

IoT Core publishes a lifecycle event when a client subscribes, unsubscribes or disconnects
(AWS IoT developer guide, *Lifecycle events*); the stack's presence rule hands them to
``handlers/mqtt_presence.py``, on AWS as locally. Presence is derived from the subscriptions
in the store, so an MQTT client is recorded the way a WebSocket one is: a connection item (its
user from the authorizer's principal, as stored now) and one subscription per exact topic it
follows, written through ``Presence.arrived`` and ``Presence.departed``, the same path as a
WebSocket ``subscribe``, ``unsubscribe`` and ``$disconnect``. So WebSocket members get
``joined``/``left`` (or the large-room summary) for it, and ``presence`` lists it.

The connection id is ``mqtt:`` and a digest of the client id and IoT Core's
``sessionIdentifier`` (one per session: a client id reused by a newer connection with a clean
session is another member, and the older one's late ``disconnected`` cannot remove it). Pushes skip
these ids (``is_mqtt_member``): the broker delivers to MQTT clients itself.

"Lifecycle messages might be sent out of order. You might receive duplicate messages." (the same
page). Duplicates change nothing (a subscription already recorded is not new; a deleted
connection deletes nothing). For order, ``disconnected`` leaves a marker with its timestamp
(as ``unsubscribed`` does for each topic), and a subscribe event stamped no later than it is
ignored (for that topic): an end handled before the subscribe it followed leaves no member.
A resumed persistent session subscribes again later than the marker, so it is present again
once it does.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from hubbub.chat import policy
from hubbub.chat.moderation import Moderation
from hubbub.chat.mqtt import MEMBER_PREFIX, SESSION_S, member_of
from hubbub.chat.presence import Presence, makes_present
from hubbub.chat.ratelimit import Limited, Throttle
from hubbub.clock import Clock
from hubbub.ids import ConnectionId, TopicFilter, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import Limits
from hubbub.protocol.topics import parse_filter, parse_topic
from hubbub.push.port import PushOutcome
from hubbub.store.port import Connection, Role, Store, Subscription, User

__all__ = ["Lifecycle", "LifecycleKind", "MqttMembers", "member_connection", "parse_lifecycle"]

log = logging.getLogger(__name__)


class OperatorsChanged(Protocol):
    """``Chat``'s announcement on ``$sys/operators`` when an operator's first connection opens
    or their last one closes."""

    def __call__(
        self, connection_id: ConnectionId, operator: User, *, opened: bool, now_ms: int
    ) -> PushOutcome: ...


_MARKER_USER = User(UserId("g_mqttclosed"), Role.GUEST, None)
"""Whom a closed-session marker is recorded as: nobody, so no index (operators online) sees it."""


class LifecycleKind(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The fields of one lifecycle event this module reads."""

    kind: LifecycleKind
    client_id: str
    session: str
    principal: str
    timestamp_ms: int
    topics: tuple[str, ...] = ()


def parse_lifecycle(event: dict[str, Any]) -> Lifecycle:
    """One lifecycle event as IoT Core publishes it (the rule passes it on whole, ``SELECT *``);
    anything else is ``bad_request``. ``connected`` carries no topics and changes no presence."""
    try:
        kind = LifecycleKind(str(event.get("eventType")))
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "not a presence lifecycle event") from None
    fields = [event.get(k) for k in ("clientId", "sessionIdentifier", "principalIdentifier")]
    timestamp = event.get("timestamp")
    if not all(isinstance(f, str) and f for f in fields) or not isinstance(timestamp, int):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "lifecycle event: missing fields")
    topics = event.get("topics", [])
    if kind is LifecycleKind.DISCONNECTED:
        topics = []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "lifecycle event: topics must be strings")
    client_id, session, principal = (str(f) for f in fields)
    return Lifecycle(kind, client_id, session, principal, timestamp, tuple(topics))


def member_connection(client_id: str, session: str) -> ConnectionId:
    """The member's connection id: ``mqtt:`` and 32 hex digits of (client id, session). Client
    ids may hold any characters (128 bytes of UTF-8); the digest is a safe key of fixed size."""
    digest = hashlib.sha256(f"{client_id}\0{session}".encode()).hexdigest()[:32]
    return ConnectionId(f"{MEMBER_PREFIX}{digest}")


def _marker(connection_id: ConnectionId, topic_filter: TopicFilter | None = None) -> ConnectionId:
    """Where the end of the session (or, with a filter, of that one subscription) is noted."""
    if topic_filter is None:
        return ConnectionId(f"{connection_id}:closed")
    digest = hashlib.sha256(topic_filter.encode()).hexdigest()[:16]
    return ConnectionId(f"{connection_id}:unsub:{digest}")


class MqttMembers:
    def __init__(
        self,
        store: Store,
        presence: Presence,
        moderation: Moderation,
        limits: Limits,
        clock: Clock,
        operators_changed: OperatorsChanged,
        throttle: Throttle,
    ) -> None:
        self._store = store
        self._presence = presence
        self._moderation = moderation
        self._limits = limits
        self._clock = clock
        self._operators_changed = operators_changed
        self._throttle = throttle

    def typing(self, user: User, raw_topic: str) -> PushOutcome:
        """An MQTT client's typing notice (``{"type": "typing"}`` through Basic Ingest): the
        same checks, allowance and ``typing`` event as a WebSocket ``typing``."""
        topic = parse_topic(raw_topic, self._limits)
        policy.check_send(user, topic)
        self._throttle.take(Limited.TYPING, user.id, self._clock.now_ms(), "typing too often")
        self._moderation.check(user, topic, sending=True)
        return self._presence.typing(topic, user)

    def apply(self, event: Lifecycle) -> PushOutcome:
        """Carry out one event; the outcome names the WebSocket connections found gone."""
        connection_id = member_connection(event.client_id, event.session)
        if event.kind is LifecycleKind.DISCONNECTED:
            return self._disconnected(connection_id, event)
        if self._ended(_marker(connection_id), event.timestamp_ms):
            log.info("mqtt lifecycle event older than its session's end: ignored")
            return PushOutcome()
        if event.kind is LifecycleKind.SUBSCRIBED:
            return self._subscribed(connection_id, event)
        return self._unsubscribed(connection_id, event)

    def _subscribed(self, connection_id: ConnectionId, event: Lifecycle) -> PushOutcome:
        now = self._clock.now_ms()
        user = member_of(event.principal, self._store)
        outcome = PushOutcome()
        known = self._store.get_connection(connection_id)
        if known is None:
            expires = now // 1000 + SESSION_S
            member = Connection(connection_id, user, now, expires, event.client_id)
            self._store.put_connection(member)  # the client id: moderation disconnects by it
            if user.role is Role.OPERATOR:
                outcome.merge(self._operators_changed(connection_id, user, opened=True, now_ms=now))
        elif known.user != user:  # renamed since its last subscribe: new subscriptions say so
            self._store.set_connection_user(connection_id, user)
        for topic_filter in self._filters(event.topics):
            marker = _marker(connection_id, topic_filter)
            if makes_present(topic_filter) and not self._ended(marker, event.timestamp_ms):
                self._join(Subscription(connection_id, topic_filter, user), now)
        return outcome

    def _filters(self, raw: tuple[str, ...]) -> list[TopicFilter]:
        """The event's filters hubbub can name (IoT Core's policy allowed each already)."""
        found = []
        for text in raw:
            try:
                found.append(parse_filter(text, self._limits))
            except ProtocolError:
                continue
        return found

    def _join(self, subscription: Subscription, now_ms: int) -> None:
        """The one topic's presence, when the filter makes the user present there and the
        chat allows it: IoT Core checked the authorizer's policy already; a ban it does not
        know of is checked here, as a WebSocket subscribe checks it."""
        topic_filter = subscription.filter
        if not makes_present(topic_filter):
            return
        try:
            topic = parse_topic(topic_filter, self._limits)
            policy.check_subscribe(subscription.user, topic_filter)
            self._moderation.check(subscription.user, topic, sending=False)
        except ProtocolError as exc:
            log.info("mqtt member not present in %s: %s", topic_filter, exc.message)
            return
        self._presence.arrived(subscription, now_ms, now_ms // 1000 + SESSION_S)

    def _ended(self, marker_id: ConnectionId, timestamp_ms: int) -> bool:
        """Whether an event stamped ``timestamp_ms`` comes from before the end noted there."""
        marker = self._store.get_connection(marker_id)
        return marker is not None and timestamp_ms <= marker.connected_at

    def _note_end(self, marker_id: ConnectionId, timestamp_ms: int, now_ms: int) -> None:
        """Note an end (the latest wins), so a subscribe event from before it, handled after
        it, is recognised as stale."""
        if not self._ended(marker_id, timestamp_ms):
            expires = now_ms // 1000 + SESSION_S
            self._store.put_connection(Connection(marker_id, _MARKER_USER, timestamp_ms, expires))

    def _unsubscribed(self, connection_id: ConnectionId, event: Lifecycle) -> PushOutcome:
        now = self._clock.now_ms()
        filters = self._filters(event.topics)
        for topic_filter in filters:
            if makes_present(topic_filter):
                self._note_end(_marker(connection_id, topic_filter), event.timestamp_ms, now)
        connection = self._store.get_connection(connection_id)
        if connection is None:
            return PushOutcome()
        removed = [
            Subscription(connection_id, topic_filter, connection.user)
            for topic_filter in filters
            if self._store.unsubscribe(connection_id, topic_filter)
        ]
        return self._presence.departed(removed, now)

    def _disconnected(self, connection_id: ConnectionId, event: Lifecycle) -> PushOutcome:
        now = self._clock.now_ms()
        self._note_end(_marker(connection_id), event.timestamp_ms, now)
        connection = self._store.get_connection(connection_id)
        removed = self._store.delete_connection(connection_id)
        outcome = PushOutcome()
        if connection is not None and connection.user.role is Role.OPERATOR:
            outcome.merge(
                self._operators_changed(connection_id, connection.user, opened=False, now_ms=now)
            )
        outcome.merge(self._presence.departed(removed, now))
        return outcome
