"""The rate limiter's bucket, as both adapters keep it: one number per key.

A token bucket of ``burst`` tokens refilled at ``per_s`` is kept as its *theoretical arrival time*
(GCRA): the instant the bucket would be full again. Taking a token moves it one interval
(``1/per_s``) later, starting from now when it lies in the past; a take is refused when that would
put it more than ``burst`` intervals ahead of now. One number per key means one small item and
one conditional write on DynamoDB, which is what lets the limit hold across execution
environments (docs/deploy.md has the cost).

Times are integer microseconds, so rates like 3 per second lose nothing to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rate", "Take", "take"]


@dataclass(frozen=True, slots=True)
class Rate:
    """``burst`` events at once, then ``per_s`` a second."""

    per_s: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_s <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_s > 0 and burst >= 1")

    @property
    def interval_us(self) -> int:
        return max(1, round(1_000_000 / self.per_s))

    @property
    def span_us(self) -> int:
        """How far ahead of now the arrival time may run: the whole burst."""
        return self.interval_us * self.burst


@dataclass(frozen=True, slots=True)
class Take:
    allowed: bool
    tat_us: int
    """The arrival time to store when allowed; the unchanged one when refused."""
    wait_us: int
    """0 when allowed; otherwise how long until a take would be."""


def take(tat_us: int | None, now_us: int, rate: Rate) -> Take:
    """One take from a bucket whose arrival time is ``tat_us`` (None: never used, full)."""
    current = now_us if tat_us is None else max(tat_us, now_us)
    after = current + rate.interval_us
    over = after - now_us - rate.span_us
    if over > 0:
        return Take(False, current if tat_us is None else tat_us, over)
    return Take(True, after, 0)
