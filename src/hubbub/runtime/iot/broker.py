"""IoT Core's message broker: sessions by client id, the subscription index, retained messages,
and routing. Transports hand it connections (``connection.py``); the hooks (``hooks.py``) see
every connect, publish and lifecycle change.

Its public face for IoT Core's other features: :meth:`Broker.publish` (the ``iot-data``
Publish API and rules' republish), :meth:`Broker.disconnect` (``DeleteConnection``),
:attr:`Broker.hooks`, :meth:`Broker.client_ids`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from hubbub.runtime.iot.decisions import Problem
from hubbub.runtime.iot.hooks import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    Hooks,
    InboundMessage,
    Permissions,
    SubscriptionEvent,
)
from hubbub.runtime.iot.packets import NO_PROPERTIES, Properties, Publish, Subscription
from hubbub.runtime.iot.quotas import IotQuotas, TokenBucket
from hubbub.runtime.iot.sessions import Session
from hubbub.runtime.iot.topics import SubscriptionIndex, has_wildcard, is_basic_ingest

__all__ = ["Broker", "Client"]

log = logging.getLogger("hubbub.runtime.iot")

_DISCARDS_LOGGED_EVERY_S = 10.0
_VERSIONS_KEPT_S = 3600.0
"""A client away about this long connects again with ``versionNumber`` 0 (*Lifecycle events*)."""
_VERSIONS_REMEMBERED = 100_000
"""Absent client ids whose version numbers are kept (about 370 bytes each)."""


class Client(Protocol):
    """What the broker needs of a live connection."""

    client_id: str
    principal: str
    permissions: Permissions
    ip_address: str
    inflight_limit: int

    def send_publish(self, message: Publish) -> bool: ...

    def close(self, problem: Problem, *, prevent_will: bool = False) -> None: ...


@dataclass(slots=True)
class _Live:
    client: Client
    session: Session


def _now_ms() -> int:
    return int(time.time() * 1000)


class Broker:
    def __init__(
        self,
        quotas: IotQuotas | None = None,
        hooks: Hooks | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.quotas = quotas or IotQuotas()
        self.hooks = hooks or Hooks()
        self.monotonic = monotonic
        self.now_ms = now_ms
        self.sessions: dict[str, Session] = {}
        self.live: dict[str, _Live] = {}
        self.index = SubscriptionIndex()
        self.retained: dict[str, Publish] = {}
        self._connect_buckets: dict[str, TokenBucket] = {}
        self._queued: TokenBucket | None = None
        self._versions: dict[str, int] = {}
        """The latest connection's ``versionNumber`` per client id."""
        self._connection_versions: dict[int, int] = {}
        """Each live connection's own ``versionNumber`` (by ``id`` of its client), which its
        disconnected event repeats even after a newer connection took over."""
        self._gone: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """Client ids with no connection, the longest gone first: since when (monotonic), and
        after how long their version numbers start again from 0. At most
        ``_VERSIONS_REMEMBERED``: past that the longest gone is forgotten early (its next
        connection is version 0, which IoT Core allows), so a client churning through new ids
        cannot grow the broker without bound."""
        self.stats = {"published": 0, "delivered": 0, "dropped": 0, "consumed": 0, "discarded": 0}

    # connections ---------------------------------------------------------------------------
    def admit(self, client_id: str) -> bool:
        """IoT Core's 1 CONNECT per second per client id."""
        now = self.monotonic()
        bucket = self._connect_buckets.get(client_id)
        if bucket is None:
            rate = self.quotas.connects_per_second_per_client_id
            bucket = self._connect_buckets[client_id] = TokenBucket(rate, 1.0, now)
        return bucket.try_take(now)

    def attach(self, client: Client, clean_start: bool, expiry_s: int) -> tuple[Session, bool]:
        """Bind ``client`` to its session (the session and whether it was resumed). An older
        connection with the same client id is closed (``DUPLICATE_CLIENTID``)."""
        client_id = client.client_id
        old = self.live.pop(client_id, None)
        if old is not None:
            old.client.close(Problem.SESSION_TAKEN_OVER)
        session = self.sessions.get(client_id)
        if session is not None and (clean_start or session.expired(self.monotonic())):
            self._end_session(session)
            session = None
        present = session is not None
        if session is None:
            session = self.sessions[client_id] = Session(client_id, expiry_s)
        session.expiry_s = expiry_s
        session.gone_at = None
        self.live[client_id] = _Live(client, session)
        version = self._next_version(client_id)
        self._connection_versions[id(client)] = version
        self.hooks.lifecycle.connected(
            ConnectedEvent(
                client_id,
                self.now_ms(),
                session.identifier,
                client.principal,
                client.ip_address,
                version,
            )
        )
        return session, present

    def _next_version(self, client_id: str) -> int:
        """*Lifecycle events*, ``versionNumber``: it increases with each connection of a client
        id (its connect and disconnect events carry the same one), and starts again from 0
        once the client has been away about an hour, or, for a persistent session, longer
        than the session lives."""
        gone = self._gone.pop(client_id, None)
        if gone is not None and self.monotonic() - gone[0] >= gone[1]:
            self._versions.pop(client_id, None)
        version = self._versions.get(client_id, -1) + 1
        self._versions[client_id] = version
        return version

    def detach(self, client: Client, session: Session, reason: DisconnectReason) -> None:
        """The connection of ``client`` to ``session`` ended; a clean session ends with it (a
        connection that was taken over leaves the session to the newer one)."""
        live = self.live.get(client.client_id)
        if live is not None and live.client is client:
            del self.live[client.client_id]
            if session.expiry_s == 0:
                self._end_session(session)
            else:
                session.gone_at = self.monotonic()
            self._note_gone(client.client_id, float(session.expiry_s or _VERSIONS_KEPT_S))
        version = self._connection_versions.pop(id(client), None)
        self.hooks.lifecycle.disconnected(
            DisconnectedEvent(
                client.client_id,
                self.now_ms(),
                session.identifier,
                client.principal,
                reason is DisconnectReason.CLIENT_INITIATED_DISCONNECT,
                reason,
                self._versions.get(client.client_id, 0) if version is None else version,
            )
        )

    def _note_gone(self, client_id: str, kept_s: float) -> None:
        self._gone[client_id] = (self.monotonic(), kept_s)
        self._gone.move_to_end(client_id)
        while len(self._gone) > _VERSIONS_REMEMBERED:
            forgotten, _ = self._gone.popitem(last=False)
            self._versions.pop(forgotten, None)

    def _end_session(self, session: Session) -> None:
        session.each_subscription(lambda f: self.index.remove(f, session.client_id))
        session.subscriptions.clear()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def expire_sessions(self) -> int:
        now = self.monotonic()
        ended = [s for s in self.sessions.values() if s.client_id not in self.live]
        ended = [s for s in ended if s.expired(now)]
        for session in ended:
            self._end_session(session)
        stale = [k for k, b in self._connect_buckets.items() if b.wait_s(now) == 0.0]
        for key in stale:
            del self._connect_buckets[key]
        for client_id, (since, kept_s) in list(self._gone.items()):
            if now - since >= kept_s:  # the next connection starts again from 0
                del self._gone[client_id]
                self._versions.pop(client_id, None)
        return len(ended)

    # subscriptions -------------------------------------------------------------------------
    def subscribe(
        self, client: Client, session: Session, granted: list[Subscription]
    ) -> list[Publish]:
        """Record granted subscriptions; the retained messages to send for them (only a filter
        without wildcards that names the retained message's topic receives it)."""
        for sub in granted:
            session.subscriptions[sub.topic_filter] = sub
            self.index.add(sub.topic_filter, session.client_id)
        if granted:
            filters = tuple(s.topic_filter for s in granted)
            self.hooks.lifecycle.subscribed(self._subscription_event(client, session, filters))
        retained = []
        for sub in granted:
            message = self.retained.get(sub.topic_filter)
            if message is None or has_wildcard(sub.topic_filter) or sub.retain_handling == 2:
                continue
            if client.permissions.can_receive(message.topic):
                retained.append(replace(message, qos=min(message.qos, sub.qos), retain=True))
        return retained

    def unsubscribe(self, client: Client, session: Session, filters: tuple[str, ...]) -> list[int]:
        codes, gone = [], []
        for topic_filter in filters:
            if session.subscriptions.pop(topic_filter, None) is None:
                codes.append(0x11)  # no subscription existed
                continue
            self.index.remove(topic_filter, session.client_id)
            codes.append(0x00)
            gone.append(topic_filter)
        if gone:
            self.hooks.lifecycle.unsubscribed(
                self._subscription_event(client, session, tuple(gone))
            )
        return codes

    def _subscription_event(
        self, client: Client, session: Session, filters: tuple[str, ...]
    ) -> SubscriptionEvent:
        """The lifecycle event of a subscribe or unsubscribe: the same fields either way, as
        IoT Core writes them, stamped now."""
        return SubscriptionEvent(
            session.client_id, self.now_ms(), session.identifier, client.principal, filters
        )

    # publishing ----------------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        properties: Properties = NO_PROPERTIES,
        client_id: str = "",
        principal: str = "",
    ) -> None:
        """Accept one message: offered to the publish sink (rules) first; Basic Ingest topics
        and messages the sink consumes go no further; the rest is retained if asked and routed
        to every matching subscription."""
        self.stats["published"] += 1
        inbound = InboundMessage(
            topic, payload, qos, retain, client_id, principal, self.now_ms(), properties
        )
        consumed = self.hooks.publish_sink.offer(inbound)
        if consumed or is_basic_ingest(topic):
            self.stats["consumed"] += 1
            return
        props = properties.without(0x23, 0x0B)  # topic alias, subscription identifier
        message = Publish(topic, payload, qos, retain, False, None, props)
        if retain:
            if payload:
                self.retained[topic] = message
            else:
                self.retained.pop(topic, None)
        self._route(message, client_id)

    def _route(self, message: Publish, sender: str) -> None:
        """Each subscribed client gets the message once, at the highest QoS among its
        matching subscriptions (at most the message's)."""
        best: dict[str, Subscription] = {}
        for topic_filter, client_id in self.index.matching(message.topic):
            session = self.sessions.get(client_id)
            if session is None:
                continue
            sub = session.subscriptions.get(topic_filter)
            if sub is None or (sub.no_local and client_id == sender):
                continue
            held = best.get(client_id)
            if held is None or sub.qos > held.qos:
                best[client_id] = sub
        for client_id, sub in best.items():
            self._deliver(client_id, message, sub)

    def _deliver(self, client_id: str, message: Publish, sub: Subscription) -> None:
        qos = min(message.qos, sub.qos)
        out = replace(message, qos=qos, retain=message.retain and sub.retain_as_published)
        live = self.live.get(client_id)
        session = self.sessions[client_id]
        if live is None:
            if qos == 1 and self._within_rate(session) and self._may_queue():
                session.enqueue(out, self.quotas.queued_per_session)
            return
        if not live.client.permissions.can_receive(message.topic):
            return
        if not self._within_rate(session):
            return
        self.stats["delivered"] += 1
        if qos == 0:
            if not live.client.send_publish(out):
                self.stats["dropped"] += 1
            return
        if not session.enqueue(out, self.quotas.queued_per_session):
            self.stats["dropped"] += 1
        self.pump(live.client, session)

    def _may_queue(self) -> bool:
        """IoT Core's queued messages per second per account, for absent persistent sessions:
        past it a message is dropped, and what is queued stays. This also bounds how fast a
        client that leaves many persistent sessions behind can grow the broker."""
        now = self.monotonic()
        if self._queued is None:
            rate = self.quotas.queued_per_second
            self._queued = TokenBucket(rate, rate, now)
        if self._queued.try_take(now):
            return True
        self.stats["dropped"] += 1
        return False

    def _within_rate(self, session: Session) -> bool:
        """IoT Core's outbound publishes per second per client: a message past it is
        discarded, never queued or sent later (the quotas page: "Publish requests that exceed
        that quota are discarded"), whatever its QoS, live or for an absent persistent session.
        A subscriber to a busy wildcard loses messages this way on AWS; here it shows, and the
        log says so, at most every ten seconds per client."""
        now = self.monotonic()
        bucket = session.deliveries
        if bucket is None:
            rate = self.quotas.deliveries_per_second
            bucket = session.deliveries = TokenBucket(rate, rate, now)
        if bucket.try_take(now):
            return True
        session.discarded += 1
        self.stats["discarded"] += 1
        logged = session.discards_logged
        if logged is None or now - logged[0] >= _DISCARDS_LOGGED_EVERY_S:
            since = session.discarded - (0 if logged is None else logged[1])
            log.warning(
                "iot: %d message(s) for client %r discarded: over IoT Core's %g publishes "
                "a second per connection",
                since,
                session.client_id,
                self.quotas.deliveries_per_second,
            )
            session.discards_logged = (now, session.discarded)
        return False

    def pump(self, client: Client, session: Session) -> None:
        """Send the session's queued QoS 1 messages that fit in the in-flight window."""
        for message in session.take_ready(client.inflight_limit):
            client.send_publish(message)

    # the API -------------------------------------------------------------------------------
    def client_ids(self) -> list[str]:
        return sorted(self.live)

    def disconnect(
        self, client_id: str, *, clean_session: bool = False, prevent_will: bool = False
    ) -> bool:
        """``DeleteConnection``: close the client's connection (its will is published unless
        ``prevent_will``; its session ends too with ``clean_session``); False when it is not
        connected."""
        live = self.live.get(client_id)
        if live is None:
            return False
        if clean_session:
            live.session.expiry_s = 0  # ended by detach when the connection is gone
        live.client.close(Problem.API_DISCONNECT, prevent_will=prevent_will)
        return True

    async def sweep(self, every_s: float = 60.0) -> None:
        """Ends expired persistent sessions, forever (a task of the runtime)."""
        while True:
            await asyncio.sleep(every_s)
            if ended := self.expire_sessions():
                log.info("%d persistent MQTT sessions expired", ended)

    def shutdown(self) -> None:
        for live in list(self.live.values()):
            live.client.close(Problem.SHUTTING_DOWN, prevent_will=True)
