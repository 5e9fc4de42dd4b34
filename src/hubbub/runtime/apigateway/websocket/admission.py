"""Who may open a WebSocket connection now: API Gateway's account-wide rate of new connections,
shared fairly between source addresses, and a cap on one address's open connections.

On AWS the only admission limit is the account's 500 new connections per second per region: one
client opening connections as fast as it can takes all of it, and everyone else's handshake is
throttled (429) for as long as it keeps at it. Locally there is one account and often one client
per address, so each address gets a token bucket of its own *inside* the account's window: an
address that has spent its share is refused before it touches the account's window, so it cannot
use up what other addresses are waiting for. Refusals are 429, the answer API Gateway's
throttling gives, and nothing is consumed by a refused attempt.

Pure: the caller passes the time and acts on the verdict (``gateway.py``).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

__all__ = ["Admission", "AdmissionLimits", "Verdict"]

_SWEEP_ABOVE = 4096
"""Buckets kept before full (idle) ones are forgotten: they would grant the same as a new one."""


class Verdict(enum.Enum):
    ADMIT = "admit"
    ADDRESS_CONNECTIONS = "the address has too many open connections"
    ADDRESS_RATE = "the address opens connections too fast"
    ACCOUNT_RATE = "the account's new-connection rate is used up"

    @property
    def admitted(self) -> bool:
        return self is Verdict.ADMIT


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    account_per_s: float
    """API Gateway's new connections per second (per account and region); 0 turns it off."""
    address_per_s: float
    """One address's share: its bucket refills this fast and holds one second's worth; 0: off."""
    connections_per_address: int
    """Open connections one address may hold at once; 0: no cap."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Admission:
    """The admission state of one WebSocket API: call :meth:`admit` per upgrade request and
    :meth:`release` once for every admitted one, when its handshake is refused or it closes."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self._recent: deque[float] = deque()
        self._buckets: dict[str, _Bucket] = {}
        self._open: dict[str, int] = {}

    def admit(self, address: str, now: float) -> Verdict:
        """Decide one upgrade request at monotonic time ``now``; an admitted one holds a slot."""
        limits = self.limits
        if 0 < limits.connections_per_address <= self._open.get(address, 0):
            return Verdict.ADDRESS_CONNECTIONS
        bucket = self._refilled(address, now)
        if limits.address_per_s > 0 and bucket.tokens < 1.0:
            return Verdict.ADDRESS_RATE
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if limits.account_per_s > 0 and len(self._recent) >= limits.account_per_s:
            return Verdict.ACCOUNT_RATE
        self._recent.append(now)
        bucket.tokens -= 1.0
        self._open[address] = self._open.get(address, 0) + 1
        return Verdict.ADMIT

    def release(self, address: str) -> None:
        """An admitted connection is gone (or was refused by ``$connect``): free its slot."""
        left = self._open.get(address, 0) - 1
        if left > 0:
            self._open[address] = left
        else:
            self._open.pop(address, None)

    def open_connections(self, address: str) -> int:
        return self._open.get(address, 0)

    def _refilled(self, address: str, now: float) -> _Bucket:
        rate = self.limits.address_per_s
        capacity = max(rate, 1.0)
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= _SWEEP_ABOVE:
                self._sweep(now)
            bucket = self._buckets[address] = _Bucket(tokens=capacity, at=now)
            return bucket
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        return bucket

    def _sweep(self, now: float) -> None:
        rate = self.limits.address_per_s
        capacity = max(rate, 1.0)
        full = [
            address
            for address, bucket in self._buckets.items()
            if rate <= 0 or bucket.tokens + (now - bucket.at) * rate >= capacity
        ]
        for address in full:
            del self._buckets[address]
