"""Batch delivery to open connections (``runtime.apigateway.websocket.registry``), over stand-in
transports: the answers are known at once, the one prebuilt frame is written after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from hubbub.runtime.apigateway.events import ConnectionInfo
from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.apigateway.websocket.frames import text_frame
from hubbub.runtime.apigateway.websocket.registry import (
    ConnectionRegistry,
    LiveConnection,
    iso_time,
)
from hubbub.runtime.faults import Faults
from tests.support.waiting import eventually


@dataclass
class Transport:
    closing: bool = False
    buffered: int = 0
    written: list[bytes] = field(default_factory=list)

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:
        self.written.append(data)


@dataclass
class Socket:
    closed: bool = False


def registry(quotas: Quotas | None = None, faults: Faults | None = None) -> ConnectionRegistry:
    return ConnectionRegistry(quotas or Quotas(slow_consumer_bytes=1000), faults or Faults())


def connect(
    reg: ConnectionRegistry, cid: str, transport: Transport, *, closed: bool = False
) -> None:
    info = ConnectionInfo(
        connection_id=cid,
        api_id="api",
        stage="ws",
        domain_name="localhost",
        source_ip="127.0.0.1",
        user_agent=None,
        connected_at=0,
    )
    ws: Any = Socket(closed=closed)
    reg.connections[cid] = LiveConnection(
        ws=ws,
        info=info,
        opened=0.0,
        last_active=0.0,
        last_active_ms=0,
        transport=transport,
    )


async def test_one_frame_goes_to_every_open_connection_and_the_rest_are_sorted_out() -> None:
    reg = registry()
    ok, slow, closing, closed = (
        Transport(),
        Transport(buffered=1001),
        Transport(closing=True),
        Transport(),
    )
    connect(reg, "ok", ok)
    connect(reg, "slow", slow)
    connect(reg, "closing", closing)
    connect(reg, "closed", closed, closed=True)
    gone, failed = reg.deliver_many(
        b'{"type":"message"}', ["ok", "slow", "nobody", "closing", "closed"]
    )
    assert (gone, failed) == (["nobody", "closed"], ["slow", "closing"])
    assert ok.written == []  # written after the caller's answer, not during it
    await eventually(lambda: ok.written, what="the batch write")
    assert ok.written == [text_frame(b'{"type":"message"}')]
    assert slow.written == closing.written == closed.written == []
    assert reg.stats["posts"] == 5
    assert reg.stats["gone"] == 2


@pytest.mark.parametrize(
    ("faults", "quotas", "gone", "failed"),
    [
        (Faults(post_status=410), Quotas(), ["a", "b"], []),
        (Faults(post_status=429), Quotas(), [], ["a", "b"]),
        (Faults(), Quotas(post_bytes=3), [], ["a", "b"]),  # 413: the frame is over the quota
    ],
)
def test_a_batch_wide_answer_writes_nothing(
    faults: Faults, quotas: Quotas, gone: list[str], failed: list[str]
) -> None:
    reg = registry(quotas, faults)
    transport = Transport()
    connect(reg, "a", transport)
    assert reg.deliver_many(b"four", ["a", "b"]) == (gone, failed)
    assert transport.written == []


async def test_a_stream_batch_is_one_write_per_connection_of_its_frames_in_order() -> None:
    """Each send names the frames its connections get; a connection gets all of them in one
    write, in that order, or none (so what it misses is never a frame in the middle)."""
    reg = registry()
    both, one, slow = Transport(), Transport(), Transport(buffered=1001)
    connect(reg, "both", both)
    connect(reg, "one", one)
    connect(reg, "slow", slow)
    frames = [b'{"seq":1}', b'{"seq":2}', b'{"seq":3}']

    gone, failed = reg.deliver_sends(frames, [([0, 2], ["both", "slow", "nobody"]), ([1], ["one"])])

    assert (gone, failed) == (["nobody"], ["slow"])
    await eventually(lambda: both.written and one.written, what="the batch writes")
    assert both.written == [text_frame(frames[0]) + text_frame(frames[2])]
    assert one.written == [text_frame(frames[1])]
    assert slow.written == []


async def test_a_frame_over_the_post_limit_fails_only_the_connections_it_is_for() -> None:
    reg = registry(Quotas(post_bytes=4, slow_consumer_bytes=1000))
    connect(reg, "a", Transport())
    connect(reg, "b", Transport())
    assert reg.deliver_sends([b"big frame", b"ok"], [([0, 1], ["a"]), ([1], ["b"])]) == ([], ["a"])


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        (1_700_000_000_007, "2023-11-14T22:13:20.007Z"),
    ],
)
def test_times_are_iso_with_milliseconds(epoch_ms: int, text: str) -> None:
    assert iso_time(epoch_ms) == text
