"""Lambda's ``START``/``END``/``REPORT`` lines, and at which log level the runtime shows them.

CloudWatch keeps all three for every invocation. Locally they are log lines the gateway's own
process formats and writes, three per invocation, on the same two cores as the handlers: at
``--log-level INFO`` that was most of what a busy server logged and a measurable part of its CPU.
So INFO keeps what an operator reads them for: cold starts (their ``Init Duration``) and failed
invocations (``Status: error`` and the error type); a warm invocation that succeeded logs its
lines at DEBUG. Whether an invocation fails is not known when it starts, so a warm invocation
that fails shows its ``END`` and ``REPORT`` at INFO and its ``START`` only at DEBUG.
(*Working with Lambda function logs*; the REPORT fields: *Lambda function logging in Python*.)
"""

from __future__ import annotations

import logging
import math
from typing import Any

__all__ = ["end_level", "report_line", "start_level"]


def start_level(*, cold: bool) -> int:
    """The level of an invocation's START line."""
    return logging.INFO if cold else logging.DEBUG


def end_level(*, cold: bool, ok: bool) -> int:
    """The level of an invocation's END and REPORT lines."""
    return logging.INFO if cold or not ok else logging.DEBUG


def report_line(
    rid: str,
    *,
    duration_ms: float,
    memory_mb: int,
    max_rss_mb: int | None,
    init_ms: float | None,
    ok: bool,
    payload: Any,
) -> str:
    """Lambda's REPORT line: tab-separated fields, ``Init Duration`` on a cold start."""
    report = (
        f"REPORT RequestId: {rid}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: {max_rss_mb or 0} MB"
    )
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    if not ok and isinstance(payload, dict):
        report += f"\tStatus: error\tErrorType: {payload.get('errorType')}"
    return report
