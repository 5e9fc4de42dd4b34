"""``$disconnect``: best effort, as on AWS; the stream handler also forgets connections found
gone."""

from __future__ import annotations

from typing import Any

from hubbub.handlers import _http
from hubbub.handlers.bootstrap import chat
from hubbub.ids import ConnectionId

__all__ = ["handler"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    chat().disconnect(ConnectionId(event["requestContext"]["connectionId"]))
    return _http.status(200)
