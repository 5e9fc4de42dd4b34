"""IoT Core's topic names and filters: validity, its quotas on them, and matching.

The runtime's own matcher (the runtime imports no protocol code). It follows IoT Core where IoT
Core departs from the MQTT specification: a filter ending in ``/#`` matches the levels below its
parent but not the parent itself (``sensor/#`` does not match ``sensor``; the *MQTT* page,
"AWS IoT differences from MQTT specifications").
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "BASIC_INGEST_PREFIX",
    "SubscriptionIndex",
    "filter_problem",
    "has_wildcard",
    "is_basic_ingest",
    "is_shared",
    "matches",
    "slashes_counted",
    "topic_problem",
]

BASIC_INGEST_PREFIX = "$aws/rules/"


def is_basic_ingest(topic: str) -> bool:
    return topic.startswith(BASIC_INGEST_PREFIX)


def is_shared(topic_filter: str) -> bool:
    return topic_filter.startswith("$share/")


def has_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def slashes_counted(topic: str) -> int:
    """Forward slashes that count against the depth quota: Basic Ingest's
    ``$aws/rules/<rule>/`` prefix is exempt (AWS IoT Core endpoints and quotas)."""
    if is_basic_ingest(topic):
        rest = topic[len(BASIC_INGEST_PREFIX) :]
        _rule, _, tail = rest.partition("/")
        return tail.count("/")
    return topic.count("/")


def topic_problem(topic: str, max_bytes: int, max_slashes: int) -> str | None:
    """Why ``topic`` cannot be published to, or None."""
    if not topic:
        return "empty topic"
    if "+" in topic or "#" in topic:
        return "wildcard in a topic name"
    if len(topic.encode()) > max_bytes:
        return f"topic longer than {max_bytes} bytes"
    if slashes_counted(topic) > max_slashes:
        return f"topic deeper than {max_slashes} forward slashes"
    return None


def filter_problem(topic_filter: str, max_bytes: int, max_slashes: int) -> str | None:
    """Why ``topic_filter`` cannot be subscribed to, or None."""
    if not topic_filter:
        return "empty topic filter"
    if len(topic_filter.encode()) > max_bytes:
        return f"topic filter longer than {max_bytes} bytes"
    if slashes_counted(topic_filter) > max_slashes:
        return f"topic filter deeper than {max_slashes} forward slashes"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level, and the last"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def matches(topic_filter: str, topic: str) -> bool:
    """Whether a message on ``topic`` reaches a subscription to ``topic_filter``.

    A filter that starts with a wildcard never matches a topic that starts with ``$`` (MQTT
    §4.7.2): ``#`` does not receive lifecycle events.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    for i, level in enumerate(f_levels):
        if level == "#":
            # IoT Core: the parent level itself is not matched (i must be < len(t_levels))
            return i < len(t_levels)
        if i >= len(t_levels):
            return False
        if level != "+" and level != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)


class SubscriptionIndex:
    """Which client subscribed to which filter. Exact filters are a dictionary look-up; the
    filters with wildcards are few and matched one by one (each once per message, not once
    per subscriber)."""

    __slots__ = ("_exact", "_wild")

    def __init__(self) -> None:
        self._exact: dict[str, set[str]] = {}
        self._wild: dict[str, set[str]] = {}

    def add(self, topic_filter: str, client_id: str) -> None:
        table = self._wild if has_wildcard(topic_filter) else self._exact
        table.setdefault(topic_filter, set()).add(client_id)

    def remove(self, topic_filter: str, client_id: str) -> None:
        table = self._wild if has_wildcard(topic_filter) else self._exact
        clients = table.get(topic_filter)
        if clients is not None:
            clients.discard(client_id)
            if not clients:
                del table[topic_filter]

    def matching(self, topic: str) -> Iterator[tuple[str, str]]:
        """(filter, client id) of every subscription ``topic`` reaches."""
        for client_id in self._exact.get(topic, ()):
            yield topic, client_id
        for topic_filter, clients in self._wild.items():
            if matches(topic_filter, topic):
                for client_id in clients:
                    yield topic_filter, client_id

    def __len__(self) -> int:
        return sum(map(len, self._exact.values())) + sum(map(len, self._wild.values()))
