"""``$connect``: verify the token (if any), remember the connection. A non-2xx refuses the
handshake."""

from __future__ import annotations

import os
from typing import Any

from hubbub.handlers import _http
from hubbub.handlers.bootstrap import chat
from hubbub.ids import ConnectionId
from hubbub.protocol.errors import ProtocolError
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
    if not _origin_allowed(event.get("headers") or {}):
        return _http.status(403, "origin not allowed")
    try:
        user = service.authenticate(query.get("token"))
        service.connect(connection_id, user)
    except ProtocolError as exc:
        return _http.status(401, exc.message)
    except StoreUnavailable:
        return _http.status(503, "unavailable")
    return _http.status(200)
