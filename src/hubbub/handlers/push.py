"""The push function: SQS FIFO chunks of a large topic's fan-out -> frames to their members.

Each chunk (``chat/chunking.py``) names its connections and the frames they get, in order; the
function posts them (one write per connection) and forgets the connections found gone (410).
A chunk that did not reach every member fails alone through ``batchItemFailures``
(``ReportBatchItemFailures``); Powertools' FIFO processor with ``skip_group_on_error`` also fails
the later chunks of that message group in the batch, so nothing of the group overtakes it, while
the other groups of the batch are delivered. SQS hands the failed chunk back after the queue's
visibility timeout, and to the dead-letter queue after ``maxReceiveCount`` receives. Its members
that were already reached get it again and drop the repeat by ``seq``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, metrics

__all__ = ["handler"]


class UnreachedError(Exception):
    """Some members of the chunk were not reached; the chunk comes back."""


def _push(record: SQSRecord) -> None:
    outcome = chat().push_chunk(record.body)
    metrics.add_metric(name="GoneConnections", unit=MetricUnit.Count, value=len(outcome.gone))
    if outcome.stopped:
        metrics.add_metric(name="Undelivered", unit=MetricUnit.Count, value=len(outcome.stopped))
        raise UnreachedError(f"{len(outcome.stopped)} members not reached")


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = len(event.get("Records") or [])
    metrics.add_metric(name="Chunks", unit=MetricUnit.Count, value=records)
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    response = process_partial_response(
        event=event, record_handler=_push, processor=processor, context=context
    )
    return dict(response)
