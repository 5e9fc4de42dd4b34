"""The MQTT path beside the WebSocket path (issue 14, item 6), and Debian's mosquitto as the
upper bound: one room, N subscribers, one publisher at a fixed rate; delivery latency and loss.

    python -m bench.mqtt_path                      # 100 and 1,000 subscribers
    python -m bench.mqtt_path --sizes 100 --seconds 5

Targets:

- ``ws``: N WebSocket subscribers of ``hubbub serve`` (the lean client of ``bench/wsclient.py``);
- ``mqtt``: N paho-mqtt subscribers on ``hubbub serve``'s MQTT TCP port (guests, QoS 0), each
  also a member of the room (presence from the lifecycle events);
- ``mosquitto``: N paho subscribers of Debian's mosquitto broker, a paho publisher: a broker
  that stores nothing, authorizes nothing and fans out in C: what the MQTT path cannot beat.
  Install it with ``apt-get install mosquitto`` (the target is left out when it is missing).

For both hubbub targets the publisher is a WebSocket client sending through the chat (stored,
sequenced, then fanned out); the MQTT target's messages go through the fan-out's one
``iot-data`` Publish and the emulated broker. Latency is from the send to the arrival at each
subscriber, on one clock (one process). paho subscribers run in one thread with an external
loop (``loop_read`` on readable sockets), not a thread each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho

from bench import wsclient

__all__ = ["Tally", "main", "summarize"]

if TYPE_CHECKING:
    from bench.procs import TreeSampler

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "room/mqttbench"


def summarize(latencies_ms: list[float], expected: int) -> dict[str, Any]:
    """Delivered/expected and the latency percentiles (nearest rank) of one run."""
    ordered = sorted(latencies_ms)

    def rank(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))], 2)

    return {
        "expected": expected,
        "delivered": len(ordered),
        "lost": max(0, expected - len(ordered)),
        "p50_ms": rank(0.50),
        "p99_ms": rank(0.99),
        "max_ms": round(ordered[-1], 2) if ordered else None,
    }


@dataclass
class Tally:
    """Arrivals of the run's messages, by the send time they carry (``bench <ns>``)."""

    latencies_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    expected: int | None = None
    complete: threading.Event = field(default_factory=threading.Event)

    def arrived(self, text: str, now_ns: int) -> None:
        if text.startswith("bench "):
            sent = int(text.split(" ", 1)[1])
            with self.lock:
                self.latencies_ms.append((now_ns - sent) / 1e6)
                if self.expected is not None and len(self.latencies_ms) >= self.expected:
                    self.complete.set()


def _text_of(payload: bytes) -> str:
    """The chat text of a hubbub payload (protocol v1's ``message``), or a raw payload."""
    if payload.startswith(b"{"):
        event = json.loads(payload)
        return str(event.get("text", "")) if event.get("type") == "message" else ""
    return payload.decode("utf-8", "replace")


# paho subscribers in one thread ----------------------------------------------------------------
class PahoCrowd:
    """N paho clients on one selector in one thread: sockets are (un)registered through paho's
    ``on_socket_open``/``on_socket_close``, so a client the server closes leaves nothing
    behind. Clients connect in batches, each batch subscribed (or refused) before the next, as
    a fleet of devices would arrive; a refused or missing client fails the run."""

    BATCH = 50

    def __init__(self, host: str, port: int, count: int, tally: Tally) -> None:
        self.host, self.port, self.count, self.tally = host, port, count, tally
        self.clients: list[paho.Client] = []
        self.subscribed = 0
        self.refused = 0
        self.selector = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.failed: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _client(self, i: int) -> paho.Client:
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"bench-{i}-{uuid.uuid4().hex[:6]}",
            protocol=paho.MQTTv311,
        )
        client.on_socket_open = lambda c, _u, sock: self.selector.register(
            sock, selectors.EVENT_READ, c
        )
        client.on_socket_close = lambda _c, _u, sock: self._forget(sock)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = lambda _c, _u, msg: self.tally.arrived(
            _text_of(msg.payload), time.monotonic_ns()
        )
        return client

    def _forget(self, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(sock)

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.refused += 1
        else:
            client.subscribe(TOPIC, qos=0)

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscribed += 1

    def _arrive(self) -> None:
        for start in range(0, self.count, self.BATCH):
            batch = range(start, min(self.count, start + self.BATCH))
            for i in batch:
                client = self._client(i)
                client.connect(self.host, self.port, keepalive=120)
                self.clients.append(client)
            deadline = time.monotonic() + 60
            while self.subscribed + self.refused < batch.stop and time.monotonic() < deadline:
                self._pump(0.05)
            if self.refused or self.subscribed < batch.stop:
                self.failed = f"{self.subscribed} of {self.count} in, {self.refused} refused"
                return

    def _run(self) -> None:
        try:
            self._arrive()
        except Exception as exc:  # the run reports it instead of measuring nobody
            self.failed = repr(exc)
        finally:
            self.ready.set()
        misc = time.monotonic()
        while not self.stop.is_set():
            self._pump(0.05)
            if time.monotonic() - misc > 1.0:
                misc = time.monotonic()
                for client in self.clients:
                    client.loop_misc()
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.disconnect()
        self.selector.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)

    def _pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            client: paho.Client = key.data
            client.loop_read()
            if client.want_write():
                client.loop_write()


# WebSocket clients ---------------------------------------------------------------------------
async def _ws(port: int, on_text: wsclient.OnText) -> wsclient.WSClient:
    return await wsclient.connect("127.0.0.1", port, "/ws", on_text)


async def _ws_subscribers(port: int, count: int, tally: Tally) -> list[wsclient.WSClient]:
    subscribed = asyncio.Event()
    done = 0

    def on_text(data: bytes, now_ns: int) -> None:
        nonlocal done
        if data.startswith(b'{"type":"subscribed"') or b'"type":"subscribed"' in data[:40]:
            done += 1
            if done == count:
                subscribed.set()
            return
        tally.arrived(_text_of(data), now_ns)

    clients = []
    for start in range(0, count, 50):  # under the gateway's 500 connections per second
        batch = await asyncio.gather(
            *(_ws(port, on_text) for _ in range(start, min(count, start + 50)))
        )
        clients.extend(batch)
        await asyncio.sleep(0.15)
    for client in clients:
        client.send_text(json.dumps({"action": "subscribe", "topic": TOPIC}))
    await asyncio.wait_for(subscribed.wait(), 120)
    return clients


async def _publish(send: Callable[[str], None], rate: float, seconds: float) -> int:
    """Open loop: one message every 1/rate seconds, each carrying its send time."""
    count = int(rate * seconds)
    start = time.monotonic()
    for i in range(count):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        send(f"bench {time.monotonic_ns()}")
    return count


async def _ws_publisher(port: int) -> Callable[[str], None]:
    registered = asyncio.Event()
    client = await _ws(port, lambda data, _t: registered.set() if b"welcome" in data else None)
    client.send_text(json.dumps({"action": "register", "nickname": "bench"}))
    await asyncio.wait_for(registered.wait(), 30)
    counter = iter(range(10**9))
    return lambda text: client.send_text(
        json.dumps(
            {"action": "send", "topic": TOPIC, "text": text, "clientMsgId": f"b{next(counter)}"}
        )
    )


# targets ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def hubbub_serve() -> Iterator[tuple[int, int, int]]:
    """``hubbub serve`` on free ports in a fresh data dir, configured as the main bench runs
    it (the send rate and per-address limits lifted): (pid, port, MQTT TCP port)."""
    from bench.peers import EDGE_QUOTAS, LIFTED_LIMITS  # the bench extra (psutil)

    with tempfile.TemporaryDirectory(prefix="hubbub-mqtt-bench-") as work:
        env_file = Path(work) / "env-vars.json"
        env_file.write_text(json.dumps({"Parameters": LIFTED_LIMITS}))
        command = [
            *(sys.executable, "-m", "hubbub.cli", "serve", "--port", "0", "--mqtt-port", "0"),
            *("--data-dir", str(Path(work) / "data"), "--log-level", "WARNING"),
            *("--env-vars", str(env_file), *EDGE_QUOTAS),
        ]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
        )
        try:
            yield (proc.pid, *_ports(proc))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _ports(proc: subprocess.Popen[str]) -> tuple[int, int]:
    """The ports ``hubbub serve`` announces; the rest of its output is drained in a thread,
    so a full pipe never stalls it."""
    assert proc.stdout is not None
    port = mqtt_port = 0
    for line in proc.stdout:
        if line.startswith("hubbub: mqtt-tcp "):
            mqtt_port = int(line.rsplit(":", 1)[1])
        if line.startswith("hubbub: ready "):
            port = int(line.rsplit(":", 1)[1])
            break
    if not port or not mqtt_port:
        raise RuntimeError("hubbub serve did not start")
    threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
    return port, mqtt_port


@contextlib.contextmanager
def mosquitto() -> Iterator[tuple[int, int]]:
    """Debian's mosquitto on a free port of 127.0.0.1, anonymous: (pid, port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10000\n")
        conf.flush()
        proc = subprocess.Popen([binary, "-c", conf.name], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("mosquitto did not start")
                time.sleep(0.05)
            yield proc.pid, port
        finally:
            proc.terminate()
            proc.wait(10)


def _crowd(port: int, count: int, tally: Tally) -> PahoCrowd:
    crowd = PahoCrowd("127.0.0.1", port, count, tally)
    crowd.thread.start()
    if not crowd.ready.wait(30 * 60):
        crowd.failed = "the subscribers did not arrive in 30 minutes"
    if crowd.failed:
        crowd.close()
        raise RuntimeError(crowd.failed)
    return crowd


async def _drain(tally: Tally, expected: int, grace_s: float) -> None:
    """Wait for every delivery, or ``grace_s`` more: what has not arrived by then is lost."""
    with tally.lock:
        tally.expected = expected
        if len(tally.latencies_ms) >= expected:
            tally.complete.set()
    await asyncio.to_thread(tally.complete.wait, grace_s)


@dataclass
class Timed:
    """One timed window: what was sent and the server's CPU seconds over it."""

    sent: int = 0
    cpu_s: float = 0.0
    generator_cpu_s: float = 0.0


async def _timed(
    sampler: TreeSampler,
    send: Callable[[str], None],
    tally: Tally,
    size: int,
    rate: float,
    seconds: float,
) -> Timed:
    """A few untimed messages first (the first ones meet cold execution environments), then
    the timed window, until every delivery arrived or 10 s more passed."""
    for i in range(5):
        send(f"warm {i}")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    before, own = sampler.sample(), time.process_time()
    sent = await _publish(send, rate, seconds)
    await _drain(tally, sent * size, 10)
    return Timed(sent, sampler.sample().cpu_s - before.cpu_s, time.process_time() - own)


async def run_target(target: str, size: int, rate: float, seconds: float) -> dict[str, Any]:
    from bench.procs import TreeSampler  # the bench extra (psutil)

    tally = Tally()
    if target == "mosquitto":
        with mosquitto() as (pid, port):
            crowd = await asyncio.to_thread(_crowd, port, size, tally)
            publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-pub")
            publisher.connect("127.0.0.1", port)
            publisher.loop_start()
            send = lambda text: publisher.publish(TOPIC, text.encode())  # noqa: E731
            timed = await _timed(TreeSampler([pid]), send, tally, size, rate, seconds)
            publisher.loop_stop()
            crowd.close()
    else:
        with hubbub_serve() as (pid, port, mqtt_port):
            crowd = None
            clients: list[wsclient.WSClient] = []
            if target == "mqtt":
                crowd = await asyncio.to_thread(_crowd, mqtt_port, size, tally)
            else:
                clients = await _ws_subscribers(port, size, tally)
            send = await _ws_publisher(port)
            timed = await _timed(TreeSampler([pid]), send, tally, size, rate, seconds)
            if crowd is not None:
                crowd.close()
            for client in clients:
                client.abort()
    row = summarize(tally.latencies_ms, timed.sent * size)
    deliveries = max(1, row["delivered"])
    row["server_cpu_us_per_delivery"] = round(timed.cpu_s * 1e6 / deliveries, 1)
    row["generator_cpu_us_per_delivery"] = round(timed.generator_cpu_s * 1e6 / deliveries, 1)
    return {"target": target, "subscribers": size, "rate": rate, **row}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.mqtt_path", description=__doc__)
    parser.add_argument("--sizes", default="100,1000", help="subscriber counts, comma list")
    parser.add_argument("--targets", default="ws,mqtt,mosquitto", help="comma list")
    parser.add_argument(
        "--deliveries",
        type=float,
        default=2000.0,
        help="deliveries per second: the publish rate is this over the subscriber count",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mqtt-path.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    targets = args.targets.split(",")
    if "mosquitto" in targets and not (
        shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto")
    ):
        print("mosquitto not installed (apt-get install mosquitto): left out", file=sys.stderr)
        targets.remove("mosquitto")
    load = [round(x, 2) for x in os.getloadavg()]
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for target in targets:
            rate = args.deliveries / size
            try:
                row = asyncio.run(run_target(target, size, rate, args.seconds))
            except RuntimeError as exc:  # a target that could not be set up: said, not measured
                row = {"target": target, "subscribers": size, "rate": rate, "error": str(exc)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "deliveries_per_s": args.deliveries,
                "seconds": args.seconds,
                "cores": os.cpu_count(),
                "load_average_at_start": load,
                "rows": rows,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
