"""A REST API's Lambda proxy answer (``runtime.apigateway.rest.responses``), by AWS's "Output
format of a Lambda function for proxy integration" in "Lambda proxy integrations in API
Gateway":
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
(``statusCode``, ``headers``, ``multiValueHeaders`` merged with the multi-value list winning,
``body``, ``isBase64Encoded``); anything else is a malformed proxy response, which the client sees
as 502 ``Internal server error`` (re:Post, "How do I resolve HTTP 502 errors from API Gateway REST
APIs with Lambda proxy integration?":
https://repost.aws/knowledge-center/malformed-502-api-gateway)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from hubbub.runtime.apigateway.http.responses import MalformedResponse
from hubbub.runtime.apigateway.rest.responses import (
    BAD_GATEWAY,
    map_proxy_response,
    rest_result_response,
)
from hubbub.runtime.lambda_.pool import InvokeResult


def test_headers_and_multi_value_headers_merge_multi_winning() -> None:
    result = map_proxy_response(
        {
            "statusCode": 201,
            "headers": {"X-One": "1", "X-Both": "single", "Content-Type": "text/html"},
            "multiValueHeaders": {"x-both": ["m1", "m2"], "Set-Cookie": ["a=1", "b=2"]},
            "body": "<p>ok</p>",
        }
    )
    assert result.status == 201
    assert result.body == b"<p>ok</p>"
    assert list(result.headers) == [
        ("X-One", "1"),
        ("Content-Type", "text/html"),
        ("x-both", "m1"),
        ("x-both", "m2"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]


def test_a_missing_content_type_is_json() -> None:
    result = map_proxy_response({"statusCode": 200, "body": "{}"})
    assert dict(result.headers) == {"content-type": "application/json"}


def test_base64_is_decoded_only_when_accept_names_a_binary_type() -> None:
    payload = {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(b"\x89PNG").decode(),
        "isBase64Encoded": True,
    }
    binary = map_proxy_response(payload, accept="image/png", binary_media_types=("image/png",))
    assert binary.body == b"\x89PNG"
    as_text = map_proxy_response(payload, accept="text/html", binary_media_types=("image/png",))
    assert as_text.body == payload["body"].encode()
    no_types = map_proxy_response(payload, accept="image/png")
    assert no_types.body == payload["body"].encode()


@pytest.mark.parametrize(
    "payload",
    [
        {"hello": "world"},
        "just text",
        None,
        [1, 2],
        {"statusCode": 200, "cookies": ["a=1"]},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": "teapot"},
        {"statusCode": 200, "multiValueHeaders": {"x": "not a list"}},
    ],
)
def test_anything_else_is_malformed(payload: Any) -> None:
    with pytest.raises(MalformedResponse):
        map_proxy_response(payload)
    result = rest_result_response(
        InvokeResult("r", True, payload, 1.0), accept=None, binary_media_types=()
    )
    assert result == BAD_GATEWAY
    assert result.status == 502
    assert json.loads(result.body) == {"message": "Internal server error"}


def test_a_function_error_is_502() -> None:
    failed = InvokeResult("r", False, {"errorType": "KeyError", "errorMessage": "x"}, 1.0)
    assert rest_result_response(failed, accept=None, binary_media_types=()) == BAD_GATEWAY
