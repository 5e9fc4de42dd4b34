"""Process plumbing for the orchestrator: CPU/RSS sampling of process trees, and the load
generator processes driven over pipes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

__all__ = ["GeneratorProcess", "Sample", "TreeSampler"]


@dataclass(frozen=True)
class Sample:
    t: float
    cpu_s: float
    """user+sys seconds of every process ever seen in the tree (exited ones keep their last)."""
    rss: int
    """bytes, summed over the live processes of the tree."""
    procs: int


class TreeSampler:
    """Samples one or more process trees (a server and its workers, or the generators)."""

    def __init__(self, pids: list[int], interval_s: float = 0.25) -> None:
        self.roots = [psutil.Process(p) for p in pids]
        self.interval_s = interval_s
        self.series: list[Sample] = []
        self._cpu: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> TreeSampler:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with contextlib.suppress(psutil.Error):
                self.sample()

    def sample(self) -> Sample:
        with self._lock:
            procs: list[psutil.Process] = []
            for root in self.roots:
                with contextlib.suppress(psutil.Error):
                    procs += [root, *root.children(recursive=True)]
            rss = 0
            alive = 0
            for proc in procs:
                try:
                    with proc.oneshot():
                        times = proc.cpu_times()
                        rss += proc.memory_info().rss
                    self._cpu[proc.pid] = times.user + times.system
                    alive += 1
                except psutil.Error:
                    continue
            sample = Sample(time.monotonic(), sum(self._cpu.values()), rss, alive)
            self.series.append(sample)
            return sample

    def between(self, t0: float, t1: float) -> list[Sample]:
        return [s for s in self.series if t0 <= s.t <= t1]


class GeneratorProcess:
    """``python -m bench.loadgen``: one JSON command line in, one JSON reply line out."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> GeneratorProcess:
        root = Path(__file__).resolve().parents[1]  # noqa: ASYNC240  (no I/O: a path)
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=str(root),
            env=env,
            limit=2**26,
        )
        ready = await self._read(30.0)
        if not ready.get("ready"):
            raise RuntimeError(f"generator {self.name} did not start: {ready}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"generator {self.name} exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def call(self, cmd: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdin is not None
        async with self._lock:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            await self.proc.stdin.drain()
            answer = await self._read(timeout)
        if not answer.get("ok"):
            raise RuntimeError(f"generator {self.name}: {cmd.get('cmd')}: {answer.get('error')}")
        return answer

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.call({"cmd": "quit"}, timeout=10)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.proc.wait()
                return
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()
