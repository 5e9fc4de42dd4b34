"""``ParallelizationFactor`` (``dynamodb.lanes``): a mapping read as several lanes at once, each
partition key in one lane and in order, each lane with its own checkpoint and failures."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, cast

from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.cloudformation import StreamMappingSpec, TableSpec
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.lanes import Lane, carry_checkpoints, hash_key_of, lane_names
from hubbub.runtime.dynamodb.poller import StreamPoller
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.streamlog import LogEntry, to_attribute_map
from tests.support.waiting import eventually
from tests.unit.runtime.dynamodb.test_poller import (
    STREAM_ARN,
    Behaviour,
    FakePool,
    ListSource,
    error,
    ok,
)

MAPPING = "Fan.Messages"
TABLE = TableSpec(
    "T",
    "t",
    "NEW_IMAGE",
    None,
    properties={"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]},
)
ROOMS = [f"T#room/{name}" for name in ("a", "b", "c", "d", "e", "f", "g", "h")]


def keyed(seq: int, pk: str) -> LogEntry:
    item = {"pk": pk, "sk": f"M#{seq:012d}", "kind": "msg", "seq": seq}
    return LogEntry(
        seq=seq,
        event_name="INSERT",
        keys=to_attribute_map({"pk": pk, "sk": item["sk"]}),
        new_image=to_attribute_map(item),
        old_image=None,
        created_ms=int(time.time() * 1000),
        size_bytes=100,
    )


def interleaved(n: int) -> list[LogEntry]:
    """``n`` records, round-robin over the rooms, so every lane's are spread among others'."""
    return [keyed(seq, ROOMS[seq % len(ROOMS)]) for seq in range(1, n + 1)]


def pk_of(entry: LogEntry) -> str:
    return str(entry.keys["pk"]["S"])


def lanes(
    state: RuntimeState,
    stream: list[LogEntry],
    behaviour: Behaviour,
    count: int,
    **settings: object,
) -> tuple[list[StreamPoller], list[FakePool]]:
    """``count`` lanes of one mapping over ``stream``, each with a pool of its own (to see which
    lane sent what), every checkpoint at the stream's start."""
    mapping = replace(
        StreamMappingSpec(name=MAPPING, function="Fan", table="T"),
        **{"starting_position": "TRIM_HORIZON", "parallelization_factor": count, **settings},
    )
    source = ListSource(stream)
    pools = [FakePool(behaviour) for _ in range(count)]
    pollers = [
        StreamPoller(
            mapping,
            TABLE,
            STREAM_ARN,
            source,
            cast(FunctionPool, pool),
            state,
            region="us-east-1",
            lane=Lane(index, count, hash_key_of(TABLE)),
        )
        for index, pool in enumerate(pools)
    ]
    for poller in pollers:
        state.save_checkpoint(poller.name, 0)
    return pollers, pools


async def run_all(pollers: list[StreamPoller], latest: int, max_steps: int = 200) -> None:
    """Step every lane in turn until each has checkpointed the whole stream and found nothing
    more to do."""
    for _ in range(max_steps):
        moved = [await p._step() for p in pollers]
        if not any(moved) and all(p.state.checkpoint(p.name) == latest for p in pollers):
            return
    raise AssertionError("the lanes were still moving")


def test_a_partition_key_always_has_the_same_lane() -> None:
    """The lane of a key is a function of the key alone (CRC-32 of its DynamoDB JSON), so it
    does not change from one start to the next: this pins the hash."""
    owners = [next(i for i in range(4) if Lane(i, 4, "pk").owns(keyed(1, pk))) for pk in ROOMS[:4]]
    assert owners == [3, 2, 1, 0]
    assert all(Lane(0, 1, "pk").owns(keyed(1, pk)) for pk in ROOMS), "one lane owns every key"


def test_the_hash_key_is_read_from_the_key_schema() -> None:
    assert hash_key_of(TABLE) == "pk"
    assert hash_key_of(TableSpec("T", "t", "NEW_IMAGE", None)) is None


async def test_each_key_goes_to_one_lane_in_order_and_every_record_once(
    state: RuntimeState,
) -> None:
    """Three lanes over 40 records of eight rooms: together they send each record exactly once,
    a room's records all from one lane and in stream order, and every lane gets some."""
    stream = interleaved(40)
    pollers, pools = lanes(state, stream, lambda seqs: ok(), 3, batch_size=5)
    await run_all(pollers, latest=40)
    sent = [seq for pool in pools for batch in pool.batches for seq in batch]
    assert sorted(sent) == list(range(1, 41))
    by_seq = {e.seq: e for e in stream}
    for pool in pools:
        mine = [seq for batch in pool.batches for seq in batch]
        assert mine, "every lane has rooms of its own"
        assert mine == sorted(mine), "a lane sends in stream order"
        assert all(len(batch) <= 5 for batch in pool.batches)
    lane_of_room = {
        pk_of(by_seq[seq]): index
        for index, pool in enumerate(pools)
        for batch in pool.batches
        for seq in batch
    }
    for index, pool in enumerate(pools):
        assert all(lane_of_room[pk_of(by_seq[s])] == index for b in pool.batches for s in b)


async def test_a_failing_record_holds_its_lane_only(state: RuntimeState) -> None:
    """A record that keeps failing stops its own lane, retried from there, while the other lanes
    carry on to the end of the stream; after its retries it goes to the dead letters, under the
    mapping's name, and its lane goes on."""
    stream = interleaved(24)
    poison = 11
    pollers, pools = lanes(
        state,
        stream,
        lambda seqs: error() if poison in seqs else ok(),
        2,
        batch_size=4,
        maximum_retry_attempts=2,
        bisect_on_error=True,
    )
    stuck = next(p for p in pollers if p.lane.owns(stream[poison - 1]))
    other = next(p for p in pollers if p is not stuck)
    for _ in range(3):  # the stuck lane fails its batch; the other one moves on
        await other._step()
        await stuck._step()
    assert (state.checkpoint(stuck.name) or 0) < poison
    await run_all([other], latest=24)
    assert (state.checkpoint(stuck.name) or 0) < poison, "the other lane did not move it"
    await run_all(pollers, latest=24)
    assert [d.seq for d in state.dead_letters(MAPPING)] == [poison]
    stuck_pool = pools[pollers.index(stuck)]
    alone = [b for b in stuck_pool.batches if b == [poison]]
    assert len(alone) == 3, "bisected down to the poison, then tried 1 + 2 retries"
    delivered = {
        s
        for pool in pools
        for b, r in zip(pool.batches, pool.results, strict=True)
        if r.ok
        for s in b
    }
    assert delivered == set(range(1, 25)) - {poison}


async def test_passing_another_lanes_records_keeps_a_retry_count(state: RuntimeState) -> None:
    """A partial failure checkpoints the lane just before its failed record, with another lane's
    record in between; passing that record must not start the retries of the failed one over:
    it is tried 1 + MaximumRetryAttempts times, no more."""
    stream = interleaved(12)  # with two lanes, odd positions are lane 0's, even ones lane 1's
    failing = 3

    def partial(seqs: list[int]) -> InvokeResult:
        if failing in seqs:
            return ok({"batchItemFailures": [{"itemIdentifier": sequence_number(failing)}]})
        return ok()

    pollers, pools = lanes(
        state,
        stream,
        partial,
        2,
        batch_size=4,
        maximum_retry_attempts=1,
        report_batch_item_failures=True,
    )
    lane = next(p for p in pollers if p.lane.owns(stream[failing - 1]))
    assert [e.seq for e in stream if lane.lane.owns(e)] == [1, 3, 5, 7, 9, 11]
    await run_all(pollers, latest=12)
    tries = [b for b in pools[pollers.index(lane)].batches if failing in b]
    assert len(tries) == 2
    assert [d.seq for d in state.dead_letters(MAPPING)] == [failing]


async def test_lanes_invoke_the_function_at_the_same_time(state: RuntimeState) -> None:
    """The point of the factor: two lanes' batches are in the function at once."""
    stream = interleaved(16)
    inside = 0
    most = 0
    release = asyncio.Event()

    class SlowPool(FakePool):
        async def invoke(self, event: dict[str, Any]) -> InvokeResult:
            nonlocal inside, most
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1
            return await super().invoke(event)

    pollers, _ = lanes(state, stream, lambda seqs: ok(), 2)
    for poller in pollers:
        poller.pool = cast(FunctionPool, SlowPool(lambda seqs: ok()))
    tasks = [asyncio.create_task(p._step()) for p in pollers]
    await eventually(lambda: most == 2 or None, what="both lanes inside the function")
    release.set()
    assert await asyncio.gather(*tasks) == [True, True]


# -- checkpoints when the factor changes --------------------------------------------------------


def test_lane_names_keep_the_mappings_own_name_for_one_lane() -> None:
    assert lane_names(MAPPING, 1) == [MAPPING]
    assert lane_names(MAPPING, 3) == [f"{MAPPING}#0", f"{MAPPING}#1", f"{MAPPING}#2"]


def test_a_mapping_seen_first_or_unchanged_keeps_its_checkpoints(state: RuntimeState) -> None:
    assert carry_checkpoints(state, MAPPING, 3) is False
    assert state.checkpoints_of(MAPPING) == {}
    for name, seq in zip(lane_names(MAPPING, 3), (7, 9, 8), strict=True):
        state.save_checkpoint(name, seq)
    assert carry_checkpoints(state, MAPPING, 3) is False
    assert state.checkpoints_of(MAPPING) == {
        f"{MAPPING}#0": 7,
        f"{MAPPING}#1": 9,
        f"{MAPPING}#2": 8,
    }


def test_a_new_factor_starts_every_lane_from_the_lowest_position(state: RuntimeState) -> None:
    """Keys move between lanes when the factor changes, so no lane may start past a record
    another lane had not handled: every lane starts from the lowest position, and the old
    names go, with their open windows."""
    state.save_checkpoint(MAPPING, 12)
    state.save_window(MAPPING, 60_000, {"count": 4})
    state.save_checkpoint("Other.Mapping", 3)
    assert carry_checkpoints(state, MAPPING, 3) is True
    assert state.checkpoints_of(MAPPING) == dict.fromkeys(lane_names(MAPPING, 3), 12)
    assert state.window(MAPPING) is None, "a tumbling window's keys are no longer its lane's"
    state.save_checkpoint(f"{MAPPING}#1", 20)
    state.save_checkpoint(f"{MAPPING}#2", 15)
    assert carry_checkpoints(state, MAPPING, 2) is True
    assert state.checkpoints_of(MAPPING) == dict.fromkeys(lane_names(MAPPING, 2), 12)
    assert carry_checkpoints(state, MAPPING, 1) is True
    assert state.checkpoints_of(MAPPING) == {MAPPING: 12}
    assert state.checkpoint("Other.Mapping") == 3, "another mapping's is its own"


def test_a_new_stream_drops_the_checkpoints_and_windows_of_every_lane(state: RuntimeState) -> None:
    for name in lane_names(MAPPING, 2):
        state.save_checkpoint(name, 5)
        state.save_window(name, 60_000, {"count": 1})
    state.save_checkpoint("Fan.MessagesToo", 6)
    assert state.use_source(MAPPING, "arn:stream/1") is False
    assert state.use_source(MAPPING, "arn:stream/2") is True
    assert state.checkpoints_of(MAPPING) == {}
    assert [state.window(name) for name in lane_names(MAPPING, 2)] == [None, None]
    assert state.checkpoint("Fan.MessagesToo") == 6, "a name that only starts alike is kept"
