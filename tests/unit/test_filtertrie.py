"""The filter trie (``hubbub.protocol.filtertrie``) against the reference matcher of
``hubbub.protocol.topics``, and the cost of a match counted in steps, not timed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.protocol.filtertrie import FilterTrie
from hubbub.protocol.topics import filter_matches
from tests.unit.test_topics import MATCHING


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [pytest.param(f, t, m, id=why) for f, t, m, why in MATCHING],
)
def test_the_trie_agrees_with_the_reference_on_each_row(
    topic_filter: str, topic: str, expected: bool
) -> None:
    """Every row of the MQTT table (the $ rule included) gives the same answer through the trie."""
    assert (FilterTrie([topic_filter]).matching(topic) == [topic_filter]) is expected


def test_all_the_table_s_filters_at_once() -> None:
    """Held together, the filters still match exactly the rows that say so, each once."""
    trie = FilterTrie(f for f, _, _, _ in MATCHING)
    for topic in {t for _, t, _, _ in MATCHING}:
        expected = sorted({f for f, _, _, _ in MATCHING if filter_matches(f, topic)})
        found = trie.matching(topic)
        assert sorted(found) == expected, topic
        assert len(found) == len(set(found)), topic


_LEVEL = st.sampled_from(["a", "b", "c", "$s"])
_TOPIC = st.lists(_LEVEL, min_size=1, max_size=4).map("/".join)


@st.composite
def _filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.sampled_from(["a", "b", "$s", "+"]), min_size=1, max_size=4))
    if draw(st.booleans()):
        levels.append("#")
    return "/".join(levels)


@settings(max_examples=300, deadline=None)
@given(filters=st.lists(_filters(), max_size=30), topic=_TOPIC)
def test_the_trie_matches_what_the_reference_matches(filters: list[str], topic: str) -> None:
    """For any set of filters and any topic, the trie finds exactly the filters the reference
    matcher accepts, each once."""
    found = FilterTrie(filters).matching(topic)
    assert sorted(found) == sorted({f for f in filters if filter_matches(f, topic)})
    assert len(found) == len(set(found))


@settings(max_examples=200, deadline=None)
@given(filters=st.lists(_filters(), max_size=20), gone=st.data(), topic=_TOPIC)
def test_discarding_filters_forgets_them_and_only_them(
    filters: list[str], gone: st.DataObject, topic: str
) -> None:
    """After discarding some filters, the trie matches as if it had never held them."""
    removed = (
        gone.draw(st.lists(st.sampled_from(filters), max_size=len(filters))) if filters else []
    )
    trie = FilterTrie(filters)
    for topic_filter in removed:
        trie.discard(topic_filter)
    kept = set(filters) - set(removed)
    assert sorted(trie.matching(topic)) == sorted(f for f in kept if filter_matches(f, topic))
    assert len(trie) == len(kept)


def test_discarding_an_unknown_filter_or_a_mere_prefix_changes_nothing() -> None:
    trie = FilterTrie(["room/a/#"])
    trie.discard("room/a")
    trie.discard("room/b/#")
    assert trie.matching("room/a") == ["room/a/#"]
    assert len(trie) == 1


@pytest.mark.parametrize("count", [10, 1_000, 10_000])
def test_the_cost_of_a_match_does_not_grow_with_the_number_of_filters(count: int) -> None:
    """The attack of issue 15 (item 4): thousands of distinct wildcard filters. Matching a room
    message visits the same number of nodes whether the trie holds ten filters or ten thousand
    (none of which match), where the list it replaces tried every one of them."""
    small = FilterTrie(["room/+", "desk/+"])
    big = FilterTrie(["room/+", "desk/+", *(f"room/x{i}/#" for i in range(count))])
    assert big.match("room/lobby").filters == small.match("room/lobby").filters == ["room/+"]
    assert big.match("room/lobby").steps == small.match("room/lobby").steps
    assert big.match("room/lobby").steps <= 4


@pytest.mark.parametrize("depth", [1, 2, 4, 6])
def test_the_cost_is_bounded_by_the_topic_s_depth_even_with_every_wildcard_present(
    depth: int,
) -> None:
    """The worst case: '+' and '#' at every level. Each level at most doubles the frontier, so a
    topic of depth d costs at most 2^(d+1) steps, whatever else the trie holds."""
    levels = [f"l{i}" for i in range(depth)]
    filters = {"/".join(["+"] * k + ["#"]) for k in range(depth + 1)}
    filters |= {"/".join(["+"] * depth), "/".join(levels)}
    filters |= {f"other{i}/+/#" for i in range(1000)}
    match = FilterTrie(filters).match("/".join(levels))
    assert sorted(match.filters) == sorted(
        f for f in filters if filter_matches(f, "/".join(levels))
    )
    assert match.steps <= 2 ** (depth + 1)
