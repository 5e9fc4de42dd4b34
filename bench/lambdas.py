"""LAMBDA: the cold start of every function in the template and the warm ``send`` handler,
read from the runtime's ``/metrics`` (Init Duration and duration per function) and its REPORT
lines.

Each function's first invocation is caused the way a user or AWS would cause it, one function
at a time, on a fresh ``hubbub serve`` at DEBUG level:

- on the default configuration: ``$connect``, a ``register`` (MessageFunction), a send into a
  room (the stream's two consumers, FanOutFunction and RelayFunction), the HTTP API, an MQTT
  client that connects with a visitor's token (MqttAuthorizerFunction), subscribes (the
  lifecycle event: MqttPresenceFunction) and sends through Basic Ingest (MqttIngestFunction),
  and a WebSocket client that goes away (``$disconnect``);
- on a second server per run, the two functions the default template leaves idle: with
  ``FanOutChunkThreshold=1`` a send into a room of two takes the chunked path (PushFunction,
  which otherwise needs 501 subscribers), and with ``MailSender`` set the mail schedule fires
  (MailSendFunction, which otherwise waits for its schedule). Only those two are read there.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import threading
import time
import uuid
from collections.abc import Collection
from typing import Any

import paho.mqtt.client as paho

from bench.adapters import HubbubClient, Sink
from bench.workloads import TOPIC, Plan, Progress, Session, session

__all__ = ["COLD_RUNS", "lambdas", "median_cold"]

_SEND_REPORT = re.compile(
    r"hubbub\.lambda\.\S*MessageFunction REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms"
)

COLD_RUNS = 3
"""Cold starts are measured on this many fresh servers; the table shows the median run."""

OPTIONAL_FUNCTIONS = ("PushFunction", "MailSendFunction")
WAIT_S = 30.0

Cold = dict[str, dict[str, float]]


async def lambdas(plan: Plan, progress: Progress) -> dict[str, Any]:
    """Cold start of each function, ``COLD_RUNS`` times; then, on the last default server, warm
    ``send`` invocations."""
    runs: list[Cold] = []
    for run in range(COLD_RUNS):
        async with session("hubbub-optional", progress, sub_procs=1, log_level="DEBUG") as s:
            progress(f"LAMBDA cold starts of the optional functions ({run + 1} of {COLD_RUNS})")
            optional = await _optional_cold_starts(s)
        async with session("hubbub", progress, sub_procs=1, log_level="DEBUG") as s:
            progress(f"LAMBDA cold starts ({run + 1} of {COLD_RUNS})")
            cold, connect_wall, first = await _cold_starts(s)
            runs.append({**cold, **optional})
            if run < COLD_RUNS - 1:
                continue
            progress("LAMBDA warm sends")
            before = _functions(await s.metrics())
            offset = s.server.log_path.stat().st_size
            await s.step(20.0, plan.warm_sends / 20.0, 10.0)
            after = _functions(await s.metrics())
            with s.server.log_path.open("rb") as log:
                log.seek(offset)
                durations = _send_durations(log.read().decode(errors="replace"))
    return {
        "cold": median_cold(runs),
        "cold_runs": runs,
        "connect_wall_s": connect_wall,
        "first_send_ack_us": first["ack_us"],
        "warm_send": {
            "n": len(durations),
            "median_ms": statistics.median(durations) if durations else None,
            "p90_ms": _pct(durations, 0.9),
            "p99_ms": _pct(durations, 0.99),
            "metrics_buckets": _bucket_delta(before, after, "MessageFunction"),
        },
    }


def median_cold(runs: list[Cold]) -> Cold:
    """Per function, the run with the median cold start total (its Init Duration and first
    invocation as measured together), and every run's total."""
    out: Cold = {}
    for function in sorted({f for run in runs for f in run}):
        seen = sorted((run[function] for run in runs if function in run), key=_total)
        middle = dict(seen[(len(seen) - 1) // 2])
        middle["runs"] = len(seen)
        middle["min_total_ms"] = _total(seen[0])
        middle["max_total_ms"] = _total(seen[-1])
        out[function] = middle
    return out


def _total(cold: dict[str, float]) -> float:
    return cold["total_ms"]


class _FirstInvocations:
    """Each function's first invocation as ``/metrics`` shows it once it has finished: its
    Init Duration and its duration, read before anything invokes it a second time."""

    def __init__(
        self, s: Session, only: Collection[str] | None = None, *, poll_s: float = 0.1
    ) -> None:
        self.s = s
        self.only = only
        self.poll_s = poll_s
        self.cold: Cold = {}

    async def note(self) -> None:
        for function, values in _functions(await self.s.metrics()).items():
            if self.only is not None and function not in self.only:
                continue
            count = values.get("count", 0)
            if function in self.cold or not count:
                continue
            if count > 1:
                raise RuntimeError(f"{function} ran {count:.0f} times before it was read")
            self.cold[function] = {
                "init_ms": values.get("init_sum", 0.0),
                "first_duration_ms": values.get("sum", 0.0),
                "total_ms": values.get("init_sum", 0.0) + values.get("sum", 0.0),
            }

    async def until(self, functions: Collection[str], *, timeout: float = WAIT_S) -> None:
        """Note until every one of ``functions`` has run once; an error names those that never
        did (a function the workload cannot reach is a broken measurement, not a blank row)."""
        deadline = time.monotonic() + timeout
        while True:
            await self.note()
            missing = sorted(set(functions) - set(self.cold))
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"never invoked within {timeout:.0f} s: {', '.join(missing)}")
            await asyncio.sleep(self.poll_s)


async def _cold_starts(s: Session) -> tuple[Cold, float, dict[str, Any]]:
    """The default template's functions, one at a time (see the module's docstring)."""
    from bench.procs import GeneratorProcess

    first_calls = _FirstInvocations(s)
    cold_gen = await GeneratorProcess("cold").start()
    t = time.monotonic()
    await cold_gen.call({"cmd": "open", **s.base, "role": "idle", "count": 1})  # $connect
    connect_wall = time.monotonic() - t
    await first_calls.until(["ConnectFunction"])
    await s.open_publishers(1)  # $connect (warm now) + register: MessageFunction
    await first_calls.until(["MessageFunction"])
    await s.open_subscribers(1)  # subscribe
    first = await s.step(1.0, 1.0, 15.0)  # send -> stream -> FanOutFunction, RelayFunction
    await first_calls.until(["FanOutFunction", "RelayFunction"])
    await s.get("/api/health")  # HttpFunction
    await first_calls.until(["HttpFunction"])
    if not s.server.mqtt_port:
        raise RuntimeError("hubbub serve announced no MQTT port")
    visitor = HubbubClient(Sink())  # stays until the end: its own $disconnect would be early
    await visitor.open("127.0.0.1", s.port)
    welcome = await visitor.register("mqtt-cold")
    mqtt = MqttVisitor(s.server.mqtt_port, str(welcome["token"]))
    try:
        await asyncio.to_thread(mqtt.connect)
        await first_calls.until(["MqttAuthorizerFunction"])
        await asyncio.to_thread(mqtt.subscribe, TOPIC)
        await first_calls.until(["MqttPresenceFunction"])
        await asyncio.to_thread(mqtt.send, TOPIC)
        await first_calls.until(["MqttIngestFunction"])
    finally:
        await asyncio.to_thread(mqtt.close)
    await cold_gen.stop()  # the client vanishes: $disconnect
    await first_calls.until(["DisconnectFunction"])
    await visitor.close()
    return first_calls.cold, connect_wall, first


async def _optional_cold_starts(s: Session) -> Cold:
    first_calls = _FirstInvocations(s, OPTIONAL_FUNCTIONS)
    await s.open_subscribers(2)
    await s.open_publishers(1)
    await s.step(1.0, 1.0, 15.0)  # a room of two, above the threshold of 1: PushFunction
    await first_calls.until(["PushFunction"])
    await asyncio.to_thread(s.admin, "schedules/MailSendFunction.Every/fire", {})
    await first_calls.until(["MailSendFunction"])
    return first_calls.cold


class MqttVisitor:
    """An MQTT client's first minute, a blocking step at a time so that each function's first
    invocation can be read before the next step invokes another (or the same one again):
    CONNECT with a token (the custom authorizer), SUBSCRIBE (the subscription's lifecycle
    event), a send through Basic Ingest (``$aws/rules/hubbub/{topic}``) awaited on its topic,
    DISCONNECT."""

    def __init__(self, port: int, token: str, timeout: float = WAIT_S) -> None:
        self.port = port
        self.timeout = timeout
        self._marker = uuid.uuid4().hex
        self._connected, self._subscribed = threading.Event(), threading.Event()
        self._arrived = threading.Event()
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"cold-{self._marker[:8]}",
            protocol=paho.MQTTv311,
        )
        self._client.username_pw_set("bench", token)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.on_message = self._on_message

    def _on_connect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            self._connected.set()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        if self._marker.encode() in message.payload:
            self._arrived.set()

    def connect(self) -> None:
        self._client.connect("127.0.0.1", self.port, keepalive=60)
        self._client.loop_start()
        self._wait(self._connected, "CONNACK (accepted)")

    def subscribe(self, topic: str) -> None:
        self._client.subscribe(topic, qos=0)
        self._wait(self._subscribed, "SUBACK")

    def send(self, topic: str) -> None:
        payload = json.dumps({"text": f"cold {self._marker}", "clientMsgId": self._marker})
        self._client.publish(f"$aws/rules/hubbub/{topic}", payload.encode(), qos=1)
        self._wait(self._arrived, f"the MQTT send back on {topic}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _wait(self, event: threading.Event, what: str) -> None:
        if not event.wait(self.timeout):
            raise RuntimeError(f"no {what} within {self.timeout:.0f} s")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _functions(text: str) -> dict[str, dict[str, Any]]:
    """Per function: duration sum/count, init sum/count and the duration buckets."""
    out: dict[str, dict[str, Any]] = {}
    line = re.compile(
        r'^(lambda_duration_ms|lambda_init_duration_ms)_(sum|count|bucket)\{function="(\w+)"'
        r'(?:,le="([^"]+)")?\} ([\d.e+]+)$'
    )
    for raw in text.splitlines():
        m = line.match(raw)
        if not m:
            continue
        metric, part, function, le, value = m.groups()
        entry = out.setdefault(function, {"buckets": {}})
        prefix = "init_" if metric == "lambda_init_duration_ms" else ""
        if part == "bucket":
            if not prefix:
                entry["buckets"][le] = float(value)
        else:
            entry[prefix + part] = float(value)
    return out


def _bucket_delta(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], function: str
) -> dict[str, float]:
    b = before.get(function, {}).get("buckets", {})
    a = after.get(function, {}).get("buckets", {})
    return {le: a[le] - b.get(le, 0.0) for le in a}


def _send_durations(log: str) -> list[float]:
    """Durations of the MessageFunction invocations in the warm phase, where the publisher's
    ``send`` is the only action: the runtime's REPORT lines under the function's logger,
    cold starts (``Init Duration``) left out."""
    return [
        float(found.group(2))
        for line in log.splitlines()
        if (found := _SEND_REPORT.search(line)) and "Init Duration" not in line
    ]
