"""``TumblingWindowInSeconds`` (``dynamodb.windows`` and the poller): state carried from one
invocation to the next within a window, batches that never span two windows, and the final
invocation once a window is over (*Using AWS Lambda with Amazon DynamoDB*, "Implementing
stateful DynamoDB stream processing in Lambda")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from hubbub.runtime.awsids import SHARD_ID
from hubbub.runtime.cloudformation import StreamMappingSpec, TableSpec
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.poller import StreamPoller
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.streamlog import LogEntry, to_attribute_map
from tests.unit.fakes import fan_out_spec
from tests.unit.runtime.dynamodb.test_poller import STREAM_ARN, ListSource, error, ok

MAPPING = "Counter.Changes"
WINDOW_S = 60
T0 = 1_700_000_040_000
"""A window's start: a multiple of 60 s since the epoch (2023-11-14T22:14:00Z)."""


def at(seq: int, created_ms: int) -> LogEntry:
    item = {"pk": f"k{seq}", "n": seq}
    return LogEntry(
        seq=seq,
        event_name="INSERT",
        keys=to_attribute_map({"pk": item["pk"]}),
        new_image=to_attribute_map(item),
        old_image=None,
        created_ms=created_ms,
        size_bytes=50,
    )


def seqs(event: dict[str, Any]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]


def counting(event: dict[str, Any]) -> InvokeResult:
    """A function that counts the records of its window in its state."""
    state = dict(event["state"])
    state["count"] = state.get("count", 0) + len(event["Records"])
    return ok({"state": state})


@dataclass
class WindowPool:
    """A function that sees whole events (state and window included) and answers by
    ``behaviour``."""

    behaviour: Callable[[dict[str, Any]], InvokeResult]
    events: list[dict[str, Any]] = field(default_factory=list)
    spec: Any = field(default_factory=fan_out_spec)

    async def invoke(self, event: dict[str, Any]) -> InvokeResult:
        self.events.append(event)
        return self.behaviour(event)

    @property
    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["isFinalInvokeForWindow"]]


@dataclass
class Clock:
    now_ms: int = T0

    def __call__(self) -> int:
        return self.now_ms


def windowed(
    state: RuntimeState,
    stream: list[LogEntry],
    behaviour: Callable[[dict[str, Any]], InvokeResult] = counting,
    clock: Clock | None = None,
    **settings: Any,
) -> tuple[StreamPoller, WindowPool]:
    mapping = replace(
        StreamMappingSpec(name=MAPPING, function="Counter", table="T"),
        **{"starting_position": "TRIM_HORIZON", "tumbling_window_s": WINDOW_S, **settings},
    )
    pool = WindowPool(behaviour)
    poller = StreamPoller(
        mapping,
        TableSpec("T", "t", "NEW_IMAGE", None),
        STREAM_ARN,
        ListSource(stream),
        cast(FunctionPool, pool),
        state,
        region="us-east-1",
        now_ms=clock or Clock(T0 + 30_000),
    )
    state.save_checkpoint(MAPPING, 0)
    return poller, pool


async def test_the_state_is_carried_from_batch_to_batch_within_a_window(
    state: RuntimeState,
) -> None:
    """Two batches of one window: the first gets ``{}``, the second what the first returned;
    each carries the window, the shard, the stream and both flags false."""
    stream = [at(seq, T0 + seq * 1000) for seq in range(1, 6)]
    poller, pool = windowed(state, stream, batch_size=3)
    assert await poller._step() is True
    assert await poller._step() is True
    first, second = pool.events
    assert seqs(first) == [1, 2, 3] and seqs(second) == [4, 5]
    assert first["state"] == {} and second["state"] == {"count": 3}
    assert first["window"] == {"start": "2023-11-14T22:14:00Z", "end": "2023-11-14T22:15:00Z"}
    assert second["window"] == first["window"]
    assert first["shardId"] == SHARD_ID and first["eventSourceARN"] == STREAM_ARN
    assert first["isFinalInvokeForWindow"] is False
    assert first["isWindowTerminatedEarly"] is False
    assert state.checkpoint(MAPPING) == 5
    assert state.window(MAPPING) == (T0, {"count": 5})


async def test_a_batch_never_spans_two_windows_and_the_old_one_ends_first(
    state: RuntimeState,
) -> None:
    """Records of two windows in one read: the first window's go alone; before the second
    window's records, the first window's final invocation (no records, the whole state), then
    the second window starts from ``{}``."""
    stream = [at(1, T0 + 1_000), at(2, T0 + 59_000), at(3, T0 + 60_000), at(4, T0 + 61_000)]
    poller, pool = windowed(state, stream, clock=Clock(T0 + 62_000))
    for _ in range(3):
        assert await poller._step() is True
    assert await poller._step() is False
    batch, final, next_window = pool.events
    assert seqs(batch) == [1, 2]
    assert final["Records"] == [] and final["isFinalInvokeForWindow"] is True
    assert final["state"] == {"count": 2}
    assert final["window"]["start"] == "2023-11-14T22:14:00Z"
    assert seqs(next_window) == [3, 4] and next_window["state"] == {}
    assert next_window["window"] == {"start": "2023-11-14T22:15:00Z", "end": "2023-11-14T22:16:00Z"}
    assert state.window(MAPPING) == (T0 + 60_000, {"count": 2})


async def test_an_idle_window_ends_once_its_time_is_over(state: RuntimeState) -> None:
    """With no new records the final invocation waits for the window's end on the clock, then
    comes once."""
    clock = Clock(T0 + 10_000)
    poller, pool = windowed(state, [at(1, T0 + 5_000)], clock=clock)
    assert await poller._step() is True
    assert await poller._step() is False
    clock.now_ms = T0 + 59_999
    assert await poller._step() is False
    assert pool.finals == []
    clock.now_ms = T0 + 60_000
    assert await poller._step() is True
    assert [e["state"] for e in pool.finals] == [{"count": 1}]
    assert state.window(MAPPING) is None
    assert await poller._step() is False
    assert len(pool.finals) == 1


async def test_an_answer_without_a_state_is_a_failed_invocation(state: RuntimeState) -> None:
    """Lambda counts a windowed invocation that returns no ``state`` as failed: the batch is
    retried and, past the retries, given up."""
    poller, pool = windowed(
        state,
        [at(1, T0 + 1_000), at(2, T0 + 2_000)],
        behaviour=lambda event: ok({"batchItemFailures": []}),
        maximum_retry_attempts=1,
    )
    assert await poller._step() is False
    assert state.checkpoint(MAPPING) == 0
    assert await poller._step() is True
    assert [d.seq for d in state.dead_letters(MAPPING)] == [1, 2]
    assert len(pool.events) == 2
    assert state.window(MAPPING) is None


async def test_a_failing_final_invocation_holds_the_next_window(state: RuntimeState) -> None:
    """Until the final invocation succeeds nothing after the window is processed."""
    fail_final = {"on": True}

    def behaviour(event: dict[str, Any]) -> InvokeResult:
        if event["isFinalInvokeForWindow"] and fail_final["on"]:
            return error()
        return counting(event)

    stream = [at(1, T0 + 1_000), at(2, T0 + 70_000)]
    poller, pool = windowed(state, stream, behaviour=behaviour, clock=Clock(T0 + 71_000))
    assert await poller._step() is True
    assert await poller._step() is False
    assert await poller._step() is False
    assert [seqs(e) for e in pool.events] == [[1], [], []]
    fail_final["on"] = False
    assert await poller._step() is True
    assert await poller._step() is True
    assert [seqs(e) for e in pool.events] == [[1], [], [], [], [2]]
    assert pool.events[-1]["state"] == {}


async def test_the_state_outlives_a_restart(state: RuntimeState) -> None:
    """The window's state is in the runtime's state, so a new poller (``hubbub serve`` started
    again) carries on with it."""
    stream = [at(1, T0 + 1_000), at(2, T0 + 2_000)]
    poller, _ = windowed(state, stream[:1])
    assert await poller._step() is True
    again, pool = windowed(state, stream)
    state.save_checkpoint(MAPPING, 1)
    assert await again._step() is True
    assert seqs(pool.events[0]) == [2] and pool.events[0]["state"] == {"count": 1}
