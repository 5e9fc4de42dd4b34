"""Token buckets per key (``hubbub.chat.ratelimit.RateLimiter``)."""

from __future__ import annotations

import pytest

from hubbub.chat.ratelimit import RateLimiter

T0 = 1_000_000


def test_a_burst_is_allowed_at_once() -> None:
    """A fresh key may take ``burst`` tokens at the same instant."""
    limiter = RateLimiter(2.0, burst=3)
    assert [limiter.take("k", T0) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_past_the_burst_the_wait_until_the_next_token_is_returned() -> None:
    """Once empty, take answers how many seconds until a token is back."""
    limiter = RateLimiter(2.0, burst=1)
    limiter.take("k", T0)
    assert limiter.take("k", T0) == pytest.approx(0.5)
    assert limiter.take("k", T0 + 250) == pytest.approx(0.25)


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    """Waiting refills at the rate, never beyond the burst."""
    limiter = RateLimiter(1.0, burst=2)
    limiter.take("k", T0)
    limiter.take("k", T0)
    assert limiter.take("k", T0 + 1000) == 0.0
    results = [limiter.take("k", T0 + 60_000) for _ in range(3)]
    assert results[:2] == [0.0, 0.0]
    assert results[2] > 0


def test_a_refused_take_costs_nothing() -> None:
    """Being refused does not push the next allowed take further away."""
    limiter = RateLimiter(1.0, burst=1)
    limiter.take("k", T0)
    for _ in range(5):
        limiter.take("k", T0 + 100)
    assert limiter.take("k", T0 + 1000) == 0.0


def test_keys_have_their_own_buckets() -> None:
    """One key running dry does not limit another."""
    limiter = RateLimiter(1.0, burst=1)
    limiter.take("a", T0)
    assert limiter.take("a", T0) > 0
    assert limiter.take("b", T0) == 0.0


def test_a_clock_going_backwards_does_not_mint_tokens() -> None:
    """A take at an earlier time than the last one refills nothing."""
    limiter = RateLimiter(1.0, burst=1)
    limiter.take("k", T0)
    assert limiter.take("k", T0 - 10_000) > 0


def test_the_least_recently_used_key_is_forgotten_past_max_keys() -> None:
    """Past max_keys the oldest bucket is dropped, which only ever forgives."""
    limiter = RateLimiter(1.0, burst=1, max_keys=2)
    limiter.take("a", T0)
    limiter.take("b", T0)
    limiter.take("c", T0)  # evicts a
    assert limiter.take("a", T0) == 0.0
    assert limiter.take("c", T0) > 0
