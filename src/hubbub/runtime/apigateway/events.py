"""API Gateway WebSocket proxy events, built field for field as AWS sends them.

The shapes follow the events AWS delivers (and Powertools captures in its test suite); the e2e
tests validate each emitted kind against Powertools' ``APIGatewayWebSocket*EventModel``. As in
those captured events, ``requestId`` and ``extendedRequestId`` are one value, an API Gateway id
(:func:`hubbub.runtime.awsids.extended_request_id`), not a UUID.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConnectionInfo",
    "connect_event",
    "disconnect_event",
    "fold_repeated",
    "message_event",
    "request_time",
]


@dataclass(slots=True)
class ConnectionInfo:
    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    user_agent: str | None
    connected_at: int
    authorizer: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """The handshake headers that later events of the connection read (``Host``)."""


def request_time(epoch_ms: int) -> str:
    """CLF time as API Gateway writes it: ``09/Feb/2024:16:40:22 +0000``."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _context(
    info: ConnectionInfo, route_key: str, event_type: str, rid: str, now_ms: int
) -> dict[str, Any]:
    identity: dict[str, Any] = {"sourceIp": info.source_ip}
    if info.user_agent is not None:
        identity["userAgent"] = info.user_agent
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": rid,
        "requestTime": request_time(now_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": now_ms,
        "identity": identity,
        "requestId": rid,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }
    if info.authorizer is not None:
        context["authorizer"] = info.authorizer
    return context


def connect_event(
    info: ConnectionInfo,
    *,
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]],
    rid: str,
    now_ms: int,
) -> dict[str, Any]:
    single, multi = fold_repeated(headers)
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    if query:
        q_single, q_multi = fold_repeated(query)
        event["queryStringParameters"] = q_single
        event["multiValueQueryStringParameters"] = q_multi
    event["requestContext"] = _context(info, "$connect", "CONNECT", rid, now_ms)
    event["isBase64Encoded"] = False
    return event


def message_event(
    info: ConnectionInfo,
    *,
    route_key: str,
    body: str,
    is_base64: bool,
    message_id: str,
    rid: str,
    now_ms: int,
) -> dict[str, Any]:
    context = _context(info, route_key, "MESSAGE", rid, now_ms)
    context["messageId"] = message_id
    return {"requestContext": context, "body": body, "isBase64Encoded": is_base64}


def disconnect_event(
    info: ConnectionInfo, *, status_code: int, reason: str, rid: str, now_ms: int
) -> dict[str, Any]:
    host = info.headers.get("Host", info.domain_name)
    headers = {"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    context = _context(info, "$disconnect", "DISCONNECT", rid, now_ms)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def fold_repeated(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """API Gateway's two views of repeated keys (headers, query parameters) in its format 1.0
    events, WebSocket and REST alike: the last value, and all values."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi
