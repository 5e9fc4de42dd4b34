"""The payload format 2.0 event (``runtime.apigateway.http.events``), validated against
Powertools' model."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from hubbub.runtime.apigateway.http.events import HttpRequest, build_event, gateway_headers
from hubbub.runtime.apigateway.http.routing import RouteTable
from tests.unit.runtime.apigateway.http.specs import api


def http_request(
    *,
    method: str = "GET",
    path: str = "/rooms/lobby",
    query: str = "",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> HttpRequest:
    return HttpRequest(
        method=method,
        raw_path=path,
        raw_query=query,
        headers=gateway_headers(
            [("Host", "127.0.0.1:8000"), ("User-Agent", "unit/1"), *headers],
            source_ip="127.0.0.1",
            port=8000,
            scheme="http",
        ),
        body=body,
        source_ip="127.0.0.1",
        domain_name="127.0.0.1:8000",
    )


def event_for(request: HttpRequest, key: str = "GET /rooms/{room}") -> dict[str, Any]:
    spec = api(key)
    match = RouteTable(spec.routes.values()).match(request.method, request.raw_path)
    assert match is not None
    event = build_event(
        spec, match, request, account_id="123456789012", request_id="rid=", now_ms=1_700_000_000_123
    )
    APIGatewayProxyEventV2Model.model_validate(event)
    return event


def test_the_event_has_api_gateways_shape_and_validates() -> None:
    event = event_for(
        http_request(
            query="a=1&a=2&b=&c=x+y%2Fz",
            headers=[("X-Dup", "one"), ("x-dup", "two"), ("Cookie", "s=1; t=2"), ("Cookie", "u=3")],
        )
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /rooms/{room}"
    assert (event["rawPath"], event["rawQueryString"]) == ("/rooms/lobby", "a=1&a=2&b=&c=x+y%2Fz")
    assert event["queryStringParameters"] == {"a": "1,2", "b": "", "c": "x y/z"}
    assert event["cookies"] == ["s=1", "t=2", "u=3"]
    assert event["headers"]["x-dup"] == "one,two"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["pathParameters"] == {"room": "lobby"}
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/rooms/lobby",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "unit/1",
    }
    assert context["stage"] == "$default"
    assert (context["domainName"], context["domainPrefix"]) == ("127.0.0.1:8000", "127")
    assert context["time"] == "14/Nov/2023:22:13:20 +0000"
    assert context["timeEpoch"] == 1_700_000_000_123


def test_without_query_or_parameters_those_keys_are_absent() -> None:
    event = event_for(http_request(path="/rooms"), key="GET /rooms")
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "cookies" not in event


@pytest.mark.parametrize(
    ("content_type", "body", "is_base64"),
    [
        ("application/json", b'{"a":1}', False),
        ("text/plain; charset=utf-8", "héllo".encode(), False),
        ("application/vnd.api+json", b"{}", False),
        ("application/octet-stream", b"\x00\x01\xff", True),
        ("application/x-www-form-urlencoded", b"a=1", True),
        (None, b"raw", True),
        ("text/plain", b"\xff\xfe not utf-8", True),
    ],
)
def test_text_bodies_travel_as_text_and_the_rest_as_base64(
    content_type: str | None, body: bytes, is_base64: bool
) -> None:
    headers = [] if content_type is None else [("Content-Type", content_type)]
    event = event_for(http_request(method="GET", headers=headers, body=body))
    assert event["isBase64Encoded"] is is_base64
    decoded = base64.b64decode(event["body"]) if is_base64 else event["body"].encode()
    assert decoded == body


def test_gateway_headers_drop_hop_by_hop_and_append_the_caller_to_x_forwarded_for() -> None:
    lines = gateway_headers(
        [("Connection", "keep-alive"), ("X-Forwarded-For", "10.0.0.1"), ("Accept", "*/*")],
        source_ip="127.0.0.2",
        port=8443,
        scheme="https",
    )
    folded = dict(lines)
    assert "connection" not in folded
    assert folded["x-forwarded-for"] == "10.0.0.1, 127.0.0.2"
    assert (folded["x-forwarded-port"], folded["x-forwarded-proto"]) == ("8443", "https")
    assert folded["x-amzn-trace-id"].startswith("Root=1-")
