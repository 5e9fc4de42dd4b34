"""Reading a table's stream through the ``dynamodbstreams`` API (``DynamoStreamSource``), and the
stream mapping over it: positions are DynamoDB sequence numbers, larger than SQLite's integers;
FilterCriteria skip records; a mapping that reads a new stream drops its old checkpoint.

moto runs as a real HTTP server, so records go through botocore exactly as from DynamoDB.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel
from botocore.exceptions import ClientError

from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.cloudformation import FunctionSpec, StreamMappingSpec, TableSpec
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.poller import StreamPoller
from hubbub.runtime.dynamodb.sources import DynamoStreamSource
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.streamlog import LogEntry
from tests.support.waiting import eventually
from tests.unit.fakes import fan_out_spec
from tests.unit.runtime.dynamodb.moto_tables import Table

BIG = 1_100_000_000_017_454_423_009  # moto's first sequence number: 22 digits, over 2**63


# -- the source against moto ------------------------------------------------------------------


def test_records_arrive_in_order_with_images_in_dynamodb_json(table: Table) -> None:
    """INSERT, MODIFY and REMOVE come back in order, keyed by their sequence numbers; binary
    values become base64 text, as in a Lambda event."""
    source = table.source()
    assert source.pull() == 0
    assert source.latest() == 0
    table.dynamodb.put_item(TableName=table.name, Item={"pk": {"S": "a"}, "b": {"B": b"\x00\x01"}})
    table.dynamodb.put_item(TableName=table.name, Item={"pk": {"S": "a"}, "n": {"N": "5"}})
    table.dynamodb.delete_item(TableName=table.name, Key={"pk": {"S": "a"}})
    assert source.pull() == 3
    insert, modify, remove = source.read_after(0, 10)
    assert [e.event_name for e in (insert, modify, remove)] == ["INSERT", "MODIFY", "REMOVE"]
    assert insert.seq > 2**63 and modify.seq == insert.seq + 1 and remove.seq == insert.seq + 2
    assert sequence_number(insert.seq) == str(insert.seq), "the stream's own number, unpadded"
    assert insert.keys == {"pk": {"S": "a"}}
    assert insert.new_image == {"pk": {"S": "a"}, "b": {"B": base64.b64encode(b"\0\1").decode()}}
    assert modify.old_image == insert.new_image
    assert remove.new_image is None
    assert remove.old_image == {"pk": {"S": "a"}, "n": {"N": "5"}}
    now = datetime.datetime.now(datetime.UTC).timestamp() * 1000
    assert abs(insert.created_ms - now) < 60_000
    assert source.latest() == remove.seq


def test_reading_past_a_position_forgets_what_is_before_it(table: Table) -> None:
    source = table.source()
    for i in range(5):
        table.dynamodb.put_item(TableName=table.name, Item={"pk": {"S": f"k{i}"}})
    source.pull()
    first = source.read_after(0, 2)
    assert len(first) == 2
    rest = source.read_after(first[-1].seq, 10)
    assert [e.seq for e in rest] == [first[-1].seq + i for i in (1, 2, 3)]
    assert source.read_after(rest[-1].seq, 10) == []
    table.dynamodb.put_item(TableName=table.name, Item={"pk": {"S": "later"}})
    assert source.pull() == 1, "the shard iterator carries on after the last record read"
    assert [e.keys for e in source.read_after(rest[-1].seq, 10)] == [{"pk": {"S": "later"}}]


def test_readers_of_one_tail_each_read_after_their_own_position(table: Table) -> None:
    """The lanes of a mapping share one tail: a record one reader has passed is still there for
    the other, and is let go only once both have passed it."""
    source = table.source()
    fast, slow = source.reader(), source.reader()
    for i in range(4):
        table.dynamodb.put_item(TableName=table.name, Item={"pk": {"S": f"k{i}"}})
    source.pull()
    first, second, third, fourth = source.read_after(0, 10)
    assert slow.read_after(0, 10) == [first, second, third, fourth]
    assert fast.read_after(third.seq, 10) == [fourth]
    assert slow.read_after(0, 2) == [first, second], "the fast one let nothing go"
    assert slow.read_after(second.seq, 10) == [third, fourth]
    assert fast.read_after(fourth.seq, 10) == []
    assert slow.read_after(0, 10) == [third, fourth], "both passed the first two: let go"
    assert fast.latest() == slow.latest() == fourth.seq


async def test_the_tail_task_reads_new_records_when_poked(table: Table) -> None:
    source = table.source()
    woken: list[int] = []
    await source.start(lambda: woken.append(source.latest()), interval_s=30.0)
    try:
        table.dynamodb.put_item(TableName=table.name, Item={"pk": {"S": "poked"}})
        source.poke()
        await eventually(lambda: woken, what="the poller was told about the new record")
        assert source.read_after(0, 10)[0].keys == {"pk": {"S": "poked"}}
    finally:
        await source.stop()


# -- the source against a scripted client -------------------------------------------------------


def record(seq: int, *, created: float = 0.0, key: str = "k") -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime.datetime.fromtimestamp(
                created or datetime.datetime.now(datetime.UTC).timestamp(), datetime.UTC
            ),
            "Keys": {"pk": {"S": key}},
            "NewImage": {"pk": {"S": key}},
            "SequenceNumber": str(seq),
            "SizeBytes": 10,
        },
    }


@dataclass
class ScriptedStreams:
    """A dynamodbstreams client over scripted shards: each shard is a list of records, and a
    closed shard answers no NextShardIterator once read to its end."""

    shards: dict[str, list[dict[str, Any]]]
    closed: set[str] = field(default_factory=set)
    expire_next: bool = False
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def describe_stream(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe", None))
        shards = [{"ShardId": shard_id} for shard_id in self.shards]
        return {"StreamDescription": {"Shards": shards}}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("iterator", kwargs["ShardIteratorType"]))
        records = self.shards[kwargs["ShardId"]]
        start = 0
        if kwargs["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER":
            numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
            start = numbers.index(kwargs["SequenceNumber"]) + 1
        return {"ShardIterator": f"{kwargs['ShardId']}|{start}"}

    def get_records(self, **kwargs: Any) -> dict[str, Any]:
        shard_id, start = kwargs["ShardIterator"].split("|")
        if self.expire_next:
            self.expire_next = False
            error = {"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}
            raise ClientError(error, "GetRecords")
        records = self.shards[shard_id][int(start) :]
        end = len(self.shards[shard_id])
        page: dict[str, Any] = {"Records": records}
        if not (shard_id in self.closed and not records):
            page["NextShardIterator"] = f"{shard_id}|{end}"
        return page


def test_several_shards_are_merged_in_sequence_number_order() -> None:
    streams = ScriptedStreams({"s1": [record(10), record(30)], "s2": [record(20), record(40)]})
    source = DynamoStreamSource(streams, "arn")
    assert source.pull() == 4
    assert [e.seq for e in source.read_after(0, 10)] == [10, 20, 30, 40]


def test_an_expired_iterator_resumes_after_the_last_record_read() -> None:
    streams = ScriptedStreams({"s1": [record(1), record(2)]})
    source = DynamoStreamSource(streams, "arn")
    source.pull()
    streams.shards["s1"].append(record(3))
    streams.expire_next = True
    assert source.pull() == 1
    assert [e.seq for e in source.read_after(0, 10)] == [1, 2, 3]
    assert ("iterator", "AFTER_SEQUENCE_NUMBER") in streams.calls


def test_a_closed_shard_sends_the_reader_looking_for_its_children() -> None:
    streams = ScriptedStreams({"parent": [record(1)]}, closed={"parent"})
    source = DynamoStreamSource(streams, "arn", describe_every_s=3600)
    source.pull()
    streams.shards["child"] = [record(2)]
    assert source.pull() == 1
    assert [e.seq for e in source.read_after(0, 10)] == [1, 2]
    assert sum(1 for call in streams.calls if call[0] == "describe") == 2


def test_records_older_than_the_retention_are_trimmed() -> None:
    day_ago = datetime.datetime.now(datetime.UTC).timestamp() - 25 * 3600
    streams = ScriptedStreams({"s1": [record(1, created=day_ago), record(2)]})
    source = DynamoStreamSource(streams, "arn")
    source.pull()
    assert [e.seq for e in source.read_after(0, 10)] == [2]


# -- the mapping over a DynamoDB stream ---------------------------------------------------------


@dataclass
class FakePool:
    answer: Callable[[list[dict[str, Any]]], InvokeResult]
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    spec: FunctionSpec = field(default_factory=fan_out_spec)

    async def invoke(self, event: dict[str, Any]) -> InvokeResult:
        self.batches.append(event["Records"])
        return self.answer(event["Records"])


def poller(source: Any, pool: FakePool, state: RuntimeState, **settings: Any) -> StreamPoller:
    mapping = StreamMappingSpec(
        name="Fan.Stream", function="Fan", table="T", starting_position="TRIM_HORIZON", **settings
    )
    return StreamPoller(
        mapping,
        TableSpec("T", "t", "NEW_IMAGE", None),
        "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000",
        source,
        cast(FunctionPool, pool),
        state,
        region="us-east-1",
    )


@dataclass
class Entries:
    entries: list[LogEntry]

    def latest(self) -> int:
        return self.entries[-1].seq if self.entries else 0

    def read_after(self, position: int, limit: int) -> list[LogEntry]:
        return [e for e in self.entries if e.seq > position][:limit]


def big_entries(*kinds: str) -> Entries:
    return Entries(
        [
            LogEntry(
                seq=BIG + i,
                event_name="INSERT",
                keys={"pk": {"S": f"{kind}#{i}"}},
                new_image={"pk": {"S": f"{kind}#{i}"}, "kind": {"S": kind}},
                old_image=None,
                created_ms=int(datetime.datetime.now(datetime.UTC).timestamp() * 1000),
                size_bytes=20,
            )
            for i, kind in enumerate(kinds)
        ]
    )


async def test_a_partial_failure_checkpoints_a_22_digit_sequence_number(
    state: RuntimeState,
) -> None:
    """The checkpoint lands just before the lowest failed record, and survives as the exact
    number although it does not fit SQLite's integers."""
    source = big_entries("msg", "msg", "msg")

    def fail_second(records: list[dict[str, Any]]) -> InvokeResult:
        numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        failed = [{"itemIdentifier": n} for n in numbers if n == str(BIG + 1)]
        return InvokeResult("rid", True, {"batchItemFailures": failed}, 1.0)

    pool = FakePool(fail_second)
    p = poller(source, pool, state, report_batch_item_failures=True, maximum_retry_attempts=1)
    p.start()
    await p.stop()
    assert state.checkpoint("Fan.Stream") == 0
    assert await p._step() is True
    assert state.checkpoint("Fan.Stream") == BIG
    for record in pool.batches[0]:
        DynamoDBStreamModel.model_validate({"Records": [record]})
    assert pool.batches[0][1]["dynamodb"]["SequenceNumber"] == str(BIG + 1)
    assert await p._step() is True  # the one retry fails too: dead-lettered, and past it
    assert [d.seq for d in state.dead_letters("Fan.Stream")] == [BIG + 1]
    assert state.checkpoint("Fan.Stream") == BIG + 1
    assert await p._step() is True
    assert state.checkpoint("Fan.Stream") == BIG + 2


async def test_filter_criteria_skip_records_and_the_checkpoint_moves_past_them(
    state: RuntimeState,
) -> None:
    source = big_entries("conn", "msg", "conn", "conn")
    pool = FakePool(lambda records: InvokeResult("rid", True, None, 1.0))
    pattern = {"dynamodb": {"NewImage": {"kind": {"S": ["msg"]}}}}
    p = poller(source, pool, state, filters=(pattern,))
    state.save_checkpoint("Fan.Stream", 0)
    assert await p._step() is True
    assert [[r["dynamodb"]["Keys"]["pk"]["S"] for r in b] for b in pool.batches] == [["msg#1"]]
    assert state.checkpoint("Fan.Stream") == BIG + 3, "past the filtered tail too"
    assert await p._step() is False


async def test_a_batch_that_no_filter_matches_is_never_sent(state: RuntimeState) -> None:
    source = big_entries("conn", "conn")
    pool = FakePool(lambda records: InvokeResult("rid", True, None, 1.0))
    p = poller(source, pool, state, filters=({"eventName": ["REMOVE"]},))
    state.save_checkpoint("Fan.Stream", 0)
    assert await p._step() is True
    assert pool.batches == []
    assert state.checkpoint("Fan.Stream") == BIG + 1


# -- checkpoints across streams -----------------------------------------------------------------


def test_a_mapping_that_reads_a_new_stream_drops_its_checkpoint(state: RuntimeState) -> None:
    state.save_checkpoint("M", 41)
    assert state.use_source("M", "arn:stream/1") is False, "first sight keeps the checkpoint"
    assert state.checkpoint("M") == 41
    assert state.use_source("M", "arn:stream/1") is False
    assert state.checkpoint("M") == 41
    assert state.use_source("M", "arn:stream/2") is True
    assert state.checkpoint("M") is None


def test_positions_of_any_size_round_trip(state: RuntimeState) -> None:
    for position in (0, 2**63 - 1, 2**63, BIG, 10**39):
        state.save_checkpoint("M", position)
        assert state.checkpoint("M") == position


async def test_the_tail_keeps_going_when_the_endpoint_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Down:
        def describe_stream(self, **kwargs: Any) -> dict[str, Any]:
            raise ConnectionError("endpoint down")

    source = DynamoStreamSource(Down(), "arn")
    source._wake = asyncio.Event()
    task = asyncio.create_task(source._run(lambda: None, 0.01))
    try:
        await eventually(
            lambda: any("endpoint down" in r.getMessage() for r in caplog.records),
            what="the failure logged",
        )
        assert sum("endpoint down" in r.getMessage() for r in caplog.records) == 1
        assert not task.done()
    finally:
        source._task = task
        await source.stop()


async def test_records_from_a_real_stream_validate_as_dynamodb_stream_events(
    table: Table, state: RuntimeState
) -> None:
    table.dynamodb.put_item(
        TableName=table.name,
        Item={"pk": {"S": "v"}, "b": {"B": b"\xff"}, "l": {"L": [{"N": "1"}, {"NULL": True}]}},
    )
    table.dynamodb.delete_item(TableName=table.name, Key={"pk": {"S": "v"}})
    source = table.source()
    source.pull()
    pool = FakePool(lambda records: InvokeResult("rid", True, None, 1.0))
    p = StreamPoller(
        StreamMappingSpec(name="M", function="Fan", table="T", starting_position="TRIM_HORIZON"),
        TableSpec("T", table.name, "NEW_AND_OLD_IMAGES", None),
        table.stream_arn,
        source,
        cast(FunctionPool, pool),
        state,
        region="us-east-1",
    )
    state.save_checkpoint("M", 0)
    assert await p._step() is True
    (batch,) = pool.batches
    parsed = DynamoDBStreamModel.model_validate({"Records": batch})
    assert [r.eventName for r in parsed.Records] == ["INSERT", "REMOVE"]
    assert batch[0]["eventSourceARN"] == table.stream_arn
    assert batch[1]["dynamodb"]["OldImage"]["b"] == {"B": "/w=="}
