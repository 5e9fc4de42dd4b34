"""Lambda's rules for what follows a batch of stream records (``dynamodb.retry``), row by row:
mapping settings, the batch, the invocation's outcome and the attempts so far -> the decision.

AWS: *Retain discarded records for a DynamoDB event source in Lambda*
(https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html): a failed batch is
retried until MaximumRetryAttempts; BisectBatchOnFunctionError splits it, and "splitting batches
doesn't consume the retry quota"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.dynamodb.retry import (
    RETRIES_EXHAUSTED,
    TOO_OLD,
    Advance,
    Attempts,
    Bisect,
    Decision,
    FunctionFailed,
    GiveUp,
    ItemsFailed,
    MalformedReport,
    Outcome,
    Retry,
    Succeeded,
    expired,
    next_step,
    outcome_of,
)
from hubbub.runtime.lambda_.pool import InvokeResult


@dataclass(frozen=True)
class Settings:
    """A mapping's retry settings, with AWS's defaults."""

    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    report_batch_item_failures: bool = False


BOOM = FunctionFailed("Boom")
BOOM_REASON = "function error: Boom"
REPORTS = {"report_batch_item_failures": True}


@pytest.mark.parametrize(
    ("overrides", "sent", "read_up_to", "outcome", "attempts", "expected"),
    [
        # success
        pytest.param({}, [1, 2, 3], 3, Succeeded(), Attempts(), Advance(3), id="success"),
        pytest.param(
            {}, [1, 3], 5, Succeeded(), Attempts(), Advance(5), id="success past filtered records"
        ),
        pytest.param(
            {}, [4], 4, Succeeded(), Attempts(4, 3), Advance(4), id="success after retries"
        ),
        # partial batch failures (ReportBatchItemFailures)
        pytest.param(
            REPORTS,
            [1, 2, 3, 4, 5],
            5,
            ItemsFailed(3),
            Attempts(),
            Retry(Attempts(3, 1), settled=2),
            id="items failed: checkpoint just before the lowest",
        ),
        pytest.param(
            REPORTS,
            [1, 2, 3],
            3,
            ItemsFailed(1),
            Attempts(1, 1),
            Retry(Attempts(1, 2)),
            id="items failed: the first record again, counted",
        ),
        pytest.param(
            REPORTS,
            [1, 2, 3],
            3,
            ItemsFailed(2),
            Attempts(1, 5),
            Retry(Attempts(2, 1), settled=1),
            id="items failed: a new record starts its own count",
        ),
        pytest.param(
            {**REPORTS, "maximum_retry_attempts": 2},
            [3, 4, 5],
            5,
            ItemsFailed(3),
            Attempts(3, 2),
            GiveUp((3,), RETRIES_EXHAUSTED, 3),
            id="items failed: retries exhausted, the record alone to on-failure",
        ),
        pytest.param(
            {**REPORTS, "maximum_retry_attempts": 0},
            [1, 2, 3],
            3,
            ItemsFailed(2),
            Attempts(),
            GiveUp((2,), RETRIES_EXHAUSTED, 2, settled=1),
            id="items failed: no retries, the records before it settled first",
        ),
        pytest.param(
            {**REPORTS, "bisect_on_error": True},
            [1, 2, 3, 4],
            4,
            ItemsFailed(3),
            Attempts(),
            Retry(Attempts(3, 1), settled=2),
            id="items failed: no bisect for reported failures",
        ),
        # malformed itemIdentifier: the whole batch failed
        pytest.param(
            REPORTS,
            [1, 2, 3],
            3,
            MalformedReport("x"),
            Attempts(),
            Retry(Attempts(1, 1)),
            id="malformed identifier fails the whole batch",
        ),
        pytest.param(
            {**REPORTS, "maximum_retry_attempts": 0},
            [1, 2, 3],
            3,
            MalformedReport("x"),
            Attempts(),
            GiveUp((1, 2, 3), "malformed itemIdentifier 'x'", 3),
            id="malformed identifier, no retries: the whole batch to on-failure",
        ),
        # function errors, with and without bisect
        pytest.param(
            {}, [1, 2, 3], 3, BOOM, Attempts(), Retry(Attempts(1, 1)), id="error: retry whole"
        ),
        pytest.param(
            {"bisect_on_error": True},
            [1, 2, 3, 4],
            4,
            BOOM,
            Attempts(),
            Bisect(2, Attempts()),
            id="error with bisect: halve, without counting an attempt",
        ),
        pytest.param(
            {"bisect_on_error": True},
            [3, 4, 5],
            5,
            BOOM,
            Attempts(),
            Bisect(1, Attempts()),
            id="error with bisect: an odd batch keeps the smaller half",
        ),
        pytest.param(
            {"bisect_on_error": True, "maximum_retry_attempts": 0},
            [1, 2],
            2,
            BOOM,
            Attempts(1, 4),
            Bisect(1, Attempts(1, 4)),
            id="error with bisect: splits while it can, whatever the retries",
        ),
        pytest.param(
            {"bisect_on_error": True},
            [3],
            3,
            BOOM,
            Attempts(3, 1),
            Retry(Attempts(3, 2)),
            id="error with bisect down to a single record: retry it",
        ),
        pytest.param(
            {"bisect_on_error": True, "maximum_retry_attempts": 0},
            [3],
            3,
            BOOM,
            Attempts(),
            GiveUp((3,), BOOM_REASON, 3),
            id="no retries: the splits to a single record were free, its one failure ends it",
        ),
        pytest.param(
            {"bisect_on_error": True, "maximum_retry_attempts": 1},
            [3],
            3,
            BOOM,
            Attempts(3, 1),
            GiveUp((3,), BOOM_REASON, 3),
            id="error with bisect down to a single record, exhausted: only it to on-failure",
        ),
        # retries
        pytest.param(
            {"maximum_retry_attempts": 2},
            [1, 2, 3],
            3,
            BOOM,
            Attempts(1, 1),
            Retry(Attempts(1, 2)),
            id="error: retries left",
        ),
        pytest.param(
            {"maximum_retry_attempts": 1},
            [1, 2, 3],
            3,
            BOOM,
            Attempts(1, 1),
            GiveUp((1, 2, 3), BOOM_REASON, 3),
            id="error: retries exhausted, the whole batch to on-failure",
        ),
        pytest.param(
            {"maximum_retry_attempts": 0},
            [1, 3],
            5,
            BOOM,
            Attempts(),
            GiveUp((1, 3), BOOM_REASON, 3),
            id="error: given up up to the last record sent, not past filtered ones",
        ),
        pytest.param(
            {"maximum_retry_attempts": 1},
            [1, 2],
            2,
            BOOM,
            Attempts(7, 5),
            Retry(Attempts(1, 1)),
            id="error: attempts on another record do not count",
        ),
        pytest.param(
            {"maximum_retry_attempts": -1},
            [1],
            1,
            BOOM,
            Attempts(1, 1000),
            Retry(Attempts(1, 1001)),
            id="MaximumRetryAttempts -1: retry forever",
        ),
        pytest.param(
            {"maximum_retry_attempts": 0},
            [1],
            1,
            FunctionFailed(None),
            Attempts(),
            GiveUp((1,), "function error: None", 1),
            id="error without a type",
        ),
    ],
)
def test_next_step(
    overrides: dict[str, Any],
    sent: list[int],
    read_up_to: int,
    outcome: Outcome,
    attempts: Attempts,
    expected: Decision,
) -> None:
    assert next_step(Settings(**overrides), sent, read_up_to, outcome, attempts) == expected


def ok(payload: Any = None) -> InvokeResult:
    return InvokeResult("rid", True, payload, 1.0)


def failures(*identifiers: Any) -> InvokeResult:
    return ok({"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]})


@pytest.mark.parametrize(
    ("report", "result", "expected"),
    [
        pytest.param(False, ok(), Succeeded(), id="success"),
        pytest.param(True, ok(None), Succeeded(), id="no response"),
        pytest.param(True, ok("fine"), Succeeded(), id="a response that is not an object"),
        pytest.param(True, ok({}), Succeeded(), id="no batchItemFailures"),
        pytest.param(True, ok({"batchItemFailures": []}), Succeeded(), id="empty failures"),
        pytest.param(
            False, failures(sequence_number(2)), Succeeded(), id="failures unread unless reported"
        ),
        pytest.param(
            True,
            failures(sequence_number(5), sequence_number(3)),
            ItemsFailed(3),
            id="the lowest failure",
        ),
        pytest.param(
            True,
            InvokeResult("rid", False, {"errorType": "Boom", "errorMessage": "b"}, 1.0),
            FunctionFailed("Boom"),
            id="function error",
        ),
        pytest.param(
            True,
            InvokeResult("rid", False, "crashed", 1.0),
            FunctionFailed(None),
            id="function error without an error object",
        ),
        pytest.param(True, failures("x"), MalformedReport("x"), id="unknown identifier"),
        pytest.param(
            True,
            failures(sequence_number(99)),
            MalformedReport(sequence_number(99)),
            id="outside the batch",
        ),
        pytest.param(True, failures(""), MalformedReport(""), id="empty identifier"),
        pytest.param(True, failures(None), MalformedReport(None), id="null identifier"),
        pytest.param(True, failures([1]), MalformedReport([1]), id="identifier not a string"),
        pytest.param(
            True,
            failures(sequence_number(2), "x"),
            MalformedReport("x"),
            id="one malformed among good ones",
        ),
        pytest.param(
            True, ok({"batchItemFailures": [{}]}), MalformedReport(None), id="no identifier"
        ),
        pytest.param(
            True,
            ok({"batchItemFailures": [sequence_number(1)]}),
            MalformedReport(None),
            id="failure not an object",
        ),
        pytest.param(
            True, ok({"batchItemFailures": 5}), MalformedReport(5), id="failures not a list"
        ),
    ],
)
def test_outcome_of(report: bool, result: InvokeResult, expected: Outcome) -> None:
    mapping = Settings(report_batch_item_failures=report)
    assert outcome_of(mapping, [1, 2, 3, 4, 5, 6], result) == expected


NOW_MS = 10_000_000
HOUR_MS = 3600 * 1000


@pytest.mark.parametrize(
    ("max_age_s", "ages_ms", "expected"),
    [
        pytest.param(-1, [10 * HOUR_MS], [], id="no maximum age"),
        pytest.param(3600, [0, 1000], [], id="all young"),
        pytest.param(3600, [HOUR_MS], [], id="exactly the maximum age is not too old"),
        pytest.param(3600, [HOUR_MS + 1], [1], id="a millisecond over"),
        pytest.param(3600, [2 * HOUR_MS, 2 * HOUR_MS, 0, 0], [1, 2], id="old head"),
        pytest.param(3600, [0, 2 * HOUR_MS], [], id="old records behind a young one stay"),
        pytest.param(60, [2 * HOUR_MS, 0, 2 * HOUR_MS], [1], id="only the head"),
    ],
)
def test_expired(max_age_s: int, ages_ms: list[int], expected: list[int]) -> None:
    batch = [(seq, NOW_MS - age) for seq, age in enumerate(ages_ms, start=1)]
    gave_up = expired(Settings(maximum_record_age_s=max_age_s), batch, NOW_MS)
    assert gave_up == [GiveUp((seq,), TOO_OLD, seq) for seq in expected]
