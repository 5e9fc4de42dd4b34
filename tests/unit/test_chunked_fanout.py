"""A stream batch delivered as a whole, and a large topic's recipients in chunks (issue 17
proposal 2, issue 18 item 1): the pure rules as tables, then the fan-out with a fake queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat.chunking import (
    BadChunk,
    Chunk,
    ChunkPolicy,
    decode_chunk,
    group_of,
    plan_chunks,
    send_rounds,
)
from hubbub.chat.fanout import Change, FanOut, first_undelivered
from hubbub.handlers import bootstrap, push
from hubbub.ids import ConnectionId
from hubbub.push.port import ChunkQueue, FramesOutcome, QueuedChunk
from hubbub.push.sqs.adapter import SqsChunkQueue, pack_calls
from hubbub.servedefaults import local_parameters
from tests.support import aws_events
from tests.unit.chatworld import World, world_in

C = ConnectionId


def ids(n: int, prefix: str = "conn") -> list[ConnectionId]:
    return [C(f"{prefix}{i:05d}") for i in range(n)]


# -- the pure rules -----------------------------------------------------------------------------


def test_a_connections_group_depends_on_its_id_and_the_number_of_groups_only() -> None:
    """Per-connection order rests on it: the same id lands in the same group whatever the
    topic, the room's size or the batch, and ids spread over the groups."""
    assert group_of("abc", 64) == group_of("abc", 64)
    groups = {group_of(c, 64) for c in ids(5000)}
    assert len(groups) == 64
    assert group_of("abc", 1) == "c0"


@pytest.mark.parametrize(
    ("members", "chunk_size", "groups", "most_ids", "chunks"),
    [
        (2000, 1000, 64, 60, 64),  # ~31 a group: one chunk each
        (2000, 10, 4, 10, 200),  # 500 a group, cut into 10s
        (100_000, 1000, 64, 1000, 128),  # ~1,560 a group: two chunks each
    ],
)
def test_chunks_cover_every_member_once_within_the_size_limits(
    members: int, chunk_size: int, groups: int, most_ids: int, chunks: int
) -> None:
    policy = ChunkPolicy(threshold=1, chunk_size=chunk_size, groups=groups)
    planned = plan_chunks([(0, '{"type":"message","seq":1}')], ids(members), policy)
    covered = [c for chunk in planned for c in chunk.connection_ids]
    assert sorted(covered) == ids(members)
    assert max(len(chunk.connection_ids) for chunk in planned) <= most_ids
    assert abs(len(planned) - chunks) <= chunks // 10
    assert all(len(chunk.body().encode()) <= policy.max_bytes for chunk in planned)
    assert all(
        group_of(c, groups) == chunk.group for chunk in planned for c in chunk.connection_ids
    )


def test_large_frames_leave_room_for_fewer_ids_and_stay_under_the_sqs_limit() -> None:
    """SQS takes 256 KB a message: frames of 30 KB each are cut into runs, and each run's ids
    are cut to what fits beside it; every member still gets every frame, in order."""
    frames = [(n, json.dumps({"seq": n, "text": "x" * 30_000})) for n in range(8)]
    policy = ChunkPolicy(threshold=1, chunk_size=1000, groups=2)
    planned = plan_chunks(frames, ids(3000), policy)
    assert all(len(chunk.body().encode()) <= policy.max_bytes for chunk in planned)
    got: dict[ConnectionId, list[int]] = {}
    for chunk in planned:  # in sending order within each group
        for cid in chunk.connection_ids:
            got.setdefault(cid, []).extend(json.loads(f)["seq"] for f in chunk.frames)
    assert all(seqs == list(range(8)) for seqs in got.values())
    assert len(got) == 3000


def test_a_round_holds_at_most_one_chunk_of_each_group_in_order() -> None:
    chunks = [Chunk(g, ("f",), (C("x"),)) for g in ("c1", "c2", "c1", "c1", "c3", "c2")]
    assert send_rounds(chunks) == [[0, 1, 4], [2, 5], [3]]


@pytest.mark.parametrize(
    ("sizes", "calls"),
    [
        ([(i, 100) for i in range(12)], [list(range(10)), [10, 11]]),  # 10 entries a call
        ([(0, 200_000), (1, 100_000), (2, 10)], [[0], [1, 2]]),  # 256 KB a call
        ([], []),
    ],
)
def test_send_message_batch_calls_take_ten_entries_and_256_kb(
    sizes: list[tuple[int, int]], calls: list[list[int]]
) -> None:
    assert pack_calls(sizes) == calls


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{}",
        '{"frames": "x", "connectionIds": []}',
        '{"frames": [], "connectionIds": [""]}',
    ],
)
def test_a_queue_message_that_is_not_a_chunk_is_refused_with_a_typed_error(body: str) -> None:
    with pytest.raises(BadChunk):
        decode_chunk(body)


@pytest.mark.parametrize(
    ("stopped", "first"),
    [
        ({}, None),
        ({C("b"): 0}, 0),  # b missed everything: record 0 is the first not delivered
        ({C("b"): 1}, 2),  # b got frame 0 (record 0), missed frame 1 (record 2)
        ({C("a"): 2}, None),  # a got both of its frames
        ({C("a"): 1, C("b"): 2}, 1),  # a missed frame 2 (record 1)
    ],
)
def test_the_first_record_not_delivered_is_the_first_whose_frame_someone_missed(
    stopped: dict[ConnectionId, int], first: int | None
) -> None:
    records: dict[int, tuple[int, Sequence[ConnectionId]]] = {
        0: (0, [C("a"), C("b")]),
        1: (2, [C("a")]),
        2: (1, [C("b")]),
    }
    deliveries = {C("a"): [0, 2], C("b"): [0, 1]}
    assert first_undelivered(records, deliveries, FramesOutcome(stopped=stopped)) == first


# -- the fan-out with a queue -------------------------------------------------------------------


class FakeQueue(ChunkQueue):
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.sent: list[QueuedChunk] = []
        self.refuse = refuse or set()

    def enqueue(self, chunks: Sequence[QueuedChunk], rounds: Sequence[Sequence[int]]) -> set[int]:
        refused = set()
        for round_ in rounds:
            for i in round_:
                if chunks[i].group in self.refuse:
                    refused.add(i)
                else:
                    self.sent.append(chunks[i])
        return refused


def _room(world: World, members: int, topic: str) -> None:
    for cid in ids(members, prefix=topic[-1]):
        world.connect(cid)
        world.act(cid, action="subscribe", topic=topic)


def _changes(world: World, topic: str, n: int) -> list[Change | None]:
    world.visitor("writer", "Wes")
    for k in range(n):
        world.send("writer", topic, f"m{k}", f"{topic}{k}")
    return [Change(m) for m in world.stored(topic)]


def test_a_large_topic_goes_to_the_queue_and_a_small_one_is_posted(tmp_path: Path) -> None:
    """Above the threshold the fan-out posts nothing itself for that topic: every member is in
    exactly one chunk, which carries the batch's frames of that topic in seq order."""
    with world_in(tmp_path) as world:
        _room(world, 30, "room/big")
        _room(world, 3, "room/small")
        queue = FakeQueue()
        policy = ChunkPolicy(threshold=10, chunk_size=8, groups=4)
        fanout = FanOut(world.store, world.push, chunks=queue, policy=policy)
        big = _changes(world, "room/big", 2)
        world.send("writer", "room/small", "hi", "s0")
        small = [Change(m) for m in world.stored("room/small")]
        world.push.posts.clear()

        report = fanout.deliver_batch([big[0], small[0], big[1]])

        assert report.done == 3
        assert {c for p in world.push.posts for c in p.connection_ids} == set(ids(3, "l"))
        members = [c for chunk in queue.sent for c in json.loads(chunk.body)["connectionIds"]]
        assert sorted(members) == sorted(ids(30, "g"))
        for chunk in queue.sent:
            frames = [json.loads(f) for f in json.loads(chunk.body)["frames"]]
            assert [f["seq"] for f in frames] == [1, 2]
            assert len(json.loads(chunk.body)["connectionIds"]) <= 8
        assert report.chunks == len(queue.sent)


def test_a_refused_chunk_fails_its_records_and_the_ones_after(tmp_path: Path) -> None:
    with world_in(tmp_path) as world:
        _room(world, 30, "room/big")
        queue = FakeQueue(refuse={"c0"})
        fanout = FanOut(
            world.store, world.push, chunks=queue, policy=ChunkPolicy(threshold=10, groups=2)
        )
        changes = _changes(world, "room/big", 2)

        report = fanout.deliver_batch([None, *changes])

        assert report.done == 1  # the no-op record is done; the two messages are not
        assert "not queued" in report.reason


def test_without_a_queue_a_large_topic_is_posted_as_before(tmp_path: Path) -> None:
    with world_in(tmp_path) as world:
        _room(world, 30, "room/big")
        fanout = FanOut(world.store, world.push, policy=ChunkPolicy(threshold=10))
        changes = _changes(world, "room/big", 1)
        world.push.posts.clear()

        assert fanout.deliver_batch(changes).done == 1
        assert len({c for p in world.push.posts for c in p.connection_ids}) == 30


def test_a_chunk_reaches_its_members_and_the_gone_are_forgotten(tmp_path: Path) -> None:
    """The push function's part: one chunk's frames to each member; a 410 forgets the member
    (and its subscriptions); one not reached is reported, so the chunk comes back."""
    with world_in(tmp_path) as world:
        _room(world, 3, "room/big")
        members = ids(3, "g")
        world.push.gone.add(members[0])
        body = json.dumps({"frames": ['{"type":"message","seq":1}'], "connectionIds": members})
        world.push.posts.clear()

        outcome = world.chat.push_chunk(body)

        assert outcome.gone == {members[0]}
        assert not outcome.stopped
        assert world.store.get_connection(members[0]) is None
        world.push.failed.add(members[1])
        assert world.chat.push_chunk(body).stopped == {members[1]: 0}


# -- the push function --------------------------------------------------------------------------


def test_the_push_function_fails_an_unreached_chunk_and_the_rest_of_its_group_only(
    tmp_path: Path,
) -> None:
    """batchItemFailures (ReportBatchItemFailures on the mapping) names the chunk that did not
    reach every member and the later chunks of its message group in the batch, so none of
    them overtakes it; the other group's chunk is delivered and acknowledged ("Handling errors
    for an SQS event source in Lambda": for FIFO queues, stop at the first failure of a group
    and return it and the rest)."""
    with world_in(tmp_path) as world:
        bootstrap.use_chat(world.chat)
        try:
            frame = '{"type":"message","topic":"room/big","seq":1}'
            records = [
                aws_events.sqs_fifo_record(
                    json.dumps({"frames": [frame], "connectionIds": [cid]}), group=group
                )
                for cid, group in (("flaky", "c1"), ("fine", "c2"), ("later", "c1"))
            ]
            world.push.failed.add("flaky")

            response = push.handler({"Records": records}, None)

            failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
            assert failed == [records[0]["messageId"], records[2]["messageId"]]
            reached = {c for p in world.push.posts for c in p.connection_ids}
            assert "fine" in reached
            assert "later" not in reached
        finally:
            bootstrap.use_chat(None)


def test_the_push_function_acknowledges_a_chunk_whose_members_are_gone(tmp_path: Path) -> None:
    with world_in(tmp_path) as world:
        bootstrap.use_chat(world.chat)
        try:
            world.connect("dead")
            world.act("dead", action="subscribe", topic="room/big")
            world.push.gone.add("dead")
            body = json.dumps({"frames": ['{"type":"message"}'], "connectionIds": ["dead"]})

            response = push.handler(
                {"Records": [aws_events.sqs_fifo_record(body, group="c0")]}, None
            )

            assert response == {"batchItemFailures": []}
            assert world.store.get_connection(C("dead")) is None
        finally:
            bootstrap.use_chat(None)


# -- the SQS adapter and the local default ------------------------------------------------------


class FakeSqs:
    """SendMessageBatch that refuses every entry of the groups in ``refuse``."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.accepted: list[tuple[str, str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        failed = [e for e in Entries if e["MessageGroupId"] in self.refuse]
        self.accepted += [
            (e["MessageGroupId"], e["MessageBody"]) for e in Entries if e not in failed
        ]
        return {
            "Failed": [
                {"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in failed
            ]
        }


def test_a_group_whose_chunk_sqs_refused_sends_nothing_more() -> None:
    """The next chunk of a refused group is not sent (the retry would put it first); other
    groups go on, and every chunk not accepted is reported."""
    chunks = [
        QueuedChunk(f"{g}{n}", g, f"d{g}{n}") for g, n in (("a", 1), ("b", 1), ("a", 2), ("b", 2))
    ]
    rounds = send_rounds([Chunk(c.group, (), ()) for c in chunks])
    sqs = FakeSqs(refuse={"a"})
    queue = SqsChunkQueue("https://sqs.us-east-1.amazonaws.com/1/q.fifo", client=sqs)
    try:
        assert queue.enqueue(chunks, rounds) == {0, 2}
    finally:
        queue.close()
    assert sqs.accepted == [("b", "b1"), ("b", "b2")]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"FanOutChunkThreshold": "0"}),
        ({"FanOutChunkThreshold": "500"}, {"FanOutChunkThreshold": "500"}),
    ],
)
def test_hubbub_serve_runs_large_rooms_on_the_single_path_unless_told(
    overrides: dict[str, str], expected: dict[str, str]
) -> None:
    template = Path(__file__).resolve().parents[2] / "template.yaml"
    assert local_parameters(template, overrides) == expected


def test_a_template_without_the_parameter_gets_no_local_default(tmp_path: Path) -> None:
    other = tmp_path / "template.yaml"
    other.write_text("Resources: {}\n")
    assert local_parameters(other, {"X": "1"}) == {"X": "1"}


def test_the_fifo_test_events_are_valid_sqs_events() -> None:
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    record = aws_events.sqs_fifo_record("{}", group="c1")
    parsed = SqsModel.model_validate({"Records": [record]})
    assert parsed.Records[0].attributes.MessageGroupId == "c1"
