"""IoT Core's MQTT broker in ``hubbub serve``, driven by unmodified clients: paho-mqtt (MQTT
3.1.1 and 5, over TCP and over WebSocket at ``/mqtt``) and Debian's mosquitto_pub/mosquitto_sub.

Sources: the AWS IoT developer guide's *MQTT* page (persistent sessions, retained messages,
"AWS IoT differences from MQTT specifications": QoS 2 is not supported, a second connection with
the same client id disconnects the first), *AWS IoT Core endpoints and quotas* (128 KB payload,
100 publishes per second per connection, 1 CONNECT per second per client id, keep-alive 1.5x),
*Lifecycle events*.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from hubbub.runtime.iot.codec import StreamDecoder, encode
from hubbub.runtime.iot.packets import (
    MQTT5,
    Connect,
    Disconnect,
    Pingreq,
    Pingresp,
    Publish,
    Subscribe,
    Subscription,
    Will,
)
from tests.conftest import TIMEOUT_FACTOR
from tests.support.mqtt import V5, V311, Mqtt, RawMqtt, deadline
from tests.support.server import ServerProcess

TRANSPORTS = ["tcp", "websockets"]
DELIVERIES_PER_SECOND = 150
"""The broker's outbound quota here: above the 100 a second that the flood test's subscriber
gets from one held publisher (with IoT Core's 100 it would lose some of them, as on AWS)."""
VERSIONS = [pytest.param(V311, id="3.1.1"), pytest.param(V5, id="5")]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """hubbub's template without its IoT edge (``EnableMqtt=false``), so no authorizer stands
    in front of the broker: these tests are about IoT Core's MQTT itself, on any topic
    (tests/e2e/test_mqtt_edge.py covers hubbub's authorizer and policies). IoT Core is there
    for every template; keep-alives down to 1 s so the keep-alive test does not wait IoT Core's
    30 s minimum."""
    data = tmp_path_factory.mktemp("mqtt") / "data"
    proc = ServerProcess(
        data,
        "--no-web",
        "--parameter-overrides",
        "EnableMqtt=false",
        "--iot-quota",
        "keepalive_min_s=1",
        "--iot-quota",
        f"deliveries_per_second={DELIVERIES_PER_SECOND}",
    ).start()
    yield proc
    proc.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(
    server: ServerProcess, transport: str = "tcp", version: int = V311, **kw: object
) -> Mqtt:
    port = server.mqtt_port if transport == "tcp" else server.port
    return Mqtt("127.0.0.1", port, transport=transport, version=version, **kw)  # type: ignore[arg-type]


def test_serve_announces_both_mqtt_endpoints(broker: ServerProcess) -> None:
    assert broker.mqtt_port > 0
    assert f"hubbub: mqtt       ws://127.0.0.1:{broker.port}/mqtt" in broker.announced
    assert f"hubbub: mqtt-tcp   mqtt://127.0.0.1:{broker.mqtt_port}" in broker.announced
    info = broker.admin("info")
    assert info["mqtt"] == {
        "ws": f"ws://127.0.0.1:{broker.port}/mqtt",
        "tcp": f"mqtt://127.0.0.1:{broker.mqtt_port}",
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("version", VERSIONS)
def test_wildcard_subscriber_gets_qos0_and_qos1(
    broker: ServerProcess, transport: str, version: int
) -> None:
    room = unique("room")
    sub, pub = client(broker, transport, version), client(broker, transport, version)
    assert sub.connect() == (0, False)
    assert sub.subscribe(f"{room}/+", qos=1) == [1]
    assert pub.connect()[0] == 0
    pub.publish(f"{room}/lobby", b"at most once", qos=0)
    pub.publish(f"{room}/lobby", b"at least once", qos=1)
    pub.publish(f"{room}/lobby/deeper", b"not matched", qos=1)
    pub.publish(f"{room}/next", b"marker", qos=1)
    got = [sub.expect() for _ in range(3)]
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        (f"{room}/lobby", b"at most once", 0),
        (f"{room}/lobby", b"at least once", 1),
        (f"{room}/next", b"marker", 1),
    ]
    sub.close()
    pub.close()


@pytest.mark.parametrize(("transport", "version"), [("tcp", V311), ("websockets", V5)])
def test_persistent_session_gets_what_was_published_while_away(
    broker: ServerProcess, transport: str, version: int
) -> None:
    room = unique("desk")
    name = unique("persistent")
    away = client(broker, transport, version, client_id=name, clean=False)
    assert away.connect(expiry=300) == (0, False)
    away.subscribe(f"{room}/#", qos=1)
    away.close()
    pub = client(broker, transport, version)
    pub.connect()
    pub.publish(f"{room}/1", b"while you were out", qos=1)
    back = client(broker, transport, version, client_id=name, clean=False)
    assert back.connect_when_allowed(expiry=300) == (0, True)  # session present: no resubscribe
    message = back.expect()
    assert (message.topic, message.payload, message.qos) == (
        f"{room}/1",
        b"while you were out",
        1,
    )
    back.close()
    pub.close()


@pytest.mark.parametrize("version", [4, MQTT5])
def test_will_is_published_on_abrupt_close_only(broker: ServerProcess, version: int) -> None:
    topic = unique("status")
    watcher = client(broker)
    watcher.connect()
    watcher.subscribe(f"{topic}/+", qos=1)
    polite = RawMqtt(broker.mqtt_port)
    will = Will(f"{topic}/polite", b"should not be sent", qos=1)
    assert polite.connect(Connect(unique("polite"), version=version, will=will)).reason == 0
    polite.send(Disconnect())
    polite.wait_closed()
    rude = RawMqtt(broker.mqtt_port)
    will = Will(f"{topic}/rude", b"gone", qos=1)
    assert rude.connect(Connect(unique("rude"), version=version, will=will)).reason == 0
    rude.close()  # no DISCONNECT: the connection is lost
    message = watcher.expect()
    assert (message.topic, message.payload) == (f"{topic}/rude", b"gone")
    watcher.close()


def test_keepalive_timeout_at_one_and_a_half_keepalives(broker: ServerProcess) -> None:
    name = unique("sleepy")
    watcher = client(broker)
    watcher.connect()
    watcher.subscribe(f"$aws/events/presence/disconnected/{name}", f"{name}/will")
    sleepy = RawMqtt(broker.mqtt_port)
    started = time.monotonic()
    connack = sleepy.connect(Connect(name, keepalive=1, will=Will(f"{name}/will", b"timed out")))
    assert connack.reason == 0
    sleepy.wait_closed(timeout=10)
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 5 * TIMEOUT_FACTOR
    seen = {watcher.expect().topic: None for _ in range(2)}
    assert set(seen) == {f"$aws/events/presence/disconnected/{name}", f"{name}/will"}
    watcher.close()


def test_pings_keep_a_connection_alive(broker: ServerProcess) -> None:
    raw = RawMqtt(broker.mqtt_port)
    raw.connect(Connect(unique("pinger"), keepalive=1))
    for _ in range(3):
        raw.send(Pingreq())
        assert raw.next_packet() == Pingresp()
    raw.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_duplicate_client_id_disconnects_the_older(broker: ServerProcess, version: int) -> None:
    name = unique("twin")
    first = client(broker, "tcp", version, client_id=name)
    assert first.connect()[0] == 0
    second = client(broker, "tcp", version, client_id=name)
    assert second.connect_when_allowed()[0] == 0
    reason = first.wait_disconnected()
    if version == V5:
        assert reason == 0x8E  # session taken over
    room = unique("twins")
    second.subscribe(room)
    second.publish(room, b"still here", qos=1)
    assert second.expect().payload == b"still here"
    second.close()


def test_second_connect_within_a_second_is_throttled(broker: ServerProcess) -> None:
    name = unique("eager")
    first = RawMqtt(broker.mqtt_port)
    assert first.connect(Connect(name, version=MQTT5)).reason == 0
    second = RawMqtt(broker.mqtt_port)
    assert second.connect(Connect(name, version=MQTT5)).reason == 0x9F  # connection rate
    first.close()
    second.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_oversize_payload_disconnects(broker: ServerProcess, version: int) -> None:
    room = unique("big")
    sub = client(broker, "tcp", version)
    sub.connect()
    sub.subscribe(room)
    pub = client(broker, "tcp", version)
    pub.connect()
    pub.publish(room, b"x" * (128 * 1024), qos=1)  # exactly the quota: delivered
    assert len(sub.expect().payload) == 128 * 1024
    pub.client.publish(room, b"x" * (128 * 1024 + 1), qos=1)
    reason = pub.wait_disconnected()
    if version == V5:
        assert reason == 0x95  # packet too large
    sub.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_qos2_is_refused_as_iot_core_refuses_it(broker: ServerProcess, version: int) -> None:
    room = unique("q2")
    sub = client(broker, "tcp", version)
    sub.connect()
    [mid] = sub.subscribe(f"{room}/two", qos=2, wait=False)
    assert sub.subscribe(f"{room}/one", qos=1) == [1]  # answered in order: QoS 2 got no SUBACK
    assert sub.suback_of(mid) is None
    pub = client(broker, "tcp", version)
    pub.connect()
    pub.publish(f"{room}/two", b"not subscribed", qos=1)
    pub.publish(f"{room}/one", b"marker", qos=1)
    assert sub.expect().payload == b"marker"
    pub.client.publish(f"{room}/one", b"exactly once?", qos=2)
    reason = pub.wait_disconnected()
    if version == V5:
        assert reason == 0x9B  # QoS not supported
    sub.close()


def test_retained_message_reaches_a_later_exact_subscriber(broker: ServerProcess) -> None:
    topic = unique("config")
    pub = client(broker)
    pub.connect()
    pub.publish(topic, b"v1", qos=1, retain=True)
    late = client(broker)
    late.connect()
    late.subscribe(topic)
    message = late.expect()
    assert (message.payload, message.retain) == (b"v1", True)
    pub.close()
    late.close()


def test_basic_ingest_never_reaches_subscribers(broker: ServerProcess) -> None:
    """Not the topic after the prefix either (nobody may subscribe to the Basic Ingest topic
    itself: test_reserved_topics_refused_end_the_connection)."""
    room = unique("ingest")
    spy = client(broker)
    spy.connect()
    spy.subscribe(room)
    pub = client(broker)
    pub.connect()
    pub.publish(f"$aws/rules/hubbub/{room}", b"for the rule only", qos=1)
    pub.publish(room, b"marker", qos=1)
    assert spy.expect().payload == b"marker"
    spy.close()
    pub.close()


RESERVED_REFUSALS = [
    pytest.param("subscribe", "$SYS/#", id="subscribe $SYS/#"),
    pytest.param("subscribe", "$sys/operators", id="subscribe a $ topic nobody made"),
    pytest.param("subscribe", "$aws/rules/hubbub/room", id="subscribe Basic Ingest"),
    pytest.param("publish", "$sys/operators", id="publish a $ topic nobody may create"),
    pytest.param("publish", "$aws/events/presence/connected/x", id="publish a lifecycle event"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("operation", "topic"), RESERVED_REFUSALS)
def test_reserved_topics_refused_end_the_connection(
    broker: ServerProcess, version: int, operation: str, topic: str
) -> None:
    """*Reserved topics*: topics beginning with ``$`` belong to AWS IoT; a publish or subscribe
    it does not support can end the connection. No policy stands in front of this broker, so
    only the reservation refuses; the lifecycle event says it was the client's error, and the
    reserved topics clients may use keep working on the same broker."""
    name = unique("reserved")
    watcher = client(broker)
    watcher.connect()
    assert watcher.subscribe(f"$aws/events/presence/disconnected/{name}") == [1]
    curious = client(broker, version=version, client_id=name)
    assert curious.connect()[0] == 0
    mid = None
    if operation == "subscribe":
        [mid] = curious.subscribe(topic, wait=False)
    else:
        curious.publish(topic, b"{}", qos=0)
    curious.wait_disconnected()
    event = json.loads(watcher.expect_topic(f"$aws/events/presence/disconnected/{name}").payload)
    assert (event["clientInitiatedDisconnect"], event["disconnectReason"]) == (
        False,
        "CLIENT_ERROR",
    )
    if mid is not None:
        assert curious.suback_of(mid) is None  # the SUBSCRIBE was never answered
    curious.close()
    watcher.close()


def test_publish_flood_is_held_to_the_rate_and_loses_nothing(broker: ServerProcess) -> None:
    """A client publishing as fast as it can is read at 100 publishes per second; another client
    meanwhile is not held up."""
    flood_topic, calm_topic = unique("flood"), unique("calm")
    sub = client(broker)
    sub.connect()
    sub.subscribe(flood_topic, calm_topic)
    flooder = client(broker)
    flooder.connect()
    calm = client(broker)
    calm.connect()
    started = time.monotonic()
    for i in range(250):
        flooder.client.publish(flood_topic, str(i).encode(), qos=0)
    calm.publish(calm_topic, b"not delayed", qos=1)
    seen: list[bytes] = []
    calm_at = None
    while len(seen) < 250:
        message = sub.expect(timeout=20)
        if message.topic == calm_topic:
            calm_at = time.monotonic() - started
        else:
            seen.append(message.payload)
    flood_took = time.monotonic() - started
    assert seen == [str(i).encode() for i in range(250)]
    assert flood_took >= 1.4  # 250 at 100/s with a burst of 100
    assert calm_at is not None and calm_at < flood_took
    for c in (sub, flooder, calm):
        c.close()


def test_a_subscriber_over_its_outbound_rate_loses_the_excess(broker: ServerProcess) -> None:
    """*AWS IoT Core endpoints and quotas*: publish requests per second per connection, "inbound
    and outbound", past which they "are discarded". Three publishers, each within its own
    inbound rate, send a wildcard subscriber twice its outbound rate at once: it gets about its
    rate's worth, the rest is gone (not delayed), and the server log says so."""
    base = unique("wide")
    sub = client(broker)
    sub.connect()
    sub.subscribe(f"{base}/+", qos=0)
    publishers = [client(broker) for _ in range(3)]
    for k, publisher in enumerate(publishers):
        publisher.connect()
        for i in range(99):  # within the publisher's burst: read at once
            publisher.client.publish(f"{base}/p{k}", f"{k}.{i}".encode(), qos=0)
        publisher.publish(f"{base}/p{k}", f"{k}.99".encode(), qos=1)  # all routed once acked
    flood: set[bytes] = set()
    end = time.monotonic() + 30 * TIMEOUT_FACTOR
    ended = False
    while not ended and time.monotonic() < end:
        publishers[0].client.publish(f"{base}/end", b"end", qos=0)  # lost while over the rate
        with contextlib.suppress(queue.Empty):
            while True:
                message = sub.expect(timeout=0.2)
                if message.topic == f"{base}/end":
                    ended = True
                    break
                flood.add(message.payload)
    assert ended, "nothing got through after the flood"
    assert DELIVERIES_PER_SECOND <= len(flood) < 300
    assert broker.admin("stats")["mqtt"]["discarded"] >= 300 - len(flood)
    log = broker.log_path.read_text(errors="replace")
    assert f"discarded: over IoT Core's {DELIVERIES_PER_SECOND} publishes a second" in log
    for c in (sub, *publishers):
        c.close()


def test_garbage_closes_that_client_only(broker: ServerProcess) -> None:
    room = unique("steady")
    sub, pub = client(broker), client(broker)
    sub.connect()
    sub.subscribe(room, qos=1)
    pub.connect()
    rng = random.Random(14)
    for i in range(40):
        raw = RawMqtt(broker.mqtt_port)
        if i % 2:  # a valid session first, then garbage
            raw.connect(Connect(unique("fuzz")))
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        # zeros complete whatever packet the garbage began; then a zero byte is packet type 0,
        # which is reserved: malformed, whatever came before
        with contextlib.suppress(OSError):
            raw.sock.sendall(garbage)
            pub.publish(room, str(i).encode(), qos=1)
            raw.sock.sendall(bytes(150 * 1024))
        raw.wait_closed()
        raw.close()
    assert [sub.expect().payload for _ in range(40)] == [str(i).encode() for i in range(40)]
    sub.close()
    pub.close()


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_clients(broker: ServerProcess, version: str) -> None:
    room = unique("mosq")
    name = unique("mosq-sub")
    watcher = client(broker)
    watcher.connect()
    watcher.subscribe(f"$aws/events/subscriptions/subscribed/{name}")
    port = str(broker.mqtt_port)
    sub = subprocess.Popen(
        [
            *("mosquitto_sub", "-p", port, "-i", name, "-V", version, "-t", f"{room}/+"),
            *("-q", "1", "-C", "2", "-v", "-W", str(int(30 * TIMEOUT_FACTOR))),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        watcher.expect()  # the lifecycle event: mosquitto_sub is subscribed
        for qos, text in (("0", "zero"), ("1", "one")):
            subprocess.run(
                [
                    *("mosquitto_pub", "-p", port, "-V", version, "-t", f"{room}/a"),
                    *("-m", text, "-q", qos),
                ],
                check=True,
                timeout=deadline(20),
            )
        out, _ = sub.communicate(timeout=deadline(30))
    finally:
        sub.kill()
    assert out.splitlines() == [f"{room}/a zero", f"{room}/a one"]
    watcher.close()


def test_mosquitto_pub_reaches_paho(broker: ServerProcess) -> None:
    room = unique("mix")
    sub = client(broker, "websockets", V5)
    sub.connect()
    sub.subscribe(f"{room}/#")
    subprocess.run(
        ["mosquitto_pub", "-p", str(broker.mqtt_port), "-t", f"{room}/x", "-m", "hi", "-q", "1"],
        check=True,
        timeout=deadline(20),
    )
    assert sub.expect().payload == b"hi"
    sub.close()


def test_websocket_frames_may_split_and_join_packets(broker: ServerProcess) -> None:
    """MQTT over WebSocket: subprotocol ``mqtt``; a binary frame may hold several packets or part
    of one (MQTT 5.0 §6); a text frame closes the connection."""
    topic = unique("frames")
    connect = encode(Connect(unique("framed"), version=MQTT5), MQTT5)
    subscribe = encode(Subscribe(1, (Subscription(topic, 1),)), MQTT5)
    publish = encode(Publish(topic, b"split in two", 1, packet_id=2), MQTT5)
    decoder = StreamDecoder(1 << 20, MQTT5)
    with ws_connect(broker.mqtt_ws_url, subprotocols=[Subprotocol("mqtt")]) as ws:
        assert ws.subprotocol == "mqtt"
        ws.send(connect + subscribe)  # two packets, one frame
        ws.send(publish[:5])  # one packet, two frames
        ws.send(publish[5:])
        packets: list[object] = []
        while len(packets) < 4:  # CONNACK, SUBACK, the PUBLISH back, its PUBACK
            frame = ws.recv(timeout=deadline(10))
            assert isinstance(frame, bytes)
            packets += decoder.feed(frame)
        kinds = sorted(type(p).__name__ for p in packets)
        assert kinds == ["Ack", "Connack", "Publish", "Suback"]
        echoed = next(p for p in packets if isinstance(p, Publish))
        assert echoed.payload == b"split in two"
        ws.send("text is not MQTT")
        with pytest.raises(ConnectionClosed):
            read_until_closed(ws)


def read_until_closed(ws: ClientConnection) -> None:
    """Frames until the server closes (a DISCONNECT may come first)."""
    while True:
        ws.recv(timeout=deadline(10))
