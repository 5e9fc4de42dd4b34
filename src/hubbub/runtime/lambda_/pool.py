"""Lambda execution environments as worker processes, one invocation at a time each.

A pool per function spawns workers on demand (cold start, with its Init Duration), keeps them warm
between invocations, ends a worker that runs past the function's ``Timeout`` or over its
``MemorySize`` (as Lambda does) and replaces it on the next call. Every invocation logs Lambda's
``START``/``END``/``REPORT`` lines under the function's logger, ``hubbub.lambda.<FunctionName>``
(at INFO for cold starts and failures, else DEBUG: ``lambda_/lifecycle.py``).

As on Lambda (*Understanding the Lambda execution environment lifecycle*, the Init phase): the
init phase is limited to 10 s, past which init is retried inside the first invocation under the
function's own ``Timeout``. ``ReservedConcurrentExecutions`` caps the function's environments:
over it an invocation is throttled (``TooManyRequestsException``, HTTP 429 from Lambda's Invoke
API) instead of waiting, and 0 throttles every invocation (*Configuring reserved concurrency*).
Without it, invocations wait for one of the ``--workers`` environments: a local resource limit,
where AWS would scale out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.awsids import log_stream_name, request_id, trace_header
from hubbub.runtime.cloudformation import FunctionSpec
from hubbub.runtime.lambda_ import artefact
from hubbub.runtime.lambda_ import ipc as ipc
from hubbub.runtime.lambda_.lifecycle import end_level, report_line, start_level
from hubbub.runtime.lambda_.worker import IMPORTABLE_ARG
from hubbub.runtime.metrics import Registry

__all__ = ["INIT_LIMIT_S", "THROTTLED", "FunctionPool", "InvokeResult"]

log = logging.getLogger("hubbub.lambda")

_PASSTHROUGH_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "PYTHONPATH",
    "TMPDIR",
    "COVERAGE_PROCESS_START",
)

INIT_LIMIT_S = 10.0
"""Lambda's limit on the init phase of an on-demand execution environment."""

THROTTLED = {
    "errorType": "TooManyRequestsException",
    "errorMessage": "Rate Exceeded.",
    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
}
"""Lambda's answer to an invocation over the function's reserved concurrency."""


@dataclass(frozen=True, slots=True)
class InvokeResult:
    request_id: str
    ok: bool
    payload: Any
    """The handler's return value when ok, else Lambda's error object."""
    duration_ms: float
    init_ms: float | None = None
    throttled: bool = False
    """Lambda refused the invocation (no environment ran it): callers that retry (stream
    pollers) retry it without counting an attempt."""

    @property
    def error_type(self) -> str | None:
        if self.ok or not isinstance(self.payload, dict):
            return None
        return str(self.payload.get("errorType"))


class WorkerDied(Exception):
    pass


class InitTimedOut(Exception):
    """The handler module was still loading when its time was up."""


class _Throttled(Exception):
    pass


class _Worker:
    def __init__(
        self, proc: asyncio.subprocess.Process, name: str, metrics: Registry | None = None
    ) -> None:
        self.proc = proc
        self.name = name
        self.metrics = metrics
        self.init_ms: float | None = None
        self.init_error: dict[str, Any] | None = None
        self._log_task = asyncio.create_task(self._forward_logs())

    async def _forward_logs(self) -> None:
        assert self.proc.stderr is not None
        fn_log = logging.getLogger(f"hubbub.lambda.{self.name}")
        while True:
            raw = await self.proc.stderr.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            if self.metrics is not None and self.metrics.observe_emf(line, self.name):
                fn_log.debug("%s", line)  # an EMF document: counted, and kept out of the way
                continue
            fn_log.info("%s", line)

    async def read(self) -> Any:
        assert self.proc.stdout is not None
        try:
            header = await self.proc.stdout.readexactly(ipc.HEADER.size)
            (size,) = ipc.HEADER.unpack(header)
            payload = await self.proc.stdout.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise WorkerDied(str(exc)) from None
        return ipc.decode(payload)

    async def send(self, frame: Any) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(ipc.encode(frame))
            await self.proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise WorkerDied(str(exc)) from None

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def reap(self) -> None:
        """Kill the process and collect it, its pipes and its log reader."""
        self.kill()
        await self.proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._log_task

    async def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=2)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._log_task


class FunctionPool:
    def __init__(
        self,
        spec: FunctionSpec,
        *,
        runtime_env: Mapping[str, str],
        overrides: Mapping[str, str] | None = None,
        max_workers: int,
        region: str,
        init_limit_s: float = INIT_LIMIT_S,
    ) -> None:
        self.spec = spec
        self._log = logging.getLogger(f"hubbub.lambda.{spec.name}")  # as the function's output
        self._reserved = spec.reserved_concurrency
        self._max = max(1, max_workers) if self._reserved is None else self._reserved
        self.init_limit_s = init_limit_s
        self._idle: list[_Worker] = []
        self._importable: list[str] | None = None
        self._count = 0
        self._cond = asyncio.Condition()
        self._env = self._environment(runtime_env, overrides or {}, region)
        self._closed = False
        self.invocations = 0
        self.errors = 0
        self.cold_starts = 0
        self.timeouts = 0
        self.throttles = 0
        self.on_complete: Callable[[], None] | None = None
        self.metrics: Registry | None = None

    def _environment(
        self, runtime_env: Mapping[str, str], overrides: Mapping[str, str], region: str
    ) -> dict[str, str]:
        spec = self.spec
        env = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        env.update(
            {
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
                "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
                "AWS_SESSION_TOKEN": os.environ.get("AWS_SESSION_TOKEN", "local"),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "LAMBDA_RUNTIME_DIR": str(spec.code_dir),
                "_HANDLER": spec.handler,
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "TZ": ":UTC",  # not reserved: a template may set its own, as on Lambda
            }
        )
        env.update(runtime_env)
        env.update(spec.environment)
        env.update(overrides)
        return env

    @property
    def size(self) -> int:
        return self._count

    async def _spawn(self, limit_s: float) -> _Worker:
        """A new environment, its handler loaded within ``limit_s`` (else InitTimedOut)."""
        env = {**self._env, "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name()}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hubbub.runtime.lambda_.worker",
            *await self._guard_args(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(self.spec.code_dir),
            limit=2**27,
        )
        worker = _Worker(proc, self.spec.name, self.metrics)
        try:
            async with asyncio.timeout(limit_s):
                ready = await worker.read()
        except TimeoutError:
            await worker.reap()
            raise InitTimedOut from None
        except BaseException:
            worker.kill()
            raise
        worker.init_ms = float(ready["initMs"])
        worker.init_error = ready.get("error")
        self.cold_starts += 1
        if self.metrics is not None:
            labels = {"function": self.spec.logical_id}
            self.metrics.inc("lambda_cold_starts_total", labels=labels, help="Cold starts")
            self.metrics.observe_ms(
                "lambda_init_duration_ms", worker.init_ms, labels, "Init Duration of cold starts"
            )
        return worker

    async def _guard_args(self) -> list[str]:
        """The worker's import rule (``artefact.py``): worked out at the first cold start, off
        the loop (tens of ms of package metadata, once per code directory), kept for the rest."""
        if self._importable is None:
            spec = self.spec
            found = await asyncio.to_thread(
                artefact.importable, spec.code_dir, spec.runtime, spec.architecture
            )
            self._importable = [] if found is None else [IMPORTABLE_ARG + ",".join(sorted(found))]
        return self._importable

    async def _acquire(self) -> _Worker | None:
        """An idle worker, or None when the caller may spawn a new one; _Throttled when the
        function's reserved concurrency is all in use (Lambda throttles, it does not queue)."""
        async with self._cond:
            while True:
                if self._closed:
                    raise WorkerDied("function pool is shut down")
                if self._idle:
                    return self._idle.pop()
                if self._count < self._max:
                    self._count += 1
                    return None
                if self._reserved is not None:
                    raise _Throttled
                await self._cond.wait()

    async def _release(self, worker: _Worker | None) -> None:
        async with self._cond:
            if worker is None:
                self._count -= 1
            else:
                self._idle.append(worker)
            self._cond.notify()

    async def invoke(
        self, event: Any, *, rid: str | None = None, kill_after: bool = False
    ) -> InvokeResult:
        rid = rid or request_id()
        try:
            worker = await self._acquire()
        except _Throttled:
            return self._throttled(rid)
        self.invocations += 1
        init_ms: float | None = None
        budget_s = self.spec.timeout_s
        started = time.perf_counter()
        if worker is None:
            try:
                worker, init_ms = await self._cold_start(rid)
            except InitTimedOut:
                await self._release(None)
                return self._timed_out(rid, started, None)
            except BaseException:
                await self._release(None)
                raise
            if init_ms is None:  # init ran inside this invocation: its time counts
                budget_s -= time.perf_counter() - started
            else:
                self._log.log(start_level(cold=True), "START RequestId: %s Version: $LATEST", rid)
                started = time.perf_counter()
            if worker.init_error is not None:
                await self._end(worker)
                self.errors += 1
                return self._finish(rid, False, worker.init_error, 0.0, init_ms, None)
        else:
            self._log.log(start_level(cold=False), "START RequestId: %s Version: $LATEST", rid)
        try:
            answer = await self._exchange(worker, rid, event, budget_s)
        except TimeoutError:
            await self._end(worker)
            return self._timed_out(rid, started, init_ms)
        except (WorkerDied, asyncio.CancelledError) as exc:
            await self._end(worker)
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.errors += 1
            error = {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited"}
            return self._finish(rid, False, error, _ms_since(started), init_ms, None)
        return await self._answered(worker, rid, answer, init_ms, kill_after)

    async def _cold_start(self, rid: str) -> tuple[_Worker, float | None]:
        """A new environment and its Init Duration; None when init ran past Lambda's init
        limit and was retried inside this invocation, under the function's Timeout (the
        START line then comes before that init, and InitTimedOut ends the invocation)."""
        try:
            worker = await self._spawn(self.init_limit_s)
        except InitTimedOut:
            log.warning(
                "%s: init ran past the %.0f s init limit; retrying it in the invocation",
                self.spec.name,
                self.init_limit_s,
            )
        else:
            return worker, worker.init_ms
        self._log.log(start_level(cold=True), "START RequestId: %s Version: $LATEST", rid)
        return await self._spawn(self.spec.timeout_s), None

    def _timed_out(self, rid: str, started: float, init_ms: float | None) -> InvokeResult:
        self.timeouts += 1
        self.errors += 1
        error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"Task timed out after {self.spec.timeout_s:.2f} seconds",
        }
        return self._finish(rid, False, error, _ms_since(started), init_ms, None)

    def _throttled(self, rid: str) -> InvokeResult:
        """No environment runs it, so no START/END/REPORT: Lambda counts a throttle."""
        self.throttles += 1
        log.warning(
            "%s throttled: reserved concurrency %s in use (TooManyRequestsException)",
            self.spec.name,
            self._reserved,
        )
        if self.metrics is not None:
            labels = {"function": self.spec.logical_id}
            self.metrics.inc("lambda_throttles_total", labels=labels, help="Throttled invocations")
        return InvokeResult(rid, False, dict(THROTTLED), 0.0, None, throttled=True)

    async def _exchange(self, worker: _Worker, rid: str, event: Any, budget_s: float) -> Any:
        """Hand the event to the worker and wait, up to what is left of the function's Timeout,
        for its answer."""
        spec = self.spec
        await worker.send(
            {
                "requestId": rid,
                "event": event,
                "deadlineMs": time.time_ns() // 1_000_000 + int(budget_s * 1000),
                "functionArn": spec.arn,
                "traceId": trace_header(),
            }
        )
        async with asyncio.timeout(max(0.0, budget_s)):
            return await worker.read()

    async def _answered(
        self, worker: _Worker, rid: str, answer: Any, init_ms: float | None, kill_after: bool
    ) -> InvokeResult:
        """The handler ran: its result, unless the environment does not survive it (an injected
        kill, or more memory than MemorySize), in which case Lambda reports the runtime's exit."""
        duration = float(answer.get("durationMs", 0.0))
        max_rss = answer.get("maxRssMb")
        lost: dict[str, str] | None = None
        if kill_after:  # fault injection: the environment dies after the handler's writes
            lost = {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited (injected)"}
        elif max_rss is not None and int(max_rss) > self.spec.memory_mb:
            lost = {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"Runtime exited: used {max_rss} MB of {self.spec.memory_mb} MB",
            }
        if lost is not None:
            await self._end(worker)
            self.errors += 1
            return self._finish(rid, False, lost, duration, init_ms, max_rss)
        await self._release(worker)
        ok = bool(answer.get("ok"))
        if not ok:
            self.errors += 1
        payload = answer.get("result") if ok else answer.get("error")
        return self._finish(rid, ok, payload, duration, init_ms, max_rss)

    async def _end(self, worker: _Worker) -> None:
        """Kill a worker that must not take another invocation, freeing its slot in the pool."""
        try:
            await worker.reap()
        finally:
            await self._release(None)

    def _finish(
        self,
        rid: str,
        ok: bool,
        payload: Any,
        duration_ms: float,
        init_ms: float | None,
        max_rss: int | None,
    ) -> InvokeResult:
        level = end_level(cold=init_ms is not None, ok=ok)
        if self._log.isEnabledFor(level):  # the REPORT line is built only when it is shown
            self._log.log(level, "END RequestId: %s", rid)
            report = report_line(
                rid,
                duration_ms=duration_ms,
                memory_mb=self.spec.memory_mb,
                max_rss_mb=max_rss,
                init_ms=init_ms,
                ok=ok,
                payload=payload,
            )
            self._log.log(level, "%s", report)
        if self.metrics is not None:
            self._measure(ok, payload, duration_ms)
        if self.on_complete is not None:  # after the caller's own callbacks (gateway.py)
            asyncio.get_running_loop().call_soon(self.on_complete)
        return InvokeResult(rid, ok, payload, duration_ms, init_ms)

    def _measure(self, ok: bool, payload: Any, duration_ms: float) -> None:
        assert self.metrics is not None
        labels = {"function": self.spec.logical_id}
        self.metrics.inc("lambda_invocations_total", labels=labels, help="Invocations")
        self.metrics.observe_ms("lambda_duration_ms", duration_ms, labels, "Invocation Duration")
        if not ok:
            error = str(payload.get("errorType")) if isinstance(payload, dict) else "Unknown"
            self.metrics.inc(
                "lambda_errors_total", labels={**labels, "error_type": error}, help="Errors"
            )

    async def close(self) -> None:
        async with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        await asyncio.gather(*(w.stop() for w in idle), return_exceptions=True)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
