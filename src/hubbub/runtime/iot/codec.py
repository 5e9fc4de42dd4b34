"""A sans-I/O MQTT 3.1.1 and 5 codec: packets to bytes and back, and a stream decoder.

No maintained library on PyPI is sans-I/O and speaks both versions (the sans-I/O ones are MQTT 5
only; the others own their sockets), so the broker carries this small one. It takes bytes and
gives packets; the asyncio shells around it (``transports.py``) only move bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from hubbub.runtime.iot.packets import (
    MQTT5,
    MQTT311,
    NO_PROPERTIES,
    Ack,
    Auth,
    Connack,
    Connect,
    Disconnect,
    MalformedPacket,
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
from hubbub.runtime.iot.wire import Reader, Writer, encode_varint

__all__ = ["StreamDecoder", "decode_packet", "encode"]

# the fixed header's low nibble is fixed for every type but PUBLISH (3.1.1 §2.2.2, 5.0 §2.1.3)
_FLAGS = {t: (0b0010 if t in (6, 8, 10) else 0) for t in range(1, 16) if t != 3}


def decode_packet(first: int, body: bytes, version: int) -> Packet:
    """One packet from its fixed header's first byte and its body, in ``version``'s layout."""
    kind, flags = first >> 4, first & 0x0F
    if kind == 0:
        raise MalformedPacket("packet type 0 is reserved")
    if kind != 3 and flags != _FLAGS[kind]:
        raise MalformedPacket(f"bad flags 0x{flags:x} on packet type {kind}")
    if kind == PacketType.AUTH and version != MQTT5:
        raise MalformedPacket("AUTH is MQTT 5 only")
    reader = Reader(body)
    packet = _DECODERS[PacketType(kind)](reader, flags, version)
    if reader.remaining():
        raise MalformedPacket("bytes left over after the packet")
    return packet


def _connect(r: Reader, _flags: int, _version: int) -> Connect:
    name = r.utf8()
    level = r.u8()
    if name == "MQIsdp" or (name == "MQTT" and level not in (MQTT311, MQTT5)):
        raise UnsupportedProtocolVersion(f"protocol {name!r} level {level}")
    if name != "MQTT":
        raise MalformedPacket(f"protocol name {name!r}")
    flags = r.u8()
    if flags & 0x01:
        raise MalformedPacket("CONNECT's reserved flag is set")
    will_flag, will_qos, will_retain = bool(flags & 0x04), (flags >> 3) & 0x03, bool(flags & 0x20)
    if will_qos == 3 or (not will_flag and (will_qos or will_retain)):
        raise MalformedPacket("will flags are inconsistent")
    has_user, has_password = bool(flags & 0x80), bool(flags & 0x40)
    if level == MQTT311 and has_password and not has_user:
        raise MalformedPacket("a password without a user name")
    keepalive = r.u16()
    props = r.properties() if level == MQTT5 else NO_PROPERTIES
    client_id = r.utf8()
    will = None
    if will_flag:
        will_props = r.properties() if level == MQTT5 else NO_PROPERTIES
        topic = r.utf8()
        will = Will(topic, r.binary(), will_qos, will_retain, will_props)
    return Connect(
        client_id=client_id,
        version=level,
        clean_start=bool(flags & 0x02),
        keepalive=keepalive,
        username=r.utf8() if has_user else None,
        password=r.binary() if has_password else None,
        will=will,
        properties=props,
    )


def _connack(r: Reader, _flags: int, version: int) -> Connack:
    ack_flags = r.u8()
    if ack_flags & 0xFE:
        raise MalformedPacket("CONNACK's reserved flags are set")
    reason = r.u8()
    props = r.properties() if version == MQTT5 else NO_PROPERTIES
    return Connack(bool(ack_flags & 1), reason, props)


def _publish(r: Reader, flags: int, version: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    dup = bool(flags & 0x08)
    if qos == 0 and dup:
        raise MalformedPacket("DUP set on a QoS 0 PUBLISH")
    topic = r.utf8()
    packet_id = _packet_id(r) if qos else None
    props = r.properties() if version == MQTT5 else NO_PROPERTIES
    payload = r.take(r.remaining())
    return Publish(topic, payload, qos, bool(flags & 0x01), dup, packet_id, props)


def _ack(kind: PacketType) -> Callable[[Reader, int, int], Ack]:
    def decode(r: Reader, _flags: int, version: int) -> Ack:
        packet_id = _packet_id(r)
        if version != MQTT5 or not r.remaining():
            return Ack(kind, packet_id)
        reason = r.u8()
        props = r.properties() if r.remaining() else NO_PROPERTIES
        return Ack(kind, packet_id, reason, props)

    return decode


def _subscribe(r: Reader, _flags: int, version: int) -> Subscribe:
    packet_id = _packet_id(r)
    props = r.properties() if version == MQTT5 else NO_PROPERTIES
    subs = []
    while r.remaining():
        topic_filter = r.utf8()
        options = r.u8()
        reserved = 0xC0 if version == MQTT5 else 0xFC
        if options & reserved or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise MalformedPacket("bad subscription options")
        subs.append(
            Subscription(
                topic_filter,
                options & 0x03,
                bool(options & 0x04),
                bool(options & 0x08),
                (options >> 4) & 0x03,
            )
        )
    if not subs:
        raise MalformedPacket("SUBSCRIBE without a topic filter")
    return Subscribe(packet_id, tuple(subs), props)


def _suback(r: Reader, _flags: int, version: int) -> Suback:
    packet_id = _packet_id(r)
    props = r.properties() if version == MQTT5 else NO_PROPERTIES
    return Suback(packet_id, tuple(r.take(r.remaining())), props)


def _unsubscribe(r: Reader, _flags: int, version: int) -> Unsubscribe:
    packet_id = _packet_id(r)
    props = r.properties() if version == MQTT5 else NO_PROPERTIES
    filters = []
    while r.remaining():
        filters.append(r.utf8())
    if not filters:
        raise MalformedPacket("UNSUBSCRIBE without a topic filter")
    return Unsubscribe(packet_id, tuple(filters), props)


def _unsuback(r: Reader, _flags: int, version: int) -> Unsuback:
    packet_id = _packet_id(r)
    if version != MQTT5:
        return Unsuback(packet_id)
    props = r.properties()
    return Unsuback(packet_id, tuple(r.take(r.remaining())), props)


def _disconnect(r: Reader, _flags: int, version: int) -> Disconnect:
    if version != MQTT5 or not r.remaining():
        return Disconnect()
    reason = r.u8()
    return Disconnect(reason, r.properties() if r.remaining() else NO_PROPERTIES)


def _auth(r: Reader, _flags: int, _version: int) -> Auth:
    if not r.remaining():
        return Auth()
    reason = r.u8()
    return Auth(reason, r.properties() if r.remaining() else NO_PROPERTIES)


def _packet_id(r: Reader) -> int:
    packet_id = r.u16()
    if packet_id == 0:
        raise MalformedPacket("packet identifier 0")
    return packet_id


_DECODERS: dict[PacketType, Callable[[Reader, int, int], Packet]] = {
    PacketType.CONNECT: _connect,
    PacketType.CONNACK: _connack,
    PacketType.PUBLISH: _publish,
    PacketType.PUBACK: _ack(PacketType.PUBACK),
    PacketType.PUBREC: _ack(PacketType.PUBREC),
    PacketType.PUBREL: _ack(PacketType.PUBREL),
    PacketType.PUBCOMP: _ack(PacketType.PUBCOMP),
    PacketType.SUBSCRIBE: _subscribe,
    PacketType.SUBACK: _suback,
    PacketType.UNSUBSCRIBE: _unsubscribe,
    PacketType.UNSUBACK: _unsuback,
    PacketType.PINGREQ: lambda r, f, v: Pingreq(),
    PacketType.PINGRESP: lambda r, f, v: Pingresp(),
    PacketType.DISCONNECT: _disconnect,
    PacketType.AUTH: _auth,
}


# encoding ----------------------------------------------------------------------------------


def encode(packet: Packet, version: int) -> bytes:
    """The bytes of ``packet`` in ``version``'s layout (fixed header included)."""
    first, w = _encode_body(packet, version)
    return bytes([first]) + encode_varint(len(w.out)) + bytes(w.out)


def _encode_body(packet: Packet, version: int) -> tuple[int, Writer]:
    w = Writer()
    v5 = version == MQTT5
    if isinstance(packet, Connect):
        return 0x10, _write_connect(w, packet)
    if isinstance(packet, Connack):
        w.u8(int(packet.session_present))
        w.u8(packet.reason)
        if v5:
            w.properties(packet.properties)
        return 0x20, w
    if isinstance(packet, Publish):
        return _write_publish(w, packet, v5)
    if isinstance(packet, Ack):
        w.u16(packet.packet_id)
        if v5 and (packet.reason or packet.properties):
            w.u8(packet.reason)
            if packet.properties:
                w.properties(packet.properties)
        return (packet.kind << 4) | _FLAGS[packet.kind], w
    if isinstance(packet, Subscribe):
        return 0x82, _write_subscribe(w, packet, v5)
    if isinstance(packet, Suback):
        w.u16(packet.packet_id)
        if v5:
            w.properties(packet.properties)
        w.out += bytes(packet.reasons)
        return 0x90, w
    if isinstance(packet, Unsubscribe):
        w.u16(packet.packet_id)
        if v5:
            w.properties(packet.properties)
        for topic_filter in packet.topic_filters:
            w.utf8(topic_filter)
        return 0xA2, w
    if isinstance(packet, Unsuback):
        w.u16(packet.packet_id)
        if v5:
            w.properties(packet.properties)
            w.out += bytes(packet.reasons)
        return 0xB0, w
    return _encode_short(w, packet, v5)


def _encode_short(w: Writer, packet: Packet, v5: bool) -> tuple[int, Writer]:
    if isinstance(packet, Pingreq):
        return 0xC0, w
    if isinstance(packet, Pingresp):
        return 0xD0, w
    if isinstance(packet, Disconnect):
        if v5 and (packet.reason or packet.properties):
            w.u8(packet.reason)
            if packet.properties:
                w.properties(packet.properties)
        return 0xE0, w
    if isinstance(packet, Auth):
        if packet.reason or packet.properties:
            w.u8(packet.reason)
            w.properties(packet.properties)
        return 0xF0, w
    raise TypeError(f"not a packet: {packet!r}")


def _write_connect(w: Writer, c: Connect) -> Writer:
    w.utf8("MQTT")
    w.u8(c.version)
    flags = 0x02 if c.clean_start else 0
    if c.will is not None:
        flags |= 0x04 | (c.will.qos << 3) | (0x20 if c.will.retain else 0)
    flags |= 0x80 if c.username is not None else 0
    flags |= 0x40 if c.password is not None else 0
    w.u8(flags)
    w.u16(c.keepalive)
    if c.version == MQTT5:
        w.properties(c.properties)
    w.utf8(c.client_id)
    if c.will is not None:
        if c.version == MQTT5:
            w.properties(c.will.properties)
        w.utf8(c.will.topic)
        w.binary(c.will.payload)
    if c.username is not None:
        w.utf8(c.username)
    if c.password is not None:
        w.binary(c.password)
    return w


def _write_publish(w: Writer, p: Publish, v5: bool) -> tuple[int, Writer]:
    first = 0x30 | (0x08 if p.dup else 0) | (p.qos << 1) | (0x01 if p.retain else 0)
    w.utf8(p.topic)
    if p.qos:
        assert p.packet_id is not None
        w.u16(p.packet_id)
    if v5:
        w.properties(p.properties)
    w.out += p.payload
    return first, w


def _write_subscribe(w: Writer, s: Subscribe, v5: bool) -> Writer:
    w.u16(s.packet_id)
    if v5:
        w.properties(s.properties)
    for sub in s.subscriptions:
        w.utf8(sub.topic_filter)
        options = sub.qos
        if v5:
            options |= (
                (0x04 if sub.no_local else 0)
                | (0x08 if sub.retain_as_published else 0)
                | (sub.retain_handling << 4)
            )
        w.u8(options)
    return w


# the byte stream ---------------------------------------------------------------------------


class StreamDecoder:
    """Bytes in, whole packets out: a chunk may end mid-packet or hold several packets.

    A packet whose announced size passes ``max_packet_size`` is refused as soon as its fixed
    header is read, before its body is buffered. The protocol version is learnt from the
    CONNECT (the first packet of a connection) and used for every packet after it.
    """

    __slots__ = ("_buffer", "max_packet_size", "version")

    def __init__(self, max_packet_size: int, version: int = MQTT311) -> None:
        self.max_packet_size = max_packet_size
        self.version = version
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer += data
        packets: list[Packet] = []
        pos = 0
        buf = self._buffer
        while True:
            header = _fixed_header(buf, pos)
            if header is None:
                break
            header_len, remaining = header
            total = header_len + remaining
            if total > self.max_packet_size:
                raise PacketTooLarge(f"packet of {total} bytes (limit {self.max_packet_size})")
            if len(buf) - pos < total:
                break
            body = bytes(buf[pos + header_len : pos + total])
            packet = decode_packet(buf[pos], body, self.version)
            if isinstance(packet, Connect):
                self.version = packet.version
            packets.append(packet)
            pos += total
        del self._buffer[:pos]
        return packets

    @property
    def buffered(self) -> int:
        return len(self._buffer)


def _fixed_header(buf: bytearray, pos: int) -> tuple[int, int] | None:
    """(header length, remaining length) of the packet at ``pos``, or None until it is whole."""
    value, shift = 0, 0
    for i in range(1, 5):
        if pos + i >= len(buf):
            return None
        byte = buf[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return i + 1, value
        shift += 7
    raise MalformedPacket("remaining length longer than 4 bytes")


def properties_of(*pairs: tuple[int, int | str | bytes | tuple[str, str]]) -> Properties:
    """Properties from (identifier, value) pairs, for the broker's replies."""
    return Properties(tuple(pairs))
