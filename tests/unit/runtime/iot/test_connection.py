"""One connection's loop over an in-memory transport: the hooks as authorizers and policies
will use them (a refused CONNECT, the request they are given, ``disconnectAfterInSeconds``,
``refreshAfterInSeconds``, publishes the policy refuses), and a malformed packet ending only
that connection.

Sources: *Custom authentication and authorization* (the authorizer's inputs and
``disconnectAfterInSeconds``), *MQTT* (reason codes), *Lifecycle events* (disconnect reasons).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hubbub.runtime.iot.broker import Broker
from hubbub.runtime.iot.codec import StreamDecoder, encode
from hubbub.runtime.iot.connection import Connection
from hubbub.runtime.iot.hooks import (
    AllowAll,
    AuthResult,
    ConnectedEvent,
    ConnectRequest,
    DisconnectedEvent,
    DisconnectReason,
    NoLifecycle,
)
from hubbub.runtime.iot.packets import (
    MQTT5,
    MQTT311,
    Ack,
    Connack,
    Connect,
    Disconnect,
    Packet,
    PacketType,
    Pingreq,
    Pingresp,
    Publish,
    Suback,
    Subscribe,
    Subscription,
)


@dataclass
class Pipe:
    """A transport whose other end is the test."""

    version: int = MQTT311
    kind: str = "websocket"
    ip_address: str = "203.0.113.7"
    headers: dict[str, str] = field(default_factory=lambda: {"Sec-WebSocket-Protocol": "mqtt"})
    query: dict[str, str] = field(default_factory=lambda: {"token": "t"})
    query_string: str = "token=t"
    closed_cleanly: bool = False
    inbox: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    received: asyncio.Queue[Packet] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.decoder = StreamDecoder(1 << 20, self.version)

    async def read(self) -> bytes:
        return await self.inbox.get()

    async def write(self, data: bytes) -> None:
        for packet in self.decoder.feed(data):
            self.received.put_nowait(packet)

    async def close(self) -> None:
        self.closed.set()

    def send(self, packet: Packet) -> None:
        self.inbox.put_nowait(encode(packet, self.version))

    async def next(self) -> Packet:
        return await asyncio.wait_for(self.received.get(), 5)


class Events(NoLifecycle):
    def __init__(self) -> None:
        self.ups: list[ConnectedEvent] = []
        self.downs: list[DisconnectedEvent] = []

    def connected(self, event: ConnectedEvent) -> None:
        self.ups.append(event)

    def disconnected(self, event: DisconnectedEvent) -> None:
        self.downs.append(event)


class ReadOnly(AllowAll):
    def can_publish(self, topic: str) -> bool:
        return False


class Gate:
    def __init__(self, result: AuthResult) -> None:
        self.result = result
        self.requests: list[ConnectRequest] = []

    async def authenticate(self, request: ConnectRequest) -> AuthResult:
        self.requests.append(request)
        return self.result


def start(result: AuthResult, version: int = MQTT311) -> tuple[Broker, Pipe, Gate, Events]:
    broker = Broker()
    gate, events = Gate(result), Events()
    broker.hooks.authenticator = gate
    broker.hooks.lifecycle = events
    pipe = Pipe(version=version)
    return broker, pipe, gate, events


async def test_a_refused_connect_gets_not_authorized_and_no_session() -> None:
    for version, code in ((MQTT311, 0x05), (MQTT5, 0x87)):
        broker, pipe, _, events = start(AuthResult(False), version)
        task = asyncio.create_task(Connection(broker, pipe).run())
        pipe.send(Connect("dev", version=version, username="u", password=b"wrong"))
        assert await pipe.next() == Connack(False, code)
        await asyncio.wait_for(task, 5)
        assert pipe.closed.is_set() and not broker.sessions and not events.ups


async def test_the_authenticator_sees_what_a_custom_authorizer_is_given() -> None:
    broker, pipe, gate, _ = start(AuthResult(True, principal="alice"))
    task = asyncio.create_task(Connection(broker, pipe).run())
    pipe.send(Connect("dev-1", username="any", password=b"token", keepalive=45))
    connack = await pipe.next()
    assert isinstance(connack, Connack) and connack.reason == 0
    [request] = gate.requests
    assert (request.client_id, request.username, request.password) == ("dev-1", "any", b"token")
    assert (request.transport, request.source_ip, request.query_string) == (
        "websocket",
        "203.0.113.7",
        "token=t",
    )
    assert request.headers["Sec-WebSocket-Protocol"] == "mqtt" and request.connection_id
    pipe.send(Disconnect())
    await asyncio.wait_for(task, 5)


async def test_disconnect_after_seconds_closes_the_connection() -> None:
    broker, pipe, _, events = start(AuthResult(True, disconnect_after_s=0.05), MQTT5)
    task = asyncio.create_task(Connection(broker, pipe).run())
    pipe.send(Connect("short-lived", version=MQTT5))
    assert isinstance(await pipe.next(), Connack)
    goodbye = await pipe.next()
    assert isinstance(goodbye, Disconnect) and goodbye.reason == 0xA0
    await asyncio.wait_for(task, 5)
    [gone] = events.downs
    assert gone.disconnect_reason is DisconnectReason.CUSTOMAUTH_TTL_EXPIRATION


class Answers(Gate):
    """An authorizer whose answers change: the CONNECT's first, then each refresh's."""

    def __init__(self, *answers: AuthResult) -> None:
        super().__init__(answers[0])
        self.answers = list(answers)
        self.refreshed = asyncio.Event()

    async def authenticate(self, request: ConnectRequest) -> AuthResult:
        self.requests.append(request)
        if len(self.requests) > 1:
            self.refreshed.set()
        return self.answers[min(len(self.requests), len(self.answers)) - 1]


async def test_a_refresh_the_authorizer_refuses_closes_the_connection() -> None:
    """``refreshAfterInSeconds``: IoT Core asks the authorizer again with the CONNECT's
    credentials; a token that stopped being good ends the connection (AUTH_ERROR)."""
    broker, pipe, _, events = start(AuthResult(True), MQTT5)
    gate = Answers(AuthResult(True, refresh_after_s=0.05), AuthResult(False))
    broker.hooks.authenticator = gate
    task = asyncio.create_task(Connection(broker, pipe).run())
    pipe.send(Connect("refreshed", version=MQTT5, username="u", password=b"token"))
    assert isinstance(await pipe.next(), Connack)
    goodbye = await pipe.next()
    assert isinstance(goodbye, Disconnect) and goodbye.reason == 0x87
    await asyncio.wait_for(task, 5)
    assert [r.password for r in gate.requests] == [b"token", b"token"]
    [gone] = events.downs
    assert gone.disconnect_reason is DisconnectReason.AUTH_ERROR


async def test_a_refreshs_policies_replace_the_connections() -> None:
    """A refresh that grants narrower policies (a ban since the CONNECT) applies them from then
    on, without closing the connection; without a ``refreshAfterInSeconds`` of its own, the
    authorizer is not asked again."""
    broker, pipe, _, _ = start(AuthResult(True), MQTT5)
    gate = Answers(AuthResult(True, refresh_after_s=0.05), AuthResult(True, permissions=ReadOnly()))
    broker.hooks.authenticator = gate
    task = asyncio.create_task(Connection(broker, pipe).run())
    pipe.send(Connect("narrowed", version=MQTT5))
    await pipe.next()
    pipe.send(Publish("room/a", b"before", 1, packet_id=1))
    assert await pipe.next() == Ack(PacketType.PUBACK, 1, 0)
    await asyncio.wait_for(gate.refreshed.wait(), 5)  # the answer is applied before any read
    pipe.send(Publish("room/a", b"after", 1, packet_id=2))
    assert await pipe.next() == Ack(PacketType.PUBACK, 2, 0x87)
    pipe.send(Disconnect())
    await asyncio.wait_for(task, 5)
    assert len(gate.requests) == 2


async def test_a_publish_the_policy_refuses() -> None:
    # MQTT 5: PUBACK 0x87 and the connection stays
    broker, pipe, _, _ = start(AuthResult(True, permissions=ReadOnly()), MQTT5)
    task = asyncio.create_task(Connection(broker, pipe).run())
    pipe.send(Connect("ro", version=MQTT5))
    await pipe.next()
    pipe.send(Publish("room/a", b"x", 1, packet_id=7))
    assert await pipe.next() == Ack(PacketType.PUBACK, 7, 0x87)
    pipe.send(Pingreq())
    assert await pipe.next() == Pingresp()  # still connected
    pipe.send(Disconnect())
    await asyncio.wait_for(task, 5)
    # MQTT 3.1.1: the connection is closed (AUTH_ERROR)
    broker, pipe, _, events = start(AuthResult(True, permissions=ReadOnly()), MQTT311)
    task = asyncio.create_task(Connection(broker, pipe).run())
    pipe.send(Connect("ro"))
    await pipe.next()
    pipe.send(Publish("room/a", b"x", 1, packet_id=7))
    await asyncio.wait_for(task, 5)
    assert events.downs[0].disconnect_reason is DisconnectReason.AUTH_ERROR


async def test_malformed_bytes_end_that_connection_as_a_client_error() -> None:
    broker, pipe, _, events = start(AuthResult(True))
    task = asyncio.create_task(Connection(broker, pipe).run())
    pipe.send(Connect("messy"))
    await pipe.next()
    pipe.inbox.put_nowait(b"\x00\x00")
    await asyncio.wait_for(task, 5)
    assert events.downs[0].disconnect_reason is DisconnectReason.CLIENT_ERROR
    assert "messy" not in broker.live


async def test_a_reserved_topic_nobody_may_use_ends_the_connection() -> None:
    """*Reserved topics*: a publish to, or a subscribe to, a $ topic that clients may not use
    ends the connection (a client error), even when the policy allows everything; a supported
    one (a lifecycle event filter) does not."""
    for version, packet, code in (
        (MQTT5, Publish("$sys/operators", b"x", 1, packet_id=3), 0x90),
        (MQTT5, Subscribe(4, (Subscription("$SYS/#", 0),)), 0x8F),
        (MQTT311, Subscribe(4, (Subscription("$aws/rules/r/room", 1),)), None),
    ):
        broker, pipe, _, events = start(AuthResult(True), version)
        task = asyncio.create_task(Connection(broker, pipe).run())
        pipe.send(Connect("curious", version=version))
        await pipe.next()
        pipe.send(Subscribe(1, (Subscription("$aws/events/presence/connected/+", 1),)))
        assert await pipe.next() == Suback(1, (1,))
        pipe.send(packet)
        if code is not None:
            goodbye = await pipe.next()
            assert isinstance(goodbye, Disconnect) and goodbye.reason == code
        await asyncio.wait_for(task, 5)
        assert pipe.received.empty()  # no PUBACK, no SUBACK
        [gone] = events.downs
        assert gone.disconnect_reason is DisconnectReason.CLIENT_ERROR
