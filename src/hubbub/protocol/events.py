"""Server frames. Each is a plain dict with ``type``; ``encode`` turns one into the text sent.

Builders keep field names (camelCase on the wire) in one place, so the web client, the Python
client and docs/protocol.md can be checked against a single source.
"""

from __future__ import annotations

import json
from typing import Any

from hubbub.protocol.errors import ErrorCode, ProtocolError

__all__ = ["encode", "error_event", "from_protocol_error"]

Event = dict[str, Any]


def encode(event: Event) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def error_event(
    code: ErrorCode,
    message: str,
    *,
    ref: str | None = None,
    action: str | None = None,
    retry_after: float | None = None,
) -> Event:
    event: Event = {"type": "error", "code": code.value, "message": message}
    if ref is not None:
        event["ref"] = ref
    if action is not None:
        event["action"] = action
    if retry_after is not None:
        event["retryAfter"] = retry_after
    return event


def from_protocol_error(
    exc: ProtocolError, *, ref: str | None = None, action: str | None = None
) -> Event:
    return error_event(exc.code, exc.message, ref=ref, action=action, retry_after=exc.retry_after)
