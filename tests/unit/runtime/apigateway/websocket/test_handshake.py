"""What ``$connect``'s answer means for the handshake
(``runtime.apigateway.websocket.handshake``)."""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.runtime.apigateway.websocket.handshake import status_of
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
