"""Length-prefixed JSON frames between the runtime and its worker processes."""

from __future__ import annotations

import json
import struct
from typing import IO, Any

__all__ = ["HEADER", "decode", "encode", "read_frame_sync", "write_frame_sync"]

HEADER = struct.Struct(">I")


def encode(obj: Any) -> bytes:
    payload = json.dumps(obj, separators=(",", ":")).encode()
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Any:
    return json.loads(payload)


def read_frame_sync(stream: IO[bytes]) -> Any | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return decode(payload)


def write_frame_sync(stream: IO[bytes], obj: Any) -> None:
    stream.write(encode(obj))
    stream.flush()
