"""Soak: a bounded load run with a ``kill -9`` of the server in the middle.

1,000 connections in 50 rooms (20 subscribers each), 10 publishers sending 200 messages/s in all
for 60 s (open loop: sends are scheduled by the clock). At 30 s the server is killed with SIGKILL
and restarted on the same port and data dir; subscribers reconnect and resume with ``since``,
publishers resend what was not acknowledged with the same ``clientMsgId``. Then it checks:

* zero loss: every acknowledged message is in its room's history, and every subscriber has seen
  every stored message of its room;
* nothing shown twice: subscribers show each seq once; at-least-once repeats are counted apart;
* flat memory: the server's RSS (with its worker processes) after the restart does not keep growing.

    python -m bench.soak [--seconds 60] [--rate 200] [--connections 1000] [--rooms 50]

Loopback only; every loop is bounded in count and time. Writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.peers import LIFTED_LIMITS
from hubbub.client import ClientError, HubbubClient

RESULTS = Path(__file__).resolve().parent / "results"
EDGE_QUOTAS = (
    *("--quota", "new_connections_per_address_per_s=0"),
    *("--quota", "connections_per_address=0"),
    *("--quota", "unfinished_heads_per_address=0"),
)
"""The soak's clients all come from 127.0.0.1: the per-address limits, meant for strangers, are
lifted (as in bench/peers)."""


# --- the server ------------------------------------------------------------------------------


class Server:
    def __init__(self, data_dir: Path, env_file: Path) -> None:
        self.data_dir = data_dir
        self.env_file = env_file
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hubbub.cli",
                "serve",
                "--mqtt-port",
                "0",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--env-vars",
                str(self.env_file),
                "--log-level",
                "WARNING",
                "--no-web",
                *EDGE_QUOTAS,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in self.proc.stdout:
            if line.startswith("hubbub: ready "):
                self.port = int(line.rsplit(":", 1)[1])
                return
            if time.monotonic() > deadline:
                break
        raise RuntimeError("the server did not start")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def rss_kb(self) -> int:
        """RSS of the server and its children (the Lambda workers), from /proc."""
        if self.proc is None:
            return 0
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            pids += [int(p) for p in children.split()]
        total = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total


# --- clients ---------------------------------------------------------------------------------


@dataclass
class Subscriber:
    room: str
    seen: set[int] = field(default_factory=set)
    repeats: int = 0
    reconnects: int = 0


@dataclass
class Publisher:
    name: str
    acked: dict[str, int] = field(default_factory=dict)  # clientMsgId -> seq
    pending: dict[str, tuple[str, str]] = field(default_factory=dict)  # cmid -> (room, text)


async def connect_retrying(url_of: Any, deadline: float, **kwargs: Any) -> HubbubClient:
    delay = 0.05
    while True:
        try:
            return await HubbubClient.connect(url_of(), open_timeout=5, **kwargs)
        except Exception:  # refused, reset, timed out: the server is restarting; retry
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def subscribe_forever(
    sub: Subscriber, url_of: Any, stop: asyncio.Event, deadline: float
) -> None:
    while not stop.is_set() and time.monotonic() < deadline:
        client = await connect_retrying(url_of, deadline)
        try:
            since = max(sub.seen, default=0)
            reply = await client.subscribe(sub.room, since=since)
            for message in reply.get("messages", []):
                record(sub, int(message["seq"]))
            while not stop.is_set():
                get = asyncio.ensure_future(client.events.get())
                closed = asyncio.ensure_future(client.closed.wait())
                stopping = asyncio.ensure_future(stop.wait())
                done, pending = await asyncio.wait(
                    {get, closed, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                if get in done:
                    frame = get.result()
                    if frame.get("type") == "message" and frame.get("topic") == sub.room:
                        record(sub, int(frame["seq"]))
                    continue
                break
        except (ConnectionError, ClientError, TimeoutError):
            pass
        finally:
            await client.close()
        if not stop.is_set():
            sub.reconnects += 1


def record(sub: Subscriber, seq: int) -> None:
    if seq in sub.seen:
        sub.repeats += 1
    else:
        sub.seen.add(seq)


async def publish(
    pub: Publisher, url_of: Any, rooms: list[str], rate: float, until: float, deadline: float
) -> None:
    """Open loop: message n is due at start + n/rate, whether or not earlier ones were acked."""
    client = await connect_retrying(url_of, deadline)
    token = (await client.register(pub.name))["token"]
    start = time.monotonic()
    n = 0
    while True:
        due = start + n / rate
        if due >= until:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        cmid = f"{pub.name}-{n}"
        pub.pending[cmid] = (rooms[n % len(rooms)], f"{pub.name} #{n} {uuid.uuid4().hex[:8]}")
        n += 1
        client = await send_pending(pub, client, url_of, token, deadline, only=cmid)
    while pub.pending and time.monotonic() < deadline:  # the outbox drains after the run
        client = await send_pending(pub, client, url_of, token, deadline)
    await client.close()


async def send_pending(
    pub: Publisher,
    client: HubbubClient,
    url_of: Any,
    token: str,
    deadline: float,
    only: str | None = None,
) -> HubbubClient:
    for cmid in [only] if only else list(pub.pending):
        room, text = pub.pending[cmid]
        try:
            ack = await client.request("send", topic=room, text=text, clientMsgId=cmid, timeout=5)
        except (ConnectionError, TimeoutError, ClientError):
            if client.closed.is_set():
                await client.close()
                client = await connect_retrying(url_of, deadline, token=token)
            return client
        pub.acked[cmid] = int(ack["seq"])
        pub.pending.pop(cmid, None)
    return client


async def history_seqs(url: str, room: str) -> set[int]:
    client = await HubbubClient.connect(url)
    seqs: set[int] = set()
    after = 0
    for _ in range(10_000):
        page = await client.request("history", topic=room, after=after, limit=100)
        seqs |= {int(m["seq"]) for m in page["messages"]}
        if not page["hasMore"]:
            break
        after = page["messages"][-1]["seq"]
    await client.close()
    return seqs


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hubbub-soak-"))
    env_file = work / "env.json"
    env_file.write_text(json.dumps({"Parameters": LIFTED_LIMITS}))
    server = Server(work / "data", env_file)
    server.start()
    rooms = [f"room/soak{i}" for i in range(args.rooms)]
    per_room = args.connections // args.rooms
    subscribers = [Subscriber(room) for room in rooms for _ in range(per_room)]
    publishers = [Publisher(f"pub{i}") for i in range(args.publishers)]
    stop = asyncio.Event()
    hard_deadline = time.monotonic() + args.seconds + 240

    def url_of() -> str:
        return server.url

    sub_tasks = [
        asyncio.create_task(subscribe_forever(s, url_of, stop, hard_deadline)) for s in subscribers
    ]
    await asyncio.sleep(5)  # let the 1,000 connections open before publishing starts
    started = time.monotonic()
    until = started + args.seconds
    rate_each = args.rate / args.publishers
    pub_tasks = [
        asyncio.create_task(publish(p, url_of, rooms, rate_each, until, hard_deadline))
        for p in publishers
    ]
    rss: list[tuple[float, int]] = []
    killed_at = None
    while time.monotonic() < until:
        await asyncio.sleep(1)
        elapsed = time.monotonic() - started
        rss.append((round(elapsed, 1), server.rss_kb()))
        if killed_at is None and elapsed >= args.seconds / 2:
            server.kill9()
            killed_at = elapsed
            server.start()  # same port, same data dir
    await asyncio.gather(*pub_tasks)
    acked = {cmid: seq for p in publishers for cmid, seq in p.acked.items()}
    unacked = sum(len(p.pending) for p in publishers)

    stored = {room: await history_seqs(server.url, room) for room in rooms}
    catch_up_started = time.monotonic()
    while time.monotonic() < hard_deadline:
        if all(stored[s.room] <= s.seen for s in subscribers):
            break
        await asyncio.sleep(0.5)
    catch_up_s = time.monotonic() - catch_up_started
    stop.set()
    await asyncio.gather(*sub_tasks, return_exceptions=True)

    acked_by_room: dict[str, set[int]] = {}
    for p in publishers:
        for n_cmid, seq in p.acked.items():
            room = rooms[int(n_cmid.rsplit("-", 1)[1]) % len(rooms)]
            acked_by_room.setdefault(room, set()).add(seq)
    lost_acked = sum(len(acked_by_room.get(r, set()) - stored[r]) for r in rooms)
    missing_shown = sum(len(stored[s.room] - s.seen) for s in subscribers)
    warm = 10.0  # workers spawn on demand (cold starts) during the first seconds of each run
    before_kill = [(t, kb) for t, kb in rss if warm < t < (killed_at or args.seconds)]
    after_restart = [(t, kb) for t, kb in rss if killed_at is not None and t > killed_at + warm]
    server.stop()
    return {
        "connections": len(subscribers) + len(publishers),
        "rooms": len(rooms),
        "target_rate": args.rate,
        "seconds": args.seconds,
        "acked": len(acked),
        "unacked_at_end": unacked,
        "stored": sum(len(v) for v in stored.values()),
        "lost_acknowledged": lost_acked,
        "missing_at_subscribers": missing_shown,
        # subscribers show each seq once (they dedupe by seq); pushes repeated at-least-once:
        "repeated_deliveries": sum(s.repeats for s in subscribers),
        "subscriber_reconnects": sum(s.reconnects for s in subscribers),
        "killed_at_s": killed_at,
        "catch_up_s": round(catch_up_s, 1),
        "rss_kb": rss,
        "rss_steady_mb": {
            "before_kill": _span(before_kill),
            "after_restart": _span(after_restart),
        },
        "loadavg_at_start": os.getloadavg(),
    }


def _span(samples: list[tuple[float, int]]) -> dict[str, float] | None:
    """First and last RSS of a steady window, and the growth per minute between them."""
    if len(samples) < 2:
        return None
    (t0, first), (t1, last) = samples[0], samples[-1]
    return {
        "first_mb": round(first / 1024, 1),
        "last_mb": round(last / 1024, 1),
        "growth_mb_per_min": round((last - first) / 1024 / max(t1 - t0, 1e-9) * 60, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--publishers", type=int, default=10)
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2))
    summary = {k: v for k, v in result.items() if k != "rss_kb"}
    print(json.dumps(summary, indent=2))
    ok = result["lost_acknowledged"] == 0 and result["missing_at_subscribers"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
