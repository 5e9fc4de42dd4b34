"""HTTP API rules as pure functions: route precedence, mounting, the 2.0 event, the response
mapping and CORS, each checked without a server."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from hypothesis import given
from hypothesis import strategies as st

from hubbub.runtime.apigateway.httpapi import (
    HTTP_PREFIX,
    HttpRequest,
    MalformedResponse,
    RouteTable,
    build_event,
    cors_headers,
    gateway_headers,
    is_preflight,
    map_response,
    mount_plan,
    preflight_response,
    result_response,
)
from hubbub.runtime.cloudformation import (
    CorsSpec,
    HttpApiSpec,
    HttpRouteSpec,
    parse_route_key,
)
from hubbub.runtime.lambda_.pool import InvokeResult


def route(key: str, function: str = "Fn") -> HttpRouteSpec:
    method, path = parse_route_key(key, "test")
    return HttpRouteSpec(key=key, function=function, method=method, path=path)


def api(*keys: str, stage: str = "$default", cors: CorsSpec | None = None) -> HttpApiSpec:
    return HttpApiSpec(
        logical_id="Api",
        api_id="abcdef1234",
        stage=stage,
        routes={key: route(key) for key in keys},
        cors=cors,
    )


PRECEDENCE_ROUTES = (
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "ANY /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "GET /pets/dog/{proxy+}",
    "ANY /{proxy+}",
    "$default",
)


def selected(keys: Sequence[str], method: str, path: str) -> str | None:
    match = RouteTable(route(k) for k in keys).match(method, path)
    return None if match is None else match.route.key


# route selection ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1"),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}"),
        ("DELETE", "/pets/dog/2", "ANY /pets/dog/{id}"),
        ("GET", "/pets/dog/2/toys", "GET /pets/dog/{proxy+}"),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}"),
        ("POST", "/pets/cat/1", "ANY /{proxy+}"),
        ("GET", "/", "$default"),
        ("get", "/pets/dog/1", "GET /pets/dog/1"),
    ],
)
def test_the_most_specific_route_wins(method: str, path: str, expected: str) -> None:
    assert selected(PRECEDENCE_ROUTES, method, path) == expected


@given(st.permutations(PRECEDENCE_ROUTES))
def test_precedence_does_not_depend_on_template_order(keys: list[str]) -> None:
    assert selected(keys, "GET", "/pets/dog/2") == "GET /pets/dog/{id}"
    assert selected(keys, "POST", "/pets/cat/1") == "ANY /{proxy+}"


def test_a_literal_segment_beats_a_variable_one_left_to_right() -> None:
    keys = ("GET /{a}/b", "GET /a/{b}")
    assert selected(keys, "GET", "/a/b") == "GET /a/{b}"


def test_path_parameters_are_bound_and_greedy_ones_keep_their_slashes() -> None:
    table = RouteTable([route("GET /users/{userId}/files/{path+}")])
    match = table.match("GET", "/users/u1/files/a/b/c.txt")
    assert match is not None
    assert match.path_parameters == {"userId": "u1", "path": "a/b/c.txt"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/files"),  # a greedy variable needs at least one segment
        ("GET", "/files/"),
        ("GET", "/items//x"),  # a variable is never empty
        ("PUT", "/items/1/x"),  # no route for the method
        ("GET", "/items/1/x/y"),
    ],
)
def test_no_route_and_no_default_means_no_match(method: str, path: str) -> None:
    assert selected(("GET /files/{proxy+}", "GET /items/{id}/x"), method, path) is None


def test_default_takes_what_nothing_else_does_and_has_no_parameters() -> None:
    match = RouteTable([route("$default"), route("GET /a")]).match("DELETE", "/zzz")
    assert match is not None
    assert (match.route.key, match.path_parameters) == ("$default", {})


# mounting ----------------------------------------------------------------------------------------
TAKEN = frozenset({"", "_runtime", "_http", "ws", "static", "config.json"})


def test_plain_routes_are_served_at_their_own_paths() -> None:
    plan = mount_plan(api("GET /rooms", "GET /rooms/{room}", "POST /rooms/{room}"), TAKEN)
    assert (plan.prefix, plan.reason) == ("", None)
    assert plan.patterns == ("/rooms", "/rooms/{_p1}")


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        (("GET /rooms", "$default"), "$default"),
        (("ANY /{proxy+}",), "every top-level path"),
        (("GET /{room}",), "every top-level path"),
        (("GET /static/app.js",), "/static"),
        (("GET /",), "hide the server's own /"),
        (("GET /ws/info",), "/ws"),
    ],
)
def test_an_api_that_would_hide_the_servers_paths_moves_under_a_prefix(
    keys: tuple[str, ...], reason: str
) -> None:
    plan = mount_plan(api(*keys), TAKEN)
    assert plan.prefix == f"{HTTP_PREFIX}/Api"
    assert plan.reason is not None
    assert reason in plan.reason
    assert plan.patterns == ("/_http/Api", "/_http/Api/{_tail:.*}")


def test_a_named_stage_is_part_of_the_path() -> None:
    plan = mount_plan(api("GET /rooms/{room}", "GET /files/{proxy+}", stage="prod"), TAKEN)
    assert (plan.prefix, plan.base) == ("", "/prod")
    assert plan.patterns == ("/prod/rooms/{_p1}", "/prod/files/{_p1:.+}")


def test_below_a_named_stage_a_catch_all_hides_nothing() -> None:
    plan = mount_plan(api("$default", "ANY /{proxy+}", stage="prod"), TAKEN)
    assert (plan.prefix, plan.reason) == ("", None)
    assert plan.patterns == ("/prod", "/prod/{_tail:.*}")


def test_a_stage_named_like_a_server_path_moves_under_a_prefix() -> None:
    plan = mount_plan(api("GET /info", stage="ws"), TAKEN)
    assert plan.base == "/_http/Api/ws"
    assert plan.patterns == ("/_http/Api/ws", "/_http/Api/ws/{_tail:.*}")


# the event ---------------------------------------------------------------------------------------
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


# the response ------------------------------------------------------------------------------------
def test_a_status_code_object_is_the_response() -> None:
    result = map_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/html", "X-Count": 3},
            "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "cookies": ["s=1; HttpOnly", "t=2"],
            "body": "<p>made</p>",
        }
    )
    assert result.status == 201
    assert result.body == b"<p>made</p>"
    assert list(result.headers) == [
        ("Content-Type", "text/html"),
        ("X-Count", "3"),
        ("X-Multi", "a"),
        ("X-Multi", "b"),
        ("set-cookie", "s=1; HttpOnly"),
        ("set-cookie", "t=2"),
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
        {"statusCode": 200, "multiValueHeaders": {"x": "not a list"}},
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


# CORS --------------------------------------------------------------------------------------------
CORS = CorsSpec(
    allow_origins=("https://app.example.com", "http://*"),
    allow_methods=("GET", "POST"),
    allow_headers=("content-type", "x-custom"),
    expose_headers=("x-probe",),
    allow_credentials=True,
    max_age_s=600,
)


def test_preflight_needs_origin_and_requested_method() -> None:
    assert is_preflight("OPTIONS", {"Origin": "o", "Access-Control-Request-Method": "GET"})
    assert not is_preflight("OPTIONS", {"Origin": "o"})
    assert not is_preflight("GET", {"Origin": "o", "Access-Control-Request-Method": "GET"})


@pytest.mark.parametrize("origin", ["https://app.example.com", "http://localhost:5173"])
def test_an_allowed_preflight_gets_the_configured_headers(origin: str) -> None:
    result = preflight_response(CORS, origin, "POST")
    assert result.status == 204
    assert dict(result.headers) == {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "content-type,x-custom",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }


@pytest.mark.parametrize(
    ("origin", "method"), [("https://evil.example", "GET"), ("https://app.example.com", "DELETE")]
)
def test_a_refused_preflight_gets_no_cors_headers(origin: str, method: str) -> None:
    result = preflight_response(CORS, origin, method)
    assert (result.status, result.headers) == (204, ())


def test_a_wildcard_origin_answers_star() -> None:
    result = preflight_response(CorsSpec(allow_origins=("*",), allow_methods=("*",)), "x", "PUT")
    assert dict(result.headers)["access-control-allow-origin"] == "*"


def test_cors_headers_replace_the_functions_own() -> None:
    answered = map_response(
        {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*", "x-probe": "1"}}
    )
    allowed = dict(cors_headers(answered, CORS, "https://app.example.com").headers)
    assert allowed["access-control-allow-origin"] == "https://app.example.com"
    assert allowed["access-control-expose-headers"] == "x-probe"
    assert "Access-Control-Allow-Origin" not in allowed
    refused = dict(cors_headers(answered, CORS, "https://evil.example").headers)
    assert not any(name.lower().startswith("access-control-") for name in refused)
