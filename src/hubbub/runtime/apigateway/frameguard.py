"""API Gateway's 32 KB WebSocket *frame* quota, which aiohttp cannot express on its own.

aiohttp limits whole messages (``max_msg_size``, set to the 128 KB message quota); this guard
sits in
front of its frame parser, reads only frame headers, and reports the first frame whose payload is
over the frame quota, so the gateway can close with 1009 as API Gateway does. Bytes before that
frame are still parsed, so nothing sent earlier is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FrameScanner", "GuardedParser"]


class FrameScanner:
    """Sans-I/O: feed bytes, learn where the first oversized frame starts (or None)."""

    def __init__(self, max_frame: int) -> None:
        self._max = max_frame
        self._header = bytearray()
        self._header_start = 0
        self._remaining = 0
        self.violation: int | None = None

    def scan(self, data: bytes) -> int | None:
        """Offset in ``data`` of the oversized frame's header, negative if it began earlier."""
        i = 0
        n = len(data)
        if self._header:  # a header began in an earlier chunk: its start lies before this one
            self._header_start = -len(self._header)
        while i < n:
            if self._remaining:
                step = min(self._remaining, n - i)
                self._remaining -= step
                i += step
                continue
            if not self._header:
                self._header_start = i
            need = self._header_size() - len(self._header)
            take = min(need, n - i)
            self._header += data[i : i + take]
            i += take
            if len(self._header) < self._header_size():
                continue
            length = self._payload_length()
            start = self._header_start
            self._header.clear()
            if length > self._max:
                self.violation = length
                return start
            self._remaining = length
        return None

    def _header_size(self) -> int:
        if len(self._header) < 2:
            return 2
        code = self._header[1] & 0x7F
        extra = 2 if code == 126 else 8 if code == 127 else 0
        mask = 4 if self._header[1] & 0x80 else 0
        return 2 + extra + mask

    def _payload_length(self) -> int:
        code = self._header[1] & 0x7F
        if code == 126:
            return int.from_bytes(self._header[2:4], "big")
        if code == 127:
            return int.from_bytes(self._header[2:10], "big")
        return code


class GuardedParser:
    """Wraps aiohttp's WebSocket reader: scans, forwards, and stops at the first oversized frame."""

    def __init__(self, inner: Any, max_frame: int, on_violation: Callable[[int], None]) -> None:
        self._inner = inner
        self._scanner = FrameScanner(max_frame)
        self._on_violation = on_violation
        self._stopped = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._stopped:
            return False, b""
        start = self._scanner.scan(bytes(data))
        if start is None:
            result: tuple[bool, bytes] = self._inner.feed_data(data)
            return result
        if start > 0:
            self._inner.feed_data(data[:start])
        self._stopped = True
        self._on_violation(self._scanner.violation or 0)
        return False, b""

    def feed_eof(self) -> None:
        self._inner.feed_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
