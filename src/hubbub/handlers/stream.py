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
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from hubbub.handlers.bootstrap import chat

__all__ = ["handler"]

_processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class UndeliveredError(Exception):
    """Some recipients were not reached; the record is retried."""


def record_handler(record: DynamoDBRecord) -> None:
    if record.event_name is not DynamoDBRecordEventName.INSERT or record.dynamodb is None:
        return
    image = record.dynamodb.new_image
    service = chat()
    message = service.decode_change(dict(image))
    if message is None:
        return
    report = service.deliver(message)
    if report.failed:
        raise UndeliveredError(f"{len(report.failed)} recipients not reached for {message.id}")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=_processor, context=context
    )
    return dict(response)
