"""The rule on IoT Core's lifecycle topics: an MQTT client's subscribe, unsubscribe and
disconnect become its presence in hubbub's topics (``chat/mqtt_members.py``).

IoT Core invokes this asynchronously with the event as published (``SELECT *``). An event that
is not one hubbub reads is logged and dropped; a busy store raises so Lambda retries it, and
the events are idempotent (a retry records nothing twice).
"""

from __future__ import annotations

from typing import Any

from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, logger, metrics
from hubbub.protocol.errors import ProtocolError

__all__ = ["handler"]


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        chat().mqtt_lifecycle(event)
    except ProtocolError as exc:
        metrics.add_metric(name="MqttPresenceEventsDropped", unit=MetricUnit.Count, value=1)
        logger.info(
            "mqtt lifecycle event dropped",
            extra={"clientId": event.get("clientId"), "code": exc.code.value, "why": exc.message},
        )
        return {"ok": False, "error": exc.code.value}
    metrics.add_metric(name="MqttPresenceEvents", unit=MetricUnit.Count, value=1)
    return {"ok": True}
