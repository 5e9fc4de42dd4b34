"""What ``$connect``'s answer means for the handshake
(``runtime.apigateway.websocket.handshake``)."""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.runtime.apigateway.websocket.handshake import status_of, subprotocol_of
from hubbub.runtime.lambda_.pool import InvokeResult


@pytest.mark.parametrize(
    ("ok", "payload", "status"),
    [
        (True, None, 200),
        (True, {"body": "welcome"}, 200),
        (True, "welcome", 200),
        (True, {"statusCode": 200}, 200),
        (True, {"statusCode": 204}, 204),
        (True, {"statusCode": "403"}, 403),
        (True, {"statusCode": 401, "body": "who?"}, 401),
        (True, {"statusCode": "teapot"}, 500),
        (True, {"statusCode": None}, 500),
        (False, {"errorType": "RuntimeError", "errorMessage": "boom"}, 500),
        (False, {"statusCode": 200}, 500),  # a function error is never a 2xx
    ],
)
def test_connect_answers_its_status_code_or_200_or_500(ok: bool, payload: Any, status: int) -> None:
    result = InvokeResult(request_id="r", ok=ok, payload=payload, duration_ms=1.0)
    assert status_of(result) == status


@pytest.mark.parametrize(
    ("ok", "payload", "subprotocol"),
    [
        (
            True,
            {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "hubbub.v1"}},
            "hubbub.v1",
        ),
        (True, {"statusCode": 200, "headers": {"sec-websocket-protocol": " mqtt "}}, "mqtt"),
        (True, {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": ""}}, None),
        (True, {"statusCode": 200, "headers": {"X-Other": "a"}}, None),
        (True, {"statusCode": 200, "headers": "junk"}, None),
        (True, {"statusCode": 200}, None),
        (True, None, None),
        (False, {"headers": {"Sec-WebSocket-Protocol": "hubbub.v1"}}, None),
    ],
)
def test_the_subprotocol_to_echo_is_the_one_connect_put_in_its_headers(
    ok: bool, payload: Any, subprotocol: str | None
) -> None:
    """API Gateway sends the handshake the Sec-WebSocket-Protocol of $connect's response (API
    Gateway developer guide, "Set up a $connect route that requires a WebSocket subprotocol")."""
    result = InvokeResult(request_id="r", ok=ok, payload=payload, duration_ms=1.0)
    assert subprotocol_of(result) == subprotocol
