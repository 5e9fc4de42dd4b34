"""The Clock port: chat code asks it for the time so tests and the runtime can move time on
purpose."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

__all__ = ["Clock", "ManualClock", "OffsetClock", "SystemClock"]


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to; for tests of retention and timeouts."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        self._now += ms


class OffsetClock:
    """System time plus an offset read from a file the local runtime writes (its controllable
    clock).

    The file is re-read only when its modification time changes, so the cost is one ``stat``.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mtime_ns = -1
        self._offset_ms = 0

    def now_ms(self) -> int:
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = 0
            self._offset_ms = 0
        if mtime != self._mtime_ns and mtime:
            self._mtime_ns = mtime
            try:
                self._offset_ms = int(self._path.read_text().strip() or 0)
            except (OSError, ValueError):
                self._offset_ms = 0
        return time.time_ns() // 1_000_000 + self._offset_ms
