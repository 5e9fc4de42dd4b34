"""The rate limiter: the bucket both stores keep (``hubbub.store.buckets.take``, GCRA) and the
chat's ``Throttle`` over it (keys, ``retryAfter``, the memory of refusals)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hubbub.chat.ratelimit import Limited, Throttle
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.buckets import Rate, take
from hubbub.store.roles import RateBuckets

T0 = 1_000_000_000  # microseconds
SECOND = 1_000_000


class Buckets(RateBuckets):
    """The ``RateBuckets`` role over a dict, applying the same ``take`` the adapters apply."""

    def __init__(self) -> None:
        self.tat: dict[str, int] = {}
        self.writes = 0

    def take_token(self, bucket: str, rate: Rate, now_ms: int) -> int:
        self.writes += 1
        decided = take(self.tat.get(bucket), now_ms * 1000, rate)
        if decided.allowed:
            self.tat[bucket] = decided.tat_us
        return decided.wait_us


def run(rate: Rate, times_us: list[int]) -> list[int]:
    """The wait of each take at these times, from a fresh bucket (0 = allowed)."""
    tat: int | None = None
    waits = []
    for now in times_us:
        decided = take(tat, now, rate)
        if decided.allowed:
            tat = decided.tat_us
        waits.append(decided.wait_us)
    return waits


@pytest.mark.parametrize(
    ("why", "rate", "times", "waits"),
    [
        ("a burst is allowed at once", Rate(2.0, 3), [T0] * 3, [0, 0, 0]),
        (
            "past the burst, the wait until the next token",
            Rate(2.0, 1),
            [T0, T0, T0 + SECOND // 4],
            [0, SECOND // 2, SECOND // 4],
        ),
        (
            "tokens refill with time",
            Rate(1.0, 2),
            [T0, T0, T0 + SECOND],
            [0, 0, 0],
        ),
        (
            "never beyond the burst",
            Rate(1.0, 2),
            [T0 + 60 * SECOND] * 3,
            [0, 0, SECOND],
        ),
        (
            "a refused take costs nothing",
            Rate(1.0, 1),
            [T0, *[T0 + SECOND // 10] * 5, T0 + SECOND],
            [0, *[SECOND * 9 // 10] * 5, 0],
        ),
        (
            "a clock going backwards mints no tokens",
            Rate(1.0, 1),
            [T0, T0 - 10 * SECOND],
            [0, 11 * SECOND],
        ),
        (
            "a third of a second is kept exactly",
            Rate(3.0, 1),
            [T0, T0 + 333_332, T0 + 333_333],
            [0, 1, 0],
        ),
    ],
)
def test_the_bucket(why: str, rate: Rate, times: list[int], waits: list[int]) -> None:
    assert run(rate, times) == waits, why


def test_a_rate_needs_a_positive_rate_and_a_burst() -> None:
    with pytest.raises(ValueError, match="per_s > 0"):
        Rate(0, 1)
    with pytest.raises(ValueError, match="burst >= 1"):
        Rate(1.0, 0)


def throttle(buckets: Buckets, rate: Rate | None = None) -> Throttle:
    return Throttle(buckets, dict.fromkeys(Limited, rate or Rate(1.0, 2)))


def refusal(limiter: Throttle, action: Limited, who: str, now_ms: int) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        limiter.take(action, who, now_ms, "too fast")
    return caught.value


def test_past_the_burst_a_take_is_refused_with_retry_after_in_seconds() -> None:
    limiter = throttle(Buckets())
    limiter.take(Limited.SEND, "v_a", 1000, "too fast")
    limiter.take(Limited.SEND, "v_a", 1000, "too fast")
    error = refusal(limiter, Limited.SEND, "v_a", 1250)
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.retry_after == pytest.approx(0.75)


def test_users_and_actions_have_buckets_of_their_own() -> None:
    limiter = throttle(Buckets(), Rate(1.0, 1))
    limiter.take(Limited.SEND, "v_a", 1000, "too fast")
    refusal(limiter, Limited.SEND, "v_a", 1000)
    limiter.take(Limited.SEND, "v_b", 1000, "too fast")
    limiter.take(Limited.TYPING, "v_a", 1000, "too fast")


def test_a_refused_bucket_is_refused_again_from_memory_until_it_refills() -> None:
    """A flood costs one store write per refusal window, not one per frame; and the memory
    refuses nothing the shared bucket would allow."""
    buckets = Buckets()
    limiter = throttle(buckets, Rate(1.0, 1))
    limiter.take(Limited.SEND, "v_a", 1000, "too fast")
    first = refusal(limiter, Limited.SEND, "v_a", 1100)
    writes = buckets.writes
    for now in range(1100, 2000, 50):
        refusal(limiter, Limited.SEND, "v_a", now)
    assert buckets.writes == writes
    assert first.retry_after == pytest.approx(0.9)
    limiter.take(Limited.SEND, "v_a", 2000, "too fast")


def test_environments_share_the_bucket() -> None:
    """Two throttles (two execution environments) over one store draw on one bucket."""
    buckets = Buckets()
    one, two = throttle(buckets), throttle(buckets)
    one.take(Limited.SEND, "v_a", 1000, "too fast")
    two.take(Limited.SEND, "v_a", 1000, "too fast")
    refusal(one, Limited.SEND, "v_a", 1000)
    refusal(two, Limited.SEND, "v_a", 1000)


def test_the_memory_is_bounded_and_forgetting_only_costs_a_write() -> None:
    buckets = Buckets()
    limiter = Throttle(buckets, dict.fromkeys(Limited, Rate(1.0, 1)), max_remembered=2)
    for who in ("a", "b", "c"):
        limiter.take(Limited.SEND, who, 1000, "too fast")
        refusal(limiter, Limited.SEND, who, 1000)
    writes = buckets.writes
    refusal(limiter, Limited.SEND, "a", 1000)  # forgotten: asks the store, which refuses
    assert buckets.writes == writes + 1


def _outcome(limiter: Throttle, fn: Callable[[], None]) -> tuple[str, float | None] | None:
    """None when every take went through, else the refusal's code and retryAfter."""
    try:
        fn()
    except ProtocolError as exc:
        return exc.code.value, exc.retry_after
    return None


@pytest.mark.parametrize(
    "sends",
    [
        # (sender, topic, now_ms) one after the other, against burst-1 buckets
        [("a", "room/x", 1000), ("a", "room/x", 1000), ("a", "room/x", 2000)],
        [("a", "room/x", 1000), ("b", "room/x", 1000), ("b", "room/y", 1000)],
        [("a", "room/x", 1000), ("a", "room/y", 1500), ("b", "room/y", 1600)],
        [
            ("a", "room/x", 1000),
            ("b", "room/x", 1200),
            ("b", "room/x", 1300),
            ("b", "room/z", 1400),
        ],
        [
            ("a", "room/x", 1000),
            ("a", "room/x", 1100),
            ("b", "room/x", 1200),
            ("a", "room/x", 2000),
        ],
    ],
)
def test_a_send_takes_the_sender_s_bucket_then_the_topic_s_as_two_takes_would(
    sends: list[tuple[str, str, int]],
) -> None:
    """One store call for both buckets decides exactly what ``take`` then ``take_topic`` did:
    the same refusals, the same waits, the same buckets left taken, the same memory."""
    one_by_one, together = Buckets(), Buckets()
    slow, fast = throttle(one_by_one, Rate(1.0, 1)), throttle(together, Rate(1.0, 1))
    for sender, topic, now in sends:

        def apart(sender: str = sender, topic: str = topic, now: int = now) -> None:
            slow.take(Limited.SEND, sender, now, "too fast")
            slow.take_topic(topic, now)

        expected = _outcome(slow, apart)
        got = _outcome(fast, lambda s=sender, t=topic, n=now: fast.take_send(s, t, n, "too fast"))
        assert got == expected, (sender, topic, now)
    assert together.tat == one_by_one.tat
    assert together.writes == one_by_one.writes


def test_a_send_refused_by_its_topic_names_the_topic() -> None:
    limiter = throttle(Buckets(), Rate(1.0, 1))
    limiter.take_send("a", "room/x", 1000, "too fast")
    with pytest.raises(ProtocolError, match="room/x is receiving too many messages"):
        limiter.take_send("b", "room/x", 1000, "too fast")
    with pytest.raises(ProtocolError, match="too fast"):
        limiter.take_send("a", "room/y", 1000, "too fast")
