"""One Lambda execution environment: a process that imports a handler once and runs invocations
one at a time, keeping module state while warm.

Started by the runtime as ``python -m hubbub.runtime.lambda_.worker``; frames arrive on stdin and
answers
leave on the original stdout, while the handler's own prints and logs go to stderr, which the
runtime forwards to its log like CloudWatch would show them.
"""

from __future__ import annotations

import importlib
import io
import os
import resource
import sys
import time
import traceback
from typing import Any

from hubbub.runtime.lambda_ import ipc as ipc

__all__ = ["LambdaContext", "main"]


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, invoke: dict[str, Any], env: dict[str, str]) -> None:
        self.aws_request_id: str = invoke["requestId"]
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn: str = invoke["functionArn"]
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms: int = invoke["deadlineMs"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - time.time_ns() // 1_000_000)


def _load(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def _log_stream() -> io.TextIOWrapper:
    """The function's stdout and stderr: written a line at a time.

    The runtime reads this pipe a line at a time; an unbuffered stream (PYTHONUNBUFFERED, as
    Lambda's Python runtime sets it) writes ``print(x)`` as two system calls, ``x`` and then the
    newline, and so wakes the runtime twice per line. Line buffering writes each line whole and
    keeps nothing back past a newline, so a worker killed mid-invocation loses no finished line.
    """
    raw = io.FileIO(os.dup(2), "w", closefd=True)
    return io.TextIOWrapper(
        io.BufferedWriter(raw, buffer_size=65536),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )


# ru_maxrss is the process's peak RSS whichever of the two is asked; RUSAGE_SELF also sums the
# CPU time of the thread group, which measured 0.2-1.3 ms per call in a warm worker on the
# benchmark machine (docs/benchmarks.md) against about 10 us for RUSAGE_THREAD.
_RUSAGE_WHO = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)


def _max_rss_mb() -> int:
    return int(resource.getrusage(_RUSAGE_WHO).ru_maxrss // 1024)


def main() -> None:
    os.umask(os.umask(0o077) | 0o077)  # what the function writes in the data dir is owner-only
    ipc_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr = _log_stream()
    ipc_in = sys.stdin.buffer
    handler_name = os.environ["_HANDLER"]
    code_dir = os.environ.get("LAMBDA_TASK_ROOT")
    if code_dir and code_dir not in sys.path:
        sys.path.insert(0, code_dir)

    started = time.perf_counter()
    init_error: dict[str, Any] | None = None
    handler: Any = None
    try:
        handler = _load(handler_name)
    except Exception as exc:
        init_error = _error(exc, "Runtime.ImportModuleError")
    init_ms = (time.perf_counter() - started) * 1000
    ipc.write_frame_sync(ipc_out, {"ready": True, "initMs": init_ms, "error": init_error})
    if init_error is not None:
        return

    env = dict(os.environ)
    while True:
        invoke = ipc.read_frame_sync(ipc_in)
        if invoke is None:
            return
        context = LambdaContext(invoke, env)
        os.environ["_X_AMZN_TRACE_ID"] = invoke.get("traceId", "")
        begin = time.perf_counter()
        try:
            result = handler(invoke["event"], context)
            answer: dict[str, Any] = {"ok": True, "result": result}
        except Exception as exc:
            error = _error(exc, type(exc).__name__)
            answer = {"ok": False, "error": error}
            sys.stderr.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n")
            sys.stderr.write("".join(error["stackTrace"]))
        answer["durationMs"] = (time.perf_counter() - begin) * 1000
        answer["maxRssMb"] = _max_rss_mb()
        try:
            ipc.write_frame_sync(ipc_out, answer)
        except TypeError as exc:  # the handler returned something JSON cannot carry
            error = _error(exc, "Runtime.MarshalError")
            ipc.write_frame_sync(ipc_out, {"ok": False, "error": error, "durationMs": 0})


def _error(exc: BaseException, error_type: str) -> dict[str, Any]:
    return {
        "errorType": error_type,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


if __name__ == "__main__":
    main()
