"""The ``RateBuckets`` role on every adapter: the rate limiter's shared token buckets.

The limit must hold across execution environments, so these tests take from the same bucket
through several stores (another process's, another Lambda environment's) and from threads at
once, and expect exactly the burst to get through.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from hubbub.ids import ClientMsgId, MessageId, Topic, UserId
from hubbub.store.buckets import Rate, take
from hubbub.store.port import AppendRequest, AppendResult, Store, TokensRefused
from tests.contract.conftest import Backend, DynamoTable

NOW_MS = 1_700_000_000_000
_names = itertools.count()


def bucket() -> str:
    return f"send#v_{next(_names)}"


def test_a_burst_is_allowed_then_refused_with_the_wait(store: Store) -> None:
    rate, key = Rate(2.0, 3), bucket()
    assert [store.take_token(key, rate, NOW_MS) for _ in range(3)] == [0, 0, 0]
    assert store.take_token(key, rate, NOW_MS) == 500_000
    assert store.take_token(key, rate, NOW_MS + 200) == 300_000


def test_the_bucket_refills_at_the_rate_up_to_the_burst(store: Store) -> None:
    rate, key = Rate(1.0, 2), bucket()
    store.take_token(key, rate, NOW_MS)
    store.take_token(key, rate, NOW_MS)
    assert store.take_token(key, rate, NOW_MS + 1000) == 0
    later = NOW_MS + 3_600_000
    assert [store.take_token(key, rate, later) for _ in range(3)] == [0, 0, 1_000_000]


def test_a_refusal_changes_nothing(store: Store) -> None:
    rate, key = Rate(1.0, 1), bucket()
    store.take_token(key, rate, NOW_MS)
    for _ in range(5):
        assert store.take_token(key, rate, NOW_MS + 100) == 900_000
    assert store.take_token(key, rate, NOW_MS + 1000) == 0


def test_buckets_are_independent(store: Store) -> None:
    rate, one, other = Rate(1.0, 1), bucket(), bucket()
    store.take_token(one, rate, NOW_MS)
    assert store.take_token(one, rate, NOW_MS) > 0
    assert store.take_token(other, rate, NOW_MS) == 0


def test_the_adapter_agrees_with_the_bucket_arithmetic(store: Store) -> None:
    """A ragged sequence of takes answers what ``hubbub.store.buckets.take`` answers."""
    rate, key = Rate(3.0, 4), bucket()
    tat: int | None = None
    for step in (0, 0, 10, 10, 10, 50, 400, 401, 402, 900, 5000, 5000, 5001):
        now_ms = NOW_MS + step
        expected = take(tat, now_ms * 1000, rate)
        if expected.allowed:
            tat = expected.tat_us
        assert store.take_token(key, rate, now_ms) == expected.wait_us, step


def test_stores_of_other_environments_share_the_bucket(backend: Backend) -> None:
    rate, key = Rate(1.0, 4), bucket()
    stores = [backend.store() for _ in range(4)]
    assert [s.take_token(key, rate, NOW_MS) for s in stores] == [0, 0, 0, 0]
    assert all(s.take_token(key, rate, NOW_MS) > 0 for s in stores)


@pytest.mark.parametrize("burst", [1, 10])
def test_concurrent_takes_let_exactly_the_burst_through(backend: Backend, burst: int) -> None:
    """Eight writers, each with a store of its own, take 5 tokens each at the same instant."""
    rate, key = Rate(0.001, burst), bucket()
    stores = [backend.store() for _ in range(8)]

    def takes(store: Store) -> list[int]:
        return [store.take_token(key, rate, NOW_MS) for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        results = [wait for waits in pool.map(takes, stores) for wait in waits]
    assert results.count(0) == burst


def test_on_dynamodb_a_take_is_one_write_when_idle_two_in_a_burst(
    dynamo_table: DynamoTable,
) -> None:
    """What docs/deploy.md prices: one UpdateItem per message while a user keeps under the rate,
    two during a burst, one (refused) past it; never a read, and the item expires by TTL."""
    store = dynamo_table.recorded_store()
    (recorder,) = dynamo_table.recorders
    rate, key = Rate(1.0, 3), bucket()

    def writes(now_ms: int) -> list[str]:
        recorder.operations.clear()
        store.take_token(key, rate, now_ms)
        return recorder.operations

    assert writes(NOW_MS) == ["update_item"]
    assert writes(NOW_MS) == ["update_item", "update_item"]
    writes(NOW_MS)
    assert writes(NOW_MS) == ["update_item"]  # refused from the item the failed write returned
    assert writes(NOW_MS + 60_000) == ["update_item"]
    item = dynamo_table.client.get_item(
        TableName=dynamo_table.name, Key={"pk": {"S": f"RATE#{key}"}, "sk": {"S": "RATE"}}
    )["Item"]
    assert int(item["expiresAt"]["N"]) <= (NOW_MS + 60_000) // 1000 + 3


def test_several_takes_stop_at_the_first_refusal(store: Store) -> None:
    """``take_tokens``: the calls one after the other, in one store call."""
    rate, first, second = Rate(1.0, 1), bucket(), bucket()
    assert store.take_tokens([(first, rate), (second, rate)], NOW_MS) == (2, 0)
    assert store.take_tokens([(bucket(), rate), (first, rate), (second, rate)], NOW_MS) == (
        1,
        1_000_000,
    )
    assert store.take_token(second, rate, NOW_MS + 1000) == 0  # the refusal changed nothing
    assert store.take_tokens([], NOW_MS) == (0, 0)


def _append(store: Store, takes: list[tuple[str, Rate]], cmid: str | None = None) -> AppendResult:
    n = next(_names)
    return store.append(
        AppendRequest(
            topic=Topic("room/limited"),
            sender=UserId("v_ann"),
            nickname="Ann",
            text="hello",
            client_msg_id=ClientMsgId(cmid or f"c{n}"),
            message_id=MessageId(f"m{n}"),
            now_ms=NOW_MS,
            expires_at=NOW_MS // 1000 + 3600,
            dedupe_expires_at=NOW_MS // 1000 + 600,
            takes=tuple(takes),
        )
    )


def test_an_append_takes_its_tokens_first_and_a_refused_one_appends_nothing(store: Store) -> None:
    """``AppendRequest.takes``: a send's buckets taken with the append (one commit on SQLite),
    exactly as ``take_tokens`` then ``append`` would."""
    mine, room = bucket(), f"topic#room/{next(_names)}"
    takes = [(mine, Rate(1.0, 2)), (room, Rate(1.0, 100))]
    assert [_append(store, takes).message.seq for _ in range(2)] == [1, 2]
    with pytest.raises(TokensRefused) as refused:
        _append(store, takes)
    assert (refused.value.taken, refused.value.wait_us) == (0, 1_000_000)
    assert store.last_seq(Topic("room/limited")) == 2
    assert len(store.read_after(Topic("room/limited"), 0, 10, NOW_MS).messages) == 2
    assert store.take_token(room, Rate(1.0, 2), NOW_MS) == 1_000_000  # two taken, not three


def test_the_takes_before_a_refused_one_stay_taken(store: Store) -> None:
    rate, first, second = Rate(1.0, 1), bucket(), bucket()
    assert store.take_token(second, rate, NOW_MS) == 0
    with pytest.raises(TokensRefused) as refused:
        _append(store, [(first, rate), (second, rate)])
    assert (refused.value.taken, refused.value.wait_us) == (1, 1_000_000)
    assert store.last_seq(Topic("room/limited")) == 0
    assert store.take_token(first, rate, NOW_MS) == 1_000_000


def test_a_repeated_send_is_charged_like_any_other(store: Store) -> None:
    """The takes come before the dedupe check, as the limiter took them before ``append``: a
    client resending one message in a loop is throttled too."""
    rate, mine = Rate(1.0, 2), bucket()
    first = _append(store, [(mine, rate)], cmid="again")
    assert _append(store, [(mine, rate)], cmid="again") == AppendResult(first.message, True)
    with pytest.raises(TokensRefused):
        _append(store, [(mine, rate)], cmid="again")
