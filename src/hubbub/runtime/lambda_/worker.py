"""One Lambda execution environment: a process that imports a handler once and runs invocations
one at a time, keeping module state while warm.

Started by the runtime as ``python -m hubbub.runtime.lambda_.worker``; frames arrive on stdin and
answers
leave on the original stdout, while the handler's own prints and logs go to stderr, which the
runtime forwards to its log like CloudWatch would show them.
"""

from __future__ import annotations

import functools
import importlib
import io
import os
import resource
import sys
import time
import traceback
from typing import Any

from hubbub.runtime.lambda_ import ipc as ipc
from hubbub.runtime.lambda_.import_guard import guard

__all__ = ["IMPORTABLE_ARG", "CognitoIdentity", "LambdaContext", "main"]

IMPORTABLE_ARG = "--importable="
"""The runtime's list of what the function's artefact holds (``artefact.py``), when known."""


class CognitoIdentity:
    """``context.identity`` as Lambda's Python runtime builds it: always an object, its two
    attributes None unless the caller was a Cognito identity (never, locally)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class LambdaContext:
    """Lambda's context object, attribute for attribute as the Python runtime interface client
    (``awslambdaric``) builds it: the function's settings read from the environment as strings
    (``memory_limit_in_mb`` is ``"128"``, not 128), ``identity`` an object, ``client_context``
    and ``tenant_id`` None (nothing here invokes with a client context or a tenant)."""

    def __init__(self, invoke: dict[str, Any], env: dict[str, str]) -> None:
        self.aws_request_id: str = invoke["requestId"]
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn: str = invoke["functionArn"]
        self.tenant_id: str | None = None
        self.client_context: Any = None
        self.identity = CognitoIdentity()
        self._deadline_ms: int = invoke["deadlineMs"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - time.time_ns() // 1_000_000)

    def log(self, msg: str) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


class InitError(Exception):
    """The handler could not be loaded; ``error`` is the answer Lambda gives for it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["errorMessage"])
        self.error = error


def _fault(error_type: str, message: str, trace: list[str] | None = None) -> InitError:
    return InitError(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "",
            "stackTrace": trace or [],
        }
    )


def _load(handler: str) -> Any:
    """The handler function, or the init error Lambda's Python runtime reports for it:
    ``Runtime.ImportModuleError`` (``Unable to import module 'm': <reason>``),
    ``Runtime.UserCodeSyntaxError``, ``Runtime.HandlerNotFound``, or the exception the module
    raised at import."""
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise _fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        ) from None
    except Exception as exc:
        raise InitError(_error(exc, type(exc).__name__)) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise _fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from None


def _log_error(error: dict[str, Any]) -> None:
    """An error as the Python runtime logs it: ``[ERROR] <type>: <message>``, then the trace."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    lines.append("Traceback (most recent call last):")
    for element in error.get("stackTrace") or []:
        lines.extend(element.rstrip("\n").splitlines())
    sys.stderr.write("\n".join(lines) + "\n")


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


# The peak RSS of this environment. Not ru_maxrss: Linux carries the parent's high-water mark
# across fork and exec into the child's ru_maxrss, so a worker started by a runtime (or a test
# process) of 400 MB would report 400 MB before running a line, and every invocation of a
# 256 MB function would end in Runtime.OutOfMemory. VmHWM in /proc/self/status is the high-water
# mark of this process's own address space, read through a descriptor kept open (``pread`` at
# offset 0 has the kernel write the file anew: 8 us, where opening it each time took 17); where
# there is no /proc, ru_maxrss is the best there is. RUSAGE_THREAD, because RUSAGE_SELF also sums
# the CPU time of the thread group (0.2-1.3 ms per call in a warm worker on the benchmark
# machine).
_RUSAGE_WHO = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
_STATUS = "/proc/self/status"


@functools.cache
def _status_fd() -> int:
    return os.open(_STATUS, os.O_RDONLY | os.O_CLOEXEC)


def _max_rss_mb() -> int:
    try:
        status = os.pread(_status_fd(), 8192, 0)
        start = status.index(b"VmHWM:") + len(b"VmHWM:")
        return int(status[start : status.index(b"\n", start)].split()[0]) // 1024  # kB
    except (OSError, ValueError):
        pass
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
    if code_dir and len(sys.argv) > 1 and sys.argv[1].startswith(IMPORTABLE_ARG):
        allowed = sys.argv[1].removeprefix(IMPORTABLE_ARG)
        guard(code_dir, [name for name in allowed.split(",") if name])
        del sys.argv[1:]

    started = time.perf_counter()
    init_error: dict[str, Any] | None = None
    handler: Any = None
    try:
        handler = _load(handler_name)
    except InitError as exc:
        init_error = exc.error
        _log_error(init_error)
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
            error = _error(exc, type(exc).__name__, invoke["requestId"])
            answer = {"ok": False, "error": error}
            _log_error(error)
        answer["durationMs"] = (time.perf_counter() - begin) * 1000
        answer["maxRssMb"] = _max_rss_mb()
        try:
            ipc.write_frame_sync(ipc_out, answer)
        except TypeError as exc:  # the handler returned something JSON cannot carry
            error = _error(exc, "Runtime.MarshalError")
            ipc.write_frame_sync(ipc_out, {"ok": False, "error": error, "durationMs": 0})


def _error(exc: BaseException, error_type: str, rid: str = "") -> dict[str, Any]:
    """Lambda's error object: the frames of the traceback, one formatted entry each."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type,
        "requestId": rid,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


if __name__ == "__main__":
    main()
