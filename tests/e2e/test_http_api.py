"""The runtime as API Gateway HTTP APIs (payload format 2.0) + Lambda, through a real
``hubbub serve``: event shapes, route precedence, bodies, response mapping, errors, timeouts, CORS,
and the server's own index still served on the same port."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from hubbub.runtime.cloudformation.intrinsics import local_api_id
from tests.conftest import TIMEOUT_FACTOR
from tests.support.http_probe import Reply, Tee, call, http_session, load_app_module
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

APP_DIR = Path(__file__).parent / "apps" / "httpprobe"
PROBE = APP_DIR / "template.yaml"
INTEGRATION_TIMEOUT_S = 2.0 * TIMEOUT_FACTOR
"""Short, so the 503 test is quick; still well above the 1 s Timeout of the probe's SlowFunction."""
CATCH_ALL = "/_http/CatchAllApi"


_PROBE_APP = load_app_module(APP_DIR / "httpprobe_app.py")
SHAPES: dict[str, Any] = _PROBE_APP.SHAPES
PNG_BYTES: bytes = _PROBE_APP.PNG_BYTES


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("httpprobe") / "data",
        "--quota",
        f"http_integration_timeout_s={INTEGRATION_TIMEOUT_S}",
        template=PROBE,
    )
    proc.lines = Tee()
    proc.start()
    yield proc
    proc.stop()


http = pytest.fixture(name="http")(http_session)


def recorded(server: ServerProcess) -> list[dict[str, Any]]:
    path = server.data_dir / "http-events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def event_of(server: ServerProcess, reply: Reply) -> dict[str, Any]:
    """The event the request caused, validated against Powertools' model."""

    def find() -> dict[str, Any] | None:
        return next(
            (e for e in recorded(server) if e["headers"].get("x-probe-id") == reply.probe_id),
            None,
        )

    event = await eventually(find, what=f"event of request {reply.probe_id}")
    APIGatewayProxyEventV2Model.model_validate(event)
    return event


def invoked(server: ServerProcess, reply: Reply) -> bool:
    return any(e["headers"].get("x-probe-id") == reply.probe_id for e in recorded(server))


# events ------------------------------------------------------------------------------------------
async def test_the_event_is_api_gateways_2_0_event(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        probe,
        "GET",
        "/items/42?a=1&a=2&empty=&sp=x+y%2Fz",
        headers=[
            ("Cookie", "session=abc; theme=dark"),
            ("X-Dup", "one"),
            ("X-Dup", "two"),
            ("User-Agent", "probe-agent/1"),
        ],
    )
    assert reply.status == 200
    event = await event_of(probe, reply)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{itemId}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "a=1&a=2&empty=&sp=x+y%2Fz"
    assert event["queryStringParameters"] == {"a": "1,2", "empty": "", "sp": "x y/z"}
    assert event["pathParameters"] == {"itemId": "42"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    headers = event["headers"]
    assert headers["x-dup"] == "one,two"
    assert headers["user-agent"] == "probe-agent/1"
    assert headers["host"] == f"127.0.0.1:{probe.port}"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert "cookie" not in headers
    assert all(name == name.lower() for name in headers)
    assert "body" not in event
    assert event["isBase64Encoded"] is False

    context = event["requestContext"]
    assert context["apiId"] == local_api_id("ServerlessHttpApi")
    assert context["accountId"] == "123456789012"
    assert context["domainName"] == f"127.0.0.1:{probe.port}"
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /items/{itemId}"
    assert context["requestId"] == reply.headers["apigw-requestid"]
    assert context["http"] == {
        "method": "GET",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "probe-agent/1",
    }
    assert isinstance(context["timeEpoch"], int)


async def test_greedy_parameters_keep_the_rest_of_the_path(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(http, probe, "GET", "/files/docs/2024/report.pdf")
    event = await event_of(probe, reply)
    assert event["routeKey"] == "GET /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "docs/2024/report.pdf"}


async def test_json_text_and_binary_bodies(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    document = {"text": "héllo", "n": [1, 2]}
    as_json = await call(
        http,
        probe,
        "POST",
        "/echo",
        headers=[("Content-Type", "application/json")],
        body=json.dumps(document).encode(),
    )
    event = await event_of(probe, as_json)
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == document
    assert event["headers"]["content-type"] == "application/json"

    binary = await call(
        http,
        probe,
        "POST",
        "/echo",
        headers=[("Content-Type", "application/octet-stream")],
        body=PNG_BYTES,
    )
    event = await event_of(probe, binary)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PNG_BYTES


async def test_bodies_up_to_10_mb_pass_and_larger_ones_are_refused(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    octets = [("Content-Type", "application/octet-stream")]
    big = await call(http, probe, "POST", "/echo", headers=octets, body=b"x" * (2 * 1024 * 1024))
    assert big.status == 200
    too_big = await call(
        http, probe, "POST", "/echo", headers=octets, body=b"x" * (10 * 1024 * 1024 + 1)
    )
    assert too_big.status == 413
    assert too_big.json() == {"message": "Request Entity Too Large"}
    assert not invoked(probe, too_big)


# routes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "route_key"),
    [
        ("GET", "/items/special", "GET /items/special"),
        ("GET", "/items/7", "GET /items/{itemId}"),
        ("DELETE", "/items/7", "ANY /items/{itemId}"),
        ("GET", f"{CATCH_ALL}/orders/9", "GET /orders/{orderId}"),
        ("GET", f"{CATCH_ALL}/anything/else", "GET /{proxy+}"),
        ("POST", f"{CATCH_ALL}/anything", "$default"),
        ("GET", f"{CATCH_ALL}/", "$default"),
        ("GET", "/v2/things/abc", "GET /v2/things/{thingId}"),
    ],
)
async def test_the_most_specific_route_takes_the_request(
    probe: ServerProcess, http: aiohttp.ClientSession, method: str, path: str, route_key: str
) -> None:
    reply = await call(http, probe, method, path)
    assert reply.status == 200
    event = await event_of(probe, reply)
    assert event["routeKey"] == route_key
    assert reply.json()["routeKey"] == route_key


async def test_an_api_with_a_catch_all_is_served_under_its_prefix(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(http, probe, "GET", f"{CATCH_ALL}/orders/9?x=1")
    event = await event_of(probe, reply)
    assert event["rawPath"] == "/orders/9"
    assert event["requestContext"]["http"]["path"] == "/orders/9"
    assert event["requestContext"]["apiId"] == local_api_id("CatchAllApi")
    page = await call(http, probe, "GET", "/")  # the server's own index, not hidden by the API
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("application/json")
    listed = {api["logicalId"]: api["url"] for api in page.json()["httpApis"]}
    assert listed["CatchAllApi"] == f"{probe.base_url}{CATCH_ALL}"


async def test_the_explicit_v2_api_is_served(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        probe,
        "POST",
        "/v2/things",
        headers=[("Content-Type", "application/json")],
        body=b'{"name":"thing"}',
    )
    event = await event_of(probe, reply)
    assert event["routeKey"] == "POST /v2/things"
    assert event["requestContext"]["apiId"] == local_api_id("V2Api")
    assert event["body"] == '{"name":"thing"}'


@pytest.mark.parametrize(
    ("method", "path"), [("DELETE", "/shapes/full"), ("PUT", "/v2/things"), ("GET", "/echo")]
)
async def test_no_matching_route_is_not_found(
    probe: ServerProcess, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    reply = await call(http, probe, method, path)
    assert reply.status == 404
    assert reply.json() == {"message": "Not Found"}
    assert reply.headers["Content-Type"] == "application/json"
    assert "apigw-requestid" in reply.headers


# responses ---------------------------------------------------------------------------------------
async def test_a_status_code_object_is_the_response(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    """The probe's ``full`` answer also carries ``multiValueHeaders``, which format 2.0 does not
    have: AWS ignores them (payload format differences in "Create AWS Lambda proxy integrations
    for HTTP APIs",
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
    """
    shape = SHAPES["full"]
    reply = await call(http, probe, "GET", "/shapes/full")
    assert reply.status == shape["statusCode"]
    assert reply.body == shape["body"].encode()
    assert reply.headers["Content-Type"] == shape["headers"]["content-type"]
    assert reply.headers["x-probe"] == shape["headers"]["x-probe"]
    assert "x-multi" in shape["multiValueHeaders"]
    assert "x-multi" not in reply.headers
    assert reply.headers.getall("Set-Cookie") == shape["cookies"]


async def test_a_base64_response_body_is_sent_as_bytes(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(http, probe, "GET", "/shapes/binary")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.body == PNG_BYTES


async def test_a_response_without_content_type_is_text_plain(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(http, probe, "GET", "/shapes/bare")
    assert reply.status == SHAPES["bare"]["statusCode"]
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert reply.body == SHAPES["bare"]["body"].encode()


@pytest.mark.parametrize("shape", ["object", "string", "list", "null"])
async def test_any_other_json_value_is_a_200_json_body(
    probe: ServerProcess, http: aiohttp.ClientSession, shape: str
) -> None:
    reply = await call(http, probe, "GET", f"/shapes/{shape}")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == SHAPES[shape]


@pytest.mark.parametrize("path", ["/boom", "/shapes/malformed", "/slow?seconds=3"])
async def test_errors_crashes_and_function_timeouts_are_500(
    probe: ServerProcess, http: aiohttp.ClientSession, path: str
) -> None:
    reply = await call(http, probe, "GET", path)
    assert reply.status == 500
    assert reply.json() == {"message": "Internal Server Error"}
    assert invoked(probe, reply)


async def test_the_integration_timeout_answers_503_and_the_pool_recovers(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    seconds = INTEGRATION_TIMEOUT_S + 2
    late = await call(http, probe, "GET", f"/patient?seconds={seconds}")
    assert late.status == 503
    assert late.json() == {"message": "Service Unavailable"}
    prompt = await call(http, probe, "GET", "/patient?seconds=0")
    assert prompt.status == 200
    assert prompt.json() == {"slept": 0.0}
    assert probe.admin("stats")["httpApis"]["ServerlessHttpApi"]["timeouts"] >= 1


async def test_an_integrations_own_timeout_ends_the_wait_sooner(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    """SAM's ``HttpApi`` event ``TimeoutInMillis`` (50-30,000 ms): the same function behind a
    300 ms integration and behind the API's 30 s one."""
    hurried = await call(http, probe, "GET", "/hurried?seconds=0.8")
    assert hurried.status == 503
    assert hurried.json() == {"message": "Service Unavailable"}
    patient = await call(http, probe, "GET", "/patient?seconds=0.8")
    assert patient.status == 200
    assert patient.json() == {"slept": 0.8}


# CORS --------------------------------------------------------------------------------------------
async def test_a_preflight_is_answered_by_the_gateway(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        probe,
        "OPTIONS",
        f"{CATCH_ALL}/orders/1",
        headers=[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    )
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == "https://app.example.com"
    assert reply.headers["access-control-allow-methods"] == "GET,POST"
    assert reply.headers["access-control-allow-headers"] == "content-type,x-custom"
    assert reply.headers["access-control-max-age"] == "600"
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert not invoked(probe, reply)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.com", True),
        ("http://localhost:5173", True),  # AllowOrigins has http://*
        ("https://evil.example", False),
    ],
)
async def test_cors_headers_follow_the_configured_origins(
    probe: ServerProcess, http: aiohttp.ClientSession, origin: str, allowed: bool
) -> None:
    preflight = await call(
        http,
        probe,
        "OPTIONS",
        f"{CATCH_ALL}/orders/1",
        headers=[("Origin", origin), ("Access-Control-Request-Method", "GET")],
    )
    actual = await call(http, probe, "GET", f"{CATCH_ALL}/orders/1", headers=[("Origin", origin)])
    assert actual.status == 200
    for reply in (preflight, actual):
        assert reply.headers.get("access-control-allow-origin") == (origin if allowed else None)
    # the function's own CORS header is replaced by the API's configuration
    assert "https://evil.example" not in actual.headers.getall("access-control-allow-origin", [])
    assert actual.headers.get("access-control-expose-headers") == ("x-probe" if allowed else None)


async def test_without_cors_configuration_options_reaches_the_function(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        probe,
        "OPTIONS",
        "/items/1",
        headers=[("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET")],
    )
    event = await event_of(probe, reply)
    assert event["routeKey"] == "ANY /items/{itemId}"
    assert reply.headers["access-control-allow-origin"] == "https://evil.example"


# serving -----------------------------------------------------------------------------------------
def test_hubbub_serve_prints_each_http_api(probe: ServerProcess) -> None:
    assert isinstance(probe.lines, Tee)
    printed = [line for line in probe.lines.seen if line.startswith("hubbub: http api")]
    assert sorted(printed) == sorted(
        [
            f"hubbub: http api  {probe.base_url}{CATCH_ALL}",
            f"hubbub: http api  {probe.base_url}",
            f"hubbub: http api  {probe.base_url}",
        ]
    )


async def test_every_recorded_event_validates(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    await call(http, probe, "GET", "/shapes/object")
    events = recorded(probe)
    assert events
    for event in events:
        APIGatewayProxyEventV2Model.model_validate(event)
