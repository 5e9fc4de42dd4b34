"""The function's answer as an HTTP response (``runtime.apigateway.http.responses``)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from hubbub.runtime.apigateway.http.responses import (
    MalformedResponse,
    map_response,
    result_response,
)
from hubbub.runtime.lambda_.pool import InvokeResult


def test_a_status_code_object_is_the_response() -> None:
    result = map_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/html", "X-Count": 3},
            "cookies": ["s=1; HttpOnly", "t=2"],
            "body": "<p>made</p>",
        }
    )
    assert result.status == 201
    assert result.body == b"<p>made</p>"
    assert list(result.headers) == [
        ("Content-Type", "text/html"),
        ("X-Count", "3"),
        ("set-cookie", "s=1; HttpOnly"),
        ("set-cookie", "t=2"),
    ]


@pytest.mark.parametrize("multi", [{"X-Multi": ["a", "b"]}, {"x-count": ["9"]}, "not an object"])
def test_format_2_0_ignores_multi_value_headers(multi: Any) -> None:
    """Payload format 2.0 has no ``multiValueHeaders``: API Gateway ignores them in a 2.0 answer
    (repeated values travel comma-joined in ``headers``), whatever they hold. AWS, "Create AWS
    Lambda proxy integrations for HTTP APIs", payload format differences:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    """
    result = map_response(
        {"statusCode": 200, "headers": {"x-count": "1"}, "multiValueHeaders": multi}
    )
    assert list(result.headers) == [
        ("x-count", "1"),
        ("content-type", "text/plain; charset=utf-8"),
    ]


def test_a_base64_body_is_decoded_and_a_missing_content_type_is_text_plain() -> None:
    result = map_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\xff").decode(), "isBase64Encoded": True}
    )
    assert result.body == b"\x00\xff"
    assert dict(result.headers) == {"content-type": "text/plain; charset=utf-8"}


def test_the_integration_cannot_set_framing_headers() -> None:
    result = map_response(
        {"statusCode": 200, "headers": {"Content-Length": "999", "content-type": "a/b"}}
    )
    assert dict(result.headers) == {"content-type": "a/b"}
    assert result.body == b""


@pytest.mark.parametrize(
    "payload",
    [{"hello": "world"}, "just text", [1, "two", None], None, 42, True],
)
def test_any_other_json_value_is_a_200_json_body(payload: Any) -> None:
    result = map_response(payload)
    assert result.status == 200
    assert dict(result.headers) == {"content-type": "application/json"}
    assert json.loads(result.body) == payload


@pytest.mark.parametrize(
    "payload",
    [
        {"statusCode": "teapot"},
        {"statusCode": True},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "headers": {"x": {"nested": 1}}},
    ],
)
def test_a_malformed_answer_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse):
        map_response(payload)


def invoke_result(ok: bool, payload: Any) -> InvokeResult:
    return InvokeResult(request_id="r", ok=ok, payload=payload, duration_ms=1.0)


@pytest.mark.parametrize(
    "result",
    [
        invoke_result(False, {"errorType": "RuntimeError", "errorMessage": "boom"}),
        invoke_result(False, {"errorType": "Sandbox.Timedout", "errorMessage": "late"}),
        invoke_result(True, {"statusCode": "teapot"}),
    ],
)
def test_function_errors_and_malformed_answers_are_api_gateways_500(result: InvokeResult) -> None:
    response = result_response(result)
    assert response.status == 500
    assert json.loads(response.body) == {"message": "Internal Server Error"}
    assert dict(response.headers) == {"content-type": "application/json"}
