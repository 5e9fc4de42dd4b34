"""``$connect``: verify the token (if any), remember the connection. A non-2xx refuses the
handshake."""

from __future__ import annotations

from typing import Any

from hubbub.handlers import _http
from hubbub.handlers.bootstrap import chat
from hubbub.ids import ConnectionId
from hubbub.protocol.errors import ProtocolError
from hubbub.store.port import StoreUnavailable

__all__ = ["handler"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service = chat()
    connection_id = ConnectionId(event["requestContext"]["connectionId"])
    query = event.get("queryStringParameters") or {}
    try:
        user = service.authenticate(query.get("token"))
        service.connect(connection_id, user)
    except ProtocolError as exc:
        return _http.status(401, exc.message)
    except StoreUnavailable:
        return _http.status(503, "unavailable")
    return _http.status(200)
