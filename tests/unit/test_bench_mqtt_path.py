"""The MQTT path bench's own accounting (``bench/mqtt_path.py``): what counts as delivered,
lost and how late."""

from __future__ import annotations

import json

import pytest

from bench.mqtt_path import Tally, _text_of, summarize


@pytest.mark.parametrize(
    ("latencies", "expected", "row"),
    [
        ([], 10, {"delivered": 0, "lost": 10, "p50_ms": None, "p99_ms": None, "max_ms": None}),
        ([5.0], 1, {"delivered": 1, "lost": 0, "p50_ms": 5.0, "p99_ms": 5.0, "max_ms": 5.0}),
        (
            [float(n) for n in range(1, 101)],
            100,
            {"delivered": 100, "lost": 0, "p50_ms": 50.0, "p99_ms": 99.0, "max_ms": 100.0},
        ),
        # more arrivals than expected (a repeat) is never negative loss
        ([1.0, 1.0, 2.0], 2, {"delivered": 3, "lost": 0, "p50_ms": 1.0, "p99_ms": 2.0}),
    ],
)
def test_summarize(latencies: list[float], expected: int, row: dict[str, object]) -> None:
    got = summarize(list(reversed(latencies)), expected)
    assert got["expected"] == expected
    assert {k: got[k] for k in row} == row


def test_the_tally_counts_only_timed_messages_and_says_when_all_came() -> None:
    tally = Tally()
    tally.expected = 2
    tally.arrived("warm 1", 5_000_000)
    tally.arrived("bench 1000000", 3_000_000)
    assert tally.latencies_ms == [2.0] and not tally.complete.is_set()
    tally.arrived("bench 2000000", 3_000_000)
    assert tally.complete.is_set()


def test_payloads_of_either_broker_give_their_text() -> None:
    message = {"type": "message", "topic": "room/x", "seq": 1, "text": "bench 7"}
    assert _text_of(json.dumps(message).encode()) == "bench 7"
    assert _text_of(json.dumps({"type": "joined", "text": "bench 7"}).encode()) == ""
    assert _text_of(b"bench 7") == "bench 7"  # mosquitto: the raw payload
