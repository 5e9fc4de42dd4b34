"""The local stream's on-disk form (``hubbub.streamlog``): DynamoDB JSON and the outbox table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub import streamlog

ITEM = {"pk": "T#room/a", "sk": "M#000000000001", "kind": "msg", "seq": 1, "text": "hi"}


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(streamlog.SCHEMA)
    yield conn
    conn.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"NULL": True}),
        (True, {"BOOL": True}),
        (False, {"BOOL": False}),
        (0, {"N": "0"}),
        (-12, {"N": "-12"}),
        (1.5, {"N": "1.5"}),
        ("", {"S": ""}),
        ("héllo", {"S": "héllo"}),
        ([1, "a"], {"L": [{"N": "1"}, {"S": "a"}]}),
        ((None,), {"L": [{"NULL": True}]}),
        ({"a": {"b": 2}}, {"M": {"a": {"M": {"b": {"N": "2"}}}}}),
    ],
)
def test_values_become_dynamodb_json(value: object, expected: dict[str, Any]) -> None:
    """Plain values map to DynamoDB's typed JSON; bools stay BOOL, never N."""
    assert streamlog.to_attribute_value(value) == expected


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object()])
def test_unsupported_values_are_refused(value: object) -> None:
    """A value with no DynamoDB JSON form here raises TypeError naming its type."""
    with pytest.raises(TypeError, match=type(value).__name__):
        streamlog.to_attribute_value(value)


_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _as_decoded(value: Any) -> Any:
    """What boto3's deserializer gives back for a plain value (numbers become Decimal)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, list):
        return [_as_decoded(v) for v in value]
    return {k: _as_decoded(v) for k, v in value.items()}


@settings(max_examples=60, deadline=None)
@given(item=st.dictionaries(st.text(min_size=1, max_size=8), _plain, max_size=5))
def test_images_round_trip_through_boto3s_deserializer(item: dict[str, Any]) -> None:
    """What the log writes is DynamoDB JSON that boto3 reads back to the same item."""
    deserializer = TypeDeserializer()
    image = streamlog.to_attribute_map(item)
    assert {k: deserializer.deserialize(v) for k, v in image.items()} == _as_decoded(item)


def test_an_insert_is_read_back_with_keys_and_new_image(db: sqlite3.Connection) -> None:
    """An appended INSERT comes back with its keys, its NewImage, no OldImage and its time."""
    streamlog.append(db, "INSERT", ITEM, 1000)
    (entry,) = streamlog.read_after(db, 0, 10)
    assert entry.seq == 1
    assert entry.event_name == "INSERT"
    assert entry.keys == {"pk": {"S": "T#room/a"}, "sk": {"S": "M#000000000001"}}
    assert entry.new_image == streamlog.to_attribute_map(ITEM)
    assert entry.old_image is None
    assert entry.created_ms == 1000
    assert entry.size_bytes > 0


def test_a_modify_keeps_both_images(db: sqlite3.Connection) -> None:
    """A MODIFY with the old item keeps NewImage and OldImage."""
    streamlog.append(db, "MODIFY", {**ITEM, "text": "new"}, 1, old_item=ITEM)
    (entry,) = streamlog.read_after(db, 0, 10)
    assert entry.new_image is not None
    assert entry.new_image["text"] == {"S": "new"}
    assert entry.old_image == streamlog.to_attribute_map(ITEM)


def test_a_remove_has_no_new_image(db: sqlite3.Connection) -> None:
    """A REMOVE carries the keys and the old image only."""
    streamlog.append(db, "REMOVE", ITEM, 1, old_item=ITEM)
    (entry,) = streamlog.read_after(db, 0, 10)
    assert entry.new_image is None
    assert entry.old_image is not None


def test_an_unknown_event_name_is_refused_by_the_table(db: sqlite3.Connection) -> None:
    """Only INSERT, MODIFY and REMOVE can be logged."""
    with pytest.raises(sqlite3.IntegrityError):
        streamlog.append(db, "UPSERT", ITEM, 1)


def test_reads_start_after_the_position_in_order_and_stop_at_the_limit(
    db: sqlite3.Connection,
) -> None:
    """read_after gives the entries after a position, oldest first, at most ``limit``."""
    for i in range(1, 6):
        streamlog.append(db, "INSERT", {**ITEM, "sk": f"M#{i}"}, i)
    assert [e.seq for e in streamlog.read_after(db, 0, 3)] == [1, 2, 3]
    assert [e.seq for e in streamlog.read_after(db, 3, 10)] == [4, 5]
    assert streamlog.read_after(db, 5, 10) == []


def test_trim_drops_only_entries_older_than_the_bound(db: sqlite3.Connection) -> None:
    """trim removes what was created before the bound and keeps the rest and their positions."""
    for created in (100, 200, 300):
        streamlog.append(db, "INSERT", ITEM, created)
    assert streamlog.trim(db, 250) == 2
    assert [(e.seq, e.created_ms) for e in streamlog.read_after(db, 0, 10)] == [(3, 300)]


def test_positions_are_never_reused_after_a_trim(db: sqlite3.Connection) -> None:
    """Positions keep growing after old entries are trimmed, so checkpoints stay valid."""
    streamlog.append(db, "INSERT", ITEM, 1)
    streamlog.append(db, "INSERT", ITEM, 2)
    streamlog.trim(db, 10)
    streamlog.append(db, "INSERT", ITEM, 20)
    assert [e.seq for e in streamlog.read_after(db, 0, 10)] == [3]
