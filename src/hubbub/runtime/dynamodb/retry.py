"""What a stream mapping does after a batch, by Lambda's rules for DynamoDB Streams.

The rules live apart from the poller (``dynamodb/poller.py``) so they can be read, and tested row
by row, without an event loop, a stream or a function: the poller reads a batch, invokes the
function, and then only carries out the :data:`Decision` :func:`next_step` returns.

* function error: the batch is retried; with ``BisectBatchOnFunctionError`` it is split in two
  first, until a failing record stands alone. Splitting does not count against
  ``MaximumRetryAttempts`` (AWS: "Splitting a batch does not count towards the retry quota"): only
  the failures of a batch that can no longer be split are counted;
* ``batchItemFailures`` (with ``ReportBatchItemFailures``): the checkpoint moves to just before the
  lowest failed sequence number and the next batch starts there; a malformed identifier fails the
  whole batch, as on AWS;
* a throttled invocation (``TooManyRequestsException``): the batch is retried, and no attempt is
  counted, since Lambda retries throttles until the records expire (*Lambda event source
  mappings*, error handling for stream sources);
* ``MaximumRetryAttempts`` exhausted (-1: never), or a record older than
  ``MaximumRecordAgeInSeconds``: the record goes to the on-failure destination and the stream
  moves on.

Records are named by their stream positions (ints), in stream order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.lambda_.pool import InvokeResult

__all__ = [
    "RETRIES_EXHAUSTED",
    "TOO_OLD",
    "Advance",
    "Attempts",
    "Bisect",
    "Decision",
    "FunctionFailed",
    "GiveUp",
    "ItemsFailed",
    "MalformedReport",
    "Outcome",
    "Retry",
    "RetrySettings",
    "Succeeded",
    "Throttled",
    "expired",
    "next_step",
    "outcome_of",
]

TOO_OLD = "record older than maximum age"
RETRIES_EXHAUSTED = "record failed: retries exhausted"


class RetrySettings(Protocol):
    """The event source mapping's settings the rules read (a ``StreamMappingSpec`` has them)."""

    @property
    def bisect_on_error(self) -> bool: ...

    @property
    def maximum_retry_attempts(self) -> int: ...

    @property
    def maximum_record_age_s(self) -> int: ...

    @property
    def report_batch_item_failures(self) -> bool: ...


# -- what the invocation said ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The function took every record of the batch."""


@dataclass(frozen=True, slots=True)
class FunctionFailed:
    """The invocation failed (an error, a timeout, a dead runtime): the whole batch failed."""

    error_type: str | None


@dataclass(frozen=True, slots=True)
class MalformedReport:
    """A ``batchItemFailures`` entry names no record of the batch; AWS then fails the whole
    batch, since it cannot tell which records succeeded."""

    identifier: object


@dataclass(frozen=True, slots=True)
class ItemsFailed:
    """``batchItemFailures`` named records of the batch; ``lowest`` is the earliest of them,
    since everything from it on has to come again to keep the order."""

    lowest: int


@dataclass(frozen=True, slots=True)
class Throttled:
    """Lambda refused the invocation (the function's reserved concurrency is in use): nothing
    ran, so nothing failed."""


Outcome = Succeeded | FunctionFailed | MalformedReport | ItemsFailed | Throttled


def outcome_of(settings: RetrySettings, sent: Sequence[int], result: InvokeResult) -> Outcome:
    """Read an invocation's result; its response is read only with ReportBatchItemFailures."""
    if result.throttled:
        return Throttled()
    if not result.ok:
        return FunctionFailed(result.error_type)
    payload = result.payload
    if not settings.report_batch_item_failures or not isinstance(payload, dict):
        return Succeeded()
    failures = payload.get("batchItemFailures")
    if not failures:
        return Succeeded()
    if not isinstance(failures, list):
        return MalformedReport(failures)
    by_number = {sequence_number(seq): seq for seq in sent}
    lowest: int | None = None
    for failure in failures:
        ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(ident, str) or ident not in by_number:
            return MalformedReport(ident)
        seq = by_number[ident]
        lowest = seq if lowest is None else min(lowest, seq)
    assert lowest is not None  # failures is a non-empty list
    return ItemsFailed(lowest)


# -- what the poller does next --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempts:
    """How many times in a row the record retries are counted on has failed: the first record
    of a failing batch, or the lowest reported failure. Another record starts the count anew."""

    record: int | None = None
    count: int = 0

    def failed(self, record: int) -> Attempts:
        return Attempts(record, self.count + 1 if record == self.record else 1)


@dataclass(frozen=True, slots=True)
class Advance:
    """Checkpoint at ``to``: everything up to it is done. Nothing is being retried any more and
    the next batch is a full ``BatchSize`` again."""

    to: int


@dataclass(frozen=True, slots=True)
class Retry:
    """Offer the failed records again, with ``attempts`` counted. ``settled``: the records up to
    it succeeded, so checkpoint there first (which also restores a full batch)."""

    attempts: Attempts
    settled: int | None = None


@dataclass(frozen=True, slots=True)
class Bisect:
    """Offer only the first ``window`` records of the failed batch next, to close in on the
    record that fails it; ``attempts`` are carried unchanged, since a split is not a retry."""

    window: int
    attempts: Attempts


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Send ``records`` to the on-failure destination for ``reason`` and checkpoint at ``to``.
    ``settled`` as for :class:`Retry`: checkpointed first, so a crash in between loses nothing
    that succeeded."""

    records: tuple[int, ...]
    reason: str
    to: int
    settled: int | None = None


Decision = Advance | Retry | Bisect | GiveUp


def next_step(
    settings: RetrySettings,
    sent: Sequence[int],
    read_up_to: int,
    outcome: Outcome,
    attempts: Attempts,
) -> Decision:
    """The step after a batch of the records ``sent`` (read up to ``read_up_to``: the records
    after the last one sent that the mapping's filters skipped) ended in ``outcome``."""
    match outcome:
        case Succeeded():
            return Advance(read_up_to)
        case Throttled():
            return Retry(attempts)
        case ItemsFailed(lowest):
            return _items_failed(settings, sent, lowest, attempts)
        case FunctionFailed(error_type):
            return _batch_failed(settings, sent, f"function error: {error_type}", attempts)
        case MalformedReport(identifier):
            reason = f"malformed itemIdentifier {identifier!r}"
            return _batch_failed(settings, sent, reason, attempts)


def _batch_failed(
    settings: RetrySettings, sent: Sequence[int], reason: str, attempts: Attempts
) -> Decision:
    if settings.bisect_on_error and len(sent) > 1:
        return Bisect(len(sent) // 2, attempts)
    tried = attempts.failed(sent[0])
    if _exhausted(settings, tried):
        return GiveUp(tuple(sent), reason, sent[-1])
    return Retry(tried)


def _items_failed(
    settings: RetrySettings, sent: Sequence[int], lowest: int, attempts: Attempts
) -> Decision:
    index = sent.index(lowest)
    settled = sent[index - 1] if index > 0 else None
    tried = (attempts if settled is None else Attempts()).failed(lowest)
    if _exhausted(settings, tried):
        return GiveUp((lowest,), RETRIES_EXHAUSTED, lowest, settled)
    return Retry(tried, settled)


def _exhausted(settings: RetrySettings, attempts: Attempts) -> bool:
    """More failures than the first try plus MaximumRetryAttempts retries (-1: retry forever)."""
    limit = settings.maximum_retry_attempts
    return limit != -1 and attempts.count > limit


def expired(
    settings: RetrySettings, created_ms: Sequence[tuple[int, int]], now_ms: int
) -> list[GiveUp]:
    """Give up, unsent, the records at the head of a batch older than MaximumRecordAgeInSeconds
    (``created_ms``: each record's position and creation time). Only the head: from the first
    record young enough on, the batch is sent, so records keep their order."""
    max_age = settings.maximum_record_age_s
    if max_age == -1:
        return []
    out: list[GiveUp] = []
    for seq, created in created_ms:
        if now_ms - created <= max_age * 1000:
            break
        out.append(GiveUp((seq,), TOO_OLD, seq))
    return out
