"""paho-mqtt clients for the end-to-end tests, with every callback turned into something a test
can wait on with a deadline (paho runs its network loop in a thread of its own)."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hubbub.runtime.iot.codec import StreamDecoder, encode
from hubbub.runtime.iot.packets import MQTT5, Connack, Connect, Packet
from tests.conftest import TIMEOUT_FACTOR

V311 = paho.MQTTv311
V5 = paho.MQTTv5


_POLL = threading.Event()  # never set: its wait() waits out a quota's window
_LAST_CONNECT: dict[str, float] = {}


def deadline(seconds: float) -> float:
    return seconds * TIMEOUT_FACTOR


@dataclass
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool


class Mqtt:
    """One paho client: ``connect`` answers the CONNACK's code; ``messages`` is a queue."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        transport: str = "tcp",
        version: int = V311,
        client_id: str | None = None,
        clean: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.clean = clean
        self.version = version
        self.client_id = client_id or f"t-{uuid.uuid4().hex[:10]}"
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=version,
            transport=transport,  # type: ignore[arg-type]
            reconnect_on_failure=False,
            clean_session=None if version == V5 else clean,
        )
        self.messages: queue.Queue[Message] = queue.Queue()
        self._connack: queue.Queue[tuple[int, bool]] = queue.Queue()
        self._subacks: dict[int, list[int]] = {}
        self._subacked = threading.Condition()
        self.disconnected = threading.Event()
        self.disconnect_reason: int | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self._loop = False

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        self._connack.put((reason.value, bool(flags.session_present)))

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        self.messages.put(Message(msg.topic, msg.payload, msg.qos, bool(msg.retain), msg.dup))

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        with self._subacked:
            self._subacks[mid] = [r.value for r in reasons]
            self._subacked.notify_all()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.disconnect_reason = reason.value
        self.disconnected.set()

    def connect(
        self,
        *,
        expiry: int | None = None,
        will: tuple[str, bytes] | None = None,
        keepalive: int = 60,
        timeout: float = 10.0,
    ) -> tuple[int, bool]:
        """(CONNACK reason code, session present)."""
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1)
        kwargs: dict[str, Any] = {"keepalive": keepalive}
        if self.version == V5:
            kwargs["clean_start"] = self.clean
            if expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = expiry
                kwargs["properties"] = props
        self.disconnected.clear()
        _LAST_CONNECT[self.client_id] = time.monotonic()
        self.client.connect(self.host, self.port, **kwargs)
        self.client.loop_start()
        self._loop = True
        code, present = self._connack.get(timeout=deadline(timeout))
        if code:
            self.disconnected.wait(deadline(5))
            self.client.loop_stop()
            self._loop = False
            sock = self.client.socket()
            if sock is not None:  # paho leaves the refused connection's socket open
                sock.close()
        return code, present

    def connect_when_allowed(self, **kwargs: Any) -> tuple[int, bool]:
        """Connect once IoT Core's 1 CONNECT per second per client id allows it: a second after
        the last CONNECT of this client id from these tests. (Retrying a refused connect would
        do too, but paho leaks its wake-up socket pair on every reconnect of one client.)"""
        last = _LAST_CONNECT.get(self.client_id)
        if last is not None:
            remaining = last + 1.05 - time.monotonic()
            if remaining > 0:
                _POLL.wait(remaining)  # the quota's window is the condition waited for
        return self.connect(**kwargs)

    def subscribe(self, *filters: str, qos: int = 1, wait: bool = True) -> list[int]:
        result, mid = self.client.subscribe([(f, qos) for f in filters])
        assert result == paho.MQTT_ERR_SUCCESS
        if not wait:
            return [mid]
        with self._subacked:
            ok = self._subacked.wait_for(lambda: mid in self._subacks, deadline(10))
            assert ok, "no SUBACK"
            return self._subacks[mid]

    def suback_of(self, mid: int) -> list[int] | None:
        with self._subacked:
            return self._subacks.get(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(deadline(10))

    def expect(self, timeout: float = 10.0) -> Message:
        return self.messages.get(timeout=deadline(timeout))

    def expect_topic(self, topic: str, timeout: float = 10.0) -> Message:
        """The next message on ``topic``, skipping others."""
        end = time.monotonic() + deadline(timeout)
        while True:
            message = self.messages.get(timeout=max(0.01, end - time.monotonic()))
            if message.topic == topic:
                return message

    def wait_disconnected(self, timeout: float = 10.0) -> int | None:
        assert self.disconnected.wait(deadline(timeout)), "still connected"
        return self.disconnect_reason

    def close(self) -> None:
        """DISCONNECT, and wait for paho to close its socket."""
        if self._loop and not self.disconnected.is_set():
            self.client.disconnect()
            self.disconnected.wait(deadline(5))
        if self._loop:
            self.client.loop_stop()
            self._loop = False
        sock = self.client.socket()
        if sock is not None:
            sock.close()


class RawMqtt:
    """A bare TCP client speaking bytes, for what paho will not send (garbage, abrupt ends)."""

    def __init__(self, port: int, version: int = 4) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=deadline(10))
        self.version = version
        self.decoder = StreamDecoder(1 << 20, version)

    def send(self, packet: Packet) -> None:
        self.sock.sendall(encode(packet, self.version))

    def connect(self, connect: Connect) -> Connack:
        self.version = connect.version
        self.decoder.version = connect.version
        self.send(connect)
        packet = self.next_packet()
        assert isinstance(packet, Connack), packet
        return packet

    def next_packet(self) -> Packet | None:
        """The next packet, or None once the broker has closed the connection."""
        pending: list[Packet] = []
        while not pending:
            data = self.sock.recv(65536)
            if not data:
                return None
            pending = self.decoder.feed(data)
        self._rest = pending[1:]
        return pending[0]

    def wait_closed(self, timeout: float = 10.0) -> None:
        """Read until the broker closes the connection (packets it sends first are dropped)."""
        self.sock.settimeout(deadline(timeout))
        with contextlib.suppress(ConnectionResetError):
            while self.sock.recv(65536):
                pass
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


__all__ = ["MQTT5", "V5", "V311", "Message", "Mqtt", "RawMqtt", "deadline"]
