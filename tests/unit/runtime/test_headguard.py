"""The request head's deadline and the cap on unfinished heads per address
(``runtime.headguard``), on a real aiohttp server behind ``sites.GuardedSockSite``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from hubbub.runtime import tls
from hubbub.runtime.forwarded import TrustedProxies
from hubbub.runtime.headguard import HeadGuard, HeadScanner, UnfinishedHeads
from hubbub.runtime.sites import DualSite, GuardedSockSite
from tests.conftest import TIMEOUT_FACTOR
from tests.support.waiting import eventually

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(
    ("chunks", "done_after"),
    [
        ([HEAD], [True]),
        ([b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"], [False, False, True]),
        ([b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n"], [False, False, True]),  # split end
        ([b"GET / HTTP/1.1\r\n\r", b"\n"], [False, True]),
        ([b"X-A: 1\r\n"] * 3, [False, False, False]),  # a slowloris never ends its head
        ([b"", HEAD, b"more"], [False, True, True]),  # once in, it stays in
    ],
)
def test_head_scanner(chunks: list[bytes], done_after: list[bool]) -> None:
    scanner = HeadScanner()
    assert [scanner.feed(chunk) for chunk in chunks] == done_after


@pytest.mark.parametrize(
    ("cap", "trusted", "steps"),
    [
        (
            2,
            (),
            [
                *[("+a", True), ("+a", True), ("+a", False), ("+b", True)],
                *[("-a", None), ("+a", True), ("+a", False)],
            ],
        ),
        (0, (), [("+a", True)] * 50),  # 0: no cap
        (1, ("127.0.0.1",), [("+127.0.0.1", True)] * 5),  # a trusted proxy carries many
        (1, (), [("-a", None), ("+a", True), ("+a", False)]),  # no negative counts
    ],
)
def test_unfinished_heads(
    cap: int, trusted: tuple[str, ...], steps: list[tuple[str, bool | None]]
) -> None:
    heads = UnfinishedHeads(cap, TrustedProxies(trusted))
    for n, (step, expected) in enumerate(steps):
        if step.startswith("-"):
            heads.finish(step[1:])
        else:
            assert heads.start(step[1:]) is expected, f"step {n}"


# -- on a server ----------------------------------------------------------------------------------

TIMEOUT_S = 0.5


@pytest.fixture
async def guarded() -> AsyncIterator[tuple[int, HeadGuard]]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    guard = HeadGuard(timeout_s=TIMEOUT_S, cap=3, trusted=TrustedProxies())
    await GuardedSockSite(runner, sock, guard).start()
    try:
        yield sock.getsockname()[1], guard
    finally:
        await runner.cleanup()


async def _get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEAD)
    try:
        return await asyncio.wait_for(reader.read(), 5 * TIMEOUT_FACTOR)
    finally:
        writer.close()


async def test_a_slow_head_is_answered_408_and_closed_by_its_deadline(
    guarded: tuple[int, HeadGuard],
) -> None:
    port, guard = guarded
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    answer = await asyncio.wait_for(reader.read(), 5 * TIMEOUT_FACTOR)  # read() ends at close
    elapsed = time.monotonic() - started
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert TIMEOUT_S * 0.8 <= elapsed < TIMEOUT_S + 2 * TIMEOUT_FACTOR
    assert guard.timed_out == 1
    assert guard.heads.unfinished("127.0.0.1") == 0, "the slot is free again"


async def test_a_head_in_time_is_served_and_frees_its_slot(guarded: tuple[int, HeadGuard]) -> None:
    port, guard = guarded
    for _ in range(5):  # more than the cap, one after another: each frees its slot
        answer = await _get(port)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"hello")
    assert guard.heads.unfinished("127.0.0.1") == 0


async def test_unfinished_heads_over_the_cap_are_refused_while_others_are_served(
    guarded: tuple[int, HeadGuard],
) -> None:
    """Three slow connections hold the address's slots: a fourth is answered 429 at once, and
    once they time out the address is served again."""
    port, guard = guarded
    slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    for _, writer in slow:
        writer.write(b"GET / HTTP/1.1\r\n")
    started = time.monotonic()
    refused = await _get(port)
    assert refused.startswith(b"HTTP/1.1 429 ")
    assert time.monotonic() - started < TIMEOUT_S, "refused at once, not at the deadline"
    for reader, writer in slow:
        assert (await asyncio.wait_for(reader.read(), 5 * TIMEOUT_FACTOR)).startswith(
            b"HTTP/1.1 408"
        )
        writer.close()
    assert (await _get(port)).startswith(b"HTTP/1.1 200 ")
    assert guard.refused == 1


# -- over TLS, and before the main port knows whether a client speaks TLS -----------------------


@pytest.fixture
async def tls_sites(tmp_path: Path) -> AsyncIterator[tuple[int, int, HeadGuard, tls.TlsFiles]]:
    """The runtime's two sites with one guard: the TLS port and the main (dual) port."""
    files = tls.ensure_certificates(tmp_path)
    runner = web.AppRunner(web.Application())
    await runner.setup()
    guard = HeadGuard(timeout_s=TIMEOUT_S, cap=3, trusted=TrustedProxies())
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    context = tls.server_context(files)
    await GuardedSockSite(runner, socks[0], guard, ssl_context=context).start()
    await DualSite(runner, socks[1], context, guard).start()
    try:
        yield socks[0].getsockname()[1], socks[1].getsockname()[1], guard, files
    finally:
        await runner.cleanup()


async def test_a_slow_head_over_tls_meets_the_same_deadline(
    tls_sites: tuple[int, int, HeadGuard, tls.TlsFiles],
) -> None:
    tls_port, _, guard, files = tls_sites
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    reader, writer = await asyncio.open_connection("127.0.0.1", tls_port, ssl=context)
    started = time.monotonic()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
    answer = await asyncio.wait_for(reader.read(), 5 * TIMEOUT_FACTOR)
    elapsed = time.monotonic() - started
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert elapsed < TIMEOUT_S + 2 * TIMEOUT_FACTOR
    await eventually(lambda: guard.heads.unfinished("127.0.0.1") == 0, what="the slot freed")


@pytest.mark.parametrize("first", [b"", b"\x16"], ids=["silent", "tls-handshake-never-finished"])
async def test_the_main_port_closes_a_client_that_never_gets_to_its_head(
    tls_sites: tuple[int, int, HeadGuard, tls.TlsFiles], first: bytes
) -> None:
    """The wait for the first byte and the TLS handshake count against the same deadline, and
    the slot is held (and freed) from the accept."""
    _, main_port, guard, _ = tls_sites
    reader, writer = await asyncio.open_connection("127.0.0.1", main_port)
    writer.write(first)
    started = time.monotonic()

    await eventually(lambda: guard.heads.unfinished("127.0.0.1") == 1, what="a slot held")
    with contextlib.suppress(ConnectionError):
        await asyncio.wait_for(reader.read(), 5 * TIMEOUT_FACTOR)
    assert time.monotonic() - started < TIMEOUT_S + 2 * TIMEOUT_FACTOR
    writer.close()
    await eventually(lambda: guard.heads.unfinished("127.0.0.1") == 0, what="the slot freed")
