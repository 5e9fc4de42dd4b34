"""The pure pieces of the store adapters: keys, expressions and codecs, table-driven.

The contract suite checks the adapters' behaviour end to end; these pin the small functions it
rests on, where a mistake (two senders sharing a dedupe key, a value sent that no expression
names) would show up there only as a rare, confusing failure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.ids import ClientMsgId, ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.protocol.topics import filter_matches
from hubbub.store.dynamodb import codec as dynamo_codec
from hubbub.store.dynamodb.expressions import optional, placeholders, update
from hubbub.store.dynamodb.keys import (
    REGISTRY_REPLICAS,
    dedupe_sk,
    is_wildcard,
    key,
    recent_sk,
    wildcard_read_pks,
    wildcard_write_pks,
)
from hubbub.store.items import message_from_item, message_item, new_message, revised
from hubbub.store.port import AppendRequest, Connection, Message, Role, Subscription, User
from hubbub.store.records import seq_of_message_id
from hubbub.store.sqlite import codec as sqlite_codec

REQUEST = AppendRequest(
    topic=Topic("room/a"),
    sender=UserId("v_1"),
    nickname="Vera",
    text="hello",
    client_msg_id=ClientMsgId("m1"),
    message_id=MessageId("01J"),
    now_ms=1_700_000_000_000,
    expires_at=1_700_086_400,
    dedupe_expires_at=1_700_086_400,
)


def test_new_message_takes_everything_but_the_seq_from_the_request() -> None:
    assert new_message(REQUEST, 7) == Message(
        topic=Topic("room/a"),
        seq=7,
        id=MessageId("01J.7"),
        ts=1_700_000_000_000,
        sender=UserId("v_1"),
        nickname="Vera",
        text="hello",
        client_msg_id=ClientMsgId("m1"),
        expires_at=1_700_086_400,
    )


@pytest.mark.parametrize("nickname", ["Vera", None])
def test_a_new_message_survives_both_stored_shapes(nickname: str | None) -> None:
    """The item DynamoDB stores (and SQLite streams) and the SQLite row decode back to it."""
    message = new_message(replace(REQUEST, nickname=nickname), 3)
    assert message_from_item(message_item(message)) == message
    assert sqlite_codec.message_of(sqlite_codec.message_row(message)) == message


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(("a#b", "c"), ("a", "b#c"), id="hash in sender vs in cmid"),
        pytest.param(("a%23b", "c"), ("a#b", "c"), id="escaped-looking sender"),
        pytest.param(("a%", "23#c"), ("a%23", "c"), id="percent at the end"),
    ],
)
def test_two_senders_never_share_a_dedupe_key(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert dedupe_sk(*a) != dedupe_sk(*b)


@pytest.mark.parametrize(
    ("topic_filter", "wildcard"),
    [("room/a", False), ("room/+", True), ("room/#", True), ("room/a+b", False), ("#", True)],
)
def test_is_wildcard(topic_filter: str, wildcard: bool) -> None:
    assert is_wildcard(topic_filter) is wildcard


@pytest.mark.parametrize(
    ("stored", "role"),
    [
        pytest.param("operator", Role.OPERATOR, id="an operator's message"),
        pytest.param("visitor", Role.VISITOR, id="a visitor's message"),
        pytest.param(None, Role.VISITOR, id="stored before roles were recorded"),
        pytest.param("admin", Role.VISITOR, id="a role this version does not know"),
    ],
)
def test_a_stored_message_s_role_reads_as_visitor_unless_it_says_otherwise(
    stored: str | None, role: Role
) -> None:
    """Old items (no role) and unknown roles claim nothing: never staff by default."""
    item = message_item(new_message(REQUEST, 1))
    del item["role"]
    if stored is not None:
        item["role"] = stored
    decoded = message_from_item(item)
    assert decoded is not None and decoded.role is role
    row = (*sqlite_codec.message_row(decoded)[:9], stored, None, 0, None)
    assert sqlite_codec.message_of(row).role is role


@pytest.mark.parametrize("text", ["edited text", None], ids=["an edit", "a delete"])
def test_a_rewritten_message_survives_both_stored_shapes(text: str | None) -> None:
    """An edit (new text, editedAt) or a delete (a tombstone with no text) decodes the same
    from a DynamoDB item, a stream image and a SQLite row."""
    after = revised(new_message(REQUEST, 4), text, 1_700_000_000_500)
    item = message_item(after)
    assert ("text" in item) is (text is not None)
    assert message_from_item(item) == after
    assert sqlite_codec.message_of(sqlite_codec.message_row(after)) == after


def test_a_message_id_ends_in_its_seq_and_nothing_else_names_one() -> None:
    message = new_message(REQUEST, 42)
    assert seq_of_message_id(message.id) == 42
    for other in ("01J", "01J.", "01J.x", "01J.-1", "", "."):
        assert seq_of_message_id(other) is None


def test_the_role_of_the_request_is_the_role_stored_in_both_shapes() -> None:
    operator = new_message(replace(REQUEST, role=Role.OPERATOR), 1)
    assert operator.role is Role.OPERATOR
    assert message_from_item(message_item(operator)) == operator
    assert sqlite_codec.message_of(sqlite_codec.message_row(operator)) == operator


@pytest.mark.parametrize(
    ("topic_filter", "pks"),
    [
        ("room/lobby/#", ["W#room/lobby"]),
        ("room/a/+/#", ["W#room/a"]),
        ("$sys/a/b/#", ["W#$sys/a/b"]),
        ("room/+", [f"W#room#{r}" for r in range(REGISTRY_REPLICAS)]),
        ("desk/#", [f"W#desk#{r}" for r in range(REGISTRY_REPLICAS)]),
    ],
)
def test_a_registry_entry_lives_under_its_anchor(topic_filter: str, pks: list[str]) -> None:
    """Under the levels before the first wildcard; a one-level anchor in every replica."""
    assert wildcard_write_pks(topic_filter) == pks


def test_a_message_reads_one_registry_partition_per_level_and_spreads_the_class_level() -> None:
    """A room message reads two small partitions, not the whole registry; which replica of
    W#room it reads depends on the topic, so the rooms together spread over all of them."""
    reads = [wildcard_read_pks(f"room/r{i}") for i in range(200)]
    assert all(len(pks) == 2 and pks[1] == f"W#room/r{i}" for i, pks in enumerate(reads))
    assert {pks[0] for pks in reads} == set(wildcard_write_pks("room/+"))
    assert wildcard_read_pks("$sys/a/b") == [
        wildcard_read_pks("$sys/a/b")[0],
        "W#$sys/a",
        "W#$sys/a/b",
    ]


_LEVEL = st.sampled_from(["room", "desk", "$sys", "a", "b"])


@st.composite
def _filters(draw: st.DrawFn) -> str:
    levels = [draw(_LEVEL)]
    levels += draw(st.lists(st.sampled_from(["a", "b", "+"]), max_size=3))
    if draw(st.booleans()):
        levels.append("#")
    return "/".join(levels)


@settings(max_examples=300, deadline=None)
@given(topic_filter=_filters(), topic=st.lists(_LEVEL, min_size=1, max_size=4).map("/".join))
def test_every_filter_that_matches_a_topic_is_in_a_partition_the_topic_reads(
    topic_filter: str, topic: str
) -> None:
    """The registry can only be spread if nothing is lost: a matching filter is always written to
    a partition the topic's message reads."""
    if filter_matches(topic_filter, topic):
        assert set(wildcard_write_pks(topic_filter)) & set(wildcard_read_pks(topic))


@pytest.mark.parametrize(
    ("updated_at", "topic", "expected"),
    [(0, "desk/v", "0000000000000#desk/v"), (1_700_000_000_000, "r", "1700000000000#r")],
)
def test_recent_sk_sorts_by_time_first(updated_at: int, topic: str, expected: str) -> None:
    assert recent_sk(updated_at, topic) == expected


@pytest.mark.parametrize(
    ("expressions", "values", "expected"),
    [
        pytest.param(
            ("#pk = :pk",),
            {"pk": "T#a", "unused": 1},
            {
                "ExpressionAttributeNames": {"#pk": "pk"},
                "ExpressionAttributeValues": {":pk": {"S": "T#a"}},
            },
            id="only what is used",
        ),
        pytest.param(
            ("attribute_not_exists(#pk)",),
            {},
            {"ExpressionAttributeNames": {"#pk": "pk"}},
            id="names without values",
        ),
        pytest.param(("",), {"x": 1}, {}, id="nothing"),
    ],
)
def test_placeholders(
    expressions: tuple[str, ...], values: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert placeholders(*expressions, **values) == expected


@pytest.mark.parametrize(
    ("sets", "removes", "raw", "expected"),
    [
        ({"a": 1}, [], [], "SET #a = :a"),
        ({"a": 1, "b": 2}, ["c"], [], "SET #a = :a, #b = :b REMOVE #c"),
        ({"a": 1}, [], ["#n = if_not_exists(#n, :n)"], "SET #n = if_not_exists(#n, :n), #a = :a"),
    ],
)
def test_update(sets: dict[str, Any], removes: list[str], raw: list[str], expected: str) -> None:
    assert update(sets, removes, raw_sets=raw) == (expected, sets)


def test_optional_removes_the_none_attributes() -> None:
    assert optional(a=1, b=None, c="x") == ({"a": 1, "c": "x"}, ["b"])


def test_key_is_in_the_wire_format() -> None:
    assert key("T#a", "HEAD") == {"pk": {"S": "T#a"}, "sk": {"S": "HEAD"}}


@pytest.mark.parametrize(
    ("user", "gsi"),
    [
        (User(UserId("o_1"), Role.OPERATOR, "Olga"), ("ROLE#operator", "C#c1")),
        (User(UserId("v_1"), Role.VISITOR, None), (None, None)),
    ],
)
def test_a_connection_item_round_trips_and_only_operators_are_indexed(
    user: User, gsi: tuple[str | None, str | None]
) -> None:
    connection = Connection(ConnectionId("c1"), user, connected_at=5, expires_at=9)
    index = dynamo_codec.role_index(user, "c1")
    assert (index["gsi1pk"], index["gsi1sk"]) == gsi
    item = dynamo_codec.load(
        dynamo_codec.dump(
            dynamo_codec.without_none(
                {
                    "id": "c1",
                    **dynamo_codec.user_attributes(user),
                    "connectedAt": 5,
                    "expiresAt": 9,
                }
            )
        )
    )
    assert dynamo_codec.connection_of(item) == connection
    member = dynamo_codec.connection_of(
        dynamo_codec.load(dynamo_codec.dump({**item, "clientId": "d-1"}))
    )
    assert member.client_id == "d-1"


def test_sqlite_rows_decode_in_the_order_of_their_column_lists() -> None:
    user = User(UserId("v_1"), Role.VISITOR, "Vera")
    assert sqlite_codec.connection_of(("c1", "v_1", "visitor", "Vera", 5, 9, None)) == Connection(
        ConnectionId("c1"), user, 5, 9
    )
    member = Connection(ConnectionId("mqtt:1"), user, 5, 9, "paho-1")
    assert sqlite_codec.connection_of(sqlite_codec.connection_row(member)) == member
    assert sqlite_codec.subscription_of(("c1", "room/+", "v_1", "visitor", "Vera")) == (
        Subscription(ConnectionId("c1"), TopicFilter("room/+"), user)
    )
