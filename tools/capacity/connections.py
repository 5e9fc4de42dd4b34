"""A counting stand-in for botocore's ``apigatewaymanagementapi`` client.

``hubbub.push.aws.adapter.ApiGatewayPush`` takes it as its ``client``, so the real adapter (its
pool, retries, breaker, the handling of ``GoneException``) makes the calls; nothing leaves the
process. API Gateway bills a message per 32 KB of each frame it sends, so sizes are kept.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["FRAME_BILLING_BYTES", "CountingConnections"]

FRAME_BILLING_BYTES = 32 * 1024
"""API Gateway meters WebSocket messages in 32 KB increments."""


class _GoneException(Exception):
    """410: the connection is gone."""


class _LimitExceededException(Exception):
    """429: too many requests."""


class _Exceptions:
    GoneException = _GoneException
    LimitExceededException = _LimitExceededException


class CountingConnections:
    """``post_to_connection`` that counts calls and billed messages; ``gone`` ids answer 410
    (and are not billed: nothing was sent)."""

    exceptions = _Exceptions

    def __init__(self, gone: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self.gone = set(gone)
        self.posts = 0
        self.billed_messages = 0
        self.bytes = 0

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        gone = ConnectionId in self.gone
        with self._lock:
            self.posts += 1
            if not gone:  # a frame nobody received is not a message sent
                self.bytes += len(Data)
                self.billed_messages += max(1, math.ceil(len(Data) / FRAME_BILLING_BYTES))
        if gone:
            raise _GoneException(ConnectionId)
        return {}

    def snapshot(self) -> tuple[int, int, int]:
        with self._lock:
            return self.posts, self.billed_messages, self.bytes
