"""When the client sends a refused message again: the decision ``HubbubClient.send`` acts on.

A ``rate_limited`` or ``unavailable`` refusal stores nothing and says when to come back
(``retryAfter``, seconds: docs/protocol.md). The client waits that long and sends again with the
same ``clientMsgId`` (so a retry can never store the message twice), for as long as the total
deadline allows; a refusal without ``retryAfter`` waits a short, doubling pause. Counting attempts
alone (the old rule, five) gave up within a second or two of a busy room whose ``retryAfter`` was
longer, so a caller lost messages it would have got through by waiting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_SEND_DEADLINE_S",
    "RETRIED_CODES",
    "RetryPolicy",
    "is_retried",
    "wait_before_retry",
]

DEFAULT_SEND_DEADLINE_S = 60.0
"""Long enough for a room's allowance (messages per second per topic) to come round several
times, short enough that an interactive caller hears of a problem."""
RETRIED_CODES = frozenset({"rate_limited", "unavailable"})
FALLBACK_WAIT_S = 0.5
MAX_FALLBACK_WAIT_S = 8.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    deadline_s: float = DEFAULT_SEND_DEADLINE_S
    """No retry starts later than this many seconds after the first send."""
    max_attempts: int | None = None
    """At most this many sends in all (1: never retry); None: the deadline alone decides."""

    def __post_init__(self) -> None:
        if not self.deadline_s >= 0:
            raise ValueError("deadline_s must be a number of seconds, 0 or more")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


def is_retried(frame: Mapping[str, Any]) -> bool:
    """Whether an ``error`` frame is one a send is retried on (nothing was stored)."""
    return str(frame.get("code")) in RETRIED_CODES


def _retry_after(frame: Mapping[str, Any]) -> float | None:
    value = frame.get("retryAfter")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def wait_before_retry(
    frame: Mapping[str, Any], refusals: int, elapsed_s: float, policy: RetryPolicy
) -> float | None:
    """Seconds to wait before sending again after the ``refusals``-th refusal ``frame``, which
    came ``elapsed_s`` after the first send; None to give up (the error is not retried, the
    attempts are spent, or the retry would start past the deadline)."""
    if not is_retried(frame):
        return None
    if policy.max_attempts is not None and refusals >= policy.max_attempts:
        return None
    wait = _retry_after(frame)
    if wait is None:
        wait = min(FALLBACK_WAIT_S * 2 ** (refusals - 1), MAX_FALLBACK_WAIT_S)
    if elapsed_s + wait > policy.deadline_s:
        return None
    return wait
