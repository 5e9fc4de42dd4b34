"""MQTT's primitive encodings (OASIS MQTT 5.0 §1.5 and 3.1.1 §1.5): big-endian integers, the
variable byte integer, length-prefixed UTF-8 strings and binary data, and MQTT 5 properties.

Every read checks its bounds and raises :class:`MalformedPacket`, so garbage can only ever end
in that typed error.
"""

from __future__ import annotations

from hubbub.runtime.iot.packets import MalformedPacket, Properties, PropertyValue

__all__ = ["PROPERTY_KINDS", "Reader", "Writer", "encode_varint"]

# identifier -> how its value is encoded (MQTT 5.0 §2.2.2.2)
PROPERTY_KINDS: dict[int, str] = {
    0x01: "byte",  # payload format indicator
    0x02: "u32",  # message expiry interval
    0x03: "utf8",  # content type
    0x08: "utf8",  # response topic
    0x09: "binary",  # correlation data
    0x0B: "varint",  # subscription identifier
    0x11: "u32",  # session expiry interval
    0x12: "utf8",  # assigned client identifier
    0x13: "u16",  # server keep alive
    0x15: "utf8",  # authentication method
    0x16: "binary",  # authentication data
    0x17: "byte",  # request problem information
    0x18: "u32",  # will delay interval
    0x19: "byte",  # request response information
    0x1A: "utf8",  # response information
    0x1C: "utf8",  # server reference
    0x1F: "utf8",  # reason string
    0x21: "u16",  # receive maximum
    0x22: "u16",  # topic alias maximum
    0x23: "u16",  # topic alias
    0x24: "byte",  # maximum qos
    0x25: "byte",  # retain available
    0x26: "pair",  # user property
    0x27: "u32",  # maximum packet size
    0x28: "byte",  # wildcard subscription available
    0x29: "byte",  # subscription identifier available
    0x2A: "byte",  # shared subscription available
}
REPEATABLE = frozenset({0x0B, 0x26})


def encode_varint(value: int) -> bytes:
    if not 0 <= value <= 268_435_455:
        raise ValueError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class Reader:
    """A cursor over one packet's body."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MalformedPacket("packet ends early")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def varint(self) -> int:
        value, shift = 0, 0
        for _ in range(4):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise MalformedPacket("variable byte integer longer than 4 bytes")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def utf8(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPacket("string is not UTF-8") from exc
        if "\x00" in text:
            raise MalformedPacket("string contains U+0000")
        return text

    def properties(self) -> Properties:
        length = self.varint()
        inner = Reader(self.take(length))
        items: list[tuple[int, PropertyValue]] = []
        seen: set[int] = set()
        while inner.remaining():
            ident = inner.varint()
            kind = PROPERTY_KINDS.get(ident)
            if kind is None:
                raise MalformedPacket(f"unknown property 0x{ident:02x}")
            if ident in seen and ident not in REPEATABLE:
                raise MalformedPacket(f"property 0x{ident:02x} given twice")
            seen.add(ident)
            items.append((ident, inner.value(kind)))
        return Properties(tuple(items))

    def value(self, kind: str) -> PropertyValue:
        if kind == "byte":
            return self.u8()
        if kind == "u16":
            return self.u16()
        if kind == "u32":
            return self.u32()
        if kind == "varint":
            return self.varint()
        if kind == "utf8":
            return self.utf8()
        if kind == "binary":
            return self.binary()
        return (self.utf8(), self.utf8())


class Writer:
    __slots__ = ("out",)

    def __init__(self) -> None:
        self.out = bytearray()

    def u8(self, value: int) -> None:
        self.out.append(value)

    def u16(self, value: int) -> None:
        self.out += value.to_bytes(2, "big")

    def u32(self, value: int) -> None:
        self.out += value.to_bytes(4, "big")

    def binary(self, data: bytes) -> None:
        if len(data) > 0xFFFF:
            raise ValueError("binary data longer than 65535 bytes")
        self.u16(len(data))
        self.out += data

    def utf8(self, text: str) -> None:
        self.binary(text.encode("utf-8"))

    def properties(self, props: Properties) -> None:
        inner = Writer()
        for ident, value in props.items:
            inner.out += encode_varint(ident)
            inner.value(PROPERTY_KINDS[ident], value)
        self.out += encode_varint(len(inner.out))
        self.out += inner.out

    def value(self, kind: str, value: PropertyValue) -> None:
        if kind in ("byte", "u16", "u32", "varint"):
            assert isinstance(value, int)
            if kind == "varint":
                self.out += encode_varint(value)
            else:
                self.out += value.to_bytes({"byte": 1, "u16": 2, "u32": 4}[kind], "big")
        elif kind == "utf8":
            assert isinstance(value, str)
            self.utf8(value)
        elif kind == "binary":
            assert isinstance(value, bytes)
            self.binary(value)
        else:
            assert isinstance(value, tuple)
            self.utf8(value[0])
            self.utf8(value[1])
