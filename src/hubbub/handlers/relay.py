"""The relay function: DynamoDB stream batch -> the chat's edges beyond the WebSocket.

- **The MQTT edge** (``IOT_FANOUT=true`` gives the chat its broker): each stored message, and
  each edit or deletion, is published once on its topic to IoT Core (``Chat.publish_batch``),
  which fans it out to the MQTT subscribers allowed to receive it. IoT Core takes one message
  per request, and a room's must stay in order, so a busy room costs one round trip per message:
  here, and not in the fan-out, whose next batch of WebSocket posts would otherwise wait for
  them (docs/benchmarks.md, finding 31; on AWS each is an HTTPS request).
- **Email to visitors who left** (``MAIL_SENDER`` set): each new operator answer in a desk
  topic is noted as a pending mail (``Mailing.queue_answer``, a conditional write, so a retried
  batch notes nothing twice); ``mail.send_handler`` sends them on its schedule.

One function for both because DynamoDB Streams advises at most two readers per shard, and the
fan-out is the first; the stream mapping's ``FilterCriteria`` let in message items only (with
the MQTT edge off, only operators' new desk answers). What is reported is per record, in order
(``stream_batch.py``): from the first record not published or not noted, the batch is retried,
and MQTT clients drop a repeat by ``seq``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from hubbub.chat.fanout import BatchReport, Change
from hubbub.handlers.bootstrap import chat
from hubbub.handlers.mail import mail_sender, mailing
from hubbub.handlers.observability import MetricUnit, metrics
from hubbub.handlers.stream_batch import decode_batch, handle, note_lag

__all__ = ["handler"]


def _queue_answers(changes: list[Change | None], report: BatchReport) -> None:
    """Note the new answers among the records done so far; a failure stops the batch there."""
    service = mailing()
    for position, change in enumerate(changes[: report.done]):
        if change is None or not change.inserted:
            continue
        try:
            service.queue_answer(change.message)
        except Exception as exc:  # the store: this record and the rest wait for the retry
            report.done, report.reason = position, f"answer not queued for mail: {exc}"
            return


def _relay(raw: list[dict[str, Any]], env: Mapping[str, str]) -> BatchReport:
    service = chat()
    decoded = decode_batch(service, raw)
    changes = decoded.changes
    published = service.publish_batch(changes) if service.broadcast.enabled else None
    report = decoded.stopped(published or BatchReport(done=len(changes)))
    if mail_sender(env):
        _queue_answers(changes, report)
    if published is not None:
        sent = note_lag("MqttLag", changes, report, service.clock.now_ms())
        metrics.add_metric(name="Published", unit=MetricUnit.Count, value=len(sent))
    return report


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(
        event,
        context,
        lambda records: _relay(records, os.environ),
        counted_as="RelayRecords",
        undone_as="Unrelayed",
    )
