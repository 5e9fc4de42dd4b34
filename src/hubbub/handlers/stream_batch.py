"""What the two consumers of the table's stream share: a batch's records read as changes of
message items, and Lambda's answer from how far, in order, the batch got.

Both the fan-out (``handlers/stream.py``) and the relay (``handlers/relay.py``) handle a batch as
a whole and then report per record through Powertools' batch processing: the records before the
first one not done succeed, and that one and every later one are listed in
``batchItemFailures``, since Lambda retries a stream from the lowest failed sequence number (a
poison record is retried alone, then goes to the on-failure destination).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from hubbub.chat.fanout import BatchReport, Change
from hubbub.chat.service import Chat
from hubbub.handlers.observability import MetricUnit, metrics

__all__ = ["Decoded", "InOrderProcessor", "decode_batch", "handle", "note_lag"]


class UndeliveredError(Exception):
    """This record is not done; it is retried."""


class SkippedAfterFailure(Exception):
    """An earlier record of this batch failed; this one waits for the retry.

    Lambda retries a stream from the lowest failed sequence number, so records after a failure
    come back anyway: reporting them keeps every record handled at least once and in order.
    """


class InOrderProcessor(BatchProcessor):
    """Powertools' stream batch processor over a batch already handled: each record succeeds
    or fails as ``report`` (how many records, from the first, are done) says."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self.report = report
        self.position = 0

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self.position = 0

    def record_handler(self, record: DynamoDBRecord) -> None:
        position = self.position
        self.position += 1
        if position < self.report.done:
            return
        sequence = record.dynamodb.sequence_number if record.dynamodb else ""
        if position == self.report.done:
            raise UndeliveredError(f"{sequence}: {self.report.reason}")
        raise SkippedAfterFailure(sequence)


_CHANGES = {DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY}


def _change(service: Chat, record: DynamoDBRecord) -> Change | None:
    """An INSERT of a message item is a new message; a MODIFY is its edit or delete (pushed as
    ``edited``/``deleted``). Anything else, REMOVEs (TTL) included, pushes nothing."""
    if record.event_name not in _CHANGES or record.dynamodb is None:
        return None
    message = service.decode_change(dict(record.dynamodb.new_image))
    if message is None:
        return None
    return Change(message, inserted=record.event_name is DynamoDBRecordEventName.INSERT)


@dataclass(frozen=True, slots=True)
class Decoded:
    changes: list[Change | None]
    """One per record up to the first that did not decode (None: nothing to push)."""
    reason: str = ""
    """Why the record after the last change did not decode, when one did not."""

    def stopped(self, report: BatchReport) -> BatchReport:
        """``report`` of the decoded records, its reason the decoding's when it stops there."""
        if self.reason and report.done == len(self.changes):
            report.reason = self.reason
        return report


def decode_batch(service: Chat, records: list[dict[str, Any]]) -> Decoded:
    """The records as changes; a record that does not decode stops the batch there."""
    changes: list[Change | None] = []
    for item in records:
        try:
            changes.append(_change(service, DynamoDBRecord(item)))
        except Exception as exc:
            return Decoded(changes, f"cannot decode: {exc}")
    return Decoded(changes)


def note_lag(
    metric: str, changes: Sequence[Change | None], report: BatchReport, now_ms: int
) -> list[Change]:
    """The changes among the records done; each new message's delay, from its timestamp to
    ``now_ms``, is added as ``metric`` (ms): how late its subscribers got it."""
    done = [change for change in changes[: report.done] if change is not None]
    for change in done:
        if change.inserted:
            lag = max(0, now_ms - change.message.ts)
            metrics.add_metric(name=metric, unit=MetricUnit.Milliseconds, value=lag)
    return done


def handle(
    event: dict[str, Any],
    context: Any,
    run: Callable[[list[dict[str, Any]]], BatchReport],
    *,
    counted_as: str,
    undone_as: str,
) -> dict[str, Any]:
    """Run the batch as a whole (``run``), count its records (``counted_as``) and those not
    done (``undone_as``), and answer Lambda: every record from ``report.done`` on failed, in
    order."""
    records = list(event.get("Records") or [])
    metrics.add_metric(name=counted_as, unit=MetricUnit.Count, value=len(records))
    report = run(records)
    if report.done < len(records):
        undone = len(records) - report.done
        metrics.add_metric(name=undone_as, unit=MetricUnit.Count, value=undone)
    processor = InOrderProcessor(report)
    response = process_partial_response(
        event=event, record_handler=processor.record_handler, processor=processor, context=context
    )
    return dict(response)
