"""The load generator: one process, many clients of one peer, driven by JSON lines on stdin.

    python -m bench.loadgen          # then {"cmd": ...} lines in, one JSON reply line out each

The orchestrator (bench/run.py) starts one publisher process and one or more subscriber processes,
so that the client side runs in processes of its own and is measured as such. Commands:

``open``       connect ``count`` clients at a paced rate, register and subscribe them
``publish``    open loop: message i is due at ``start_ns + i / rate``, stamped with that due time
               and written without waiting for anything (no coordinated omission)
``collect``    wait (bounded) until every subscriber has every message of an epoch, then return the
               loss/duplicate/order tally and the latency histogram (HDR, encoded)
``drop`` / ``reconnect``   abort a fraction of subscribers, later resume them with ``since``
``keepalive``  every client sends one keepalive, spread over a time window
``stats`` / ``quit``
"""

from __future__ import annotations

import array
import asyncio
import json
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.adapters import ADAPTERS, Client, Frame, Sink
from bench.tally import Stream, Tally, make_text, parse_text
from bench.wsclient import WSError

__all__ = ["HIST_MAX_US", "main", "new_histogram"]

HIST_MAX_US = 120_000_000


def new_histogram() -> HdrHistogram:
    """Microseconds, 1 us to 120 s, 3 significant digits."""
    return HdrHistogram(1, HIST_MAX_US, 3)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Subscriber(Sink):
    gen: Generator
    streams: dict[int, dict[int, Stream]] = field(default_factory=dict)
    last_seq: int = 0
    client: Client | None = None

    def message(self, text: bytes, now_ns: int) -> None:
        epoch, publisher, n, t_ns = parse_text(text)
        by_pub = self.streams.get(epoch)
        if by_pub is None:
            by_pub = self.streams[epoch] = {}
        stream = by_pub.get(publisher)
        if stream is None:
            stream = by_pub[publisher] = Stream()
        if stream.see(n) != "dup":
            self.gen.record(epoch, now_ns - t_ns)

    def reply(self, frame: Frame, now_ns: int) -> None:
        if frame.get("type") == "error":
            self.gen.errors[str(frame.get("code"))] += 1

    def seen_seq(self, seq: int) -> None:
        if seq > self.last_seq:
            self.last_seq = seq


@dataclass
class Publisher(Sink):
    gen: Generator
    pending: dict[str, int] = field(default_factory=dict)
    ack_us: array.array[int] = field(default_factory=lambda: array.array("q"))
    acks: int = 0
    duplicate_acks: int = 0
    stored: dict[str, set[str]] = field(default_factory=dict)

    def reply(self, frame: Frame, now_ns: int) -> None:
        kind = frame.get("type")
        if kind == "ack":
            self.acks += 1
            cmid = str(frame.get("clientMsgId"))
            if frame.get("duplicate"):
                self.duplicate_acks += 1
            self.stored.setdefault(cmid, set()).add(f"{frame.get('id')}@{frame.get('seq')}")
            sent = self.pending.pop(cmid, None)
            if sent is not None:
                self.ack_us.append((now_ns - sent) // 1000)
        elif kind == "error":
            self.gen.errors[str(frame.get("code"))] += 1


class Generator:
    def __init__(self) -> None:
        self.adapter = "hubbub"
        self.host = "127.0.0.1"
        self.port = 0
        self.subscribers: list[Subscriber] = []
        self.publishers: list[tuple[Client, Publisher]] = []
        self.idle: list[Client] = []
        self.latency: dict[int, array.array[int]] = {}
        self.unique: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.dropped: list[Subscriber] = []
        self.retried_429 = 0

    def record(self, epoch: int, latency_ns: int) -> None:
        lat = self.latency.get(epoch)
        if lat is None:
            lat = self.latency[epoch] = array.array("q")
        lat.append(latency_ns // 1000)
        self.unique[epoch] += 1

    # commands ---------------------------------------------------------------------------------
    async def open(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.adapter = cmd["adapter"]
        self.host = cmd.get("host", "127.0.0.1")
        self.port = int(cmd["port"])
        role = cmd["role"]
        count = int(cmd["count"])
        rate = float(cmd.get("rate", 400.0))
        topic = cmd.get("topic")
        limit = asyncio.Semaphore(int(cmd.get("concurrency", 64)))
        deadline = time.monotonic() + float(cmd.get("timeout", 120.0))
        failures: Counter[str] = Counter()
        started = time.monotonic()

        async def one(i: int) -> None:
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with limit:
                if time.monotonic() > deadline:
                    failures["deadline"] += 1
                    return
                try:
                    await self._open_one(role, topic, cmd, i)
                except Exception as exc:
                    failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1

        await asyncio.gather(*(one(i) for i in range(count)))
        return {
            "opened": count - sum(failures.values()),
            "failed": sum(failures.values()),
            "failures": dict(failures.most_common(3)),
            "retried_429": self.retried_429,
            "elapsed_s": time.monotonic() - started,
        }

    async def _open_one(self, role: str, topic: str | None, cmd: dict[str, Any], i: int) -> None:
        sink: Sink
        if role == "pub":
            sink = Publisher(self)
        elif role == "sub":
            sink = Subscriber(self)
        else:
            sink = Sink()
        client = ADAPTERS[self.adapter](sink)
        timeout = float(cmd.get("request_timeout", 30.0))
        for attempt in range(8):  # a 429 (new-connection quota) is retried with backoff
            try:
                await client.open(self.host, self.port, timeout=timeout)
                break
            except WSError as exc:
                if "429" not in str(exc) or attempt == 7:
                    raise
                self.retried_429 += 1
                await asyncio.sleep(0.25 * 2**attempt * random.random() + 0.1)
        try:
            if cmd.get("register"):
                await client.register(f"bench{cmd.get('id_base', 0) + i}", timeout=timeout)
            if topic is not None and role == "sub":
                await client.subscribe(topic, timeout=timeout)
        except BaseException:
            client.abort()
            raise
        if isinstance(sink, Publisher):
            self.publishers.append((client, sink))
        elif isinstance(sink, Subscriber):
            sink.client = client
            client.sink = sink
            self.subscribers.append(sink)
        else:
            self.idle.append(client)

    async def publish(self, cmd: dict[str, Any]) -> dict[str, Any]:
        topic = cmd["topic"]
        rate = float(cmd["rate"])
        total = int(cmd["count"])
        epoch = int(cmd["epoch"])
        size = int(cmd.get("size", 100))
        retry_after_s = cmd.get("retry_after_s")  # W4: resend each message with the same id
        start_ns = int(cmd.get("start_ns") or time.monotonic_ns())
        hard_stop = time.monotonic() + total / rate + float(cmd.get("grace_s", 30.0))
        publishers = self.publishers
        if not publishers:
            raise RuntimeError("no publishers open")
        interval_ns = 1e9 / rate
        lag_us = array.array("q")
        published: Counter[int] = Counter()
        loop = asyncio.get_running_loop()
        i = 0
        while i < total:
            now = time.monotonic_ns()
            due = start_ns + int(i * interval_ns)
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                continue
            if time.monotonic() > hard_stop:
                break
            burst = 0
            while i < total and burst < 200:
                due = start_ns + int(i * interval_ns)
                if due > now:
                    break
                index = i % len(publishers)
                client, sink = publishers[index]
                n = published[index] + 1
                published[index] = n
                text = make_text(epoch, index, n, due, size)
                cmid = f"{epoch}.{index}.{n}"
                sink.pending[cmid] = due
                client.publish(topic, text, cmid)
                if retry_after_s is not None:
                    loop.call_later(float(retry_after_s), client.publish, topic, text, cmid)
                lag_us.append((now - due) // 1000)
                i += 1
                burst += 1
            await asyncio.sleep(0)
        if retry_after_s is not None:
            await asyncio.sleep(float(retry_after_s) + 0.05)
        lags = sorted(lag_us)
        return {
            "sent": i,
            "published": {str(k): v for k, v in published.items()},
            "send_lag_us": _summary(lags),
            "elapsed_s": (time.monotonic_ns() - start_ns) / 1e9,
        }

    async def acks(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Wait (bounded) for outstanding acks; then what the publishers were told."""
        deadline = time.monotonic() + float(cmd.get("wait_s", 10.0))
        expect = int(cmd.get("expect", 0))
        while time.monotonic() < deadline and sum(p.acks for _, p in self.publishers) < expect:  # noqa: ASYNC110  (a bounded poll of plain counters)
            await asyncio.sleep(0.02)
        ack_us = sorted(v for _, p in self.publishers for v in p.ack_us)
        stored = [ids for _, p in self.publishers for ids in p.stored.values()]
        result = {
            "acks": sum(p.acks for _, p in self.publishers),
            "duplicate_acks": sum(p.duplicate_acks for _, p in self.publishers),
            "messages_acked": len(stored),
            "stored_more_than_once": sum(1 for ids in stored if len(ids) > 1),
            "ack_us": _summary(ack_us),
            "errors": dict(self.errors),
        }
        for _, p in self.publishers:
            p.pending.clear()
            p.ack_us = array.array("q")
            p.stored.clear()
            p.acks = p.duplicate_acks = 0
        self.errors.clear()
        return result

    async def collect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        epoch = int(cmd["epoch"])
        published = {int(k): int(v) for k, v in cmd["published"].items()}
        want = sum(published.values()) * len(self.subscribers)
        started = time.monotonic()
        deadline = started + float(cmd.get("wait_s", 5.0))
        while self.unique[epoch] < want and time.monotonic() < deadline:  # noqa: ASYNC110  (a bounded poll of a plain counter)
            await asyncio.sleep(0.01)
        drained = time.monotonic() - started
        tally = Tally()
        for sub in self.subscribers:
            tally.add_subscriber(sub.streams.pop(epoch, {}), published)
        histogram = new_histogram()
        for value in self.latency.pop(epoch, array.array("q")):
            histogram.record_value(min(max(1, value), HIST_MAX_US))
        self.unique.pop(epoch, None)
        return {
            "tally": tally.as_dict(),
            "histogram": histogram.encode().decode(),
            "drain_s": drained,
            "complete": tally.lost == 0,
            "open": sum(1 for s in self.subscribers if s.client and s.client.is_open),
            "errors": dict(self.errors),
        }

    async def drop(self, cmd: dict[str, Any]) -> dict[str, Any]:
        fraction = float(cmd["fraction"])
        chosen = random.Random(int(cmd.get("seed", 7))).sample(
            self.subscribers, int(len(self.subscribers) * fraction)
        )
        for sub in chosen:
            if sub.client is not None:
                sub.client.abort()
        self.dropped = chosen
        return {"dropped": len(chosen)}

    async def reconnect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Resume the dropped subscribers with ``since``; page ``history`` while ``hasMore``."""
        topic = cmd["topic"]
        limit = asyncio.Semaphore(int(cmd.get("concurrency", 32)))
        times: list[float] = []
        pages: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        started = time.monotonic()

        async def one(sub: Subscriber) -> None:
            async with limit:
                begin = time.monotonic()
                client = ADAPTERS[self.adapter](sub)
                try:
                    await client.open(self.host, self.port, timeout=30.0)
                    reply = await client.subscribe(topic, since=sub.last_seq, timeout=30.0)
                    more = bool(reply.get("hasMore"))
                    after = _last_seq(reply.get("messages"), sub.last_seq)
                    for _ in range(1000):
                        if not more:
                            break
                        page = await client._request(
                            {"action": "history", "topic": topic, "after": after, "limit": 100},
                            30.0,
                        )
                        pages["history"] += 1
                        arrived = time.monotonic_ns()
                        for message in page.get("messages") or []:
                            text = str(message.get("text", ""))
                            if text.startswith("~"):
                                sub.message(text[1:].encode(), arrived)
                                sub.seen_seq(int(message["seq"]))
                        after = _last_seq(page.get("messages"), after)
                        more = bool(page.get("hasMore"))
                except Exception as exc:
                    failures[type(exc).__name__] += 1
                    return
                sub.client = client
                times.append(time.monotonic() - begin)

        await asyncio.gather(*(one(s) for s in self.dropped))
        times.sort()
        return {
            "reconnected": len(times),
            "failed": dict(failures),
            "history_pages": pages["history"],
            "catch_up_s": {
                "p50": times[len(times) // 2] if times else None,
                "max": times[-1] if times else None,
            },
            "elapsed_s": time.monotonic() - started,
        }

    async def keepalive(self, cmd: dict[str, Any]) -> dict[str, Any]:
        spread = float(cmd.get("spread_s", 1.0))
        clients = [s.client for s in self.subscribers if s.client] + self.idle
        rng = random.Random(3)
        loop = asyncio.get_running_loop()
        for client in clients:
            loop.call_later(rng.uniform(0, spread), client.keepalive)
        await asyncio.sleep(spread + 0.05)
        return {"sent": len(clients)}

    def stats(self) -> dict[str, Any]:
        clients = [s.client for s in self.subscribers if s.client] + self.idle
        clients += [c for c, _ in self.publishers]
        return {
            "clients": len(clients),
            "open": sum(1 for c in clients if c.is_open),
            "errors": dict(self.errors),
        }

    def quit(self) -> None:
        clients = [s.client for s in self.subscribers if s.client] + self.idle
        for client in clients + [c for c, _ in self.publishers]:
            client.abort()


def _last_seq(messages: Any, default: int) -> int:
    seqs = [int(m["seq"]) for m in messages or [] if isinstance(m, dict) and "seq" in m]
    return max(seqs, default=default)


def _summary(sorted_values: list[int]) -> dict[str, float | None]:
    if not sorted_values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    n = len(sorted_values)
    return {
        "n": n,
        "p50": sorted_values[n // 2],
        "p99": sorted_values[min(n - 1, int(n * 0.99))],
        "max": sorted_values[-1],
    }


async def serve() -> None:
    raise_fd_limit()
    gen = Generator()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        name = cmd.get("cmd")
        try:
            if name == "quit":
                gen.quit()
                print(json.dumps({"ok": True}), flush=True)
                break
            if name == "stats":
                result = gen.stats()
            else:
                result = await getattr(gen, name)(cmd)
            print(json.dumps({"ok": True, **result}), flush=True)
        except Exception as exc:
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)


def main() -> None:
    try:  # the generator's own cost is overhead on the measured machine: keep it small
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
