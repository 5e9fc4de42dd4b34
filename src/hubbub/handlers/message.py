"""Every action route and ``$default``: parse the frame, run the action, reply to the sender.

The reply travels back as the route response body. Bad input becomes a typed ``error`` frame and
the connection stays open; an unexpected exception is left to propagate so the gateway answers
``Internal server error`` exactly as API Gateway does.
"""

from __future__ import annotations

from typing import Any

from hubbub.handlers import _http
from hubbub.handlers.bootstrap import chat
from hubbub.ids import ConnectionId
from hubbub.protocol.actions import parse_action, peek_ref
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.events import error_event, from_protocol_error
from hubbub.store.port import StoreUnavailable

__all__ = ["handler"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = ConnectionId(event["requestContext"]["connectionId"])
    body = event.get("body")
    if event.get("isBase64Encoded"):
        return _http.reply(error_event(ErrorCode.BAD_REQUEST, "binary frames are not accepted"))
    try:
        return _http.reply(chat().handle(connection_id, parse_action(body)))
    except ProtocolError as exc:
        ref, action = peek_ref(body)
        return _http.reply(from_protocol_error(exc, ref=ref, action=action))
    except StoreUnavailable:
        ref, action = peek_ref(body)
        busy = error_event(
            ErrorCode.UNAVAILABLE, "storage is busy; retry", ref=ref, action=action, retry_after=1.0
        )
        return _http.reply(busy)
