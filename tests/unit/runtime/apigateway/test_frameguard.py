"""The 32 KB frame guard (``hubbub.runtime.apigateway.frameguard``) fed real WebSocket frames."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from websockets.frames import Frame, Opcode

from hubbub.runtime.apigateway.frameguard import FrameScanner, GuardedParser

LIMIT = 32 * 1024


def ws_frame(size: int, *, masked: bool, opcode: Opcode = Opcode.BINARY, fin: bool = True) -> bytes:
    """A serialized frame with ``size`` payload bytes (websockets picks the 7/16/64-bit form)."""
    return Frame(opcode, bytes(i % 251 for i in range(size)), fin=fin).serialize(mask=masked)


def header_size(size: int, *, masked: bool) -> int:
    extra = 0 if size < 126 else 2 if size < 65536 else 8
    return 2 + extra + (4 if masked else 0)


def scan_all(scanner: FrameScanner, chunks: Iterable[bytes]) -> list[int | None]:
    return [scanner.scan(chunk) for chunk in chunks]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# (payload size, masked) -- 7-bit, 16-bit and 64-bit length forms, under and at the limit
ALLOWED = [
    (0, False),
    (125, True),
    (126, False),
    (1000, True),
    (LIMIT, True),
    (LIMIT, False),
]


def test_the_test_frames_use_every_length_form() -> None:
    """The frames built here really carry 7-bit, 16-bit and 64-bit lengths."""
    assert ws_frame(100, masked=False)[1] == 100
    assert ws_frame(1000, masked=False)[1] == 126
    assert ws_frame(70_000, masked=False)[1] == 127
    assert ws_frame(100, masked=True)[1] & 0x80


@pytest.mark.parametrize(("size", "masked"), ALLOWED)
def test_frames_within_the_quota_pass_in_one_chunk(size: int, masked: bool) -> None:
    """A frame at or under the quota is never reported, whatever its length form or mask."""
    scanner = FrameScanner(LIMIT)
    assert scanner.scan(ws_frame(size, masked=masked)) is None
    assert scanner.violation is None


def test_frames_within_the_quota_pass_byte_by_byte() -> None:
    """Fed one byte at a time, a stream of allowed frames is never reported."""
    stream = b"".join(ws_frame(size, masked=masked) for size, masked in ALLOWED[:4])
    scanner = FrameScanner(LIMIT)
    assert set(scan_all(scanner, bytewise(stream))) == {None}


def test_several_allowed_frames_in_one_chunk_pass() -> None:
    """Many small frames in one chunk are all allowed."""
    stream = b"".join(ws_frame(n, masked=True) for n in (1, 200, 5, 3000, 0))
    assert FrameScanner(LIMIT).scan(stream) is None


@pytest.mark.parametrize(
    ("size", "masked"),
    [(LIMIT + 1, True), (LIMIT + 1, False), (65_535, True), (70_000, True), (70_000, False)],
)
def test_an_oversized_frame_is_reported_with_its_length(size: int, masked: bool) -> None:
    """A frame over the quota is reported at offset 0 with its declared payload length."""
    scanner = FrameScanner(LIMIT)
    assert scanner.scan(ws_frame(size, masked=masked)) == 0
    assert scanner.violation == size


def test_only_the_header_is_needed_to_report_an_oversized_frame() -> None:
    """The report comes as soon as the length is known, before any payload arrives."""
    frame = ws_frame(70_000, masked=True)
    scanner = FrameScanner(LIMIT)
    assert scanner.scan(frame[: header_size(70_000, masked=True)]) == 0
    assert scanner.violation == 70_000


@pytest.mark.parametrize("masked", [True, False])
def test_an_oversized_frame_mid_chunk_is_reported_at_its_offset(masked: bool) -> None:
    """After allowed frames in the same chunk, the oversized frame's header offset is reported."""
    before = ws_frame(10, masked=masked) + ws_frame(300, masked=masked)
    stream = before + ws_frame(40_000, masked=masked) + ws_frame(5, masked=masked)
    scanner = FrameScanner(LIMIT)
    assert scanner.scan(stream) == len(before)
    assert scanner.violation == 40_000


def test_an_oversized_frame_in_a_later_chunk_is_reported_at_its_offset_there() -> None:
    """Offsets are relative to the chunk being scanned."""
    first = ws_frame(1000, masked=True)
    lead = ws_frame(20, masked=True)
    scanner = FrameScanner(LIMIT)
    assert scanner.scan(first) is None
    assert scanner.scan(lead + ws_frame(50_000, masked=True)) == len(lead)


def test_a_payload_split_across_chunks_is_skipped_not_parsed_as_headers() -> None:
    """Payload bytes that look like an oversized header are not mistaken for one."""
    # a payload that is itself a valid oversized frame header, followed by a real small frame
    trap = ws_frame(70_000, masked=False)[:10]
    frame = Frame(Opcode.BINARY, trap * 50).serialize(mask=False)
    stream = frame + ws_frame(3, masked=False)
    scanner = FrameScanner(LIMIT)
    cut = len(frame) // 2
    assert scan_all(scanner, [stream[:cut], stream[cut:]]) == [None, None]


def test_an_oversized_frame_fed_byte_by_byte_is_reported_once_its_header_is_complete() -> None:
    """Fed one byte at a time, the report comes on the last byte of the header, not before,
    at an offset that does not point into the current chunk's later bytes."""
    before = ws_frame(10, masked=True)
    big = ws_frame(40_000, masked=True)
    stream = before + big
    scanner = FrameScanner(LIMIT)
    results = scan_all(scanner, bytewise(stream[: len(before) + header_size(40_000, masked=True)]))
    assert results[:-1] == [None] * (len(results) - 1)
    assert results[-1] is not None
    assert results[-1] <= 0
    assert scanner.violation == 40_000


def test_a_header_split_across_chunks_is_reported_before_the_chunk_start() -> None:
    """When the oversized frame's header began in an earlier chunk, the offset is negative
    (it began before this chunk), so no byte of this chunk is taken for an earlier frame."""
    before = ws_frame(10, masked=True)
    big = ws_frame(40_000, masked=True)
    first = before + big[:2]  # the header's first two bytes end the first chunk
    second = big[2:100]
    scanner = FrameScanner(LIMIT)
    assert scanner.scan(first) is None
    offset = scanner.scan(second)
    assert offset is not None
    assert offset < 0
    assert scanner.violation == 40_000


# -- GuardedParser --------------------------------------------------------------------------


class RecordingParser:
    """Stands in for aiohttp's WebSocket reader: records what it is fed."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.eof = False
        self.extra = "inner attribute"

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.chunks.append(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.eof = True

    @property
    def received(self) -> bytes:
        return b"".join(self.chunks)


def guarded() -> tuple[GuardedParser, RecordingParser, list[int]]:
    inner = RecordingParser()
    violations: list[int] = []
    return GuardedParser(inner, LIMIT, violations.append), inner, violations


def test_allowed_chunks_are_forwarded_whole_and_in_order() -> None:
    """Without a violation every chunk reaches the inner parser unchanged."""
    parser, inner, violations = guarded()
    chunks = [ws_frame(100, masked=True), ws_frame(2000, masked=True)[:7], b"\x00" * 3]
    for chunk in chunks:
        assert parser.feed_data(chunk) == (False, b"")
    assert inner.chunks == chunks
    assert violations == []


def test_the_bytes_before_an_oversized_frame_are_forwarded_and_nothing_after() -> None:
    """The frames before the oversized one are parsed; the oversized frame and what follows
    are not, and the violation is reported once with the frame's length."""
    parser, inner, violations = guarded()
    before = ws_frame(10, masked=True) + ws_frame(500, masked=True)
    big = ws_frame(40_000, masked=True)
    parser.feed_data(before + big[:100])
    parser.feed_data(big[100:] + ws_frame(3, masked=True))
    assert inner.received == before
    assert violations == [40_000]


def test_an_oversized_frame_at_the_chunk_start_forwards_nothing() -> None:
    """When the chunk starts with the oversized frame, the inner parser gets nothing of it."""
    parser, inner, violations = guarded()
    parser.feed_data(ws_frame(70_000, masked=True))
    assert inner.chunks == []
    assert violations == [70_000]


def test_after_a_violation_the_parser_stays_stopped() -> None:
    """Once stopped, later data is dropped and reported as nothing to read."""
    parser, inner, _ = guarded()
    parser.feed_data(ws_frame(40_000, masked=True)[:20])
    assert parser.feed_data(ws_frame(5, masked=True)) == (False, b"")
    assert inner.chunks == []


def test_no_payload_of_a_split_header_frame_reaches_the_inner_parser() -> None:
    """When the oversized frame's header straddles two chunks, nothing of the second chunk is
    forwarded: it holds only the oversized frame."""
    parser, inner, violations = guarded()
    before = ws_frame(10, masked=True)
    big = ws_frame(40_000, masked=True)
    parser.feed_data(before + big[:2])
    parser.feed_data(big[2:200])
    assert inner.received == before + big[:2]
    assert violations == [40_000]


def test_eof_and_other_attributes_reach_the_inner_parser() -> None:
    """feed_eof and any other attribute are the inner parser's."""
    parser, inner, _ = guarded()
    parser.feed_eof()
    assert inner.eof is True
    assert parser.extra == "inner attribute"
