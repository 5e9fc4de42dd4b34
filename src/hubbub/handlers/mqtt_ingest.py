"""The rule on ``$aws/rules/hubbub/{topic}`` (Basic Ingest): one MQTT send into the chat.

A payload ``{"type": "typing"}`` is a typing notice instead: WebSocket members of the topic
get ``typing``, nothing is stored.

The rule hands over the payload (base64), ``topic()`` (the chat topic), ``clientid()`` and
``principal()`` (the authorizer's principal, a user id). The send goes through the same path as
a WebSocket or REST send (``Chat.send``: policy, dedupe by ``clientMsgId``, gapless ``seq``,
rate limits); the stream delivers it to both edges.

IoT Core invokes this asynchronously, so nobody waits for a reply: a refused send is logged and
dropped (retrying it would be refused again), while a busy store raises so Lambda retries it,
and the derived ``clientMsgId`` keeps a retry from storing it twice.
"""

from __future__ import annotations

from typing import Any

from hubbub.chat.mqtt import parse_ingest, sender_of, typing_topic
from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, logger, metrics
from hubbub.protocol.errors import ProtocolError

__all__ = ["handler"]


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service = chat()
    try:
        user = sender_of(str(event.get("principal") or ""), service.store)
        typing = typing_topic(event)
        if typing is not None:
            # connections found gone are left for the fan-out or their $disconnect to forget,
            # as a WebSocket typing leaves them: this function deletes nothing
            service.mqtt_members.typing(user, typing)
            metrics.add_metric(name="MqttTyping", unit=MetricUnit.Count, value=1)
            return {"ok": True, "typing": True}
        send = parse_ingest(event, service.limits.max_client_msg_id_chars)
        attached = list(send.attachments)
        result = service.send(user, send.topic, send.text, send.client_msg_id, attached)
    except ProtocolError as exc:
        metrics.add_metric(name="MqttSendsRefused", unit=MetricUnit.Count, value=1)
        logger.info(
            "mqtt send refused",
            extra={"clientId": event.get("clientId"), "code": exc.code.value, "why": exc.message},
        )
        return {"ok": False, "error": exc.code.value}
    metrics.add_metric(name="MqttSends", unit=MetricUnit.Count, value=1)
    message = result.message
    return {"ok": True, "seq": message.seq, "duplicate": result.duplicate}
