"""One large room, locally: the time from a send to its last delivery, single path vs chunked.

    python -m bench.largeroom [--members 2000] [--messages 10] [--paths single,chunked]

2,000 (``--members``) real WebSocket subscriptions held by this one asyncio process, one
``hubbub serve`` per path: ``single`` (``FanOutChunkThreshold=0``: the fan-out function posts to
everyone through the runtime's batch endpoint) and ``chunked`` (``FanOutChunkThreshold=500``:
the fan-out queues chunks in SQS FIFO, in moto, and the push function delivers them). Messages
are sent one at a time, each once the previous one reached everyone, and for each the time from
the send to its last delivery is kept. The crowd (``Crowd``) is also what the end-to-end test of
the chunked path holds (tests/e2e/test_chunked_fanout.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["Crowd", "measure", "serve_args"]

QUOTAS = (
    *("--quota", "new_connections_per_address_per_s=0"),
    *("--quota", "connections_per_address=0"),
    *("--quota", "unfinished_heads_per_address=0"),
    *("--quota", "new_connections_per_s=100000"),
)
"""One address opens every connection: the per-address and account-wide rates are lifted."""
_READY = re.compile(r"ready (?:http://127\.0\.0\.1:)?(\d+)")


def serve_args(chunked: bool, threshold: int = 500) -> tuple[str, ...]:
    """``hubbub serve`` arguments for a path."""
    return (*QUOTAS, "--parameter-overrides", f"FanOutChunkThreshold={threshold if chunked else 0}")


@dataclass
class Member:
    ws: aiohttp.ClientWebSocketResponse
    seqs: list[int] = field(default_factory=list)
    """The ``seq`` of every ``message`` frame of the room, in arrival order (repeats kept)."""
    arrived: list[float] = field(default_factory=list)


class Crowd:
    """``size`` connections subscribed to ``topic``, each read by its own task."""

    def __init__(self, url: str, topic: str, size: int) -> None:
        self.url = url
        self.topic = topic
        self.size = size
        self.members: list[Member] = []
        self._session: aiohttp.ClientSession | None = None
        self._readers: list[asyncio.Task[None]] = []
        self.changed = asyncio.Event()

    async def __aenter__(self) -> Crowd:
        # no pool limit: every WebSocket holds its connection for good
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        gate = asyncio.Semaphore(64)
        try:
            await asyncio.gather(*(self._join(gate) for _ in range(self.size)))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def _join(self, gate: asyncio.Semaphore) -> None:
        assert self._session is not None
        async with gate:
            ws = await self._session.ws_connect(self.url, max_msg_size=0)
            await ws.send_str(json.dumps({"action": "subscribe", "topic": self.topic, "ref": "s"}))
            while True:  # joined/presence frames may come first
                reply = json.loads(await ws.receive_str())
                if reply.get("ref") == "s":
                    break
            if reply.get("type") != "subscribed":
                raise RuntimeError(f"subscribe refused: {reply}")
        member = Member(ws)
        self.members.append(member)
        self._readers.append(asyncio.create_task(self._read(member)))

    async def _read(self, member: Member) -> None:
        async for frame in member.ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(frame.data)
            if event.get("type") == "message" and event.get("topic") == self.topic:
                member.seqs.append(int(event["seq"]))
                member.arrived.append(time.monotonic())
                self.changed.set()

    def reached(self, seq: int) -> int:
        return sum(1 for m in self.members if seq in m.seqs)

    async def wait_for(self, seq: int, timeout: float) -> float:
        """Until every member has ``seq``; the monotonic time of its last arrival."""
        async with asyncio.timeout(timeout):
            while self.reached(seq) < len(self.members):
                self.changed.clear()
                await self.changed.wait()
        return max(m.arrived[m.seqs.index(seq)] for m in self.members)

    async def __aexit__(self, *exc: object) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await asyncio.gather(*(m.ws.close() for m in self.members), return_exceptions=True)
        if self._session is not None:
            await self._session.close()


async def publisher(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A registered connection (guests do not send)."""
    ws = await session.ws_connect(url)
    await ws.send_str(json.dumps({"action": "register", "nickname": "bench", "ref": "r"}))
    while json.loads(await ws.receive_str()).get("ref") != "r":
        pass
    return ws


async def send(ws: aiohttp.ClientWebSocketResponse, topic: str, n: int) -> float:
    """Send message ``n``; the monotonic time it was sent."""
    sent = time.monotonic()
    frame = {"action": "send", "topic": topic, "text": f"m{n}", "clientMsgId": f"c{n}"}
    await ws.send_str(json.dumps({**frame, "ref": f"m{n}"}))
    return sent


async def measure(url: str, *, members: int, messages: int, timeout: float) -> dict[str, Any]:
    """Times from send to last delivery (ms), one message at a time."""
    topic = "room/arena"
    async with Crowd(url, topic, members) as crowd, aiohttp.ClientSession() as session:
        ws = await publisher(session, url)
        times = []
        for n in range(1, messages + 1):
            sent = await send(ws, topic, n)
            last = await crowd.wait_for(n, timeout)
            times.append((last - sent) * 1000)
        await ws.close()
        repeats = sum(len(m.seqs) - len(set(m.seqs)) for m in crowd.members)
    return {
        "members": members,
        "messages": messages,
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "repeats": repeats,
    }


async def _serve(workdir: Path, chunked: bool) -> tuple[asyncio.subprocess.Process, int]:
    command = [
        sys.executable,
        *("-m", "hubbub.cli", "serve", "--port", "0", "--mqtt-port", "0"),
        *("--data-dir", str(workdir / "data"), "--log-level", "WARNING", "--no-web"),
        *serve_args(chunked),
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert proc.stdout is not None
    async with asyncio.timeout(120):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError("hubbub serve exited")
            found = _READY.search(line)
            if found:
                return proc, int(found.group(1))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.largeroom", description=__doc__)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--paths", default="single,chunked")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    results = {}
    for path in args.paths.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port = await _serve(Path(tmp), chunked=path == "chunked")
            try:
                url = f"ws://127.0.0.1:{port}/ws"
                results[path] = await measure(
                    url, members=args.members, messages=args.messages, timeout=args.timeout
                )
            finally:
                proc.kill()
                await proc.wait()
        print(path, results[path], flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
