"""Topic names and MQTT-style filters (``hubbub.protocol.topics``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import Limits
from hubbub.protocol.topics import (
    TopicClass,
    anchor_of,
    can_match_a_topic,
    filter_matches,
    is_wildcard,
    parse_filter,
    parse_topic,
    topic_class,
)

# (filter, topic, matches, why)
MATCHING = [
    ("room/lobby", "room/lobby", True, "exact match"),
    ("room/lobby", "room/other", False, "a different last level"),
    ("room/lobby", "room/lobby/x", False, "a longer topic"),
    ("room/lobby/x", "room/lobby", False, "a shorter topic"),
    ("room/+", "room/lobby", True, "+ takes one level"),
    ("+/lobby", "room/lobby", True, "+ in the first level of a non-$ topic"),
    ("+/+", "desk/v_1", True, "+ on every level"),
    ("room/+", "room", False, "+ needs a level to stand for"),
    ("room/+", "room/a/b", False, "+ takes exactly one level"),
    ("+", "room", True, "+ alone takes a one-level topic"),
    ("+", "room/a", False, "+ alone takes one level only"),
    ("room/#", "room/a", True, "# takes the rest"),
    ("room/#", "room/a/b/c", True, "# takes several levels"),
    ("room/#", "room", True, "# includes the parent level"),
    ("room/lobby/#", "room/lobby", True, "# includes the parent level, deeper"),
    ("room/#", "desk/a", False, "# after a level that differs"),
    ("#", "room/a", True, "# alone takes everything that is not $"),
    ("+/#", "room", True, "+ then # takes a one-level topic"),
    ("#", "$sys/presence", False, "# never matches a $ topic"),
    ("+/presence", "$sys/presence", False, "+ at the first level never matches a $ topic"),
    ("+/#", "$sys/a/b", False, "+/# never matches a $ topic"),
    ("$sys/#", "$sys/presence", True, "a $ filter names the $ level itself"),
    ("$sys/+", "$sys/presence", True, "+ below a named $ level"),
    ("$sys/presence", "$sys/presence", True, "exact $ match"),
    ("room/+/x", "room/a/y", False, "a level after + that differs"),
]


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [pytest.param(f, t, m, id=why) for f, t, m, why in MATCHING],
)
def test_filter_matching_follows_mqtt_rules(topic_filter: str, topic: str, expected: bool) -> None:
    """A filter matches a topic exactly as MQTT 3.1.1 section 4.7 says, with the $ rule."""
    assert filter_matches(topic_filter, topic) is expected


VALID_TOPICS = [
    "room/lobby",
    "desk/v_0123abcd",
    "user/o_42",
    "$sys/presence",
    "$sys/a/b/c/d/e",
    "room/A-Z.a_z:0@9~-",
    "room/" + "x" * 195,
]


@pytest.mark.parametrize("raw", VALID_TOPICS)
def test_valid_topics_are_accepted_unchanged(raw: str) -> None:
    """A well-formed topic of a known class parses to itself."""
    assert parse_topic(raw) == raw


# (raw, why)
INVALID_TOPICS: list[tuple[object, str]] = [
    ("", "empty"),
    (None, "not a string"),
    (5, "a number"),
    ("room", "a room topic has exactly two levels"),
    ("room/a/b", "a room topic has exactly two levels, not three"),
    ("desk", "a desk topic has exactly two levels"),
    ("desk/v_1/x", "a desk topic has exactly two levels, not three"),
    ("user/u/x", "a user topic has exactly two levels"),
    ("chat/lobby", "an unknown class"),
    ("Room/lobby", "classes are case-sensitive"),
    ("room/+", "a wildcard is not a topic"),
    ("room/#", "a wildcard is not a topic"),
    ("room//", "an empty level"),
    ("room/", "an empty trailing level"),
    ("/room/a", "an empty leading level"),
    ("room/a b", "a space"),
    ("room/a+b", "a plus inside a level"),
    ("room/é", "a non-ASCII letter"),
    ("room/$x", "a $ outside the $sys class"),
    ("room/" + "x" * 196, "201 characters"),
    ("$sys/a/b/c/d/e/f", "seven levels"),
]


@pytest.mark.parametrize("raw", [pytest.param(raw, id=why) for raw, why in INVALID_TOPICS])
def test_invalid_topics_are_refused_as_bad_requests(raw: object) -> None:
    """A topic that breaks a naming rule is refused with bad_request, never accepted."""
    with pytest.raises(ProtocolError) as caught:
        parse_topic(raw)
    assert caught.value.code is ErrorCode.BAD_REQUEST


VALID_FILTERS = [
    "room/lobby",
    "room/+",
    "room/#",
    "desk/+",
    "$sys/#",
    "#",
    "+/+",
    "room/+/#",
]


@pytest.mark.parametrize("raw", VALID_FILTERS)
def test_valid_filters_are_accepted_unchanged(raw: str) -> None:
    """A filter with + anywhere and # last parses to itself (who may use it is policy's call)."""
    assert parse_filter(raw) == raw


INVALID_FILTERS: list[tuple[object, str]] = [
    ("", "empty"),
    (None, "not a string"),
    ("room/#/x", "# not last"),
    ("#/room", "# first of two"),
    ("room/a#", "# inside a level"),
    ("room/+x", "+ inside a level"),
    ("room//+", "an empty level"),
    ("room/a b", "a space"),
    ("room/" + "+/" * 5 + "+", "seven levels"),
    ("room/" + "x" * 196, "201 characters"),
]


@pytest.mark.parametrize("raw", [pytest.param(raw, id=why) for raw, why in INVALID_FILTERS])
def test_invalid_filters_are_refused_as_bad_requests(raw: object) -> None:
    """A malformed filter is refused with bad_request."""
    with pytest.raises(ProtocolError) as caught:
        parse_filter(raw)
    assert caught.value.code is ErrorCode.BAD_REQUEST


def test_limits_given_to_the_parser_replace_the_defaults() -> None:
    """The parsers enforce the limits they are given, not only the defaults."""
    tight = Limits(max_topic_chars=12, max_topic_levels=2)
    assert parse_topic("room/abcdefg", tight) == "room/abcdefg"
    with pytest.raises(ProtocolError):
        parse_topic("room/abcdefgh", tight)
    with pytest.raises(ProtocolError):
        parse_filter("room/+/+", tight)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("room/a", TopicClass.ROOM),
        ("desk/+", TopicClass.DESK),
        ("user/u", TopicClass.USER),
        ("$sys/x", TopicClass.SYSTEM),
        ("+/x", None),
        ("chat/x", None),
    ],
)
def test_topic_class_is_read_from_the_first_level(raw: str, expected: TopicClass | None) -> None:
    """The class of a topic or filter is its first level, or None when that names no class."""
    assert topic_class(raw) is expected


def test_is_wildcard_spots_plus_and_hash_levels_only() -> None:
    """Only a level that is exactly + or # makes a filter a wildcard."""
    assert is_wildcard(parse_filter("room/+"))
    assert is_wildcard(parse_filter("room/#"))
    assert not is_wildcard(parse_filter("room/lobby"))


# -- properties -----------------------------------------------------------------------------

_NAME = st.text(alphabet="ABCXYZabcxyz0189_.:@~-", min_size=1, max_size=12)
_TOPIC_LEVELS = st.tuples(
    st.sampled_from(["room", "desk", "user", "$sys"]),
    st.lists(_NAME, min_size=1, max_size=5),
).map(lambda pair: [pair[0], *pair[1]])


@settings(max_examples=100, deadline=None)
@given(levels=_TOPIC_LEVELS, data=st.data())
def test_replacing_levels_after_the_first_with_plus_still_matches(
    levels: list[str], data: st.DataObject
) -> None:
    """A filter built from a topic by turning any levels but the first into + matches it."""
    flags = data.draw(st.lists(st.booleans(), min_size=len(levels), max_size=len(levels)))
    flags[0] = False
    topic_filter = "/".join(
        "+" if flag else level for level, flag in zip(levels, flags, strict=True)
    )
    assert filter_matches(topic_filter, "/".join(levels))


@settings(max_examples=100, deadline=None)
@given(levels=st.lists(_NAME, min_size=1, max_size=6), data=st.data())
def test_plus_anywhere_matches_a_topic_that_does_not_start_with_dollar(
    levels: list[str], data: st.DataObject
) -> None:
    """Outside $ topics, replacing any levels (the first too) with + keeps the match."""
    flags = data.draw(st.lists(st.booleans(), min_size=len(levels), max_size=len(levels)))
    topic_filter = "/".join(
        "+" if flag else level for level, flag in zip(levels, flags, strict=True)
    )
    assert filter_matches(topic_filter, "/".join(levels))


@settings(max_examples=100, deadline=None)
@given(levels=_TOPIC_LEVELS, data=st.data())
def test_a_prefix_followed_by_hash_matches(levels: list[str], data: st.DataObject) -> None:
    """Any leading part of a topic followed by # matches it, the whole topic included."""
    cut = data.draw(st.integers(min_value=1, max_value=len(levels)))
    assert filter_matches("/".join([*levels[:cut], "#"]), "/".join(levels))


@settings(max_examples=100, deadline=None)
@given(rest=st.lists(_NAME, min_size=1, max_size=5), data=st.data())
def test_a_first_level_wildcard_never_matches_a_sys_topic(
    rest: list[str], data: st.DataObject
) -> None:
    """Neither # nor a filter starting with + ever matches a $sys topic."""
    topic = "/".join(["$sys", *rest])
    assert not filter_matches("#", topic)
    tail = data.draw(st.lists(st.sampled_from(["+", "#", *rest]), max_size=len(rest)))
    if "#" in tail:
        tail = tail[: tail.index("#") + 1]
    assert not filter_matches("/".join(["+", *tail]), topic)


@settings(max_examples=100, deadline=None)
@given(a=_TOPIC_LEVELS, b=_TOPIC_LEVELS)
def test_a_concrete_filter_matches_only_its_own_topic(a: list[str], b: list[str]) -> None:
    """A filter without wildcards matches a topic exactly when they are equal."""
    assert filter_matches("/".join(a), "/".join(b)) is (a == b)


@pytest.mark.parametrize(
    ("topic_filter", "anchor"),
    [
        ("room/+", "room"),
        ("room/lobby/#", "room/lobby"),
        ("room/+/x", "room"),
        ("$sys/a/+/b", "$sys/a"),
        ("+/x", ""),
        ("#", ""),
        ("room/lobby", "room/lobby"),
    ],
)
def test_a_filter_is_anchored_at_the_levels_before_its_first_wildcard(
    topic_filter: str, anchor: str
) -> None:
    assert anchor_of(topic_filter) == anchor


@pytest.mark.parametrize(
    ("topic_filter", "possible"),
    [
        ("room/+", True),
        ("room/#", True),
        ("room/+/#", True),
        ("room/lobby/#", True),
        ("desk/+", True),
        ("room/+/+", False),
        ("room/+/x", False),
        ("room/a/b/#", False),
        ("desk/+/+/#", False),
        ("user/v_1/+", False),
        ("$sys/+/+/+", True),
        ("$sys/#", True),
    ],
)
def test_a_filter_that_no_valid_topic_can_match(topic_filter: str, possible: bool) -> None:
    """Room, desk and inbox topics have exactly two levels; $sys topics any number."""
    assert can_match_a_topic(topic_filter) is possible


@settings(max_examples=200, deadline=None)
@given(
    cls=st.sampled_from(["room", "desk", "user"]),
    rest=st.lists(st.sampled_from(["a", "+", "#"]), min_size=1, max_size=4),
    name=_NAME,
)
def test_a_filter_said_to_match_nothing_matches_no_valid_topic(
    cls: str, rest: list[str], name: str
) -> None:
    """Whatever can_match_a_topic refuses matches no valid two-level topic, and whatever it
    accepts matches some."""
    if "#" in rest:
        rest = rest[: rest.index("#") + 1]
    topic_filter = "/".join([cls, *rest])
    candidates = [f"{cls}/{name}", f"{cls}/a"]
    assert can_match_a_topic(topic_filter) is any(
        filter_matches(topic_filter, t) for t in candidates
    )
