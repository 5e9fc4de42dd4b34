"""The per-endpoint circuit breaker (``hubbub.push.aws.breaker.CircuitBreaker``)."""

from __future__ import annotations

import pytest

from hubbub.push.aws.breaker import CircuitBreaker


class FakeTime:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def breaker(clock: FakeTime) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, cooldown_s=5.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.record_failure()


def test_a_closed_breaker_lets_calls_through(breaker: CircuitBreaker) -> None:
    """A new breaker is closed and allows every call."""
    assert not breaker.is_open
    assert all(breaker.allow() for _ in range(10))


def test_it_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    """Failures below the threshold keep it closed; the threshold-th failure opens it."""
    fail(breaker, 2)
    assert not breaker.is_open
    fail(breaker, 1)
    assert breaker.is_open


def test_a_success_resets_the_failure_count(breaker: CircuitBreaker) -> None:
    """Only consecutive failures count: a success in between starts again from zero."""
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)
    assert not breaker.is_open


def test_an_open_breaker_refuses_calls_during_the_cooldown(
    breaker: CircuitBreaker, clock: FakeTime
) -> None:
    """While the cooldown runs, every call is refused at once."""
    fail(breaker, 3)
    clock.now += 4.9
    assert not any(breaker.allow() for _ in range(5))


def test_after_the_cooldown_exactly_one_trial_call_is_allowed(
    breaker: CircuitBreaker, clock: FakeTime
) -> None:
    """Half-open: after the cooldown one call goes through and the others wait for its result."""
    fail(breaker, 3)
    clock.now += 5.0
    assert breaker.allow() is True
    assert breaker.allow() is False
    assert breaker.allow() is False
    assert breaker.is_open


def test_a_successful_trial_closes_the_breaker(breaker: CircuitBreaker, clock: FakeTime) -> None:
    """When the trial call succeeds, the breaker closes and calls flow again."""
    fail(breaker, 3)
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_success()
    assert not breaker.is_open
    assert all(breaker.allow() for _ in range(5))


def test_a_failed_trial_opens_the_breaker_for_another_cooldown(
    breaker: CircuitBreaker, clock: FakeTime
) -> None:
    """When the trial call fails, the breaker reopens at once and the cooldown starts over."""
    fail(breaker, 3)
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.is_open
    clock.now += 4.9
    assert breaker.allow() is False
    clock.now += 0.1
    assert breaker.allow() is True


def test_the_threshold_and_cooldown_are_configurable(clock: FakeTime) -> None:
    """A threshold of one opens on the first failure; the cooldown given is the one used."""
    breaker = CircuitBreaker(threshold=1, cooldown_s=0.5, clock=clock)
    fail(breaker, 1)
    assert breaker.allow() is False
    clock.now += 0.5
    assert breaker.allow() is True
