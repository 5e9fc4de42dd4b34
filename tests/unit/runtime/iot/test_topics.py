"""IoT Core's topics and filters: matching (with IoT Core's ``#`` that skips the parent level),
validity, and the 7-slash depth quota with Basic Ingest's prefix exempt.

Sources: *MQTT* ("AWS IoT differences from MQTT specifications"), *MQTT topics*, *AWS IoT Core
endpoints and quotas*.
"""

from __future__ import annotations

import pytest

from hubbub.runtime.iot.topics import (
    SubscriptionIndex,
    filter_problem,
    matches,
    slashes_counted,
    topic_problem,
)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("room/lobby", "room/lobby", True),
        ("room/lobby", "room/lobby2", False),
        ("room/+", "room/lobby", True),
        ("room/+", "room/lobby/x", False),
        ("room/+", "room", False),
        ("room/+", "room/", True),
        ("+/+", "room/lobby", True),
        ("desk/#", "desk/1", True),
        ("desk/#", "desk/1/2", True),
        ("desk/#", "desk/", True),
        ("desk/#", "desk", False),  # IoT Core: the parent level is not matched
        ("#", "anything/at/all", True),
        ("#", "$aws/events/presence/connected/c", False),  # the $ rule
        ("+/events/#", "$aws/events/x", False),
        ("$aws/events/presence/connected/+", "$aws/events/presence/connected/c1", True),
        ("$aws/events/#", "$aws/events/subscriptions/subscribed/c1", True),
        ("room/+/typing", "room/a/typing", True),
        ("room/+/typing", "room/a/b", False),
    ],
)
def test_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("topic", "counted"),
    [
        ("a/b/c", 2),
        ("$aws/rules/hubbub/room/lobby", 1),  # Basic Ingest's $aws/rules/<rule>/ is exempt
        ("$aws/rules/hubbub", 0),
        ("$aws/events/presence/connected/x", 4),
    ],
)
def test_slashes_counted(topic: str, counted: int) -> None:
    assert slashes_counted(topic) == counted


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("room/lobby", None),
        ("a/b/c/d/e/f/g/h", None),  # 7 slashes
        ("a/b/c/d/e/f/g/h/i", "deeper"),  # 8
        ("$aws/rules/r/a/b/c/d/e/f/g/h", None),
        ("", "empty"),
        ("room/+", "wildcard"),
        ("x" * 257, "longer"),
    ],
)
def test_topic_problem(topic: str, problem: str | None) -> None:
    found = topic_problem(topic, 256, 7)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("topic_filter", "ok"),
    [
        ("room/+", True),
        ("desk/#", True),
        ("#", True),
        ("+", True),
        ("room/#/x", False),
        ("room/a#", False),
        ("room/a+", False),
        ("", False),
        ("a/b/c/d/e/f/g/h/#", False),
    ],
)
def test_filter_problem(topic_filter: str, ok: bool) -> None:
    assert (filter_problem(topic_filter, 256, 7) is None) is ok


def test_index_yields_each_matching_subscription() -> None:
    index = SubscriptionIndex()
    index.add("room/lobby", "a")
    index.add("room/+", "b")
    index.add("room/+", "c")
    index.add("desk/#", "a")
    assert sorted(index.matching("room/lobby")) == [
        ("room/+", "b"),
        ("room/+", "c"),
        ("room/lobby", "a"),
    ]
    index.remove("room/+", "b")
    index.remove("room/+", "c")
    assert sorted(index.matching("room/lobby")) == [("room/lobby", "a")]
    assert len(index) == 2
