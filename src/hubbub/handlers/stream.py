"""The fan-out function: DynamoDB stream batch -> ``message`` frames to every subscriber.

The batch is delivered as a whole (``Chat.deliver_batch``): one subscriber lookup per topic,
one write per connection for all the frames of the batch it should get, and a large topic's
recipients handed to the push function in chunks. What is reported is still per record, in
order, through Powertools' batch processing: the records before the first one not fully
delivered succeed, and that one and every later one are listed in ``batchItemFailures``, since
Lambda retries a stream from the lowest failed sequence number (a poison record is retried
alone, then goes to the on-failure destination). A frame of a later record that went out in the
same write is sent again by the retry; clients drop the repeat by ``seq``.
"""

from __future__ import annotations

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
from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, metrics

__all__ = ["InOrderProcessor", "handler"]


class UndeliveredError(Exception):
    """Some recipients of this record were not reached; it is retried."""


class SkippedAfterFailure(Exception):
    """An earlier record of this batch failed; this one waits for the retry.

    Lambda retries a stream from the lowest failed sequence number, so records after a failure
    come back anyway: reporting them keeps every record delivered at least once and in order.
    """


class InOrderProcessor(BatchProcessor):
    """Powertools' stream batch processor over a batch already delivered: each record succeeds
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


def _deliver(raw: list[dict[str, Any]]) -> BatchReport:
    service = chat()
    changes: list[Change | None] = []
    for position, item in enumerate(raw):
        try:
            changes.append(_change(service, DynamoDBRecord(item)))
        except Exception as exc:  # a record that does not decode stops the batch there
            changes.append(None)
            report = service.deliver_batch(changes[:position])
            if report.done == position:
                report.reason = f"cannot decode: {exc}"
            return report
    report = service.deliver_batch(changes)
    now = service.clock.now_ms()
    for change in changes[: report.done]:
        if change is not None and change.inserted:
            lag = max(0, now - change.message.ts)
            metrics.add_metric(name="FanOutLag", unit=MetricUnit.Milliseconds, value=lag)
    metrics.add_metric(name="Deliveries", unit=MetricUnit.Count, value=report.delivered)
    metrics.add_metric(name="Chunks", unit=MetricUnit.Count, value=report.chunks)
    metrics.add_metric(name="GoneConnections", unit=MetricUnit.Count, value=len(report.gone))
    if report.done < len(raw):
        metrics.add_metric(name="Undelivered", unit=MetricUnit.Count, value=len(raw) - report.done)
    return report


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = list(event.get("Records") or [])
    metrics.add_metric(name="StreamRecords", unit=MetricUnit.Count, value=len(records))
    processor = InOrderProcessor(_deliver(records))
    response = process_partial_response(
        event=event, record_handler=processor.record_handler, processor=processor, context=context
    )
    return dict(response)
