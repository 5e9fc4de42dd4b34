"""The REST API's payload format 1.0 event (``runtime.apigateway.rest.events``), checked against
Powertools' ``APIGatewayProxyEventModel`` and AWS's "Input format of a Lambda function for proxy
integration" in "Lambda proxy integrations in API Gateway":
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
(``resource`` is the resource path, ``path`` the request path, repeated headers and query
parameters last-value in the single maps and all values in the ``multiValue`` maps, absent maps
``null``, the request context's ``path`` with the stage)."""

from __future__ import annotations

import base64
from dataclasses import replace

from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from hubbub.runtime.apigateway.http.events import HttpRequest, gateway_headers
from hubbub.runtime.apigateway.http.routing import RouteTable
from hubbub.runtime.apigateway.rest.events import build_rest_event, is_binary, rest_request_id
from hubbub.runtime.cloudformation import HttpRouteSpec, RestApiSpec


def _route(key: str) -> HttpRouteSpec:
    method, path = key.split(" ", 1)
    return HttpRouteSpec(key=key, function="Fn", method=method, path=path)


API = RestApiSpec(
    logical_id="ServerlessRestApi",
    api_id="abcdef1234",
    stage="Prod",
    routes={k: _route(k) for k in ("GET /items/{id}", "ANY /files/{proxy+}", "GET /")},
    stage_variables={"table": "items-prod"},
    binary_media_types=("image/png",),
)
TABLE = RouteTable(API.routes.values())


def request(path: str, query: str = "", body: bytes = b"", **headers: str) -> HttpRequest:
    lines = [("Host", "127.0.0.1:8000"), ("User-Agent", "probe/1"), *headers.items()]
    return HttpRequest(
        method="GET",
        raw_path=f"/Prod{path}" if path != "/" else "/Prod",
        raw_query=query,
        headers=gateway_headers(
            [*lines, ("X-Multi", "a"), ("X-Multi", "b")],
            source_ip="127.0.0.1",
            port=8000,
            scheme="http",
            keep_case=True,
        ),
        body=body,
        source_ip="127.0.0.1",
        domain_name="127.0.0.1:8000",
    )


def event_for(req: HttpRequest, path: str) -> dict:  # type: ignore[type-arg]
    match = TABLE.match_resource(req.method, path)
    assert match is not None
    return build_rest_event(
        API, match, req, account_id="123456789012", extended_request_id="Ab12Cd34Ef5=", now_ms=0
    )


def test_a_path_parameter_request_parses_as_powertools_model() -> None:
    event = event_for(request("/items/42", "q=1&q=2&x=y"), "/items/42")
    parsed = APIGatewayProxyEventModel.model_validate(event)
    assert parsed.resource == "/items/{id}"
    assert parsed.path == "/items/42"
    assert parsed.httpMethod == "GET"
    assert parsed.pathParameters == {"id": "42"}
    assert parsed.queryStringParameters == {"q": "2", "x": "y"}
    assert parsed.multiValueQueryStringParameters == {"q": ["1", "2"], "x": ["y"]}
    assert parsed.stageVariables == {"table": "items-prod"}
    assert parsed.requestContext.resourcePath == "/items/{id}"
    assert parsed.requestContext.path == "/Prod/items/42"
    assert parsed.requestContext.stage == "Prod"
    assert parsed.requestContext.requestId == rest_request_id("Ab12Cd34Ef5=")
    assert parsed.requestContext.extendedRequestId == "Ab12Cd34Ef5="
    assert parsed.requestContext.identity.userAgent == "probe/1"
    assert parsed.body is None
    assert parsed.isBase64Encoded is False


def test_headers_keep_their_case_and_repeats_fold_two_ways() -> None:
    event = event_for(request("/items/1"), "/items/1")
    assert event["headers"]["X-Multi"] == "b"
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["headers"]["User-Agent"] == "probe/1"
    assert event["headers"]["X-Forwarded-Proto"] == "http"


def test_absent_maps_are_null() -> None:
    event = event_for(request("/"), "/")
    assert event["resource"] == "/"
    assert event["path"] == "/"
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    APIGatewayProxyEventModel.model_validate(event)
    no_vars = replace(API, stage_variables={})
    match = TABLE.match_resource("GET", "/")
    assert match is not None
    event = build_rest_event(
        no_vars, match, request("/"), account_id="1", extended_request_id="x", now_ms=0
    )
    assert event["stageVariables"] is None


def test_a_greedy_proxy_binds_the_rest_of_the_path() -> None:
    event = event_for(request("/files/a/b/c.txt"), "/files/a/b/c.txt")
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_a_body_is_base64_only_for_a_binary_media_type() -> None:
    png = b"\x89PNG\x00\xff"
    event = event_for(request("/items/1", body=png, **{"Content-Type": "image/png"}), "/items/1")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    text = event_for(
        request("/items/1", body=b'{"a":1}', **{"Content-Type": "application/json"}), "/items/1"
    )
    assert text["isBase64Encoded"] is False
    assert text["body"] == '{"a":1}'


def test_binary_media_type_matching() -> None:
    assert is_binary("image/png; charset=x", ["image/png"])
    assert is_binary("image/gif", ["image/*"])
    assert is_binary("application/zip", ["*/*"])
    assert not is_binary("text/plain", ["image/*"])
    assert not is_binary(None, ["*/*"])
