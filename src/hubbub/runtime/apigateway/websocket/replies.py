"""What a route with a route response sends back for a Lambda proxy integration's answer.

API Gateway reads the answer as a Lambda proxy response (*Set up Lambda proxy integrations*:
``statusCode``, ``headers``, ``body``) and a two-way route sends its ``body`` to the client (*Set
up a route response for a WebSocket API*). An object with no ``body`` (``{"statusCode": 200}``)
has nothing to send, and nothing is sent. An answer that is not an object (a string, a number, a
list) is not a proxy response: how AWS treats it is not documented, and the runtime sends it as
it is (a string) or as JSON, so a handler that returns one still sees it arrive.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["reply_text"]


def reply_text(payload: Any) -> str | None:
    """The frame a route response sends for the function's answer, or None for no frame."""
    if isinstance(payload, dict):
        body = payload.get("body")
        if body is None:
            return None
        return body if isinstance(body, str) else json.dumps(body)
    if payload is None:
        return None
    if isinstance(payload, str):
        return payload
    return json.dumps(payload)
