"""A trie of topic filters over topic levels: which filters match a topic, in steps bounded by the
topic's depth and the wildcards on its path, never by how many filters are held.

The fan-out asks this for every stored message; a list of filters matched one by one made each
message cost as much as the number of distinct filters anyone had subscribed with (issue 15, item
4). Matching walks at most three branches per level (the level itself, ``+`` and ``#``), so the
work is ``O(2^depth)`` at worst and independent of the filter count; ``filter_matches`` in
``hubbub.protocol.topics`` stays the reference it is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hubbub.ids import Topic, TopicFilter

__all__ = ["FilterTrie", "Match"]


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    filter: TopicFilter | None = None
    """The filter that ends here, if one does."""


@dataclass(frozen=True, slots=True)
class Match:
    filters: list[TopicFilter]
    steps: int
    """Nodes visited: the cost of the match, which tests count instead of timing it."""


class FilterTrie:
    """A set of topic filters, matched against topics by MQTT rules (with the ``$`` rule: a
    wildcard in the first level matches no topic whose first level starts with ``$``)."""

    def __init__(self, filters: Iterable[str] = ()) -> None:
        self._root = _Node()
        self._size = 0
        for topic_filter in filters:
            self.add(topic_filter)

    def __len__(self) -> int:
        return self._size

    def add(self, topic_filter: str) -> None:
        node = self._root
        for level in topic_filter.split("/"):
            node = node.children.setdefault(level, _Node())
        if node.filter is None:
            self._size += 1
        node.filter = TopicFilter(topic_filter)

    def discard(self, topic_filter: str) -> None:
        path = [self._root]
        levels = topic_filter.split("/")
        for level in levels:
            child = path[-1].children.get(level)
            if child is None:
                return
            path.append(child)
        if path[-1].filter is None:
            return
        path[-1].filter = None
        self._size -= 1
        # prune the branch nobody ends on any more, from the leaf up
        for depth in range(len(levels), 0, -1):
            node = path[depth]
            if node.filter is not None or node.children:
                break
            del path[depth - 1].children[levels[depth - 1]]

    def match(self, topic: str) -> Match:
        """The filters that match ``topic``, each once, and the steps it took."""
        levels = topic.split("/")
        found: list[TopicFilter] = []
        steps = 0
        frontier = [self._root]
        for depth, level in enumerate(levels):
            wildcards_allowed = not (depth == 0 and level.startswith("$"))
            following: list[_Node] = []
            for node in frontier:
                steps += 1
                if wildcards_allowed:
                    rest = node.children.get("#")
                    if rest is not None and rest.filter is not None:
                        found.append(rest.filter)
                    one = node.children.get("+")
                    if one is not None:
                        following.append(one)
                exact = node.children.get(level)
                if exact is not None:
                    following.append(exact)
            frontier = following
        for node in frontier:
            steps += 1
            if node.filter is not None:
                found.append(node.filter)
            # "a/#" also matches "a": the parent level of a trailing '#'
            rest = node.children.get("#")
            if rest is not None and rest.filter is not None:
                found.append(rest.filter)
        return Match(found, steps)

    def matching(self, topic: Topic | str) -> list[TopicFilter]:
        return self.match(topic).filters
