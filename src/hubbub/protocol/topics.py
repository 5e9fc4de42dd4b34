"""Topic names and MQTT-style topic filters.

Topics are ``/``-separated levels. Filters may use ``+`` (exactly one level) and ``#`` (the rest,
including the parent level, last position only). As in MQTT, a wildcard in the first level never
matches a topic whose first level starts with ``$``, so ``#`` does not leak ``$sys`` events.
"""

from __future__ import annotations

import re
from enum import StrEnum

from hubbub.ids import Topic, TopicFilter
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "OPERATORS_TOPIC",
    "TopicClass",
    "anchor_of",
    "can_match_a_topic",
    "filter_matches",
    "is_wildcard",
    "parse_filter",
    "parse_topic",
    "topic_class",
]

_LEVEL = re.compile(r"^[A-Za-z0-9_.:@~-]+$")
_FIRST_LEVEL = re.compile(r"^\$?[A-Za-z0-9_.:@~-]+$")  # only the first level may start with $
_WILDCARDS = frozenset({"+", "#"})


class TopicClass(StrEnum):
    ROOM = "room"
    DESK = "desk"
    USER = "user"
    SYSTEM = "$sys"


OPERATORS_TOPIC = Topic("$sys/operators")
"""Where the number of operators online is announced; the one system topic open to everyone."""


def parse_topic(raw: object, limits: Limits = DEFAULT_LIMITS) -> Topic:
    """Validate a concrete topic (no wildcards) of a known class, or raise ``bad_request``."""
    levels = _levels(raw, limits, what="topic")
    for index, level in enumerate(levels):
        pattern = _FIRST_LEVEL if index == 0 else _LEVEL
        if level in _WILDCARDS or not pattern.match(level):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"invalid topic level {level!r}")
    _check_class(levels)
    return Topic("/".join(levels))


def parse_filter(raw: object, limits: Limits = DEFAULT_LIMITS) -> TopicFilter:
    """Validate a subscription filter: concrete levels, ``+`` anywhere, ``#`` last only."""
    levels = _levels(raw, limits, what="filter")
    for index, level in enumerate(levels):
        if level == "#":
            if index != len(levels) - 1:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "'#' must be the last level")
        elif level == "+":
            continue
        elif not (_FIRST_LEVEL if index == 0 else _LEVEL).match(level):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"invalid filter level {level!r}")
    return TopicFilter("/".join(levels))


def is_wildcard(topic_filter: TopicFilter) -> bool:
    return any(level in _WILDCARDS for level in topic_filter.split("/"))


def filter_matches(topic_filter: TopicFilter | str, topic: Topic | str) -> bool:
    """MQTT 3.1.1 section 4.7 matching, with the ``$`` rule for the first level."""
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    if t_levels[0].startswith("$") and f_levels[0] in _WILDCARDS:
        return False
    for index, f_level in enumerate(f_levels):
        if f_level == "#":
            return True
        if index >= len(t_levels):
            return False
        if f_level != "+" and f_level != t_levels[index]:
            return False
    return len(f_levels) == len(t_levels)


def can_match_a_topic(topic_filter: TopicFilter | str) -> bool:
    """Whether some valid topic matches the filter. Room, desk and inbox topics have exactly two
    levels, so ``room/+/x`` or ``room/a/b/#`` can match nothing: refusing them at subscribe keeps
    the filters anchored at ``room`` or ``desk`` to a handful (``+``, ``#``, ``+/#``), which is what
    bounds the wildcard filters any one message is matched against."""
    levels = topic_filter.split("/")
    if topic_class(levels[0]) in (TopicClass.ROOM, TopicClass.DESK, TopicClass.USER):
        return len(levels) == 2 or (len(levels) == 3 and levels[2] == "#")
    return True


def anchor_of(topic_filter: TopicFilter | str) -> str:
    """The levels of a filter before its first wildcard (``room`` for ``room/+``, ``room/a`` for
    ``room/a/#``): only topics under that prefix can match it, so the wildcard registry is kept
    per anchor and a message reads the anchors of its own prefixes only. Empty when the first
    level is a wildcard, which the policy refuses."""
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if level in _WILDCARDS:
            return "/".join(levels[:index])
    return topic_filter


def topic_class(topic: Topic | TopicFilter | str) -> TopicClass | None:
    head = topic.split("/", 1)[0]
    try:
        return TopicClass(head)
    except ValueError:
        return None


def _levels(raw: object, limits: Limits, *, what: str) -> list[str]:
    if not isinstance(raw, str) or not raw:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} must be a non-empty string")
    if len(raw) > limits.max_topic_chars:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"{what} longer than {limits.max_topic_chars} characters"
        )
    levels = raw.split("/")
    if len(levels) > limits.max_topic_levels:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"{what} deeper than {limits.max_topic_levels} levels"
        )
    if any(not level for level in levels):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} has an empty level")
    return levels


def _check_class(levels: list[str]) -> None:
    cls = topic_class(levels[0])
    if cls is None:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, "topic must start with room/, desk/, user/ or $sys/"
        )
    if cls in (TopicClass.ROOM, TopicClass.DESK, TopicClass.USER) and len(levels) != 2:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a {cls.value} topic has exactly two levels")
