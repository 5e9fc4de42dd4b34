"""The head count of a topic (presence at scale), asserted against every adapter.

A large room's size is read from one counter item that moves in the same write as the
subscription, so counting never walks the room; the summary claim is one conditional write, so
only one process pushes a summary per window.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hubbub.ids import ConnectionId, Topic, TopicFilter
from hubbub.store.port import Store
from tests.contract.test_store_contract import ANN, GUEST, NOW_MS, connect, subscribe

ROOM = Topic("room/big")


def test_the_count_follows_subscribe_unsubscribe_and_disconnect(store: Store) -> None:
    assert store.member_count(ROOM) == 0
    for n in range(5):
        connect(store, f"c{n}")
        assert subscribe(store, f"c{n}", ROOM)
    assert store.member_count(ROOM) == 5

    assert not subscribe(store, "c0", ROOM), "a repeated subscribe is not new"
    assert store.member_count(ROOM) == 5, "and does not count twice"

    assert store.unsubscribe(ConnectionId("c1"), TopicFilter(ROOM))
    assert not store.unsubscribe(ConnectionId("c1"), TopicFilter(ROOM))
    assert store.member_count(ROOM) == 4, "an unsubscribe counts once"

    store.delete_connection(ConnectionId("c2"))
    store.delete_connection(ConnectionId("c2"))
    assert store.member_count(ROOM) == 3, "a disconnect counts once, however often it runs"


def test_wildcards_and_other_topics_are_not_counted(store: Store) -> None:
    connect(store, "c1")
    subscribe(store, "c1", "room/+")
    subscribe(store, "c1", "room/other")
    assert store.member_count(ROOM) == 0
    assert store.member_count(Topic("room/other")) == 1
    assert store.member_count(Topic("room/+")) == 0


def test_concurrent_subscribers_are_all_counted(store: Store) -> None:
    for n in range(16):
        connect(store, f"c{n}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(lambda n: subscribe(store, f"c{n}", ROOM), range(16)))
    assert store.member_count(ROOM) == 16


def test_one_summary_claim_per_window(store: Store) -> None:
    connect(store, "c1")
    subscribe(store, "c1", ROOM)
    assert store.claim_summary(ROOM, NOW_MS, 5000) == 1, "the first claim wins"
    assert store.claim_summary(ROOM, NOW_MS + 1, 5000) is None
    assert store.claim_summary(ROOM, NOW_MS + 4999, 5000) is None, "still inside the window"
    connect(store, "c2")
    subscribe(store, "c2", ROOM)
    assert store.claim_summary(ROOM, NOW_MS + 5000, 5000) == 2, "the window is over"
    assert store.claim_summary(ROOM, NOW_MS + 5001, 5000) is None


def test_concurrent_claims_have_one_winner(store: Store) -> None:
    connect(store, "c1")
    subscribe(store, "c1", ROOM)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.claim_summary(ROOM, NOW_MS, 5000), range(8)))
    assert results.count(1) == 1
    assert results.count(None) == 7


def test_a_topic_nobody_followed_has_no_summary(store: Store) -> None:
    assert store.claim_summary(Topic("room/empty"), NOW_MS, 5000) is None


def test_subscribers_come_a_bounded_page_at_a_time(store: Store) -> None:
    for n in range(7):
        connect(store, f"c{n}", ANN if n % 2 else GUEST)
        subscribe(store, f"c{n}", ROOM, ANN if n % 2 else GUEST)
    seen: list[str] = []
    after: ConnectionId | None = None
    pages = 0
    while True:
        page, after = store.subscribers_page(TopicFilter(ROOM), after, 3)
        pages += 1
        assert len(page) <= 3
        seen += [s.connection_id for s in page]
        if after is None:
            break
    assert seen == [f"c{n}" for n in range(7)]
    assert pages == 3
    page, after = store.subscribers_page(TopicFilter(ROOM), None, 7)
    assert len(page) == 7
    assert after is None, "a page that holds the rest has no next cursor"
