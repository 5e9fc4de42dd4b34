"""The fan-out function: DynamoDB stream batch -> ``message`` frames to every WebSocket
subscriber.

The batch is delivered as a whole (``Chat.deliver_batch``): one subscriber lookup per topic,
one write per connection for all the frames of the batch it should get, and a large topic's
recipients handed to the push function in chunks. What is reported is still per record, in
order (``stream_batch.py``). A frame of a later record that went out in the same write is sent
again by the retry; clients drop the repeat by ``seq``. The MQTT broker's copy is the relay's
(``relay.py``), a consumer of the same stream, so this function's next batch never waits for
IoT Core.
"""

from __future__ import annotations

from typing import Any

from hubbub.chat.fanout import BatchReport
from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, metrics
from hubbub.handlers.stream_batch import decode_batch, handle, note_lag

__all__ = ["handler"]


def _deliver(raw: list[dict[str, Any]]) -> BatchReport:
    service = chat()
    decoded = decode_batch(service, raw)
    changes = decoded.changes
    report = decoded.stopped(service.deliver_batch(changes))
    note_lag("FanOutLag", changes, report, service.clock.now_ms())
    metrics.add_metric(name="Deliveries", unit=MetricUnit.Count, value=report.delivered)
    metrics.add_metric(name="Chunks", unit=MetricUnit.Count, value=report.chunks)
    metrics.add_metric(name="GoneConnections", unit=MetricUnit.Count, value=len(report.gone))
    return report


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context, _deliver, counted_as="StreamRecords", undone_as="Undelivered")
