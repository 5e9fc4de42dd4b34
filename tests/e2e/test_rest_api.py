"""The runtime as API Gateway REST APIs (Lambda proxy, payload format 1.0) and EventBridge
schedules, through a real ``hubbub serve --template`` of the probe app in ``apps/restprobe``
(which imports nothing from hubbub).

AWS pages: "Lambda proxy integrations in API Gateway" (input and output formats)
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html;
"Invoke a REST API" (``https://{restapi_id}.execute-api.{region}.amazonaws.com/{stage_name}/``)
https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-call-api.html; SAM's
"CorsConfiguration"
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-api-corsconfiguration.html;
"Using cron and rate expressions to schedule rules in Amazon EventBridge"
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html; and
EventBridge Scheduler's Target ``Input``
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    EventBridgeModel,
)

from tests.support.http_probe import Reply, Tee, call, http_session, load_app_module, printed
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

APP_DIR = Path(__file__).parent / "apps" / "restprobe"
PROBE = APP_DIR / "template.yaml"


_APP = load_app_module(APP_DIR / "restprobe_app.py")
SHAPES: dict[str, Any] = _APP.SHAPES
PNG_BYTES: bytes = _APP.PNG_BYTES


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("restprobe") / "data", template=PROBE)
    proc.lines = Tee()
    proc.start()
    yield proc
    proc.stop()


http = pytest.fixture(name="http")(http_session)


def recorded(server: ServerProcess, kind: str) -> list[Any]:
    path = server.data_dir / f"{kind}-events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def event_of(server: ServerProcess, reply: Reply) -> dict[str, Any]:
    """The event the request caused, validated against Powertools' format 1.0 model."""

    def find() -> dict[str, Any] | None:
        return next(
            (
                e
                for e in recorded(server, "rest")
                if e["headers"].get("X-Probe-Id") == reply.probe_id
            ),
            None,
        )

    event = await eventually(find, what=f"event of request {reply.probe_id}")
    APIGatewayProxyEventModel.model_validate(event)
    return event


# the URL and the event ---------------------------------------------------------------------------
def test_each_rest_api_is_announced_under_its_stage(probe: ServerProcess) -> None:
    lines = printed(probe)
    assert f"hubbub: rest api  {probe.base_url}/Prod" in lines
    assert f"hubbub: rest api  {probe.base_url}/v1" in lines
    info = probe.admin("info")
    assert info["restApis"] == {
        "AdminApi": f"{probe.base_url}/v1",
        "ServerlessRestApi": f"{probe.base_url}/Prod",
    }


async def test_a_path_parameter_event_is_format_1_0(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        probe,
        "GET",
        "/Prod/items/42?tag=a&tag=b",
        headers=[("X-Twice", "one"), ("X-Twice", "two")],
    )
    assert reply.status == 200
    assert reply.json()["resource"] == "/items/{itemId}"
    event = await event_of(probe, reply)
    assert event["resource"] == "/items/{itemId}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"itemId": "42"}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["headers"]["X-Twice"] == "two"
    assert event["multiValueHeaders"]["X-Twice"] == ["one", "two"]
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "Prod"
    assert context["resourcePath"] == "/items/{itemId}"
    assert context["path"] == "/Prod/items/42"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert reply.headers["x-amzn-RequestId"] == context["requestId"]
    assert reply.headers["x-amz-apigw-id"] == context["extendedRequestId"]


async def test_the_stage_root_is_the_root_resource(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    for path in ("/Prod", "/Prod/"):
        reply = await call(http, probe, "GET", path)
        assert reply.status == 200, path
        event = await event_of(probe, reply)
        assert event["resource"] == "/"
        assert event["pathParameters"] is None


async def test_a_greedy_proxy_takes_any_method_and_the_rest_of_the_path(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(http, probe, "DELETE", "/Prod/files/a/b/c.txt")
    assert reply.status == 200
    event = await event_of(probe, reply)
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["httpMethod"] == "DELETE"


async def test_a_declared_api_passes_stage_variables_and_a_text_body(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        probe,
        "POST",
        "/v1/upload",
        headers=[("Content-Type", "application/json")],
        body=b'{"name": "x"}',
    )
    assert reply.status == 200
    event = await event_of(probe, reply)
    assert event["stageVariables"] == {"table": "items-v1"}
    assert event["body"] == '{"name": "x"}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "v1"


async def test_a_binary_media_type_body_arrives_base64(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http, probe, "POST", "/v1/upload", headers=[("Content-Type", "image/png")], body=PNG_BYTES
    )
    event = await event_of(probe, reply)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PNG_BYTES


# responses ---------------------------------------------------------------------------------------
async def test_headers_and_multi_value_headers_are_merged(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    shape = SHAPES["full"]
    reply = await call(http, probe, "GET", "/Prod/shapes/full")
    assert reply.status == shape["statusCode"]
    assert reply.body == shape["body"].encode()
    assert reply.headers["X-Probe"] == "full"
    assert reply.headers.getall("X-Multi") == ["a", "b"]
    assert reply.headers.getall("X-Both") == ["m1", "m2"]


async def test_a_response_without_content_type_is_json(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(http, probe, "GET", "/Prod/shapes/bare")
    assert reply.status == 202
    assert reply.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/Prod/shapes/malformed", "/Prod/shapes/object", "/Prod/boom"])
async def test_a_malformed_answer_or_a_function_error_is_502(
    probe: ServerProcess, http: aiohttp.ClientSession, path: str
) -> None:
    reply = await call(http, probe, "GET", path)
    assert reply.status == 502
    assert reply.json() == {"message": "Internal server error"}


async def test_a_format_2_0_key_is_malformed_in_1_0(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    """``cookies`` belongs to format 2.0; in a REST API's answer it is a malformed response."""
    reply = await call(http, probe, "GET", "/Prod/shapes/cookies")
    assert reply.status == 502


async def test_a_base64_answer_is_binary_only_when_accept_is_a_binary_type(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    binary = await call(http, probe, "GET", "/v1/picture", headers=[("Accept", "image/png")])
    assert binary.body == PNG_BYTES
    text = await call(http, probe, "GET", "/v1/picture", headers=[("Accept", "text/html")])
    assert text.body == base64.b64encode(PNG_BYTES)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/Prod/nothing/here"), ("POST", "/Prod/items/1"), ("GET", "/v1/upload")],
)
async def test_an_unknown_path_or_method_is_403_missing_authentication_token(
    probe: ServerProcess, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    reply = await call(http, probe, method, path)
    assert reply.status == 403
    assert reply.json() == {"message": "Missing Authentication Token"}
    assert reply.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert not any(
        e["headers"].get("X-Probe-Id") == reply.probe_id for e in recorded(probe, "rest")
    )


# CORS -------------------------------------------------------------------------------------------
async def test_options_is_answered_by_the_api_when_cors_is_set(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http,
        probe,
        "OPTIONS",
        "/v1/upload",
        headers=[("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "POST")],
    )
    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert reply.headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    assert reply.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key"
    assert reply.headers["Access-Control-Max-Age"] == "600"
    assert not any(
        e["headers"].get("X-Probe-Id") == reply.probe_id for e in recorded(probe, "rest")
    )


async def test_the_function_sets_cors_on_its_own_answers(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    """With a Lambda proxy integration the API adds no CORS header to the function's answer."""
    reply = await call(
        http, probe, "POST", "/v1/upload", headers=[("Origin", "https://app.example.com")]
    )
    assert reply.headers.getall("Access-Control-Allow-Origin") == ["*"]


async def test_without_cors_options_is_not_answered(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    reply = await call(http, probe, "OPTIONS", "/Prod/items/1")
    assert reply.status == 403


# schedules --------------------------------------------------------------------------------------
def _fire(server: ServerProcess, logical_id: str) -> Any:
    return server.admin(f"schedules/{logical_id}/fire", {})


def test_firing_a_rule_sends_the_scheduled_event(probe: ServerProcess) -> None:
    before = len(recorded(probe, "schedule"))
    answer = _fire(probe, "TickFunction.EveryMinute")
    assert answer == {"ok": True, "errorType": None, "payload": {"ticked": True}}
    event = recorded(probe, "schedule")[before]
    parsed = EventBridgeModel.model_validate(event)
    assert parsed.detail_type == "Scheduled Event"
    assert parsed.source == "aws.events"
    assert parsed.resources == [
        "arn:aws:events:us-east-1:123456789012:rule/TickFunctionEveryMinute"
    ]
    assert parsed.detail == {}


def test_a_rule_input_and_a_scheduler_default_payload(probe: ServerProcess) -> None:
    before = len(recorded(probe, "schedule"))
    _fire(probe, "TickFunction.Nightly")
    _fire(probe, "TickFunction.Scheduler")
    assert recorded(probe, "schedule")[before:] == [{"job": "report"}, {}]


def test_an_unknown_schedule_is_404_and_the_admin_key_is_required(probe: ServerProcess) -> None:
    with pytest.raises(urllib.error.HTTPError) as missing:
        _fire(probe, "TickFunction.Nope")
    missing.value.close()
    assert missing.value.code == 404
    request = urllib.request.Request(
        f"{probe.base_url}/_runtime/schedules/TickFunction.EveryMinute/fire", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 403


async def test_a_rate_schedule_fires_when_the_runtime_clock_moves(probe: ServerProcess) -> None:
    """Moving the runtime's clock past the next fire time fires the enabled rule (once); the
    disabled ones do not fire."""
    listed = {s["logicalId"]: s for s in probe.admin("schedules")}
    assert listed["TickFunction.Nightly"]["nextFire"] is None
    assert listed["TickFunction.EveryMinute"]["nextFire"] is not None
    fired = listed["TickFunction.EveryMinute"]["fired"]
    probe.admin("clock", {"offsetMs": 90_000})
    try:
        await eventually(
            lambda: any(
                s["fired"] > fired
                for s in probe.admin("schedules")
                if s["logicalId"] == "TickFunction.EveryMinute"
            ),
            timeout=10,
            what="the rate schedule firing",
        )
    finally:
        probe.admin("clock", {"offsetMs": 0})
    after = {s["logicalId"]: s["fired"] for s in probe.admin("schedules")}
    assert after["TickFunction.EveryMinute"] == fired + 1


# someone else's template: no web client ----------------------------------------------------------
def test_no_web_client_is_announced_for_another_template(probe: ServerProcess) -> None:
    """hubbub's chat pages need hubbub's WebSocket routes, which this template lacks."""
    assert not [line for line in printed(probe) if line.startswith("hubbub: web ")]


async def test_the_root_lists_the_apis_and_endpoints(
    probe: ServerProcess, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{probe.base_url}/") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        index = await response.json()
    rest = {api["logicalId"]: api for api in index["restApis"]}
    assert rest["ServerlessRestApi"]["url"] == f"{probe.base_url}/Prod"
    assert "GET /items/{itemId}" in rest["ServerlessRestApi"]["routes"]
    assert rest["AdminApi"]["url"] == f"{probe.base_url}/v1"
    assert index["websocketApis"] == []
    assert index["schedules"] == [
        "TickFunction.EveryMinute",
        "TickFunction.Nightly",
        "TickFunction.Scheduler",
    ]
    assert index["admin"] == f"{probe.base_url}/_runtime"
    for page in ("/config.json", "/console", "/static/hubbub.js"):
        async with http.get(f"{probe.base_url}{page}") as response:
            assert response.status == 404, page
