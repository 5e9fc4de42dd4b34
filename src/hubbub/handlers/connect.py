"""``$connect``: verify the token (if any), remember the connection. A non-2xx refuses the
handshake.

The token comes in the ``Authorization`` header, a ``Sec-WebSocket-Protocol`` value or the query
string (``protocol/handshake.py``); when the client offered subprotocols, the response names the
one chosen, which API Gateway sends back on the handshake."""

from __future__ import annotations

import os
from typing import Any

from hubbub.handlers import _http
from hubbub.handlers.bootstrap import chat
from hubbub.ids import ConnectionId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.handshake import read_handshake
from hubbub.store.port import StoreUnavailable

__all__ = ["handler"]


def _origin_allowed(headers: dict[str, str]) -> bool:
    """Browsers send Origin; other clients need not. ``ALLOWED_ORIGINS``: a comma list or ``*``."""
    allowed = [o.strip() for o in os.environ.get("ALLOWED_ORIGINS", "*").split(",") if o.strip()]
    if "*" in allowed:
        return True
    origin = next((v for k, v in headers.items() if k.lower() == "origin"), None)
    return origin is None or origin in allowed


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service = chat()
    connection_id = ConnectionId(event["requestContext"]["connectionId"])
    query = event.get("queryStringParameters") or {}
    headers = _headers(event)
    if not _origin_allowed(headers):
        return _http.status(403, "origin not allowed")
    try:
        handshake = read_handshake(query, headers)
        user = service.authenticate(handshake.token)
        service.connect(connection_id, user)
    except ProtocolError as exc:
        return _http.status(400 if exc.code is ErrorCode.BAD_REQUEST else 401, exc.message)
    except StoreUnavailable:
        return _http.status(503, "unavailable")
    headers = handshake.response_headers()
    return {"statusCode": 200, "headers": headers} if headers else _http.status(200)


def _headers(event: dict[str, Any]) -> dict[str, str]:
    """The handshake's headers, a repeated one (two ``Sec-WebSocket-Protocol`` lines) joined."""
    joined = {k: ",".join(v) for k, v in (event.get("multiValueHeaders") or {}).items() if v}
    return {**(event.get("headers") or {}), **joined}
