"""Every action route and ``$default``: parse the frame, run the action, reply to the sender.

The reply travels back as the route response body. Bad input becomes a typed ``error`` frame and
the connection stays open; an unexpected exception is left to propagate so the gateway answers
``Internal server error`` exactly as API Gateway does.
"""

from __future__ import annotations

import time
from typing import Any

from hubbub.handlers import _http
from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, logger, metrics
from hubbub.ids import ConnectionId
from hubbub.protocol.actions import parse_action, peek_ref
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.events import error_event, from_protocol_error
from hubbub.store.port import StoreUnavailable

__all__ = ["handler"]


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    context_ = event["requestContext"]
    connection_id = ConnectionId(context_["connectionId"])
    logger.append_keys(
        connectionId=connection_id,
        route=context_.get("routeKey"),
        requestId=context_.get("requestId"),
    )
    reply, action, outcome = _handle(connection_id, event)
    latency = (time.perf_counter() - started) * 1000
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="Actions", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ActionLatency", unit=MetricUnit.Milliseconds, value=latency)
    # DEBUG when it went well: the EMF metrics above count every action and its latency, and a
    # line per action was a tenth of the worker's time; refusals and failures stay at INFO
    log = logger.debug if outcome == "ok" else logger.info
    log("action", extra={"action": action, "outcome": outcome, "latencyMs": round(latency, 3)})
    return _http.reply(reply)


def _handle(connection_id: ConnectionId, event: dict[str, Any]) -> tuple[Any, str | None, str]:
    """The reply, the action's name (when known) and an outcome label for metrics."""
    body = event.get("body")
    if event.get("isBase64Encoded"):
        return (
            error_event(ErrorCode.BAD_REQUEST, "binary frames are not accepted"),
            None,
            "bad_request",
        )
    try:
        action = parse_action(body)
        source_ip = event["requestContext"].get("identity", {}).get("sourceIp")
        return chat().handle(connection_id, action, source_ip=source_ip), action.action, "ok"
    except ProtocolError as exc:
        ref, name = peek_ref(body)
        return from_protocol_error(exc, ref=ref, action=name), name, exc.code.value
    except StoreUnavailable:
        ref, name = peek_ref(body)
        busy = error_event(
            ErrorCode.UNAVAILABLE, "storage is busy; retry", ref=ref, action=name, retry_after=1.0
        )
        return busy, name, "unavailable"
