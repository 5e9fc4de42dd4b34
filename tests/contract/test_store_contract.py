"""The Store contract: one behaviour, asserted against every adapter (SQLite and DynamoDB).

Where the port's docstrings are silent, the SQLite adapter's behaviour is the spec and is pinned
here (a ``None`` title keeps the old one, a duplicate subscribe keeps the first user, ...).
The last section holds DynamoDB-only checks: lost races, error mapping, no Scan.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hubbub.ids import ClientMsgId, ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.protocol.topics import filter_matches
from hubbub.store.dynamodb.adapter import DynamoStore
from hubbub.store.dynamodb.schema import table_definition
from hubbub.store.items import message_item
from hubbub.store.port import (
    AppendRequest,
    AppendResult,
    Connection,
    Message,
    Operator,
    Role,
    Store,
    StoreUnavailable,
    Subscription,
    User,
    Visitor,
)
from tests.contract.conftest import Backend, DynamoTable

NOW_MS = 1_700_000_000_000
NOW_S = NOW_MS // 1000
HOUR = 3600

_ids = itertools.count(1)

GUEST = User(UserId("g_1"), Role.GUEST)
ANN = User(UserId("v_ann"), Role.VISITOR, "Ann")
OPS = User(UserId("op_1"), Role.OPERATOR, "Olga")


def send(
    store: Store,
    topic: str = "room/a",
    *,
    sender: str = "v_ann",
    cmid: str | None = None,
    text: str = "hello",
    now_ms: int = NOW_MS,
    expires_at: int = NOW_S + HOUR,
    dedupe_expires_at: int = NOW_S + 600,
    nickname: str | None = "Ann",
    recency_index: str | None = None,
    title: str | None = None,
    mark_read: bool = False,
    role: Role = Role.VISITOR,
) -> AppendResult:
    n = next(_ids)
    return store.append(
        AppendRequest(
            topic=Topic(topic),
            sender=UserId(sender),
            nickname=nickname,
            text=text,
            client_msg_id=ClientMsgId(cmid or f"c{n}"),
            message_id=MessageId(f"m{n}"),
            now_ms=now_ms,
            expires_at=expires_at,
            dedupe_expires_at=dedupe_expires_at,
            recency_index=recency_index,
            title=title,
            mark_read=mark_read,
            role=role,
        )
    )


def connect(store: Store, cid: str, user: User = GUEST) -> Connection:
    connection = Connection(ConnectionId(cid), user, NOW_MS, NOW_S + 2 * HOUR)
    store.put_connection(connection)
    return connection


def subscribe(store: Store, cid: str, topic_filter: str, user: User = GUEST) -> bool:
    subscription = Subscription(ConnectionId(cid), TopicFilter(topic_filter), user)
    return store.subscribe(subscription, NOW_MS, NOW_S + 2 * HOUR)


def seqs(messages: list[Message]) -> list[int]:
    return [m.seq for m in messages]


def by_cid(subscriptions: list[Subscription]) -> list[Subscription]:
    return sorted(subscriptions, key=lambda s: (s.connection_id, s.filter))


# connections ----------------------------------------------------------------------------------
def test_connection_round_trips(store: Store) -> None:
    ann = connect(store, "c1", ANN)
    guest = connect(store, "c2", GUEST)

    assert store.get_connection(ConnectionId("c1")) == ann
    assert store.get_connection(ConnectionId("c2")) == guest
    assert store.get_connection(ConnectionId("nobody")) is None


def test_an_mqtt_members_client_id_is_kept_with_its_connection(store: Store) -> None:
    """Moderation disconnects an MQTT member by the client id IoT Core knows it by; the
    connection id is a digest of it, so the id is stored with the connection."""
    member = Connection(ConnectionId("mqtt:ab12"), ANN, NOW_MS, NOW_S + 60, "paho/ann 1")
    store.put_connection(member)
    store.set_connection_user(member.id, GUEST)

    assert store.get_connection(member.id) == Connection(
        member.id, GUEST, NOW_MS, NOW_S + 60, "paho/ann 1"
    )
    assert connect(store, "c2", ANN).client_id is None
    assert store.get_connection(ConnectionId("c2")) == connect(store, "c2", ANN)


def test_put_connection_replaces_the_previous_one(store: Store) -> None:
    connect(store, "c1", OPS)
    again = Connection(ConnectionId("c1"), GUEST, NOW_MS + 5, NOW_S + 9)
    store.put_connection(again)

    assert store.get_connection(ConnectionId("c1")) == again
    assert store.online_operators(NOW_MS) == []


def test_set_connection_user_updates_connection_and_its_subscriptions(store: Store) -> None:
    connect(store, "c1", GUEST)
    subscribe(store, "c1", "room/a", GUEST)
    subscribe(store, "c1", "room/+", GUEST)
    connect(store, "c2", GUEST)
    subscribe(store, "c2", "room/a", GUEST)

    store.set_connection_user(ConnectionId("c1"), ANN)

    connection = store.get_connection(ConnectionId("c1"))
    assert connection is not None
    assert connection.user == ANN
    assert connection.connected_at == NOW_MS
    room = {s.connection_id: s.user for s in store.subscribers(TopicFilter("room/a"))}
    assert room == {"c1": ANN, "c2": GUEST}
    assert [s.user for s in store.subscribers(TopicFilter("room/+"))] == [ANN]
    assert {s.user for s in store.delete_connection(ConnectionId("c1"))} == {ANN}


def test_set_connection_user_can_drop_the_nickname(store: Store) -> None:
    connect(store, "c1", ANN)
    subscribe(store, "c1", "room/a", ANN)
    anonymous = User(ANN.id, Role.VISITOR, None)

    store.set_connection_user(ConnectionId("c1"), anonymous)

    connection = store.get_connection(ConnectionId("c1"))
    assert connection is not None
    assert connection.user == anonymous
    assert [s.user for s in store.subscribers(TopicFilter("room/a"))] == [anonymous]


def test_set_connection_user_of_an_unknown_connection_creates_nothing(store: Store) -> None:
    store.set_connection_user(ConnectionId("ghost"), OPS)

    assert store.get_connection(ConnectionId("ghost")) is None
    assert store.online_operators(NOW_MS) == []


def test_delete_connection_returns_the_removed_subscriptions(store: Store) -> None:
    connect(store, "c1", ANN)
    subscribe(store, "c1", "room/b", ANN)
    subscribe(store, "c1", "room/a", ANN)
    subscribe(store, "c1", "desk/+", ANN)
    connect(store, "c2", GUEST)
    subscribe(store, "c2", "room/a", GUEST)

    removed = store.delete_connection(ConnectionId("c1"))

    assert by_cid(removed) == [
        Subscription(ConnectionId("c1"), TopicFilter(f), ANN)
        for f in ["desk/+", "room/a", "room/b"]
    ]
    assert store.get_connection(ConnectionId("c1")) is None
    assert store.filters_of(ConnectionId("c1")) == []
    assert [s.connection_id for s in store.subscribers(TopicFilter("room/a"))] == ["c2"]
    assert store.subscribers(TopicFilter("room/b")) == []
    assert store.delete_connection(ConnectionId("c1")) == []


def test_delete_of_an_unknown_connection_removes_nothing(store: Store) -> None:
    assert store.delete_connection(ConnectionId("nobody")) == []


# subscriptions --------------------------------------------------------------------------------
def test_subscribe_is_new_once_and_keeps_the_first_user(store: Store) -> None:
    connect(store, "c1", GUEST)

    assert subscribe(store, "c1", "room/a", GUEST) is True
    assert subscribe(store, "c1", "room/a", ANN) is False

    assert store.subscribers(TopicFilter("room/a")) == [
        Subscription(ConnectionId("c1"), TopicFilter("room/a"), GUEST)
    ]


def test_unsubscribe_removes_once(store: Store) -> None:
    connect(store, "c1")
    subscribe(store, "c1", "room/a")
    subscribe(store, "c1", "room/b")

    assert store.unsubscribe(ConnectionId("c1"), TopicFilter("room/a")) is True
    assert store.unsubscribe(ConnectionId("c1"), TopicFilter("room/a")) is False
    assert store.unsubscribe(ConnectionId("c1"), TopicFilter("never")) is False
    assert store.filters_of(ConnectionId("c1")) == ["room/b"]
    assert store.subscribers(TopicFilter("room/a")) == []
    assert subscribe(store, "c1", "room/a") is True


def test_filters_of_lists_a_connections_filters_sorted(store: Store) -> None:
    connect(store, "c1")
    for topic_filter in ["room/b", "user/u1", "desk/+", "room/a"]:
        subscribe(store, "c1", topic_filter)
    connect(store, "c2")
    subscribe(store, "c2", "room/z")

    assert store.filters_of(ConnectionId("c1")) == ["desk/+", "room/a", "room/b", "user/u1"]
    assert store.filters_of(ConnectionId("nobody")) == []


def test_subscribers_match_the_filter_exactly(store: Store) -> None:
    for cid in ["c1", "c2", "c3"]:
        connect(store, cid)
    subscribe(store, "c1", "room/a")
    subscribe(store, "c2", "room/a")
    subscribe(store, "c3", "room/+")
    subscribe(store, "c3", "room/ab")

    assert [s.connection_id for s in by_cid(store.subscribers(TopicFilter("room/a")))] == [
        "c1",
        "c2",
    ]
    assert [s.connection_id for s in store.subscribers(TopicFilter("room/+"))] == ["c3"]
    assert store.subscribers(TopicFilter("room/nobody")) == []
    for topic_filter in ["room/a", "room/+", "room/ab", "room/nobody"]:
        expected = sorted(s.connection_id for s in store.subscribers(TopicFilter(topic_filter)))
        assert sorted(store.subscriber_ids(TopicFilter(topic_filter))) == expected


def test_wildcard_filters_list_filters_with_subscribers(store: Store) -> None:
    for cid in ["c1", "c2", "c3"]:
        connect(store, cid)
    subscribe(store, "c1", "room/+")
    subscribe(store, "c1", "room/a")
    subscribe(store, "c2", "desk/#")
    subscribe(store, "c3", "desk/#")
    subscribe(store, "c3", "a/+/c")

    assert sorted(store.wildcard_filters()) == ["a/+/c", "desk/#", "room/+"]

    store.unsubscribe(ConnectionId("c1"), TopicFilter("room/+"))
    assert sorted(store.wildcard_filters()) == ["a/+/c", "desk/#"]

    store.delete_connection(ConnectionId("c2"))
    assert sorted(store.wildcard_filters()) == ["a/+/c", "desk/#"]

    store.delete_connection(ConnectionId("c3"))
    assert store.wildcard_filters() == []

    subscribe(store, "c1", "room/+")
    assert store.wildcard_filters() == ["room/+"]


def test_wildcard_filters_survive_a_failed_unsubscribe(store: Store) -> None:
    connect(store, "c1")
    subscribe(store, "c1", "desk/+")

    assert store.unsubscribe(ConnectionId("c2"), TopicFilter("desk/+")) is False
    assert store.wildcard_filters() == ["desk/+"]


ANCHORED = ["room/+", "room/#", "room/+/#", "room/a/#", "room/ab/#", "room/+/x", "desk/+"]
ANCHORED += ["$sys/+", "$sys/a/#", "a/+/c"]


@pytest.mark.parametrize(
    ("topic", "candidates"),
    [
        ("room/a", {"room/+", "room/#", "room/+/#", "room/a/#", "room/+/x"}),
        ("room/ab", {"room/+", "room/#", "room/+/#", "room/ab/#", "room/+/x"}),
        ("room/b", {"room/+", "room/#", "room/+/#", "room/+/x"}),
        ("desk/v_1", {"desk/+"}),
        ("$sys/operators", {"$sys/+"}),
        ("$sys/a/b", {"$sys/+", "$sys/a/#"}),
        ("a/b/c", {"a/+/c"}),
        ("user/v_1", set()),
    ],
)
def test_wildcard_filters_for_a_topic_are_those_anchored_at_its_prefixes(
    store: Store, topic: str, candidates: set[str]
) -> None:
    """The registry answers with the filters whose levels before the first wildcard are a prefix
    of the topic: every filter that matches is among them, none anchored elsewhere is."""
    for index, topic_filter in enumerate(ANCHORED):
        connect(store, f"c{index}")
        subscribe(store, f"c{index}", topic_filter)
    found = store.wildcard_filters_for(Topic(topic))
    assert sorted(found) == sorted(candidates)
    assert {f for f in ANCHORED if filter_matches(f, topic)} <= set(found)


def test_what_a_topic_reads_from_the_registry_does_not_grow_with_filters_anchored_elsewhere(
    store: Store,
) -> None:
    """The attack of issue 15 (item 4): many distinct wildcard filters. A message on room/a is
    answered the same two filters whether 0 or 60 other rooms have a filter of their own, and a
    filter leaves the answer with its last subscriber."""
    connect(store, "c0")
    subscribe(store, "c0", "room/+")
    subscribe(store, "c0", "room/a/#")
    before = sorted(store.wildcard_filters_for(Topic("room/a")))
    for index in range(60):
        connect(store, f"g{index}")
        subscribe(store, f"g{index}", f"room/x{index}/#")
    assert sorted(store.wildcard_filters_for(Topic("room/a"))) == before == ["room/+", "room/a/#"]
    assert sorted(store.wildcard_filters_for(Topic("room/x7"))) == ["room/+", "room/x7/#"]
    assert len(store.wildcard_filters()) == 62
    store.unsubscribe(ConnectionId("c0"), TopicFilter("room/a/#"))
    assert store.wildcard_filters_for(Topic("room/a")) == ["room/+"]
    store.delete_connection(ConnectionId("g7"))
    assert store.wildcard_filters_for(Topic("room/x7")) == ["room/+"]
    assert len(store.wildcard_filters()) == 60


def test_a_wildcard_filter_shared_by_two_connections_stays_until_the_last_leaves(
    store: Store,
) -> None:
    for cid in ["c1", "c2"]:
        connect(store, cid)
        subscribe(store, cid, "desk/+")
    store.delete_connection(ConnectionId("c1"))
    assert store.wildcard_filters_for(Topic("desk/v_1")) == ["desk/+"]
    assert store.wildcard_filters() == ["desk/+"]
    store.unsubscribe(ConnectionId("c2"), TopicFilter("desk/+"))
    assert store.wildcard_filters_for(Topic("desk/v_1")) == []
    assert store.wildcard_filters() == []


# append ---------------------------------------------------------------------------------------
def test_a_message_keeps_its_sender_s_role_wherever_it_is_read(store: Store) -> None:
    """The role an append is given comes back from every read: pages, the topic summary, the
    stream image (issue 15, item 7: clients badge staff from it)."""
    sent = send(store, sender="o_1", nickname="Olga", role=Role.OPERATOR).message
    send(store, sender="v_1", nickname="Support (operator)")
    assert sent.role is Role.OPERATOR
    page = store.read_after(Topic("room/a"), 0, 10, NOW_MS).messages
    assert [m.role for m in page] == [Role.OPERATOR, Role.VISITOR]
    assert [m.role for m in store.read_before(Topic("room/a"), None, 10, NOW_MS).messages] == [
        Role.OPERATOR,
        Role.VISITOR,
    ]
    summary = store.topic_summary(Topic("room/a"))
    assert summary is not None and summary.last_message is not None
    assert summary.last_message.role is Role.VISITOR
    assert store.decode_change(message_item(sent)) == sent


def test_append_assigns_gapless_seqs_and_stores_the_message(store: Store) -> None:
    results = [send(store, text=f"t{i}", now_ms=NOW_MS + i) for i in range(5)]

    assert [r.message.seq for r in results] == [1, 2, 3, 4, 5]
    assert not any(r.duplicate for r in results)
    assert store.last_seq(Topic("room/a")) == 5
    assert store.last_seq(Topic("room/other")) == 0
    stored = store.read_after(Topic("room/a"), 0, 10, NOW_MS).messages
    assert stored == [r.message for r in results]
    first = stored[0]
    assert (first.topic, first.ts, first.sender, first.nickname, first.text) == (
        "room/a",
        NOW_MS,
        "v_ann",
        "Ann",
        "t0",
    )
    assert first.expires_at == NOW_S + HOUR


def test_append_without_nickname(store: Store) -> None:
    result = send(store, nickname=None)

    assert result.message.nickname is None
    assert store.read_after(Topic("room/a"), 0, 1, NOW_MS).messages == [result.message]


def test_topics_count_separately(store: Store) -> None:
    send(store, "room/a")
    send(store, "room/a")
    assert send(store, "room/b").message.seq == 1
    assert store.last_seq(Topic("room/a")) == 2


def test_duplicate_client_msg_id_returns_the_original(store: Store) -> None:
    original = send(store, cmid="x", text="one")
    send(store, cmid="y")

    again = send(store, cmid="x", text="two", now_ms=NOW_MS + 1000)

    assert again == AppendResult(original.message, duplicate=True)
    assert store.last_seq(Topic("room/a")) == 2
    texts = [m.text for m in store.read_after(Topic("room/a"), 0, 10, NOW_MS).messages]
    assert texts == ["one", "hello"]


def test_same_client_msg_id_from_another_sender_or_topic_is_distinct(store: Store) -> None:
    first = send(store, "room/a", sender="v_ann", cmid="x")
    other_sender = send(store, "room/a", sender="v_bob", cmid="x")
    other_topic = send(store, "room/b", sender="v_ann", cmid="x")

    assert not other_sender.duplicate
    assert not other_topic.duplicate
    assert (first.message.seq, other_sender.message.seq, other_topic.message.seq) == (1, 2, 1)


def test_senders_with_separator_characters_do_not_collide(store: Store) -> None:
    first = send(store, sender="a#b", cmid="c")
    second = send(store, sender="a", cmid="b#c")

    assert not second.duplicate
    assert second.message.seq == first.message.seq + 1


def test_an_expired_dedupe_record_no_longer_dedupes(store: Store) -> None:
    first = send(store, cmid="x", dedupe_expires_at=NOW_S + 10)
    later = NOW_MS + 10_000  # expiresAt <= now: expired

    resent = send(store, cmid="x", now_ms=later, dedupe_expires_at=NOW_S + 600)
    again = send(store, cmid="x", now_ms=later + 1)

    assert not resent.duplicate
    assert resent.message.seq == first.message.seq + 1
    assert again == AppendResult(resent.message, duplicate=True)


def test_a_duplicate_of_an_expired_but_stored_message_is_still_the_original(
    store: Store,
) -> None:
    original = send(store, cmid="x", expires_at=NOW_S + 5, dedupe_expires_at=NOW_S + 600)

    again = send(store, cmid="x", now_ms=NOW_MS + 60_000)

    assert again == AppendResult(original.message, duplicate=True)


def test_a_dedupe_record_whose_message_is_gone_lets_the_send_through(
    backend: Backend, store: Store
) -> None:
    send(store, cmid="x")
    backend.drop_message("room/a", 1)  # what TTL does when the message expires before its record

    resent = send(store, cmid="x", text="again")
    again = send(store, cmid="x")

    assert resent.duplicate is False
    assert resent.message.seq == 2
    assert again == AppendResult(resent.message, duplicate=True)


def test_concurrent_appends_are_gapless_and_lose_nothing(backend: Backend) -> None:
    threads, per_thread = 8, 25
    stores = [backend.store(stress=True) for _ in range(threads)]
    start = threading.Barrier(threads)

    def writer(index: int) -> list[AppendResult]:
        start.wait(timeout=30)
        return [
            send(stores[index], "room/hot", sender=f"v_{index}", cmid=f"{index}-{n}")
            for n in range(per_thread)
        ]

    with ThreadPoolExecutor(threads) as pool:
        results = [r for batch in pool.map(writer, range(threads)) for r in batch]

    total = threads * per_thread
    assert not any(r.duplicate for r in results)
    assert sorted(r.message.seq for r in results) == list(range(1, total + 1))
    page = stores[0].read_after(Topic("room/hot"), 0, total + 10, NOW_MS)
    assert seqs(page.messages) == list(range(1, total + 1))
    assert {m.client_msg_id for m in page.messages} == {r.message.client_msg_id for r in results}
    assert len({m.id for m in page.messages}) == total
    assert stores[0].last_seq(Topic("room/hot")) == total


def test_concurrent_copies_of_one_send_store_it_once(backend: Backend) -> None:
    copies = 8
    stores = [backend.store(stress=True) for _ in range(copies)]
    start = threading.Barrier(copies)

    def resend(index: int) -> AppendResult:
        start.wait(timeout=30)
        return send(stores[index], "room/retry", cmid="same", text=f"copy {index}")

    with ThreadPoolExecutor(copies) as pool:
        results = list(pool.map(resend, range(copies)))

    originals = [r for r in results if not r.duplicate]
    assert len(originals) == 1
    assert {r.message for r in results} == {originals[0].message}
    assert stores[0].last_seq(Topic("room/retry")) == 1


# reading --------------------------------------------------------------------------------------
def test_read_after_pages_forward(store: Store) -> None:
    for _ in range(7):
        send(store)
    topic = Topic("room/a")

    def page(after: int, limit: int) -> tuple[list[int], bool]:
        result = store.read_after(topic, after, limit, NOW_MS)
        return seqs(result.messages), result.has_more

    assert page(0, 3) == ([1, 2, 3], True)
    assert page(3, 3) == ([4, 5, 6], True)
    assert page(4, 3) == ([5, 6, 7], False)
    assert page(6, 3) == ([7], False)
    assert page(7, 3) == ([], False)
    assert page(0, 100) == ([1, 2, 3, 4, 5, 6, 7], False)
    assert store.read_after(Topic("room/none"), 0, 5, NOW_MS).messages == []


def test_read_before_pages_backward_and_returns_oldest_first(store: Store) -> None:
    for _ in range(7):
        send(store)
    topic = Topic("room/a")

    def page(before: int | None, limit: int) -> tuple[list[int], bool]:
        result = store.read_before(topic, before, limit, NOW_MS)
        return seqs(result.messages), result.has_more

    assert page(None, 3) == ([5, 6, 7], True)
    assert page(5, 3) == ([2, 3, 4], True)
    assert page(4, 3) == ([1, 2, 3], False)
    assert page(2, 3) == ([1], False)
    assert page(1, 3) == ([], False)
    assert page(None, 7) == ([1, 2, 3, 4, 5, 6, 7], False)
    assert page(100, 2) == ([6, 7], True)


def test_reads_leave_out_expired_messages_and_has_more_stays_exact(store: Store) -> None:
    short = {2, 5}
    for seq in range(1, 7):
        send(store, expires_at=NOW_S + 10 if seq in short else NOW_S + HOUR)
    topic = Topic("room/a")
    now = NOW_MS + 20_000

    def after(a: int, limit: int) -> tuple[list[int], bool]:
        result = store.read_after(topic, a, limit, now)
        return seqs(result.messages), result.has_more

    def before(b: int | None, limit: int) -> tuple[list[int], bool]:
        result = store.read_before(topic, b, limit, now)
        return seqs(result.messages), result.has_more

    assert after(0, 10) == ([1, 3, 4, 6], False)
    assert after(0, 2) == ([1, 3], True)
    assert after(3, 1) == ([4], True)
    assert after(4, 1) == ([6], False)
    assert before(None, 2) == ([4, 6], True)
    assert before(4, 10) == ([1, 3], False)
    assert before(3, 1) == ([1], False)
    assert store.last_seq(topic) == 6  # the head counts expired messages too
    assert seqs(store.read_after(topic, 0, 10, NOW_MS).messages) == [1, 2, 3, 4, 5, 6]


def test_a_message_expires_at_its_expiry_second(store: Store) -> None:
    send(store, expires_at=NOW_S)
    send(store, expires_at=NOW_S + 1)

    page = store.read_after(Topic("room/a"), 0, 10, NOW_MS + 999)

    assert seqs(page.messages) == [2]


def test_has_more_is_exact_behind_a_long_run_of_expired_messages(store: Store) -> None:
    for _ in range(30):
        send(store, expires_at=NOW_S - 1)
    send(store)
    send(store)
    topic = Topic("room/a")

    first = store.read_after(topic, 0, 1, NOW_MS)
    assert (seqs(first.messages), first.has_more) == ([31], True)
    assert store.read_after(topic, 31, 1, NOW_MS).has_more is False
    newest = store.read_before(topic, 32, 1, NOW_MS)
    assert (seqs(newest.messages), newest.has_more) == ([31], False)
    assert store.read_before(topic, 31, 5, NOW_MS).messages == []


# recency index ----------------------------------------------------------------------------------
def test_recent_topics_lists_an_index_newest_first(store: Store) -> None:
    send(store, "desk/v1", now_ms=NOW_MS + 1, recency_index="desk", title="V1")
    send(store, "desk/v2", now_ms=NOW_MS + 2, recency_index="desk", title="V2")
    last = send(store, "desk/v3", now_ms=NOW_MS + 3, recency_index="desk", title="V3")
    send(store, "room/r", now_ms=NOW_MS + 4, recency_index="room")
    send(store, "room/unlisted", now_ms=NOW_MS + 5)

    listed = store.recent_topics("desk", None, 10, NOW_MS)

    assert [s.topic for s in listed] == ["desk/v3", "desk/v2", "desk/v1"]
    newest = listed[0]
    assert (newest.last_seq, newest.updated_at, newest.title) == (1, NOW_MS + 3, "V3")
    assert newest.last_message == last.message
    assert [s.topic for s in store.recent_topics("room", None, 10, NOW_MS)] == ["room/r"]
    assert store.recent_topics("nothing", None, 10, NOW_MS) == []


def test_recent_topics_pages_with_before_ms_and_limit(store: Store) -> None:
    for i in range(1, 6):
        send(store, f"desk/v{i}", now_ms=NOW_MS + i * 10, recency_index="desk")

    def topics(before: int | None, limit: int) -> list[str]:
        return [s.topic for s in store.recent_topics("desk", before, limit, NOW_MS)]

    assert topics(None, 2) == ["desk/v5", "desk/v4"]
    assert topics(NOW_MS + 40, 2) == ["desk/v3", "desk/v2"]
    assert topics(NOW_MS + 41, 2) == ["desk/v4", "desk/v3"]
    assert topics(NOW_MS + 20, 5) == ["desk/v1"]
    assert topics(NOW_MS + 10, 5) == []
    assert topics(None, 0) == []


def test_a_new_message_moves_a_topic_to_the_front(store: Store) -> None:
    send(store, "desk/v1", now_ms=NOW_MS + 1, recency_index="desk")
    send(store, "desk/v2", now_ms=NOW_MS + 2, recency_index="desk")
    send(store, "desk/v1", now_ms=NOW_MS + 3, recency_index="desk")

    listed = store.recent_topics("desk", None, 10, NOW_MS)

    assert [(s.topic, s.last_seq) for s in listed] == [("desk/v1", 2), ("desk/v2", 1)]


def test_a_none_title_keeps_the_old_title(store: Store) -> None:
    send(store, "desk/v1", recency_index="desk", title="Ann")
    send(store, "desk/v1", now_ms=NOW_MS + 1, recency_index="desk", title=None)

    summary = store.topic_summary(Topic("desk/v1"))
    assert summary is not None
    assert summary.title == "Ann"
    assert store.recent_topics("desk", None, 1, NOW_MS)[0].title == "Ann"

    send(store, "desk/v1", now_ms=NOW_MS + 2, recency_index="desk", title="Annie")
    assert [s.title for s in store.recent_topics("desk", None, 1, NOW_MS)] == ["Annie"]


def test_a_topic_leaves_its_index_when_appended_without_one(store: Store) -> None:
    send(store, "room/a", recency_index="room")
    send(store, "room/a", now_ms=NOW_MS + 1, recency_index=None)

    assert store.recent_topics("room", None, 10, NOW_MS) == []


def test_recent_topics_leave_out_topics_whose_last_message_expired(store: Store) -> None:
    for i in range(1, 6):
        expired_last = i >= 4
        send(store, f"desk/v{i}", now_ms=NOW_MS + i, recency_index="desk")
        send(
            store,
            f"desk/v{i}",
            now_ms=NOW_MS + 10 + i,
            recency_index="desk",
            expires_at=NOW_S + 5 if expired_last else NOW_S + HOUR,
        )
    later = NOW_MS + 60_000

    assert [s.topic for s in store.recent_topics("desk", None, 2, later)] == [
        "desk/v3",
        "desk/v2",
    ]
    assert [s.topic for s in store.recent_topics("desk", None, 10, later)] == [
        "desk/v3",
        "desk/v2",
        "desk/v1",
    ]
    assert len(store.recent_topics("desk", None, 10, NOW_MS)) == 5


def test_recent_topics_keep_a_live_topic_tied_with_an_expired_one(store: Store) -> None:
    send(store, "desk/a", now_ms=NOW_MS, recency_index="desk", expires_at=NOW_S + 5)
    send(store, "desk/b", now_ms=NOW_MS, recency_index="desk")
    later = NOW_MS + 60_000

    assert [s.topic for s in store.recent_topics("desk", None, 1, later)] == ["desk/b"]


def test_topic_summary(store: Store) -> None:
    assert store.topic_summary(Topic("room/none")) is None
    send(store, "room/a", now_ms=NOW_MS, title="Lobby")
    last = send(store, "room/a", now_ms=NOW_MS + 7, expires_at=NOW_S + 1)

    summary = store.topic_summary(Topic("room/a"))

    assert summary is not None
    assert (summary.topic, summary.last_seq, summary.updated_at, summary.title) == (
        "room/a",
        2,
        NOW_MS + 7,
        "Lobby",
    )
    assert summary.last_message == last.message  # a summary has no clock: expired or not


# read markers ---------------------------------------------------------------------------------
def test_read_markers_only_move_forward(store: Store) -> None:
    user, topic = UserId("v_ann"), Topic("desk/v_ann")

    assert store.read_markers(user, [topic]) == {topic: 0}
    assert store.set_read_marker(user, topic, 5) == 5
    assert store.set_read_marker(user, topic, 3) == 5
    assert store.set_read_marker(user, topic, 5) == 5
    assert store.read_markers(user, [topic]) == {topic: 5}
    assert store.set_read_marker(user, topic, 9) == 9
    assert store.read_markers(user, [topic]) == {topic: 9}


def test_an_append_marks_its_own_message_read_for_its_sender_only(store: Store) -> None:
    topic = Topic("desk/v_ann")
    send(store, topic, sender="o_olga", mark_read=True)
    assert store.read_markers(UserId("o_olga"), [topic]) == {topic: 1}
    assert store.read_markers(UserId("v_ann"), [topic]) == {topic: 0}

    second = send(store, topic, sender="v_ann", cmid="x", mark_read=True)
    assert store.read_markers(UserId("v_ann"), [topic]) == {topic: second.message.seq}
    store.set_read_marker(UserId("v_ann"), topic, 9)
    # a resend is the duplicate: it moves no marker (nor back)
    again = send(store, topic, sender="v_ann", cmid="x", mark_read=True)
    assert again.duplicate
    assert store.read_markers(UserId("v_ann"), [topic]) == {topic: 9}
    send(store, topic, sender="v_ann")  # mark_read=False: the marker stays
    assert store.read_markers(UserId("v_ann"), [topic]) == {topic: 9}


def test_read_markers_default_to_zero_and_belong_to_one_user(store: Store) -> None:
    a, b, c = Topic("desk/a"), Topic("desk/b"), Topic("desk/c")
    store.set_read_marker(UserId("u1"), a, 4)
    store.set_read_marker(UserId("u1"), c, 2)
    store.set_read_marker(UserId("u2"), b, 7)

    assert store.read_markers(UserId("u1"), [a, b, c]) == {a: 4, b: 0, c: 2}
    assert store.read_markers(UserId("u2"), [a, b]) == {a: 0, b: 7}
    assert store.read_markers(UserId("u1"), [a, a]) == {a: 4}
    assert store.read_markers(UserId("u1"), []) == {}


def test_read_markers_for_many_topics(store: Store) -> None:
    topics = [Topic(f"desk/v{i}") for i in range(130)]
    for i, topic in enumerate(topics[::3]):
        store.set_read_marker(UserId("op"), topic, i + 1)

    markers = store.read_markers(UserId("op"), topics)

    assert list(markers) == topics
    assert markers == {t: (i // 3 + 1 if i % 3 == 0 else 0) for i, t in enumerate(topics)}


# people ---------------------------------------------------------------------------------------
def test_visitors_upsert_and_keep_their_creation_time(store: Store) -> None:
    assert store.get_visitor(UserId("v_1")) is None
    store.put_visitor(Visitor(UserId("v_1"), "Ann", "ann@example.com", NOW_MS))
    assert store.get_visitor(UserId("v_1")) == Visitor(
        UserId("v_1"), "Ann", "ann@example.com", NOW_MS
    )

    store.put_visitor(Visitor(UserId("v_1"), "Annie", None, NOW_MS + 99))

    assert store.get_visitor(UserId("v_1")) == Visitor(UserId("v_1"), "Annie", None, NOW_MS)


def test_operators_crud(store: Store) -> None:
    assert store.list_operators() == []
    zed = Operator(UserId("op_1"), "zed", NOW_MS)
    amy = Operator(UserId("op_2"), "amy", NOW_MS + 1)
    store.put_operator(zed)
    store.put_operator(amy)

    assert store.get_operator(UserId("op_1")) == zed
    assert store.get_operator(UserId("op_9")) is None
    assert store.list_operators() == [amy, zed]

    renamed = Operator(UserId("op_1"), "bob", NOW_MS + 2)
    store.put_operator(renamed)
    assert store.list_operators() == [amy, renamed]

    assert store.delete_operator(UserId("op_2")) is True
    assert store.delete_operator(UserId("op_2")) is False
    assert store.list_operators() == [renamed]


def test_online_operators_lists_only_operator_connections(store: Store) -> None:
    olga = connect(store, "c1", OPS)
    connect(store, "c2", ANN)
    connect(store, "c3", GUEST)
    other = connect(store, "c4", User(UserId("op_2"), Role.OPERATOR, None))

    assert sorted(store.online_operators(NOW_MS), key=lambda c: c.id) == [olga, other]

    promoted = User(ANN.id, Role.OPERATOR, "Ann")
    store.set_connection_user(ConnectionId("c2"), promoted)
    store.set_connection_user(ConnectionId("c1"), ANN)
    store.delete_connection(ConnectionId("c4"))

    online = store.online_operators(NOW_MS)
    assert [(c.id, c.user) for c in online] == [("c2", promoted)]


def test_online_operators_leave_out_expired_connections(store: Store) -> None:
    """TTL deletes lag on DynamoDB: a connection past its expiry is not an operator online."""
    live = connect(store, "c1", OPS)
    expired = Connection(
        ConnectionId("c2"), User(UserId("op_2"), Role.OPERATOR, None), NOW_MS, NOW_S - 1
    )
    store.put_connection(expired)

    assert store.online_operators(NOW_MS) == [live]


def test_operator_last_seen_is_the_last_write(store: Store) -> None:
    assert store.operator_last_seen() is None
    store.set_operator_last_seen(NOW_MS)
    assert store.operator_last_seen() == NOW_MS
    store.set_operator_last_seen(NOW_MS - 5)
    assert store.operator_last_seen() == NOW_MS - 5


# streams and housekeeping -----------------------------------------------------------------------
@pytest.mark.parametrize("nickname", ["Ann", None])
def test_decode_change_round_trips_a_message_item(store: Store, nickname: str | None) -> None:
    message = send(store, nickname=nickname).message

    assert store.decode_change(message_item(message)) == message


def test_decode_change_ignores_other_items(store: Store) -> None:
    assert store.decode_change({"pk": "T#room/a", "sk": "HEAD", "kind": "head"}) is None
    assert store.decode_change({"pk": "C#c1", "sk": "CONN", "kind": "conn"}) is None
    assert store.decode_change({}) is None


def test_sweep_never_removes_live_data(store: Store) -> None:
    send(store, expires_at=NOW_S - 1)
    live = send(store)
    connect(store, "c1")

    assert store.sweep(NOW_MS) >= 0

    assert store.read_after(Topic("room/a"), 0, 10, NOW_MS).messages == [live.message]
    assert store.get_connection(ConnectionId("c1")) is not None
    assert store.last_seq(Topic("room/a")) == 2


# DynamoDB specifics -----------------------------------------------------------------------------
class _RaceBeforeFirstWrite:
    """A client proxy that lets a rival append land just before this store's first transaction."""

    def __init__(self, client: Any, rival: Callable[[], object]) -> None:
        self._client = client
        self._rival: Callable[[], object] | None = rival
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **request: Any) -> Any:
        self.transactions += 1
        rival, self._rival = self._rival, None
        if rival is not None:
            rival()
        return self._client.transact_write_items(**request)


def test_dynamo_a_lost_race_for_the_head_is_retried(dynamo_table: DynamoTable) -> None:
    rival_store = dynamo_table.recorded_store()
    racer = _RaceBeforeFirstWrite(dynamo_table.client, lambda: send(rival_store, text="rival"))
    store = DynamoStore(dynamo_table.name, client=racer)
    send(rival_store, text="first")

    mine = send(store, text="mine")

    assert racer.transactions == 2
    assert mine.message.seq == 3
    page = store.read_after(Topic("room/a"), 0, 10, NOW_MS)
    assert [m.text for m in page.messages] == ["first", "rival", "mine"]


def test_dynamo_a_rival_copy_of_the_same_send_wins_as_the_duplicate(
    dynamo_table: DynamoTable,
) -> None:
    rival_store = dynamo_table.recorded_store()
    racer = _RaceBeforeFirstWrite(
        dynamo_table.client, lambda: send(rival_store, cmid="same", text="rival copy")
    )
    store = DynamoStore(dynamo_table.name, client=racer)

    result = send(store, cmid="same", text="my copy")

    assert result.duplicate is True
    assert result.message.text == "rival copy"
    assert store.last_seq(Topic("room/a")) == 1


def test_dynamo_gives_up_after_max_append_attempts(dynamo_table: DynamoTable) -> None:
    rival_store = dynamo_table.recorded_store()

    class AlwaysRaced(_RaceBeforeFirstWrite):
        def transact_write_items(self, **request: Any) -> Any:
            send(rival_store)
            self.transactions += 1
            return self._client.transact_write_items(**request)

    racer = AlwaysRaced(dynamo_table.client, lambda: None)
    store = DynamoStore(dynamo_table.name, client=racer, max_append_attempts=3)

    with pytest.raises(StoreUnavailable):
        send(store, cmid="unlucky")

    assert racer.transactions == 3
    page = store.read_after(Topic("room/a"), 0, 10, NOW_MS)
    assert seqs(page.messages) == [1, 2, 3]
    assert "unlucky" not in {m.client_msg_id for m in page.messages}
    # Nothing of the cancelled attempts stayed behind: the client's resend is a first send.
    resent = send(rival_store, cmid="unlucky")
    assert (resent.duplicate, resent.message.seq) == (False, 4)


class _Throttled:
    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(**_: Any) -> Any:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
            raise ClientError(error, name)

        return fail


def test_dynamo_throttling_is_store_unavailable() -> None:
    store = DynamoStore("chat", client=_Throttled())

    with pytest.raises(StoreUnavailable):
        store.get_connection(ConnectionId("c1"))
    with pytest.raises(StoreUnavailable):
        send(store)


def test_dynamo_an_unreachable_endpoint_is_store_unavailable(moto_endpoint: str) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=1, retries={"total_max_attempts": 1}),
    )
    store = DynamoStore("chat", client=client)

    with pytest.raises(StoreUnavailable):
        store.last_seq(Topic("room/a"))


def test_dynamo_store_builds_its_client_on_first_use(
    dynamo_table: DynamoTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[dict[str, Any]] = []
    real_client = boto3.client

    def client(service: str, **kwargs: Any) -> Any:
        made.append({"service": service, **kwargs})
        return real_client(service, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    store = DynamoStore(dynamo_table.name, endpoint_url=dynamo_table.endpoint)
    assert made == []

    assert send(store).message.seq == 1
    assert store.last_seq(Topic("room/a")) == 1
    assert [(m["service"], m["endpoint_url"]) for m in made] == [
        ("dynamodb", dynamo_table.endpoint)
    ]
    store.close()


def test_dynamo_messages_decode_from_their_stored_item(dynamo_table: DynamoTable) -> None:
    from boto3.dynamodb.types import TypeDeserializer

    store = dynamo_table.recorded_store()
    message = send(store).message
    raw = dynamo_table.client.get_item(
        TableName=dynamo_table.name, Key={"pk": {"S": "T#room/a"}, "sk": {"S": "M#000000000001"}}
    )["Item"]
    image = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}

    assert image == message_item(message)
    assert store.decode_change(image) == message


def test_dynamo_schema_matches_the_template() -> None:
    from pathlib import Path

    from hubbub.runtime.cloudformation.yamltags import load_template

    template = load_template(Path(__file__).parents[2] / "template.yaml")
    chat = template["Resources"]["ChatTable"]["Properties"]
    definition = table_definition("t")

    assert definition["AttributeDefinitions"] == chat["AttributeDefinitions"]
    assert definition["KeySchema"] == chat["KeySchema"]
    assert definition["GlobalSecondaryIndexes"] == chat["GlobalSecondaryIndexes"]
    assert (
        definition["StreamSpecification"]["StreamViewType"]
        == (chat["StreamSpecification"]["StreamViewType"])
    )
    assert chat["TimeToLiveSpecification"]["AttributeName"] == "expiresAt"
