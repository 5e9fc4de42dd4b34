"""``TumblingWindowInSeconds``: a stream mapping whose function aggregates across invocations.

Lambda groups a stream's records into back-to-back windows of the mapping's length (aligned on
the epoch) by their creation time, never mixes two windows in one batch, and hands the function
the window, the state its previous invocation in that window returned (``{}`` at first), the
shard, the stream and two flags. The function answers ``{"state": {...}}`` (with
``batchItemFailures`` beside it under ``ReportBatchItemFailures``); an answer without a state is a
failed invocation. Once the window is over, one more invocation with no records and
``isFinalInvokeForWindow`` true hands the function the final state; until it succeeds nothing
after the window is processed. Then the state is dropped and the next window starts with ``{}``.

The poller (``dynamodb/poller.py``) does the invoking; this module is the window arithmetic and
the event's fields. A window's state is kept in the runtime's state (``checkpoints.py``), so it
survives a restart of ``hubbub serve`` as it survives on AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.awsids import SHARD_ID, iso_seconds

__all__ = ["MAX_WINDOW_S", "OpenWindow", "event_fields", "start_of", "state_of"]

MAX_WINDOW_S = 900
"""Lambda's limit for ``TumblingWindowInSeconds`` (0, no window, to 900)."""


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """The window a mapping's records are being aggregated in, and the state so far."""

    start_ms: int
    state: dict[str, Any]


def start_of(created_ms: int, window_s: int) -> int:
    """The start of the window a record created at ``created_ms`` belongs to."""
    length = window_s * 1000
    return created_ms - created_ms % length


def event_fields(
    window: OpenWindow, window_s: int, stream_arn: str, *, final: bool
) -> dict[str, Any]:
    """What a windowed invocation's event carries beside ``Records``."""
    start_s = window.start_ms // 1000
    return {
        "window": {"start": iso_seconds(start_s), "end": iso_seconds(start_s + window_s)},
        "state": window.state,
        "shardId": SHARD_ID,
        "eventSourceARN": stream_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def state_of(payload: Any) -> dict[str, Any] | None:
    """The state a windowed invocation returned; None when it returned none, which Lambda
    counts as a failed invocation."""
    if isinstance(payload, Mapping) and isinstance(payload.get("state"), Mapping):
        return dict(payload["state"])
    return None
