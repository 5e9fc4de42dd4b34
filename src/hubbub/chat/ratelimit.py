"""Token buckets keyed by connection, kept in the execution environment's memory.

They are per environment, not global: with N warm environments a flood is held to at most N times
the rate. That is the right trade for ephemeral events (``typing``): no store write per keystroke,
and a bucket that forgets on a cold start only ever forgives.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_ms: int


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, *, max_keys: int = 10_000) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._max_keys = max_keys

    def take(self, key: str, now_ms: int) -> float:
        """0.0 when allowed; otherwise the seconds until a token is available."""
        bucket = self._buckets.pop(key, None) or _Bucket(self._burst, now_ms)
        elapsed = max(0, now_ms - bucket.updated_ms) / 1000
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.updated_ms = now_ms
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate
