"""What a two-way route sends back (``runtime.apigateway.websocket.replies``).

AWS: API Gateway developer guide, *Set up a route response for a WebSocket API in API Gateway*
(a route response makes the route two-way) and *Set up Lambda proxy integrations* (the proxy
response's ``body`` is what API Gateway returns); an object without ``body`` has nothing to send.
"""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.runtime.apigateway.websocket.replies import reply_text


@pytest.mark.parametrize(
    ("payload", "frame"),
    [
        ({"statusCode": 200, "body": '{"ok": true}'}, '{"ok": true}'),
        ({"statusCode": 200, "body": ""}, ""),
        ({"body": {"ok": True}}, '{"ok": true}'),
        ({"statusCode": 200}, None),
        ({"ok": True}, None),  # not a proxy response with a body: nothing is sent
        (None, None),
        ("plain text", "plain text"),
        ([1, 2], "[1, 2]"),
        (7, "7"),
    ],
)
def test_a_route_response_sends_the_proxy_body(payload: Any, frame: str | None) -> None:
    assert reply_text(payload) == frame
