"""The fan-out's text frame (``runtime.apigateway.websocket.frames``) against websockets' own
serialiser and parser."""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from hubbub.runtime.apigateway.websocket.frames import text_frame

T = TypeVar("T")

# each length form at both of its ends: 7-bit, 16-bit, 64-bit
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 128 * 1024]


def payload(size: int) -> bytes:
    return bytes(0x20 + i % 95 for i in range(size))


def run(coroutine: Generator[None, None, T]) -> T:
    """Drive one of websockets' generator-based coroutines over a reader that already holds all
    its bytes: it must finish without asking for more."""
    try:
        next(coroutine)
    except StopIteration as done:
        result: T = done.value
        return result
    raise AssertionError("websockets wanted more bytes than were written")


def parse(data: bytes) -> tuple[Frame, bool]:
    """websockets' client-side parse of one server frame, and whether it was all of ``data``."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frame = run(Frame.parse(reader.read_exact, mask=False))
    return frame, run(reader.at_eof())


@pytest.mark.parametrize("size", SIZES)
def test_the_frame_is_byte_identical_to_websockets(size: int) -> None:
    data = payload(size)
    assert text_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False)


@pytest.mark.parametrize("size", SIZES)
def test_websockets_parses_it_back_as_one_final_text_frame(size: int) -> None:
    data = payload(size)
    frame, whole = parse(text_frame(data))
    assert whole
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, data)
    assert not (frame.rsv1 or frame.rsv2 or frame.rsv3)


@given(st.binary(max_size=70_000))
def test_any_payload_serialises_as_websockets_would(data: bytes) -> None:
    assert text_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False)
