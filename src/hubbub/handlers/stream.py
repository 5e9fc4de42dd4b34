"""The fan-out function: DynamoDB stream batch -> ``message`` frames to every subscriber.

Built on Powertools' batch processing, so each record succeeds or fails on its own and a poison
record is reported alone (``batchItemFailures``) instead of re-sending the whole batch. A record
whose recipients could not all be reached (other than gone ones) fails and is retried; clients
drop the repeat by ``seq``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    ExceptionInfo,
    FailureResponse,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, metrics

__all__ = ["InOrderProcessor", "handler"]


class UndeliveredError(Exception):
    """Some recipients were not reached; the record is retried."""


class SkippedAfterFailure(Exception):
    """An earlier record of this batch failed; this one waits for the retry.

    Lambda retries a stream from the lowest failed sequence number, so records after a failure come
    back anyway: handling them now would deliver them twice. Stopping at the first failure keeps
    every record delivered once and in order, while a poison record is retried alone until it
    goes to the on-failure destination.
    """


class InOrderProcessor(BatchProcessor):
    """Powertools' stream batch processor that stops delivering at a batch's first failure.

    Whether this batch has failed yet is the processor's own state, reset when each batch
    starts, and every record from the first failure on is still reported in
    ``batchItemFailures`` (the later ones as ``SkippedAfterFailure``).
    """

    def __init__(self) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self.failed = False

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self.failed = False

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        self.failed = True
        return super().failure_handler(record, exception)

    def record_handler(self, record: DynamoDBRecord) -> None:
        if self.failed:
            raise SkippedAfterFailure(record.dynamodb.sequence_number if record.dynamodb else "")
        _deliver(record)


_CHANGES = {DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY}


def _deliver(record: DynamoDBRecord) -> None:
    """An INSERT of a message item is a new message; a MODIFY is its edit or delete (pushed as
    ``edited``/``deleted``). Anything else, REMOVEs (TTL) included, pushes nothing."""
    if record.event_name not in _CHANGES or record.dynamodb is None:
        return
    image = record.dynamodb.new_image
    service = chat()
    message = service.decode_change(dict(image))
    if message is None:
        return
    inserted = record.event_name is DynamoDBRecordEventName.INSERT
    report = service.deliver(message, inserted=inserted)
    metrics.add_metric(name="Deliveries", unit=MetricUnit.Count, value=report.delivered)
    metrics.add_metric(name="GoneConnections", unit=MetricUnit.Count, value=len(report.gone))
    if inserted:
        lag = max(0, service.clock.now_ms() - message.ts)
        metrics.add_metric(name="FanOutLag", unit=MetricUnit.Milliseconds, value=lag)
    if report.failed:
        metrics.add_metric(name="Undelivered", unit=MetricUnit.Count, value=len(report.failed))
        raise UndeliveredError(f"{len(report.failed)} recipients not reached for {message.id}")


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = len(event.get("Records") or [])
    metrics.add_metric(name="StreamRecords", unit=MetricUnit.Count, value=records)
    processor = InOrderProcessor()
    response = process_partial_response(
        event=event, record_handler=processor.record_handler, processor=processor, context=context
    )
    return dict(response)
