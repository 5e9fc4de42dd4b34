"""The workloads, each against one peer at a time, plus the rate stepping they share.

W1 fan-out   one room, N subscribers, one publisher; the open-loop rate is stepped up until p99
             passes 250 ms or anything is lost; the best passing step is the sustained rate.
LAT          a fixed load (50 msg/s into 200 subscribers): the latency target.
W0 idle      N connections with one keepalive each; server RSS per connection.
W3 recovery  10% of subscribers vanish while publishing goes on, then resume with ``since``.
W4 retries   every send is sent twice with the same ``clientMsgId``.
LAMBDA       cold start of each function and the warm ``send`` handler: bench/lambdas.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Plan", "RateStepper", "Session", "step_passes"]

TOPIC = "room/bench"
P99_LIMIT_MS = 250.0


# rate stepping (pure: unit-tested) ----------------------------------------------------------------
@dataclass
class RateStepper:
    """Geometric steps from ``start`` by ``factor`` until the first failing step, after
    ``max_steps``, or past ``max_rate``; then, when a step failed, ``refine`` more steps, each at
    the geometric middle of the highest passing rate and the lowest failing one above it (a
    factor of √2 alone leaves the limit known to within 41%; one refinement, to within 19%).
    ``best`` is the highest passing rate."""

    start: float
    factor: float
    max_steps: int
    max_rate: float = math.inf
    refine: int = 0
    history: list[tuple[float, bool]] = field(default_factory=list)

    def next_rate(self) -> float | None:
        if self.saturated:
            return self._refinement()
        if len(self.history) >= self.max_steps:
            return None
        rate = self.start * self.factor ** len(self.history)
        if rate > self.max_rate * (1 + 1e-9):
            return None
        return rate

    def _refinement(self) -> float | None:
        ladder = 1 + next(i for i, (_, ok) in enumerate(self.history) if not ok)
        best = self.best
        if best is None or len(self.history) - ladder >= self.refine:
            return None
        failed_above = min(rate for rate, ok in self.history if not ok and rate > best)
        return math.sqrt(best * failed_above)

    def record(self, rate: float, passed: bool) -> None:
        self.history.append((rate, passed))

    @property
    def best(self) -> float | None:
        passed = [rate for rate, ok in self.history if ok]
        return max(passed) if passed else None

    @property
    def saturated(self) -> bool:
        """True when some step failed (the limit was found, not the step budget)."""
        return any(not ok for _, ok in self.history)


def step_passes(step: dict[str, Any], subscribers: int) -> bool:
    """A step is sustained when nothing is lost, no subscriber was dropped and p99 <= 250 ms."""
    p99 = step.get("p99_ms")
    return (
        step.get("lost", 1) == 0
        and step.get("open", 0) >= subscribers
        and p99 is not None
        and p99 <= P99_LIMIT_MS
    )


# plans --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    quick: bool
    w1_subscribers: tuple[int, ...]
    w1_rounds: int
    """How many times W1 runs at ``w1_rounds_at`` subscribers, every peer each round: one
    ladder per peer is thin evidence for a target within a step of the limit."""
    w1_rounds_at: int
    step_s: float
    drain_s: float
    factor: float
    max_steps: int
    start_deliveries: float
    refine: int
    w0_sizes: tuple[int, ...]
    hold_s: float
    lat_subscribers: int
    lat_rate: float
    lat_s: float
    w3_subscribers: int
    w3_rate: float
    w3_s: float
    w3_down_s: float
    w4_subscribers: int
    w4_rate: float
    w4_s: float
    warm_sends: int

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                quick=True,
                w1_subscribers=(50, 200),
                w1_rounds=1,
                w1_rounds_at=50,
                step_s=1.5,
                drain_s=2.0,
                factor=2.0,
                max_steps=6,
                start_deliveries=2000.0,
                refine=0,
                w0_sizes=(200, 1000),
                hold_s=2.0,
                lat_subscribers=200,
                lat_rate=50.0,
                lat_s=3.0,
                w3_subscribers=50,
                w3_rate=20.0,
                w3_s=4.0,
                w3_down_s=1.0,
                w4_subscribers=20,
                w4_rate=10.0,
                w4_s=2.0,
                warm_sends=40,
            )
        return cls(
            quick=False,
            w1_subscribers=(100, 1000),
            w1_rounds=5,
            w1_rounds_at=100,
            step_s=5.0,
            drain_s=3.0,
            factor=math.sqrt(2),
            max_steps=15,
            start_deliveries=2500.0,
            refine=3,
            w0_sizes=(1000, 10000),
            hold_s=10.0,
            lat_subscribers=200,
            lat_rate=50.0,
            lat_s=10.0,
            w3_subscribers=200,
            w3_rate=50.0,
            w3_s=10.0,
            w3_down_s=3.0,
            w4_subscribers=100,
            w4_rate=20.0,
            w4_s=5.0,
            warm_sends=200,
        )


# a server with its generators ------------------------------------------------------------------
Progress = Callable[[str], None]


class Session:
    """One peer process, its CPU/RSS sampler, one publisher generator and subscriber generators."""

    def __init__(
        self, peer: str, *, sub_procs: int = 1, log_level: str = "WARNING", progress: Progress
    ) -> None:
        from bench.peers import PEERS, PeerProcess

        self.spec = PEERS[peer]
        self.workdir = Path(tempfile.mkdtemp(prefix=f"hubbub-bench-{peer}-"))
        self.server = PeerProcess(self.spec, self.workdir, log_level=log_level)
        self.sub_procs = sub_procs
        self.progress = progress
        self.epoch = 0
        self.subscribers = 0

    async def __aenter__(self) -> Session:
        from bench.procs import GeneratorProcess, TreeSampler

        self.port = await self.server.start()
        self.pub = await GeneratorProcess("pub").start()
        self.subs = [await GeneratorProcess(f"sub{i}").start() for i in range(self.sub_procs)]
        self.server_sampler = TreeSampler([self.server.pid]).start()
        self.gen_sampler = TreeSampler([self.pub.pid, *(g.pid for g in self.subs)]).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server_sampler.stop()
        self.gen_sampler.stop()
        await self.server.stop()
        await asyncio.gather(self.pub.stop(), *(g.stop() for g in self.subs))
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def base(self) -> dict[str, Any]:
        return {"adapter": self.spec.adapter, "host": "127.0.0.1", "port": self.port}

    def connect_rate(self) -> float:
        # API Gateway's (and so hubbub's) default quota is 500 new connections per second
        return 400.0 if self.spec.adapter == "hubbub" else 2000.0

    async def open_subscribers(self, count: int, topic: str | None = TOPIC) -> dict[str, Any]:
        shares = _split(count, len(self.subs))
        rate = self.connect_rate() / len(self.subs)
        replies = await asyncio.gather(
            *(
                g.call(
                    {
                        "cmd": "open",
                        **self.base,
                        "role": "sub" if topic else "idle",
                        "count": share,
                        "topic": topic,
                        "rate": rate,
                        "concurrency": 100,
                        "timeout": count / self.connect_rate() * 2 + 60,
                    },
                    timeout=count / self.connect_rate() * 2 + 120,
                )
                for g, share in zip(self.subs, shares, strict=True)
                if share
            )
        )
        opened = sum(r["opened"] for r in replies)
        self.subscribers += opened
        failures: dict[str, int] = {}
        for r in replies:
            for k, v in r["failures"].items():
                failures[k] = failures.get(k, 0) + v
        return {
            "opened": opened,
            "retried_429": sum(r.get("retried_429", 0) for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "failures": failures,
            "elapsed_s": max(r["elapsed_s"] for r in replies),
        }

    async def open_publishers(self, count: int = 1) -> None:
        reply = await self.pub.call(
            {"cmd": "open", **self.base, "role": "pub", "count": count, "register": True}
        )
        if reply["opened"] != count:
            raise RuntimeError(f"publishers did not open: {reply}")

    async def step(
        self, rate: float, duration_s: float, drain_s: float, **extra: Any
    ) -> dict[str, Any]:
        """Publish ``rate`` msg/s for ``duration_s``, then collect every subscriber's tally."""
        from bench.loadgen import new_histogram

        self.epoch += 1
        epoch = self.epoch
        count = max(1, round(rate * duration_s))
        start_ns = time.monotonic_ns() + 100_000_000
        t0 = time.monotonic() + 0.1
        s0 = self.server_sampler.sample()
        g0 = self.gen_sampler.sample()
        published = await self.pub.call(
            {
                "cmd": "publish",
                "topic": TOPIC,
                "rate": rate,
                "count": count,
                "epoch": epoch,
                "start_ns": start_ns,
                **extra,
            },
            timeout=duration_s + 120,
        )
        collected = await asyncio.gather(
            *(
                g.call(
                    {
                        "cmd": "collect",
                        "epoch": epoch,
                        "published": published["published"],
                        "wait_s": drain_s,
                    },
                    timeout=drain_s + 120,
                )
                for g in self.subs
            )
        )
        s1 = self.server_sampler.sample()
        g1 = self.gen_sampler.sample()
        acks = await self.pub.call({"cmd": "acks", "expect": 0, "wait_s": 0})
        histogram = new_histogram()
        tally: dict[str, int] = {}
        for c in collected:
            histogram.decode_and_add(c["histogram"])
            for k, v in c["tally"].items():
                tally[k] = tally.get(k, 0) + v
        window = max(1e-6, s1.t - t0)
        unique = tally.get("unique", 0)
        server_cpu = s1.cpu_s - s0.cpu_s
        return {
            "rate": rate,
            "published": published["sent"],
            "duration_s": duration_s,
            "deliveries_per_s": unique / duration_s,
            "offered_deliveries_per_s": rate * self.subscribers,
            **_latency_ms(histogram),
            "lost": tally.get("lost", 0),
            "duplicates": tally.get("duplicates", 0),
            "reordered": tally.get("reordered", 0),
            "unique": unique,
            "expected": tally.get("expected", 0),
            "open": sum(c["open"] for c in collected),
            "drain_s": max(c["drain_s"] for c in collected),
            "server_cpu_cores": server_cpu / window,
            "server_us_per_delivery": server_cpu / unique * 1e6 if unique else None,
            "generator_cpu_cores": (g1.cpu_s - g0.cpu_s) / window,
            "server_rss_mb": s1.rss / 2**20,
            "server_procs": s1.procs,
            "send_lag_us": published["send_lag_us"],
            "ack_us": acks["ack_us"],
            "acks": acks["acks"],
            "duplicate_acks": acks["duplicate_acks"],
            "stored_more_than_once": acks["stored_more_than_once"],
            "messages_acked": acks["messages_acked"],
            "errors": {**acks["errors"], **_merge_errors(collected)},
            "histogram": histogram.encode().decode(),
        }

    async def warm_up(self) -> dict[str, Any]:
        """A short burst (20 messages at 200/s) that starts every execution environment the
        send path will use, so that no cold start lands inside a measured step."""
        return await self.step(200.0, 0.1, 15.0)

    async def metrics(self) -> str:
        return await self.get("/metrics")

    async def get(self, path: str) -> str:
        """The body of a GET of ``path`` on the server (the HTTP API, ``/metrics``)."""
        return await asyncio.to_thread(_get, f"http://127.0.0.1:{self.port}{path}")

    def admin(self, path: str, body: dict[str, Any]) -> Any:
        """POST to hubbub's runtime admin API (``/_runtime/{path}``) with its key."""
        key = (self.workdir / "data" / "runtime-key").read_text()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/_runtime/{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"X-Hubbub-Runtime-Key": key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # 127.0.0.1 only
            return json.loads(response.read())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # 127.0.0.1 only
        body: bytes = response.read()
    return body.decode()


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _merge_errors(replies: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for reply in replies:
        for k, v in reply.get("errors", {}).items():
            out[k] = out.get(k, 0) + v
    return out


def _latency_ms(histogram: Any) -> dict[str, float | None]:
    if histogram.get_total_count() == 0:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None}
    return {
        "p50_ms": histogram.get_value_at_percentile(50) / 1000,
        "p90_ms": histogram.get_value_at_percentile(90) / 1000,
        "p99_ms": histogram.get_value_at_percentile(99) / 1000,
        "p999_ms": histogram.get_value_at_percentile(99.9) / 1000,
        "max_ms": histogram.get_max_value() / 1000,
    }


@contextlib.asynccontextmanager
async def session(peer: str, progress: Progress, **kwargs: Any) -> AsyncIterator[Session]:
    s = Session(peer, progress=progress, **kwargs)
    try:
        await s.__aenter__()
        yield s
    finally:
        await s.__aexit__()


# W1 -----------------------------------------------------------------------------------------------
def round_start(first: dict[str, Any] | None, plan: Plan) -> float | None:
    """Where a later round of W1 starts its ladder: two steps below the limit the peer's first
    round found, so that it climbs through the limit in a few steps rather than thirteen (and
    a machine up to twice as slow still passes its first step). None (start from the
    beginning) when the first round found nothing."""
    best = (first or {}).get("best")
    if not best:
        return None
    return float(best["rate"]) / plan.factor**2  # the publish rate, in msg/s


async def fanout(
    peer: str,
    subscribers: int,
    plan: Plan,
    progress: Progress,
    *,
    start_rate: float | None = None,
) -> dict[str, Any]:
    """``start_rate``: the first step's publish rate (by default, ``plan.start_deliveries``
    spread over the subscribers)."""
    sub_procs = 1 if subscribers <= 200 else 2
    async with session(peer, progress, sub_procs=sub_procs) as s:
        opened = await s.open_subscribers(subscribers)
        await s.open_publishers(1)
        warm = await s.warm_up()
        stepper = RateStepper(
            start=start_rate or max(1.0, plan.start_deliveries / subscribers),
            factor=plan.factor,
            max_steps=plan.max_steps,
            refine=plan.refine,
        )
        steps: list[dict[str, Any]] = []
        while (rate := stepper.next_rate()) is not None:
            progress(f"W1 {peer} N={subscribers} {rate:.0f} msg/s")
            step = await s.step(rate, plan.step_s, plan.drain_s)
            step["passed"] = step_passes(step, subscribers)
            stepper.record(rate, step["passed"])
            steps.append(step)
        best = max((st for st in steps if st["passed"]), key=lambda st: st["rate"], default=None)
        return {
            "peer": peer,
            "subscribers": subscribers,
            "opened": opened,
            "warmup": _strip(warm),
            "steps": sorted(steps, key=lambda st: st["rate"]),  # refinements fall in between
            "best": best,
            "saturated": stepper.saturated,
        }


async def latency(peer: str, plan: Plan, progress: Progress) -> dict[str, Any]:
    async with session(peer, progress, sub_procs=1) as s:
        opened = await s.open_subscribers(plan.lat_subscribers)
        await s.open_publishers(1)
        await s.warm_up()
        progress(f"LAT {peer}")
        step = await s.step(plan.lat_rate, plan.lat_s, plan.drain_s)
        return {"peer": peer, "subscribers": plan.lat_subscribers, "opened": opened, **step}


# W0 -----------------------------------------------------------------------------------------------
async def idle(peer: str, connections: int, plan: Plan, progress: Progress) -> dict[str, Any]:
    sub_procs = max(1, math.ceil(connections / 5000))
    async with session(peer, progress, sub_procs=sub_procs) as s:
        # warm-up: fill the execution environments ($connect, ping, $disconnect) before the
        # baseline, so that worker processes starting are not counted as connection memory
        warm = await s.open_subscribers(min(200, connections), topic=None)
        await asyncio.gather(*(g.call({"cmd": "keepalive", "spread_s": 0.5}) for g in s.subs))
        await asyncio.gather(*(g.call({"cmd": "quit"}) for g in s.subs))
        from bench.procs import GeneratorProcess

        s.subs = [await GeneratorProcess(f"idle{i}").start() for i in range(sub_procs)]
        s.gen_sampler.roots += [__import__("psutil").Process(g.pid) for g in s.subs]
        s.subscribers = 0
        await _settle(s.server_sampler)
        base = _steady(s.server_sampler)
        progress(f"W0 {peer} {connections} connections")
        opened = await s.open_subscribers(connections, topic=None)
        mid = s.server_sampler.sample()
        t0 = time.monotonic()
        await asyncio.gather(
            *(g.call({"cmd": "keepalive", "spread_s": plan.hold_s}) for g in s.subs),
        )
        settled = await _settle(s.server_sampler)  # the keepalives handled, not in flight
        idle_sample = _steady(s.server_sampler)
        t1 = time.monotonic()
        stats = await asyncio.gather(*(g.call({"cmd": "stats"}) for g in s.subs))
        still_open = sum(st["open"] for st in stats)
        cpu = (idle_sample.cpu_s - mid.cpu_s) / max(1e-6, t1 - t0)
        n = max(1, opened["opened"])
        return {
            "peer": peer,
            "connections": connections,
            "warmup": warm,
            "opened": opened["opened"],
            "failed": opened["failed"],
            "failures": opened["failures"],
            "retried_429": opened.get("retried_429", 0),
            "connect_s": opened["elapsed_s"],
            "still_open": still_open,
            "rss_base_mb": base.rss / 2**20,
            "rss_open_mb": mid.rss / 2**20,
            "rss_idle_mb": idle_sample.rss / 2**20,
            "kb_per_connection": (idle_sample.rss - base.rss) / n / 1024,
            "server_procs": [base.procs, idle_sample.procs],
            "keepalive_cpu_cores": cpu,
            "settle_s": settled,
            "hold_s": plan.hold_s,
        }


async def _settle(sampler: Any, max_s: float = 30.0, idle_cores: float = 0.05) -> float:
    """Wait (bounded) until the server tree is idle: under ``idle_cores`` of CPU for half a
    second. Returns the seconds waited."""
    started = time.monotonic()
    last = sampler.sample()
    while time.monotonic() - started < max_s:
        await asyncio.sleep(0.5)
        now = sampler.sample()
        if (now.cpu_s - last.cpu_s) / max(1e-6, now.t - last.t) < idle_cores:
            break
        last = now
    return time.monotonic() - started


def _steady(sampler: Any) -> Any:
    """The median-RSS sample of three, a quarter second apart."""
    samples = []
    for _ in range(3):
        samples.append(sampler.sample())
        time.sleep(0.25)
    samples.sort(key=lambda s: s.rss)
    return samples[1]


# W3 -----------------------------------------------------------------------------------------------
async def recovery(plan: Plan, progress: Progress) -> dict[str, Any]:
    async with session("hubbub", progress, sub_procs=1) as s:
        opened = await s.open_subscribers(plan.w3_subscribers)
        await s.open_publishers(1)
        await s.warm_up()
        progress("W3 hubbub recovery")
        sub = s.subs[0]

        async def drop_and_resume() -> tuple[dict[str, Any], dict[str, Any]]:
            await asyncio.sleep(plan.w3_s * 0.2)
            dropped = await sub.call({"cmd": "drop", "fraction": 0.1})
            await asyncio.sleep(plan.w3_down_s)
            resumed = await sub.call({"cmd": "reconnect", "topic": TOPIC}, timeout=120)
            return dropped, resumed

        chaos = asyncio.create_task(drop_and_resume())
        step = await s.step(plan.w3_rate, plan.w3_s, 15.0)
        dropped, resumed = await chaos
        return {
            "peer": "hubbub",
            "subscribers": plan.w3_subscribers,
            "opened": opened,
            "dropped": dropped["dropped"],
            "down_s": plan.w3_down_s,
            "resumed": resumed,
            **step,
        }


# W4 -----------------------------------------------------------------------------------------------
async def retries(plan: Plan, progress: Progress) -> dict[str, Any]:
    async with session("hubbub", progress, sub_procs=1) as s:
        opened = await s.open_subscribers(plan.w4_subscribers)
        await s.open_publishers(1)
        await s.warm_up()
        progress("W4 hubbub retries")
        step = await s.step(plan.w4_rate, plan.w4_s, 10.0, retry_after_s=0.05)
        return {"peer": "hubbub", "subscribers": plan.w4_subscribers, "opened": opened, **step}


def _strip(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k != "histogram"}


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=str)
