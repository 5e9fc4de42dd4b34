"""API Gateway WebSocket and DynamoDB Streams events, built by code from captured AWS shapes.

The field sets and value formats follow the events AWS delivers, as captured in Powertools' test
suite (``tests/events/apiGatewayWebSocketApi{Connect,Message,Disconnect}.json`` and
``dynamoStreamEvent.json``): connection ids of 12 base64 characters ending in ``=``, CLF
``requestTime``, epoch-millisecond ``connectedAt``/``requestTimeEpoch``, DynamoDB JSON images.
Nothing here imports hubbub, so tests of the runtime's own event builders can compare against it.
"""

from __future__ import annotations

import base64
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import TypeSerializer

__all__ = [
    "API_ID",
    "REGION",
    "STAGE",
    "STREAM_ARN",
    "connect_event",
    "connection_id",
    "disconnect_event",
    "dynamodb_json",
    "http_api_event",
    "message_event",
    "sqs_fifo_record",
    "stream_event",
    "stream_record",
]

API_ID = "asasasas"
STAGE = "prod"
REGION = "us-east-1"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:123456789012:table/hubbub/stream/2024-11-11T11:35:24.000"
_SOURCE_IP = "166.90.225.1"
_serializer = TypeSerializer()


def connection_id() -> str:
    """An id shaped like ``BFHPhfCWIAMCKlQ=``: 10 random bytes, base64."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _request_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _clf(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _request_context(
    conn_id: str, route_key: str, event_type: str, now_ms: int, connected_at: int
) -> dict[str, Any]:
    rid = _request_id()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": rid,
        "requestTime": _clf(now_ms),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": connected_at,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": _SOURCE_IP},
        "requestId": rid,
        "domainName": DOMAIN,
        "connectionId": conn_id,
        "apiId": API_ID,
    }


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def http_api_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """An HTTP API request in payload format 2.0 (Powertools' ``apiGatewayProxyV2Event.json``),
    as a ``$default`` stage delivers it: header names lower-cased, repeated query values
    comma-joined, and a body that is not JSON or text base64-encoded, as API Gateway does for
    a form."""
    now = _now_ms() if now_ms is None else now_ms
    named = {k.lower(): v for k, v in (headers or {}).items()}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": DOMAIN,
            "user-agent": "unit/1",
            "x-forwarded-for": _SOURCE_IP,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **named,
        },
    }
    if query:
        params: dict[str, str] = {}
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": "123456789012",
        "apiId": API_ID,
        "domainName": DOMAIN,
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": _SOURCE_IP,
            "userAgent": "unit/1",
        },
        "requestId": _request_id(),
        "routeKey": f"{method} {path}",
        "stage": "$default",
        "time": _clf(now),
        "timeEpoch": now,
    }
    content_type = named.get("content-type", "")
    textual = content_type.startswith(("text/", "application/json"))
    if body:
        event["body"] = body.decode() if textual else base64.b64encode(body).decode()
    event["isBase64Encoded"] = bool(body) and not textual
    return event


def connect_event(
    conn_id: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Sequence[tuple[str, str]] = (),
    now_ms: int | None = None,
) -> dict[str, Any]:
    """``$connect``: the handshake's headers (single and multi-value) and its query string."""
    now = _now_ms() if now_ms is None else now_ms
    pairs = [
        ("Host", DOMAIN),
        ("Sec-WebSocket-Key", base64.b64encode(secrets.token_bytes(16)).decode()),
        ("Sec-WebSocket-Version", "13"),
        ("X-Forwarded-For", _SOURCE_IP),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
        *headers,
    ]
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    if query:
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    event["requestContext"] = _request_context(conn_id, "$connect", "CONNECT", now, now)
    event["isBase64Encoded"] = False
    return event


def message_event(
    conn_id: str,
    body: str | None,
    *,
    route_key: str = "$default",
    is_base64: bool = False,
    now_ms: int | None = None,
    connected_at: int | None = None,
) -> dict[str, Any]:
    """A frame on a message route; a binary frame arrives base64-encoded with the flag set."""
    now = _now_ms() if now_ms is None else now_ms
    context = _request_context(
        conn_id, route_key, "MESSAGE", now, now if connected_at is None else connected_at
    )
    context["messageId"] = _request_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": is_base64}


def disconnect_event(
    conn_id: str,
    *,
    status_code: int = 1001,
    reason: str = "Going away",
    now_ms: int | None = None,
) -> dict[str, Any]:
    now = _now_ms() if now_ms is None else now_ms
    headers = {"Host": DOMAIN, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    context = _request_context(conn_id, "$disconnect", "DISCONNECT", now, now)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def dynamodb_json(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item in DynamoDB JSON (``{"S": ...}``, ``{"N": ...}``), as images carry it."""
    return {key: _serializer.serialize(value) for key, value in item.items()}


def stream_record(
    new_image: Mapping[str, Any] | None,
    *,
    sequence_number: str,
    event_name: str = "INSERT",
    keys: Mapping[str, Any] | None = None,
    created_s: float | None = None,
) -> dict[str, Any]:
    """One DynamoDB Streams record (``NEW_IMAGE`` view) for a plain item."""
    item = dict(new_image or {})
    key_item = dict(keys) if keys is not None else {"pk": item["pk"], "sk": item["sk"]}
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": float(int(time.time()) if created_s is None else created_s),
        "Keys": dynamodb_json(key_item),
        "SequenceNumber": sequence_number,
        "SizeBytes": 26 + len(str(item)),
        "StreamViewType": "NEW_IMAGE",
    }
    if new_image is not None:
        body["NewImage"] = dynamodb_json(item)
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": body,
        "eventSourceARN": STREAM_ARN,
    }


def stream_event(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Records": [dict(r) for r in records]}


def iot_authorizer_event(
    client_id: str, password: bytes | None, *, username: str | None = "anyone"
) -> dict[str, Any]:
    """IoT Core's custom authorizer event for an MQTT CONNECT over TLS with signing disabled
    (*Defining your Lambda function*): the password base64-encoded, no token."""
    mqtt: dict[str, Any] = {"clientId": client_id}
    if username is not None:
        mqtt["username"] = username
    if password is not None:
        mqtt["password"] = base64.b64encode(password).decode()
    return {
        "signatureVerified": False,
        "protocols": ["tls", "mqtt"],
        "protocolData": {
            "tls": {"serverName": "example-ats.iot.us-east-1.amazonaws.com"},
            "mqtt": mqtt,
        },
        "connectionMetadata": {"id": str(uuid.uuid4())},
    }


def iot_ingest_event(payload: bytes, topic: str, client_id: str, principal: str) -> dict[str, Any]:
    """What the template's ``hubbub`` rule hands its Lambda action: the SQL's output object
    (``encode(*, 'base64') AS data, topic() AS topic, clientid() AS clientId, principal() AS
    principal``)."""
    return {
        "data": base64.b64encode(payload).decode(),
        "topic": topic,
        "clientId": client_id,
        "principal": principal,
    }


def sqs_fifo_record(
    body: str, *, group: str, queue: str = "local-ChunkQueue.fifo", sequence: int = 1
) -> dict[str, Any]:
    """One SQS event record from a FIFO queue, as Lambda's event source delivers it (the shape
    of Powertools' ``tests/events/sqsEvent.json``, with a FIFO queue's ``MessageGroupId``,
    ``MessageDeduplicationId`` and ``SequenceNumber`` among the attributes)."""
    now_ms = str(_now_ms())
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": base64.b64encode(secrets.token_bytes(48)).decode(),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "SequenceNumber": f"{sequence:020d}",
            "MessageGroupId": group,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "MessageDeduplicationId": uuid.uuid4().hex,
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{queue}",
        "awsRegion": REGION,
    }


def iot_subscription_event(
    kind: str,
    client_id: str,
    topics: Sequence[str],
    *,
    session: str = "5d3f0b8e-1c2a-4b7e-9f00-000000000001",
    principal: str = "v01",
    timestamp_ms: int = 1_573_002_340_451,
) -> dict[str, Any]:
    """A subscribe or unsubscribe lifecycle event (``kind`` ``subscribed``/``unsubscribed``) as
    IoT Core publishes it on ``$aws/events/subscriptions/<kind>/<clientId>`` and a ``SELECT *``
    rule passes it on (*Lifecycle events*, "Subscribe/Unsubscribe events")."""
    return {
        "clientId": client_id,
        "timestamp": timestamp_ms,
        "eventType": kind,
        "sessionIdentifier": session,
        "principalIdentifier": principal,
        "topics": list(topics),
    }


def iot_disconnected_event(
    client_id: str,
    *,
    session: str = "5d3f0b8e-1c2a-4b7e-9f00-000000000001",
    principal: str = "v01",
    timestamp_ms: int = 1_573_002_340_451,
    reason: str = "CLIENT_INITIATED_DISCONNECT",
    version: int = 0,
) -> dict[str, Any]:
    """A ``$aws/events/presence/disconnected/<clientId>`` event (*Lifecycle events*,
    "Connect/Disconnect events")."""
    return {
        "clientId": client_id,
        "timestamp": timestamp_ms,
        "eventType": "disconnected",
        "clientInitiatedDisconnect": reason == "CLIENT_INITIATED_DISCONNECT",
        "sessionIdentifier": session,
        "principalIdentifier": principal,
        "disconnectReason": reason,
        "versionNumber": version,
    }
