"""The one WebSocket frame the gateway builds itself: the unmasked text frame of a fan-out batch.

aiohttp writes every other frame. A batch from the ``@connections`` extension is one frame for
many connections, built once and written straight to each transport, so its bytes are made here.
They are written by hand rather than by websockets' sans-I/O ``Frame(...).serialize(mask=False)``
because ``python -m bench.frames`` measures that 4 to 7 times slower per frame for the payloads
a fan-out pushes, up to a few KB (it validates the frame and assembles it through a ``BytesIO``);
see docs/benchmarks.md. A unit test keeps these bytes identical to what websockets produces.
"""

from __future__ import annotations

import struct

__all__ = ["text_frame"]

_FIN_TEXT = 0x81
_HEAD_SHORT = struct.Struct("!BB")
_HEAD_MEDIUM = struct.Struct("!BBH")
_HEAD_LONG = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """An unmasked (a server never masks), unfragmented, uncompressed (the gateway never
    negotiates compression) RFC 6455 text frame, with the shortest length form, as RFC 6455
    requires."""
    length = len(payload)
    if length < 126:
        return _HEAD_SHORT.pack(_FIN_TEXT, length) + payload
    if length < 65536:
        return _HEAD_MEDIUM.pack(_FIN_TEXT, 126, length) + payload
    return _HEAD_LONG.pack(_FIN_TEXT, 127, length) + payload
