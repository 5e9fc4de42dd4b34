"""The sans-I/O MQTT codec: bytes captured from paho-mqtt and mosquitto decode to the packets
those clients sent, whatever the chunking; every packet round-trips; garbage ends in a typed
error, never another exception and never a hang.

OASIS MQTT 3.1.1 and 5.0 §2-3 define the layouts; AWS IoT Core speaks both (*MQTT* page of the
AWS IoT developer guide).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubbub.runtime.iot.codec import StreamDecoder, decode_packet, encode
from hubbub.runtime.iot.packets import (
    MQTT5,
    MQTT311,
    Ack,
    Connack,
    Connect,
    Disconnect,
    MalformedPacket,
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
    Subscription,
    Unsuback,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
)
from tests.unit.runtime.iot import captured

LIMIT = 128 * 1024 + 16 * 1024


def decode_all(data: bytes, chunk: int | None = None, version: int = MQTT311) -> list[Packet]:
    decoder = StreamDecoder(LIMIT, version)
    if chunk is None:
        return decoder.feed(data)
    packets: list[Packet] = []
    for i in range(0, len(data), chunk):
        packets += decoder.feed(data[i : i + chunk])
    assert decoder.buffered == 0
    return packets


def test_paho_311_stream_decodes_to_what_paho_sent() -> None:
    packets = decode_all(captured.PAHO_311_C2S)
    connect = packets[0]
    assert connect == Connect(
        client_id="paho-4",
        version=MQTT311,
        clean_start=False,
        keepalive=45,
        username="alice",
        password=b"s3cret",
        will=Will("status/paho", b"gone", qos=1),
    )
    assert packets[1] == Subscribe(1, (Subscription("room/+", 1), Subscription("desk/#", 0)))
    publish = packets[2]
    assert isinstance(publish, Publish)
    assert (publish.topic, publish.payload, publish.qos) == ("room/lobby", b"hello v311", 1)
    assert isinstance(packets[-2], Unsubscribe) and packets[-2].topic_filters == ("desk/#",)
    assert packets[-1] == Disconnect()


def test_paho_5_stream_decodes_properties() -> None:
    packets = decode_all(captured.PAHO_5_C2S)
    connect = packets[0]
    assert isinstance(connect, Connect)
    assert connect.version == MQTT5
    assert connect.properties.get(0x11) == 300  # session expiry interval
    assert connect.clean_start is False
    publish = next(p for p in packets if isinstance(p, Publish))
    assert publish.properties.user() == (("k", "v"),)
    assert publish.properties.get(0x03) == "text/plain"
    assert publish.payload == b"hello v5"


def test_mosquitto_streams_decode() -> None:
    pub = decode_all(captured.MOSQUITTO_PUB_311_C2S)
    assert [type(p) for p in pub] == [Connect, Publish, Disconnect]
    assert isinstance(pub[1], Publish) and pub[1].payload == b"from mosquitto"
    pub5 = decode_all(captured.MOSQUITTO_PUB_5_C2S)
    assert isinstance(pub5[1], Publish) and pub5[1].properties.user() == (("a", "b"),)
    sub = decode_all(captured.MOSQUITTO_SUB_311_C2S)
    assert sub[1] == Subscribe(1, (Subscription("room/#", 1),))


@pytest.mark.parametrize(
    "stream",
    [captured.PAHO_311_C2S, captured.PAHO_5_C2S, captured.MOSQUITTO_PUB_5_C2S],
    ids=["paho311", "paho5", "mosquitto5"],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_any_chunking_gives_the_same_packets(stream: bytes, chunk: int) -> None:
    assert decode_all(stream, chunk) == decode_all(stream)


def test_broker_answers_decode_as_the_client_reads_them() -> None:
    """What the broker sent paho (CONNACK, SUBACK, the routed PUBLISH, PUBACK, UNSUBACK)."""
    v311 = decode_all(captured.PAHO_311_S2C)
    assert isinstance(v311[0], Connack) and v311[0].reason == 0
    assert v311[1] == Suback(1, (1, 0))
    v5 = decode_all(captured.PAHO_5_S2C, version=MQTT5)
    connack = v5[0]
    assert isinstance(connack, Connack) and connack.properties.get(0x24) == 1  # maximum QoS 1


def test_reencoding_captured_packets_gives_the_captured_bytes() -> None:
    for stream, version in (
        (captured.PAHO_311_C2S, MQTT311),
        (captured.MOSQUITTO_PUB_311_C2S, MQTT311),
        (captured.MOSQUITTO_SUB_311_C2S, MQTT311),
        (captured.MOSQUITTO_PUB_5_C2S, MQTT5),
    ):
        packets = decode_all(stream)
        assert b"".join(encode(p, version) for p in packets) == stream


def test_oversized_packet_is_refused_from_its_header() -> None:
    decoder = StreamDecoder(1024)
    header = bytes([0x30]) + bytes([0x80, 0x80, 0x04])  # PUBLISH announcing 65536 bytes
    with pytest.raises(PacketTooLarge):
        decoder.feed(header)


def test_unsupported_protocol_version_is_its_own_error() -> None:
    mqtt31 = encode(Connect("c"), MQTT311).replace(b"\x00\x04MQTT\x04", b"\x00\x04MQTT\x03")
    with pytest.raises(UnsupportedProtocolVersion):
        decode_all(mqtt31)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x00\x00", "type 0"),
        (b"\x82\x02\x00\x01", "SUBSCRIBE without filters"),
        (b"\x80\x03\x00\x01\x00", "SUBSCRIBE with wrong flags"),
        (b"\x36\x05\x00\x01a\x00\x01", "QoS 3"),
        (b"\x32\x05\x00\x01a\x00\x00", "packet id 0"),
        (b"\x30\x04\x00\x03ab", "string runs past the packet"),
        (b"\x30\x04\x00\x02\xff\xfe", "not UTF-8"),
        (b"\x30\xff\xff\xff\xff\x01", "remaining length of 5 bytes"),
        (b"\xc0\x01\x00", "PINGREQ with a body"),
        (b"\x10\x0c\x00\x04MQTT\x04\x01\x00\x3c\x00\x00", "CONNECT's reserved flag"),
    ],
)
def test_malformed_input_raises_malformed_packet(data: bytes, why: str) -> None:
    with pytest.raises(MalformedPacket):
        decode_all(data)


# round trips --------------------------------------------------------------------------------

text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
user_props = st.lists(st.tuples(st.just(0x26), st.tuples(text, text)), max_size=2)


def props(v5: bool) -> st.SearchStrategy[Properties]:
    if not v5:
        return st.just(Properties())
    expiry = st.lists(st.tuples(st.just(0x02), st.integers(0, 2**32 - 1)), max_size=1)
    return st.builds(lambda a, b: Properties(tuple(a + b)), expiry, user_props)


def packets(version: int) -> st.SearchStrategy[Packet]:
    v5 = version == MQTT5
    pid = st.integers(1, 65535)
    reason = st.sampled_from([0, 0x10, 0x87, 0x97]) if v5 else st.just(0)
    topic = text.filter(bool)
    publish = st.builds(
        lambda t, p, q, r, d, i, pr: Publish(t, p, q, r, d and q > 0, i if q else None, pr),
        topic,
        st.binary(max_size=64),
        st.integers(0, 1),
        st.booleans(),
        st.booleans(),
        pid,
        props(v5),
    )
    will = st.none() | st.builds(Will, topic, st.binary(max_size=8), st.integers(0, 1))
    connect = st.builds(
        lambda c, k, u, pw, w, cs: Connect(
            c, version, cs, k, u, pw if (u is not None or v5) else None, w
        ),
        text,
        st.integers(0, 65535),
        st.none() | text,
        st.none() | st.binary(max_size=8),
        will,
        st.booleans(),
    )
    subscription = st.builds(Subscription, topic, st.integers(0, 2))
    return st.one_of(
        publish,
        connect,
        st.builds(Connack, st.booleans(), reason if v5 else st.integers(0, 5), props(v5)),
        st.builds(Ack, st.just(PacketType.PUBACK), pid, reason),
        st.builds(Subscribe, pid, st.lists(subscription, min_size=1, max_size=3).map(tuple)),
        st.builds(Suback, pid, st.lists(st.sampled_from([0, 1, 0x80]), max_size=3).map(tuple)),
        st.builds(Unsubscribe, pid, st.lists(topic, min_size=1, max_size=3).map(tuple)),
        st.builds(Unsuback, pid, st.lists(st.sampled_from([0, 0x11]), max_size=2).map(tuple)).map(
            lambda u: u if v5 else Unsuback(u.packet_id)
        ),
        st.just(Pingreq()),
        st.just(Pingresp()),
        st.builds(Disconnect, reason),
    )


@pytest.mark.parametrize("version", [MQTT311, MQTT5])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_packet_round_trips(version: int, data: st.DataObject) -> None:
    packet = data.draw(packets(version))
    wire = encode(packet, version)
    decoded = StreamDecoder(LIMIT, version).feed(wire)
    assert decoded == [packet]


# fuzzing ------------------------------------------------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(garbage=st.binary(max_size=300), version=st.sampled_from([MQTT311, MQTT5]))
def test_garbage_raises_only_the_typed_error(garbage: bytes, version: int) -> None:
    decoder = StreamDecoder(4096, version)
    try:
        decoder.feed(garbage)
    except MqttError:
        return


@settings(max_examples=500, deadline=None)
@given(
    stream=st.sampled_from([captured.PAHO_5_C2S, captured.PAHO_311_C2S]),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_real_traffic_raises_only_the_typed_error(
    stream: bytes, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(stream)
    for pos, value in flips:
        data[pos % len(data)] = value
    try:
        decode_all(bytes(data))
    except MqttError:
        return


def test_single_packet_decoder_refuses_reserved_flags() -> None:
    with pytest.raises(MalformedPacket):
        decode_packet(0xC1, b"", MQTT311)
