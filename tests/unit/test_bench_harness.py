"""The benchmark harness's own logic: delivery accounting and rate stepping (no server, no extra
dependencies; the benchmarks themselves are not tests)."""

from __future__ import annotations

import math

import pytest

from bench.tally import MARK, Stream, Tally, make_text, parse_text
from bench.workloads import RateStepper, step_passes


def test_payload_round_trip_and_size() -> None:
    text = make_text(3, 1, 42, 123_456_789, 100)
    assert len(text) == 100
    assert text.startswith("~")
    assert parse_text(text[1:].encode()) == (3, 1, 42, 123_456_789)
    frame = ('{"type":"message","seq":9,"text":"' + text + '"}').encode()
    start = frame.find(MARK) + len(MARK)
    assert parse_text(frame[start : frame.find(b'"', start)]) == (3, 1, 42, 123_456_789)


def test_in_order_stream_has_nothing_lost() -> None:
    stream = Stream()
    assert [stream.see(n) for n in (1, 2, 3)] == ["ok", "ok", "ok"]
    assert stream.lost(3) == 0
    assert stream.lost(5) == 2  # the publisher sent two more that never came


def test_gap_then_late_arrival_is_reordered_not_lost() -> None:
    stream = Stream()
    assert [stream.see(n) for n in (1, 3, 4, 2)] == ["ok", "gap", "ok", "late"]
    assert stream.reordered == 1
    assert stream.unique == 4
    assert stream.lost(4) == 0


def test_duplicates_are_counted_once_each_and_never_fill_a_gap() -> None:
    stream = Stream()
    for n in (1, 2, 2, 4, 1):
        stream.see(n)
    assert stream.duplicates == 2
    assert stream.unique == 3
    assert stream.lost(4) == 1  # 3 never arrived


def test_tally_over_subscribers_and_publishers() -> None:
    complete = {0: Stream(), 1: Stream()}
    for n in (1, 2, 3):
        complete[0].see(n)
    for n in (1, 2):
        complete[1].see(n)
    partial = {0: Stream()}
    for n in (1, 1, 3):
        partial[0].see(n)
    tally = Tally()
    published = {0: 3, 1: 2}
    tally.add_subscriber(complete, published)
    tally.add_subscriber(partial, published)
    assert tally.subscribers == 2
    assert tally.expected == 10
    assert tally.unique == 7
    assert tally.duplicates == 1
    assert tally.received == 8
    assert tally.lost == 1 + 2  # seq 2 of publisher 0, and all of publisher 1
    assert tally.incomplete_subscribers == 1
    other = Tally()
    other.add_subscriber(complete, published)
    tally.merge(other)
    assert tally.subscribers == 3
    assert tally.as_dict()["unique"] == 12


def test_stepper_goes_up_geometrically_and_stops_at_the_first_failure() -> None:
    stepper = RateStepper(start=10, factor=2, max_steps=10)
    seen = []
    while (rate := stepper.next_rate()) is not None:
        seen.append(rate)
        stepper.record(rate, passed=rate < 60)
    assert seen == [10, 20, 40, 80]
    assert stepper.best == 40
    assert stepper.saturated


def test_stepper_is_bounded_by_steps_and_rate() -> None:
    stepper = RateStepper(start=1, factor=math.sqrt(2), max_steps=3)
    rates = []
    while (rate := stepper.next_rate()) is not None:
        rates.append(rate)
        stepper.record(rate, passed=True)
    assert rates == pytest.approx([1, math.sqrt(2), 2])
    assert not stepper.saturated
    capped = RateStepper(start=5, factor=2, max_steps=100, max_rate=20)
    while (rate := capped.next_rate()) is not None:
        capped.record(rate, passed=True)
    assert [r for r, _ in capped.history] == [5, 10, 20]


def test_stepper_with_no_passing_step_has_no_best() -> None:
    stepper = RateStepper(start=100, factor=2, max_steps=5)
    stepper.record(100, passed=False)
    assert stepper.next_rate() is None
    assert stepper.best is None


@pytest.mark.parametrize(
    ("step", "ok"),
    [
        ({"lost": 0, "open": 10, "p99_ms": 250.0}, True),
        ({"lost": 1, "open": 10, "p99_ms": 5.0}, False),
        ({"lost": 0, "open": 9, "p99_ms": 5.0}, False),
        ({"lost": 0, "open": 10, "p99_ms": 250.1}, False),
        ({"lost": 0, "open": 10, "p99_ms": None}, False),
    ],
)
def test_a_step_passes_only_without_loss_drops_or_slow_p99(
    step: dict[str, float], ok: bool
) -> None:
    assert step_passes(step, subscribers=10) is ok
