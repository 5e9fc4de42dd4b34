"""DynamoDB Streams event source mappings (``dynamodb.poller.StreamPoller``), stepped by
hand over an in-memory stream and a fake function."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.cloudformation import FunctionSpec, StreamMappingSpec, TableSpec
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.poller import StreamPoller
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.streamlog import LogEntry, to_attribute_map
from tests.conftest import TIMEOUT_FACTOR
from tests.unit.fakes import fan_out_spec

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1970-01-01T00:00:00.000"
MAPPING = "Fan.Messages"


def entry(seq: int, *, age_s: float = 0.0, old: bool = False, event: str = "INSERT") -> LogEntry:
    item = {"pk": "T#room/a", "sk": f"M#{seq:012d}", "kind": "msg", "seq": seq, "text": f"m{seq}"}
    before = {**item, "text": "before"}
    return LogEntry(
        seq=seq,
        event_name=event,
        keys=to_attribute_map({"pk": item["pk"], "sk": item["sk"]}),
        new_image=None if event == "REMOVE" else to_attribute_map(item),
        old_image=to_attribute_map(before) if old or event == "REMOVE" else None,
        created_ms=int((time.time() - age_s) * 1000),
        size_bytes=100,
    )


@dataclass
class ListSource:
    """A stream held in a list, in order."""

    entries: list[LogEntry] = field(default_factory=list)

    def latest(self) -> int:
        return self.entries[-1].seq if self.entries else 0

    def read_after(self, position: int, limit: int) -> list[LogEntry]:
        return [e for e in self.entries if e.seq > position][:limit]


Behaviour = Callable[[list[int]], InvokeResult]


def ok(payload: Any = None) -> InvokeResult:
    return InvokeResult("rid", True, payload, 1.0)


def error(kind: str = "Boom") -> InvokeResult:
    return InvokeResult("rid", False, {"errorType": kind, "errorMessage": "boom"}, 1.0)


def fails_with(poison: int) -> Behaviour:
    """A function that errors on any batch holding the poison record."""
    return lambda seqs: error() if poison in seqs else ok()


@dataclass
class FakePool:
    """Stands in for a FunctionPool: records each batch's log positions, answers by behaviour."""

    behaviour: Behaviour
    events: list[dict[str, Any]] = field(default_factory=list)
    results: list[InvokeResult] = field(default_factory=list)
    spec: FunctionSpec = field(default_factory=fan_out_spec)

    async def invoke(self, event: dict[str, Any]) -> InvokeResult:
        self.events.append(event)
        try:
            result = self.behaviour(seqs_of(event))
        except Exception:
            self.results.append(error("Raised"))
            raise
        self.results.append(result)
        return result

    @property
    def batches(self) -> list[list[int]]:
        return [seqs_of(e) for e in self.events]

    def succeeded(self) -> list[int]:
        """Every record position that was part of a successful, fully-accepted invocation."""
        out: list[int] = []
        for event, result in zip(self.events, self.results, strict=True):
            if result.ok and not (isinstance(result.payload, dict) and result.payload):
                out += seqs_of(event)
        return out


def seqs_of(event: dict[str, Any]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]


@dataclass
class Rig:
    poller: StreamPoller
    source: ListSource
    pool: FakePool
    state: RuntimeState

    @property
    def checkpoint(self) -> int | None:
        return self.state.checkpoint(MAPPING)

    async def run(self, max_steps: int = 100) -> int:
        """Step until the whole stream is handled and a step finds nothing more to do (a step
        that retries also reports no progress: the poller waits before retrying)."""
        for steps in range(1, max_steps + 1):
            moved = await self.poller._step()
            if not moved and self.checkpoint == self.source.latest():
                return steps
        raise AssertionError(f"the poller was still moving after {max_steps} steps")

    def dead_letters(self) -> list[int]:
        return [letter.seq for letter in self.state.dead_letters(MAPPING)]


@pytest.fixture
def rig(state: RuntimeState) -> Callable[..., Rig]:
    def build(
        behaviour: Behaviour,
        entries: list[LogEntry],
        *,
        view: str | None = "NEW_IMAGE",
        poll_interval_s: float = 0.25,
        paused: Callable[[], bool] = lambda: False,
        send_on_failure: Callable[[str, dict[str, Any]], None] | None = None,
        **settings: Any,
    ) -> Rig:
        mapping = replace(
            StreamMappingSpec(name=MAPPING, function="Fan", table="T"),
            **{"starting_position": "TRIM_HORIZON", **settings},
        )
        table = TableSpec("T", "t", view, None)
        source = ListSource(entries)
        pool = FakePool(behaviour)
        poller = StreamPoller(
            mapping,
            table,
            STREAM_ARN,
            source,
            cast(FunctionPool, pool),
            state,
            region="us-east-1",
            poll_interval_s=poll_interval_s,
            paused=paused,
            send_on_failure=send_on_failure,
        )
        state.save_checkpoint(MAPPING, 0)
        return Rig(poller, source, pool, state)

    return build


def entries(n: int) -> list[LogEntry]:
    return [entry(i) for i in range(1, n + 1)]


# -- success --------------------------------------------------------------------------------


async def test_a_successful_batch_advances_the_checkpoint_past_it(rig: Callable[..., Rig]) -> None:
    """When the function accepts a batch, the checkpoint moves to its last record."""
    r = rig(lambda seqs: ok(), entries(5), batch_size=3)
    assert await r.poller._step() is True
    assert r.checkpoint == 3
    assert await r.poller._step() is True
    assert r.checkpoint == 5
    assert await r.poller._step() is False
    assert r.pool.batches == [[1, 2, 3], [4, 5]]


async def test_an_empty_stream_does_not_invoke_the_function(rig: Callable[..., Rig]) -> None:
    """With nothing to read, a step reports no progress and invokes nothing."""
    r = rig(lambda seqs: ok(), [])
    assert await r.poller._step() is False
    assert r.pool.events == []


async def test_a_disabled_mapping_reads_nothing(rig: Callable[..., Rig]) -> None:
    """A mapping with Enabled false never invokes its function."""
    r = rig(lambda seqs: ok(), entries(3), enabled=False)
    assert await r.poller._step() is False
    assert r.pool.events == []
    assert r.checkpoint == 0


async def test_a_paused_mapping_waits_and_then_resumes(rig: Callable[..., Rig]) -> None:
    """While paused the mapping invokes nothing; once resumed it carries on from its checkpoint."""
    pause = {"on": True}
    r = rig(lambda seqs: ok(), entries(2), paused=lambda: pause["on"])
    assert await r.poller._step() is False
    assert r.pool.events == []
    pause["on"] = False
    assert await r.poller._step() is True
    assert r.pool.batches == [[1, 2]]


async def test_start_from_latest_skips_what_is_already_in_the_stream(
    state: RuntimeState,
) -> None:
    """A new LATEST mapping starts after the records written before it existed."""
    source = ListSource(entries(4))
    pool = FakePool(lambda seqs: ok())
    mapping = StreamMappingSpec(name="Fresh", function="Fan", table="T")
    poller = StreamPoller(
        mapping,
        TableSpec("T", "t", "NEW_IMAGE", None),
        STREAM_ARN,
        source,
        cast(FunctionPool, pool),
        state,
        region="us-east-1",
    )
    poller.start()
    try:
        assert state.checkpoint("Fresh") == 4
    finally:
        await poller.stop()


# -- records --------------------------------------------------------------------------------


async def test_records_validate_against_powertools_dynamodb_stream_model(
    rig: Callable[..., Rig],
) -> None:
    """Every batch the poller builds is a valid DynamoDB Streams event for Powertools."""
    r = rig(lambda seqs: ok(), [entry(1), entry(2, old=True), entry(3, event="REMOVE")])
    await r.run()
    (event,) = r.pool.events
    parsed = DynamoDBStreamModel.model_validate(event)
    assert [rec.eventName for rec in parsed.Records] == ["INSERT", "INSERT", "REMOVE"]
    first = parsed.Records[0]
    assert first.eventSource == "aws:dynamodb"
    assert first.eventSourceARN == STREAM_ARN
    assert first.awsRegion == "us-east-1"
    assert first.dynamodb.SequenceNumber == sequence_number(1)
    assert first.dynamodb.Keys == {"pk": "T#room/a", "sk": "M#000000000001"}
    assert first.dynamodb.NewImage == {
        "pk": "T#room/a",
        "sk": "M#000000000001",
        "kind": "msg",
        "seq": 1,
        "text": "m1",
    }


async def test_sequence_numbers_are_decimal_strings_that_sort_by_position(
    rig: Callable[..., Rig],
) -> None:
    """SequenceNumbers grow with the position and sort the same as strings and as numbers."""
    r = rig(lambda seqs: ok(), [entry(9), entry(10), entry(100)])
    await r.run()
    numbers = [rec["dynamodb"]["SequenceNumber"] for rec in r.pool.events[0]["Records"]]
    assert numbers == sorted(numbers)
    assert [int(n) for n in numbers] == [9, 10, 100]
    assert all(n.isdigit() for n in numbers)


async def test_event_ids_are_stable_for_a_record(rig: Callable[..., Rig]) -> None:
    """A record retried keeps its eventID; different records have different ones."""
    r = rig(fails_with(2), entries(2), maximum_retry_attempts=1)
    await r.run()
    first, second = r.pool.events[0]["Records"], r.pool.events[1]["Records"]
    assert [rec["eventID"] for rec in first] == [rec["eventID"] for rec in second]
    assert first[0]["eventID"] != first[1]["eventID"]


@pytest.mark.parametrize(
    ("view", "has_new", "has_old"),
    [
        ("NEW_IMAGE", True, False),
        ("OLD_IMAGE", False, True),
        ("NEW_AND_OLD_IMAGES", True, True),
        ("KEYS_ONLY", False, False),
    ],
)
async def test_images_follow_the_stream_view_type(
    rig: Callable[..., Rig], view: str, has_new: bool, has_old: bool
) -> None:
    """NewImage and OldImage appear exactly when the table's StreamViewType includes them."""
    r = rig(lambda seqs: ok(), [entry(1, old=True)], view=view)
    await r.run()
    (record,) = r.pool.events[0]["Records"]
    body = record["dynamodb"]
    assert body["StreamViewType"] == view
    assert ("NewImage" in body) is has_new
    assert ("OldImage" in body) is has_old
    assert "Keys" in body
    DynamoDBStreamModel.model_validate(r.pool.events[0])


# -- partial batch failures -----------------------------------------------------------------


def reports(*failed: int) -> Behaviour:
    """A function that reports the given positions as failed when they are in its batch."""

    def behave(seqs: list[int]) -> InvokeResult:
        ids = [{"itemIdentifier": sequence_number(s)} for s in failed if s in seqs]
        return ok({"batchItemFailures": ids})

    return behave


async def test_batch_item_failures_checkpoint_just_before_the_lowest_failure(
    rig: Callable[..., Rig],
) -> None:
    """With ReportBatchItemFailures, the checkpoint moves to just before the lowest failed
    record and the next batch starts there."""
    r = rig(reports(5, 3), entries(6), batch_size=6, report_batch_item_failures=True)
    assert await r.poller._step() is True
    assert r.checkpoint == 2
    await r.poller._step()
    assert r.pool.batches[1][0] == 3


async def test_a_failure_of_the_first_record_keeps_the_checkpoint(rig: Callable[..., Rig]) -> None:
    """When the first record of the batch fails, nothing is checkpointed and it comes again."""
    r = rig(reports(1), entries(3), report_batch_item_failures=True)
    assert await r.poller._step() is False
    assert r.checkpoint == 0
    await r.poller._step()
    assert r.pool.batches == [[1, 2, 3], [1, 2, 3]]


async def test_an_empty_failure_list_is_success(rig: Callable[..., Rig]) -> None:
    """batchItemFailures: [] means every record succeeded."""
    r = rig(lambda seqs: ok({"batchItemFailures": []}), entries(3), report_batch_item_failures=True)
    assert await r.poller._step() is True
    assert r.checkpoint == 3


async def test_batch_item_failures_are_ignored_unless_the_mapping_reports_them(
    rig: Callable[..., Rig],
) -> None:
    """Without ReportBatchItemFailures in FunctionResponseTypes the response is not read."""
    r = rig(reports(2), entries(3))
    assert await r.poller._step() is True
    assert r.checkpoint == 3


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param([{"itemIdentifier": "not-a-number"}], id="unknown identifier"),
        pytest.param([{"itemIdentifier": sequence_number(99)}], id="outside the batch"),
        pytest.param([{"itemIdentifier": ""}], id="empty identifier"),
        pytest.param([{"itemIdentifier": None}], id="null identifier"),
        pytest.param([{}], id="no identifier"),
        pytest.param(["00000000000000000001"], id="not an object"),
    ],
)
async def test_a_malformed_item_identifier_fails_the_whole_batch(
    rig: Callable[..., Rig], failures: list[Any]
) -> None:
    """A failure entry that names no record of the batch fails the whole batch, as on AWS."""
    r = rig(
        lambda seqs: ok({"batchItemFailures": failures}),
        entries(3),
        report_batch_item_failures=True,
    )
    assert await r.poller._step() is False
    assert r.checkpoint == 0


async def test_a_reported_failure_exhausting_its_retries_is_dead_lettered_alone(
    rig: Callable[..., Rig],
) -> None:
    """A record reported failed more than MaximumRetryAttempts times goes to the dead-letter
    table by itself and the stream moves on."""
    r = rig(reports(3), entries(5), report_batch_item_failures=True, maximum_retry_attempts=2)
    await r.run()
    assert r.dead_letters() == [3]
    assert r.checkpoint == 5
    assert sum(3 in batch for batch in r.pool.batches) == 3  # the first try and two retries


# -- function errors, bisect and retries ----------------------------------------------------


async def test_a_function_error_retries_the_same_batch(rig: Callable[..., Rig]) -> None:
    """Without bisect, a failed batch is offered again whole and the checkpoint stays."""
    calls = iter([error(), ok()])
    r = rig(lambda seqs: next(calls), entries(3))
    assert await r.poller._step() is False
    assert r.checkpoint == 0
    assert await r.poller._step() is True
    assert r.pool.batches == [[1, 2, 3], [1, 2, 3]]
    assert r.checkpoint == 3


async def test_bisect_halves_the_batch_until_the_failing_record_stands_alone(
    rig: Callable[..., Rig],
) -> None:
    """With BisectBatchOnFunctionError a failing batch is split in two, again and again, until
    the poison record is invoked alone."""
    r = rig(fails_with(3), entries(4), batch_size=4, bisect_on_error=True)
    for _ in range(4):
        await r.poller._step()
    assert r.pool.batches == [[1, 2, 3, 4], [1, 2], [3, 4], [3]]
    assert r.checkpoint == 2


async def test_bisect_with_exhausted_retries_dead_letters_only_the_poison_record(
    rig: Callable[..., Rig],
) -> None:
    """Once bisection isolates the poison record and its retries run out, exactly that record
    goes to the dead-letter table, and every other record is delivered successfully once."""
    r = rig(
        fails_with(5),
        entries(8),
        batch_size=8,
        bisect_on_error=True,
        maximum_retry_attempts=2,
    )
    await r.run()
    assert r.dead_letters() == [5]
    assert sorted(r.pool.succeeded()) == [1, 2, 3, 4, 6, 7, 8]
    assert r.checkpoint == 8
    assert [5] in r.pool.batches
    assert all(
        5 not in batch for batch, res in zip(r.pool.batches, r.pool.results, strict=True) if res.ok
    )


@pytest.mark.parametrize("poison", [1, 2, 4, 7, 8])
async def test_bisect_isolates_a_poison_record_wherever_it_sits(
    rig: Callable[..., Rig], poison: int
) -> None:
    """Whatever its place in the batch, only the poison record is dead-lettered and each other
    record succeeds exactly once."""
    r = rig(
        fails_with(poison),
        entries(8),
        batch_size=8,
        bisect_on_error=True,
        maximum_retry_attempts=1,
    )
    await r.run()
    assert r.dead_letters() == [poison]
    assert sorted(r.pool.succeeded()) == [s for s in range(1, 9) if s != poison]


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_splitting_a_batch_does_not_consume_retry_attempts(
    rig: Callable[..., Rig], retries: int
) -> None:
    """AWS (*Retain discarded records for a DynamoDB event source in Lambda*,
    https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html): splitting
    batches doesn't consume the retry quota. So the poison record, once alone, is still tried
    1 + MaximumRetryAttempts times before it is given up."""
    r = rig(
        fails_with(5),
        entries(8),
        batch_size=8,
        bisect_on_error=True,
        maximum_retry_attempts=retries,
    )
    await r.run()
    assert r.pool.batches.count([5]) == 1 + retries
    assert r.dead_letters() == [5]


async def test_without_bisect_exhausted_retries_dead_letter_the_whole_batch(
    rig: Callable[..., Rig],
) -> None:
    """Without bisect, a batch that keeps failing is tried 1 + MaximumRetryAttempts times, then
    every record of it is dead-lettered and the stream moves on."""
    r = rig(fails_with(2), entries(3), batch_size=3, maximum_retry_attempts=1)
    await r.run()
    assert r.pool.batches == [[1, 2, 3], [1, 2, 3]]
    assert r.dead_letters() == [1, 2, 3]
    assert r.checkpoint == 3


async def test_dead_letters_carry_the_record_and_the_reason(rig: Callable[..., Rig]) -> None:
    """A dead letter keeps the record as it was sent and why it was given up."""
    r = rig(lambda seqs: error("Runtime.ExitError"), entries(1), maximum_retry_attempts=0)
    await r.run()
    (letter,) = r.state.dead_letters(MAPPING)
    assert letter.seq == 1
    assert "Runtime.ExitError" in letter.reason
    assert letter.record == r.pool.events[0]["Records"][0]
    assert letter.replayed_ms is None


async def test_retries_are_unbounded_by_default(rig: Callable[..., Rig]) -> None:
    """With MaximumRetryAttempts -1 a failing record is retried for as long as it fails."""
    r = rig(fails_with(1), entries(1))
    for _ in range(20):
        assert await r.poller._step() is False
    assert r.dead_letters() == []
    assert r.checkpoint == 0


# -- record age -----------------------------------------------------------------------------


async def test_records_older_than_the_maximum_age_are_dead_lettered_unsent(
    rig: Callable[..., Rig],
) -> None:
    """Records older than MaximumRecordAgeInSeconds go to the dead-letter table without being
    invoked; younger ones are delivered."""
    stale = [entry(1, age_s=7200), entry(2, age_s=7200)]
    r = rig(lambda seqs: ok(), [*stale, entry(3), entry(4)], maximum_record_age_s=3600)
    await r.run()
    assert r.dead_letters() == [1, 2]
    assert r.pool.batches == [[3, 4]]
    assert r.checkpoint == 4
    assert all("age" in letter.reason for letter in r.state.dead_letters(MAPPING))


async def test_records_within_the_maximum_age_are_delivered(rig: Callable[..., Rig]) -> None:
    """A record younger than the maximum age is delivered normally."""
    r = rig(lambda seqs: ok(), [entry(1, age_s=10)], maximum_record_age_s=3600)
    await r.run()
    assert r.dead_letters() == []
    assert r.pool.batches == [[1]]


# -- the on-failure destination -------------------------------------------------------------

DLQ = "arn:aws:sqs:us-east-1:123456789012:fan-dlq"


async def test_given_up_records_send_their_metadata_to_the_destination(
    rig: Callable[..., Rig],
) -> None:
    """AWS (*Retain discarded records for a DynamoDB event source in Lambda*,
    https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html): the destination
    gets an invocation record (requestContext, responseContext, version, timestamp and
    DDBStreamBatchInfo of the discarded batch), not the records; the records themselves stay in
    the runtime's dead-letter table."""
    sent: list[tuple[str, dict[str, Any]]] = []
    r = rig(
        fails_with(2),
        entries(3),
        batch_size=3,
        maximum_retry_attempts=1,
        on_failure=DLQ,
        send_on_failure=lambda arn, doc: sent.append((arn, doc)),
    )
    await r.run()
    ((arn, document),) = sent
    assert arn == DLQ
    assert set(document) == {
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "DDBStreamBatchInfo",
    }
    assert document["requestContext"] == {
        "requestId": "rid",
        "functionArn": r.pool.spec.arn,
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 2,
    }
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    info = document["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == sequence_number(1)
    assert info["endSequenceNumber"] == sequence_number(3)
    assert info["batchSize"] == 3
    assert info["streamArn"] == STREAM_ARN
    assert info["shardId"].startswith("shardId-")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["approximateArrivalOfFirstRecord"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["timestamp"])
    assert r.dead_letters() == [1, 2, 3]


async def test_a_reported_failure_given_up_has_no_function_error(
    rig: Callable[..., Rig],
) -> None:
    """A record failed through batchItemFailures was not an error of the function: the
    responseContext has no functionError, and the batch info covers that record alone."""
    sent: list[dict[str, Any]] = []
    r = rig(
        lambda seqs: (
            ok({"batchItemFailures": [{"itemIdentifier": sequence_number(2)}]})
            if 2 in seqs
            else ok()
        ),
        entries(3),
        report_batch_item_failures=True,
        maximum_retry_attempts=0,
        on_failure=DLQ,
        send_on_failure=lambda arn, doc: sent.append(doc),
    )
    await r.run()
    (document,) = sent
    assert "functionError" not in document["responseContext"]
    assert document["DDBStreamBatchInfo"]["batchSize"] == 1
    assert document["DDBStreamBatchInfo"]["startSequenceNumber"] == sequence_number(2)


async def test_records_too_old_are_reported_with_their_age_condition(
    rig: Callable[..., Rig],
) -> None:
    """Records dropped for MaximumRecordAgeInSeconds were never sent: the condition says so and
    no invocation is counted."""
    sent: list[dict[str, Any]] = []
    r = rig(
        lambda seqs: ok(),
        [entry(1, age_s=7200), entry(2)],
        maximum_record_age_s=3600,
        on_failure=DLQ,
        send_on_failure=lambda arn, doc: sent.append(doc),
    )
    await r.run()
    (document,) = sent
    assert document["requestContext"]["condition"] == "RecordAgeExceeded"
    assert document["requestContext"]["approximateInvokeCount"] == 0
    assert "functionError" not in document["responseContext"]


async def test_a_destination_that_fails_loses_nothing_locally(rig: Callable[..., Rig]) -> None:
    """When the destination refuses, the record is still in the dead-letter table and the
    stream moves on."""

    def refuse(arn: str, document: dict[str, Any]) -> None:
        raise ConnectionError("endpoint down")

    r = rig(
        fails_with(1),
        entries(2),
        maximum_retry_attempts=0,
        on_failure=DLQ,
        send_on_failure=refuse,
    )
    await r.run()
    assert r.dead_letters() == [1, 2]
    assert r.checkpoint == 2
    assert r.poller.destination_sent == 0


async def test_without_a_destination_nothing_is_sent(rig: Callable[..., Rig]) -> None:
    sent: list[dict[str, Any]] = []
    r = rig(
        fails_with(1),
        entries(1),
        maximum_retry_attempts=0,
        send_on_failure=lambda arn, doc: sent.append(doc),
    )
    await r.run()
    assert sent == []
    assert r.dead_letters() == [1]


# -- the running poller ---------------------------------------------------------------------


async def test_a_started_poller_drains_the_stream_and_picks_up_new_records(
    rig: Callable[..., Rig],
) -> None:
    """Started, the poller hands over everything written; poked, it takes new records too."""
    r = rig(lambda seqs: ok(), entries(5), batch_size=2, poll_interval_s=10.0)
    r.poller.start()
    try:
        await r.poller.drain(timeout_s=10 * TIMEOUT_FACTOR)
        assert r.checkpoint == 5
        r.source.entries.append(entry(6))
        r.poller.poke()
        await r.poller.drain(timeout_s=10 * TIMEOUT_FACTOR)
    finally:
        await r.poller.stop()
    assert r.checkpoint == 6
    assert sorted(r.pool.succeeded()) == [1, 2, 3, 4, 5, 6]


async def test_a_step_that_raises_does_not_stop_the_poller(rig: Callable[..., Rig]) -> None:
    """An exception from the function pool (a dead worker) is logged and the next step retries."""
    calls = iter([RuntimeError("worker died")])

    def behave(seqs: list[int]) -> InvokeResult:
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return ok()

    r = rig(behave, entries(3), poll_interval_s=0.01)
    r.poller.start()
    try:
        await r.poller.drain(timeout_s=10 * TIMEOUT_FACTOR)
    finally:
        await r.poller.stop()
    assert r.checkpoint == 3
    assert r.pool.batches == [[1, 2, 3], [1, 2, 3]]
