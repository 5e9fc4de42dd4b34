"""One MQTT connection, over whichever transport carries its bytes: CONNECT, then packets until
the client leaves, the keep-alive lapses or the broker closes it.

A malformed packet or any other ending closes this connection only; its publishes are held to
the per-connection rate by not reading its socket, which costs no other client anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Protocol

from hubbub.runtime.iot.broker import Broker
from hubbub.runtime.iot.codec import StreamDecoder, encode
from hubbub.runtime.iot.decisions import (
    PROBLEMS,
    Problem,
    Refusal,
    client_id_refusal,
    connack_code,
    effective_keepalive,
    keepalive_timeout_s,
    publish_verdict,
    session_expiry_s,
    subscribe_problem,
    subscribe_verdicts,
    will_is_sent,
)
from hubbub.runtime.iot.hooks import ALLOW_ALL, ConnectRequest, DisconnectReason, Permissions
from hubbub.runtime.iot.packets import (
    MQTT5,
    MQTT311,
    Ack,
    Connack,
    Connect,
    Disconnect,
    MqttError,
    Packet,
    PacketTooLarge,
    PacketType,
    Pingreq,
    Pingresp,
    Properties,
    Publish,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
    UnsupportedProtocolVersion,
)
from hubbub.runtime.iot.quotas import TokenBucket
from hubbub.runtime.iot.sessions import Session

__all__ = ["Connection", "Transport"]

log = logging.getLogger("hubbub.runtime.iot")


class Transport(Protocol):
    kind: str
    """``tcp`` or ``websocket``."""
    ip_address: str
    headers: dict[str, str]
    query: dict[str, str]
    query_string: str
    closed_cleanly: bool
    """The client closed the transport itself (a WebSocket close frame)."""

    async def read(self) -> bytes:
        """The next bytes from the client; b"" when it has gone."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class _Closed(Exception):
    """The broker ended this connection; the reason is already recorded."""


class Connection:
    def __init__(self, broker: Broker, transport: Transport) -> None:
        self.broker = broker
        self.quotas = broker.quotas
        self.transport = transport
        self.connection_id = uuid.uuid4().hex
        self.ip_address = transport.ip_address
        self.client_id = ""
        self.principal = ""
        self.permissions: Permissions = ALLOW_ALL
        self.version = MQTT311
        self.inflight_limit = self.quotas.inflight_per_client
        self.decoder = StreamDecoder(self.quotas.max_packet_bytes)
        self.session: Session | None = None
        self.connect: Connect | None = None
        self.end: DisconnectReason | None = None
        self._prevent_will = False
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._out_bytes = 0
        self._closing = asyncio.Event()
        self._aliases: dict[int, str] = {}
        self._keepalive_s = 0.0
        self._publishes: TokenBucket | None = None
        self._pending: list[Packet] = []
        self._auth_ttl_s: float | None = None
        self._refresh_s: float | None = None
        self._will_anyway = False

    # the broker's side ---------------------------------------------------------------------
    def send(self, packet: Packet) -> None:
        data = encode(packet, self.version)
        self._out_bytes += len(data)
        self._out.put_nowait(data)

    def send_publish(self, message: Publish) -> bool:
        if self._closing.is_set():
            return False
        if message.qos == 0 and self._out_bytes > self.quotas.outbound_bytes:
            return False
        self.send(message)
        return True

    def close(self, problem: Problem, *, prevent_will: bool = False) -> None:
        """End the connection: MQTT 5 clients get a DISCONNECT with the reason code first."""
        if self._closing.is_set():
            return
        code, reason = PROBLEMS[problem]
        self.end = self.end or reason
        self._prevent_will = self._prevent_will or prevent_will
        if self.version == MQTT5 and self.connect is not None:
            # with a reason string: clients read the reason code too then (paho 2.1 skips a
            # DISCONNECT's reason code when nothing follows it)
            self.send(Disconnect(code, Properties(((0x1F, problem.value),))))
        self._closing.set()
        self._out.put_nowait(None)

    # the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        writer = asyncio.create_task(self._write_loop())
        try:
            await self._run()
        except asyncio.CancelledError:
            self.close(Problem.SHUTTING_DOWN, prevent_will=True)
            raise
        except Exception:
            log.exception("MQTT connection %s failed", self.client_id or self.connection_id)
            self.end = self.end or DisconnectReason.SERVER_ERROR
        finally:
            self._finish()
            if not self._closing.is_set():
                self._closing.set()
                self._out.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 5.0)
            writer.cancel()
            with contextlib.suppress(Exception):
                await self.transport.close()

    async def _run(self) -> None:
        connect = await self._first_packet()
        if connect is None or not await self._accept(connect):
            return
        clocks = self._auth_tasks(connect)
        try:
            await self._serve()
        finally:
            for clock in clocks:
                clock.cancel()

    async def _read(self, timeout: float) -> list[Packet]:
        """The next packets, or :class:`_Closed` when the connection ends."""
        reader = asyncio.ensure_future(self.transport.read())
        closing = asyncio.ensure_future(self._closing.wait())
        done, _ = await asyncio.wait(
            {reader, closing}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        closing.cancel()
        if reader not in done:
            reader.cancel()
            if not self._closing.is_set():
                self.close(Problem.KEEPALIVE_TIMEOUT)
            raise _Closed
        try:
            data = reader.result()
        except MqttError:
            self.close(Problem.MALFORMED)
            raise _Closed from None
        except (ConnectionError, OSError):
            data = b""
        if not data:
            clean = self.transport.closed_cleanly
            lost = DisconnectReason.CLIENT_INITIATED_DISCONNECT if clean else None
            self.end = self.end or lost or DisconnectReason.CONNECTION_LOST
            raise _Closed
        try:
            return self.decoder.feed(data)
        except UnsupportedProtocolVersion:
            self._refuse_version()
            raise _Closed from None
        except PacketTooLarge:
            self.close(Problem.PACKET_TOO_LARGE)
            raise _Closed from None
        except MqttError:
            self.close(Problem.MALFORMED)
            raise _Closed from None

    async def _first_packet(self) -> Connect | None:
        try:
            packets = await self._read(self.quotas.connect_timeout_s)
            while not packets:
                packets = await self._read(self.quotas.connect_timeout_s)
        except _Closed:
            self.end = None  # no session was ever made: no lifecycle event
            return None
        first, rest = packets[0], packets[1:]
        if not isinstance(first, Connect):
            self._closing.set()
            self._out.put_nowait(None)
            return None
        self._pending = rest
        return first

    def _refuse_version(self) -> None:
        self.version = MQTT311
        self.send(Connack(False, 0x01))
        self._closing.set()
        self._out.put_nowait(None)

    def _refuse(self, refusal: Refusal) -> bool:
        self.send(Connack(False, connack_code(refusal, self.version)))
        self._closing.set()
        self._out.put_nowait(None)
        return False

    async def _accept(self, connect: Connect) -> bool:
        self.version = connect.version
        refusal = client_id_refusal(connect, self.quotas)
        if refusal is not None:
            return self._refuse(refusal)
        assigned = not connect.client_id
        self.client_id = connect.client_id or f"auto-{uuid.uuid4()}"
        if not self.broker.admit(self.client_id):
            return self._refuse(Refusal.THROTTLED)
        result = await self.broker.hooks.authenticator.authenticate(self._request(connect))
        if not result.allowed or not result.permissions.can_connect(self.client_id):
            return self._refuse(Refusal.NOT_AUTHORIZED)
        self.principal, self.permissions = result.principal, result.permissions
        self._auth_ttl_s = result.disconnect_after_s
        self._refresh_s = result.refresh_after_s
        keepalive = effective_keepalive(connect.keepalive, self.quotas)
        self._keepalive_s = keepalive_timeout_s(keepalive)
        expiry = session_expiry_s(connect, self.quotas)
        if connect.version == MQTT5:
            receive_max = connect.properties.int_or(0x21, self.inflight_limit)
            self.inflight_limit = max(1, min(self.inflight_limit, receive_max))
        rate = self.quotas.publishes_per_second
        self._publishes = TokenBucket(rate, rate, self.broker.monotonic())
        self.connect = connect
        self.session, present = self.broker.attach(self, connect.clean_start, expiry)
        props = self._connack_properties(connect, keepalive, expiry, assigned)
        self.send(Connack(present, 0, props))
        for message in self.session.redeliveries():
            self.send(message)
        self.broker.pump(self, self.session)
        return True

    def _request(self, connect: Connect) -> ConnectRequest:
        t = self.transport
        return ConnectRequest(
            client_id=self.client_id,
            username=connect.username,
            password=connect.password,
            protocol_version=connect.version,
            transport=t.kind,
            source_ip=t.ip_address,
            connection_id=self.connection_id,
            headers=t.headers,
            query=t.query,
            query_string=t.query_string,
            clean_start=connect.clean_start,
            keepalive=connect.keepalive,
        )

    def _connack_properties(
        self, connect: Connect, keepalive: int, expiry: int, assigned: bool
    ) -> Properties:
        if connect.version != MQTT5:
            return Properties()
        q = self.quotas
        items: list[tuple[int, int | str | bytes | tuple[str, str]]] = [
            (0x21, q.inflight_per_client),  # receive maximum
            (0x24, 1),  # maximum QoS
            (0x25, 1),  # retain available
            (0x27, q.max_packet_bytes),  # maximum packet size
            (0x22, q.topic_aliases),  # topic alias maximum
            (0x28, 1),  # wildcard subscriptions available
            (0x29, 0),  # subscription identifiers not available
            (0x2A, 0),  # shared subscriptions not emulated
        ]
        if assigned:
            items.append((0x12, self.client_id))
        if keepalive != connect.keepalive:
            items.append((0x13, keepalive))
        if expiry != connect.properties.int_or(0x11, 0):
            items.append((0x11, expiry))
        return Properties(tuple(items))

    def _auth_tasks(self, connect: Connect) -> list[asyncio.Task[None]]:
        """The custom authorizer's two clocks: ``disconnectAfterInSeconds`` from the CONNECT,
        and ``refreshAfterInSeconds`` between its calls."""
        tasks: list[asyncio.Task[None]] = []
        ttl = self._auth_ttl_s
        if ttl is not None:

            async def expire() -> None:
                await asyncio.sleep(ttl)
                self.close(Problem.AUTH_EXPIRED)

            tasks.append(asyncio.create_task(expire()))
        if self._refresh_s is not None:
            tasks.append(asyncio.create_task(self._refresh(self._refresh_s, connect)))
        return tasks

    async def _refresh(self, after_s: float | None, connect: Connect) -> None:
        """IoT Core calls the authorizer again every ``refreshAfterInSeconds``, with the
        CONNECT's credentials: a refusal closes the connection (``AUTH_ERROR``), a grant's
        policies replace the connection's, so what it may publish, subscribe to and receive
        (checked at each delivery) follows them from then on. The principal stays the
        connection's; the answer's own ``refreshAfterInSeconds`` sets the next call."""
        request = self._request(connect)
        while after_s is not None:
            await asyncio.sleep(after_s)
            result = await self.broker.hooks.authenticator.authenticate(request)
            if not result.allowed or not result.permissions.can_connect(self.client_id):
                log.info("MQTT %s: the authorizer refused the refresh", self.client_id)
                self.close(Problem.NOT_AUTHORIZED)
                return
            self.permissions = result.permissions
            after_s = result.refresh_after_s

    async def _serve(self) -> None:
        packets, self._pending = self._pending, []
        try:
            while True:
                for packet in packets:
                    await self._handle(packet)
                    if self._closing.is_set():
                        raise _Closed
                packets = await self._read(self._keepalive_s)
        except _Closed:
            return

    async def _handle(self, packet: Packet) -> None:
        if isinstance(packet, Publish):
            await self._hold_to_rate()
            self._on_publish(packet)
        elif isinstance(packet, Ack) and packet.kind is PacketType.PUBACK:
            assert self.session is not None
            if self.session.acknowledge(packet.packet_id):
                self.broker.pump(self, self.session)
        elif isinstance(packet, Subscribe):
            self._on_subscribe(packet)
        elif isinstance(packet, Unsubscribe):
            assert self.session is not None
            codes = self.broker.unsubscribe(self, self.session, packet.topic_filters)
            self.send(Unsuback(packet.packet_id, tuple(codes) if self.version == MQTT5 else ()))
        elif isinstance(packet, Pingreq):
            self.send(Pingresp())
        elif isinstance(packet, Disconnect):
            self._on_disconnect(packet)
        else:  # a second CONNECT, QoS 2 handshake packets, AUTH, server-to-client packets
            self.close(Problem.PROTOCOL_ERROR)

    async def _hold_to_rate(self) -> None:
        """IoT Core's publishes per second per connection: a faster client waits (its socket
        is not read meanwhile), so a flood slows only itself."""
        bucket = self._publishes
        assert bucket is not None
        delay = bucket.reserve(self.broker.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)

    def _on_publish(self, packet: Publish) -> None:
        topic = self._resolve_alias(packet)
        if topic is None:
            return
        message = (
            packet
            if topic == packet.topic
            else Publish(
                topic,
                packet.payload,
                packet.qos,
                packet.retain,
                packet.dup,
                packet.packet_id,
                packet.properties,
            )
        )
        verdict = publish_verdict(message, self.version, self.permissions, self.quotas)
        if verdict.problem is not None:
            self.close(verdict.problem)
            return
        if verdict.route:
            self.broker.publish(
                topic,
                message.payload,
                qos=message.qos,
                retain=message.retain,
                properties=message.properties,
                client_id=self.client_id,
                principal=self.principal,
            )
        if message.qos == 1 and message.packet_id is not None:
            self.send(Ack(PacketType.PUBACK, message.packet_id, verdict.puback_reason))

    def _resolve_alias(self, packet: Publish) -> str | None:
        """MQTT 5 topic aliases (up to IoT Core's 8 per connection)."""
        alias = packet.properties.get(0x23) if self.version == MQTT5 else None
        if not isinstance(alias, int):
            if not packet.topic:
                self.close(Problem.TOPIC_INVALID)
                return None
            return packet.topic
        if not 0 < alias <= self.quotas.topic_aliases:
            self.close(Problem.TOPIC_ALIAS_INVALID)
            return None
        if packet.topic:
            self._aliases[alias] = packet.topic
            return packet.topic
        topic = self._aliases.get(alias)
        if topic is None:
            self.close(Problem.PROTOCOL_ERROR)
        return topic

    def _on_subscribe(self, packet: Subscribe) -> None:
        session = self.session
        assert session is not None
        problem = subscribe_problem(packet)
        if problem is not None:
            self.close(problem)
            return
        codes = subscribe_verdicts(
            packet, self.version, self.permissions, self.quotas, session.filters()
        )
        if codes is None:
            return  # QoS 2 requested: IoT Core sends no SUBACK
        granted = [
            sub for sub, code in zip(packet.subscriptions, codes, strict=True) if code in (0, 1)
        ]
        retained = self.broker.subscribe(self, session, granted)
        self.send(Suback(packet.packet_id, codes))
        for message in retained:
            if message.qos == 0:
                self.send(message)
            elif session.enqueue(message, self.quotas.queued_per_session):
                self.broker.pump(self, session)

    def _on_disconnect(self, packet: Disconnect) -> None:
        self.end = DisconnectReason.CLIENT_INITIATED_DISCONNECT
        if packet.reason == 0x04:  # MQTT 5 "disconnect with will message"
            self._will_anyway = True
        if self.session is not None and self.version == MQTT5:
            expiry = packet.properties.int_or(0x11, self.session.expiry_s)
            if self.session.expiry_s:
                self.session.expiry_s = min(expiry, self.quotas.session_expiry_s)
        self._closing.set()
        self._out.put_nowait(None)

    def _finish(self) -> None:
        """Publish the will if this ending sends it, and tell the broker."""
        if self.session is None or self.connect is None:
            return
        reason = self.end or DisconnectReason.CONNECTION_LOST
        will = self.connect.will
        send_will = will_is_sent(reason) or self._will_anyway
        if will is not None and send_will and not self._prevent_will:
            verdict = publish_verdict(
                Publish(will.topic, will.payload, will.qos, will.retain),
                MQTT311,
                self.permissions,
                self.quotas,
            )
            if verdict.route:
                self.broker.publish(
                    will.topic,
                    will.payload,
                    qos=will.qos,
                    retain=will.retain,
                    properties=will.properties.without(0x18),
                    client_id=self.client_id,
                    principal=self.principal,
                )
        self.broker.detach(self, self.session, reason)

    async def _write_loop(self) -> None:
        while True:
            data = await self._out.get()
            if data is None:
                return
            self._out_bytes -= len(data)
            try:
                await self.transport.write(data)
            except (ConnectionError, OSError, RuntimeError):
                self.end = self.end or DisconnectReason.CONNECTION_LOST
                self._closing.set()
                return
