"""Micro-benchmarks behind the proposals in docs/benchmarks.md for code the benchmark may not
change (chat/, store/, handlers/). Each prints the time per operation, best of a few rounds.

    python -m bench.micro

* writes: a fan-out of K messages to N sockets as N*K ``send()`` calls (one per record today)
  against N calls carrying K frames each (fan-out batched across the records of a stream batch);
* subscribers: ``SqliteStore.subscribers()`` (a Subscription, User and Role per row) against
  ``subscriber_ids()``, the connection ids only, which is all the fan-out uses;
* append: ``store.append`` alone, ``append`` then ``set_read_marker`` (two write transactions, as
  ``send`` did), and ``append`` with ``mark_read`` (one, as ``send`` does now);
* send: the send handler called in-process, hot, with the event the runtime builds: its CPU
  per send (``append`` above is its one transaction);
* invoke: one invocation of a function that returns at once, through the runtime's pool and a
  real worker: the runtime's CPU, the worker's, and the wall time per invocation
  (docs/benchmarks.md, finding 35).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _best(fn: Callable[[], float], rounds: int = 5) -> float:
    return min(fn() for _ in range(rounds))


def writes(n: int = 200, k: int = 10, size: int = 300) -> dict[str, float]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    clients, servers = [], []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = listener.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        clients.append(c)
        servers.append(s)
    frame = b"\x81\x7e" + size.to_bytes(2, "big") + b"x" * size

    def drain() -> None:
        for c in clients:
            c.setblocking(False)
            try:
                while c.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass

    def one_per_record() -> float:
        drain()
        t = time.process_time()
        for _ in range(k):
            for s in servers:
                s.send(frame)
        return (time.process_time() - t) / (n * k) * 1e6

    def batched() -> float:
        drain()
        joined = frame * k
        t = time.process_time()
        for s in servers:
            s.send(joined)
        return (time.process_time() - t) / (n * k) * 1e6

    result = {"per_delivery_us_one_send_each": _best(one_per_record), "per_delivery_us_batched": 0}
    result["per_delivery_us_batched"] = _best(batched)
    for sock in clients + servers + [listener]:
        sock.close()
    return result


def subscribers(n: int = 1000) -> dict[str, float]:
    from hubbub.ids import ConnectionId, TopicFilter, UserId
    from hubbub.store.port import Role, Subscription, User
    from hubbub.store.sqlite.adapter import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "t.sqlite3")
        topic = TopicFilter("room/bench")
        for i in range(n):
            user = User(UserId(f"g_{i:016x}"), Role.GUEST, None)
            store.subscribe(Subscription(ConnectionId(f"c{i:011d}="), topic, user), 0, 2**31)

        def objects() -> float:
            t = time.perf_counter()
            for _ in range(20):
                store.subscribers(topic)
            return (time.perf_counter() - t) / 20 * 1e3

        def ids() -> float:
            t = time.perf_counter()
            for _ in range(20):
                store.subscriber_ids(topic)
            return (time.perf_counter() - t) / 20 * 1e3

        result = {"subscribers_ms": _best(objects), "connection_ids_ms": _best(ids)}
        store.close()
    return result


def append(count: int = 300) -> dict[str, float]:
    from hubbub.ids import ClientMsgId, MessageId, Topic, UserId
    from hubbub.store.port import AppendRequest
    from hubbub.store.sqlite.adapter import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "t.sqlite3")
        serial = iter(range(10**9))

        def request(mark_read: bool = False) -> AppendRequest:
            i = next(serial)
            return AppendRequest(
                topic=Topic("room/bench"),
                sender=UserId("v_1"),
                nickname="bench",
                text="x" * 100,
                client_msg_id=ClientMsgId(f"c{i}"),
                message_id=MessageId(f"m_{i}"),
                now_ms=1_800_000_000_000,
                expires_at=2**31,
                dedupe_expires_at=2**31,
                recency_index="room",
                mark_read=mark_read,
            )

        def only_append() -> float:
            t = time.perf_counter()
            for _ in range(count):
                store.append(request())
            return (time.perf_counter() - t) / count * 1e3

        def with_marker() -> float:
            t = time.perf_counter()
            for _ in range(count):
                result = store.append(request())
                store.set_read_marker(UserId("v_1"), Topic("room/bench"), result.message.seq)
            return (time.perf_counter() - t) / count * 1e3

        def marking_append() -> float:
            t = time.perf_counter()
            for _ in range(count):
                store.append(request(mark_read=True))
            return (time.perf_counter() - t) / count * 1e3

        result = {
            "append_ms": _best(only_append, 3),
            "append_then_marker_ms": _best(with_marker, 3),
            "append_marking_read_ms": _best(marking_append, 3),
        }
        store.close()
    return result


def send(count: int = 1000) -> dict[str, float]:
    """The send handler as a warm MessageFunction runs it, minus the worker around it."""
    from bench.peers import LIFTED_LIMITS
    from hubbub.handlers import bootstrap, connect, message
    from hubbub.runtime.apigateway import events

    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as sink:
        env = {
            "HUBBUB_RUNTIME_DATA_DIR": tmp,
            "HUBBUB_STORE": "sqlite",
            # the runtime's push, never reached: a send only stores (the stream delivers)
            "HUBBUB_RUNTIME_API": "http://127.0.0.1:9/_runtime",
            **LIFTED_LIMITS,
        }
        chat = bootstrap.build_chat(env)
        bootstrap.use_chat(chat)
        now = int(time.time() * 1000)
        info = events.ConnectionInfo(
            "benchConnId000=", "api", "local", "127.0.0.1", "127.0.0.1", None, now
        )
        serial = iter(range(10**9))

        def frame(**fields: Any) -> dict[str, Any]:
            i = next(serial)
            return events.message_event(
                info,
                route_key="$default",
                body=json.dumps(fields),
                is_base64=False,
                message_id=f"m{i}",
                rid=f"r{i}",
                now_ms=now,
            )

        def sends() -> list[dict[str, Any]]:
            text = "x" * 100
            return [
                frame(action="send", topic="room/bench", text=text, clientMsgId=f"c{next(serial)}")
                for _ in range(count)
            ]

        def hot(batch: list[dict[str, Any]]) -> float:
            started = time.thread_time()
            for event in batch:
                reply = message.handler(event, None)
            spent = time.thread_time() - started
            kind = json.loads(reply["body"]).get("type")
            if kind != "ack":  # a refused send (a limit, a check) would time the wrong path
                raise RuntimeError(f"the last send was answered {reply['body']}")
            return spent / len(batch) * 1e6

        with contextlib.redirect_stdout(sink):  # the EMF lines, written as the worker would
            connect.handler(
                events.connect_event(info, headers=[], query=[], rid="c", now_ms=now), None
            )
            message.handler(frame(action="register", nickname="bench"), None)
            message.handler(frame(action="subscribe", topic="room/bench"), None)
            best = min(hot(sends()) for _ in range(3))
        bootstrap.use_chat(None)
        chat.store.close()
    return {"send_us": best}


_TRIVIAL = "def handler(event, context):\n    return {'statusCode': 200}\n"


def invoke(count: int = 2000) -> dict[str, float]:
    """The runtime's and the worker's CPU around one invocation, the handler doing nothing."""
    import psutil

    from hubbub.runtime.cloudformation.specs import FunctionSpec
    from hubbub.runtime.lambda_.pool import FunctionPool

    me = psutil.Process()

    def workers_cpu() -> float:
        return sum(sum(c.cpu_times()[:2]) for c in me.children(recursive=True))

    async def run(code: Path) -> dict[str, float]:
        spec = FunctionSpec(
            logical_id="Trivial",
            name="local-Trivial",
            arn="arn:aws:lambda:us-east-1:123456789012:function:local-Trivial",
            handler="trivial.handler",
            code_dir=code,
            runtime="python3.12",
            timeout_s=10.0,
            memory_mb=128,
            environment={},
            reserved_concurrency=None,
        )
        pool = FunctionPool(spec, runtime_env={}, max_workers=1, region="us-east-1")
        event = {"body": "x" * 900}  # about the size of a send's WebSocket event
        try:
            for _ in range(200):
                await pool.invoke(event)
            rounds = []
            for _ in range(3):
                cpu, worker, wall = time.process_time(), workers_cpu(), time.perf_counter()
                for _ in range(count):
                    await pool.invoke(event)
                rounds.append(
                    (
                        (time.process_time() - cpu) / count * 1e6,
                        (workers_cpu() - worker) / count * 1e6,
                        (time.perf_counter() - wall) / count * 1e6,
                    )
                )
        finally:
            await pool.close()
        runtime_us, worker_us, wall_us = min(rounds, key=lambda r: r[2])
        return {"runtime_us": runtime_us, "worker_us": worker_us, "wall_us": wall_us}

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "trivial.py").write_text(_TRIVIAL)
        return asyncio.run(run(Path(tmp)))


def main() -> int:
    for name, fn in (
        ("writes", writes),
        ("subscribers", subscribers),
        ("append", append),
        ("invoke", invoke),  # before send, whose Powertools logger would print the cold start
        ("send", send),
    ):
        values = fn()
        print(name, {k: round(v, 3) for k, v in values.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
