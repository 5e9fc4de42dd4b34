"""The runtime as API Gateway + Lambda: event shapes, route responses, quotas, timeouts, errors,
and the ``@connections`` API driven by boto3 exactly as a deployed function would drive it."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
import websockets
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.support.server import ServerProcess
from tests.support.waiting import eventually

PROBE = Path(__file__).parent / "apps" / "probe" / "template.yaml"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("probe") / "data", template=PROBE).start()
    yield proc
    proc.stop()


def recorded(server: ServerProcess) -> list[dict[str, Any]]:
    path = server.data_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def events_of(server: ServerProcess, connection_id: str) -> list[dict[str, Any]]:
    return [e for e in recorded(server) if e["requestContext"]["connectionId"] == connection_id]


async def ask(ws: websockets.ClientConnection, frame: Any) -> dict[str, Any]:
    await ws.send(json.dumps(frame))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return reply


async def test_every_event_kind_validates_against_powertools_models(probe: ServerProcess) -> None:
    url = f"{probe.ws_url}?room=a&room=b&token=t"
    async with websockets.connect(url, user_agent_header="probe-agent/1") as ws:
        hello = await ask(ws, {"action": "anything", "n": 1})
        cid = hello["connectionId"]
    kinds = await eventually(
        lambda: found if len(found := events_of(probe, cid)) == 3 else None,
        what="connect, a message and disconnect recorded",
    )
    connect, message, disconnect = kinds

    parsed = APIGatewayWebSocketConnectEventModel.model_validate(connect)
    assert parsed.request_context.route_key == "$connect"
    assert connect["queryStringParameters"] == {"room": "b", "token": "t"}
    assert connect["multiValueQueryStringParameters"]["room"] == ["a", "b"]
    assert connect["headers"]["User-Agent"] == "probe-agent/1"
    assert "Sec-WebSocket-Key" in connect["multiValueHeaders"]
    assert "body" not in connect

    parsed_message = APIGatewayWebSocketMessageEventModel.model_validate(message)
    assert parsed_message.request_context.route_key == "$default"
    assert message["body"] == json.dumps({"action": "anything", "n": 1})
    assert message["isBase64Encoded"] is False
    assert "headers" not in message

    parsed_disconnect = APIGatewayWebSocketDisconnectEventModel.model_validate(disconnect)
    assert parsed_disconnect.request_context.disconnect_status_code == 1000
    assert parsed_disconnect.request_context.disconnect_reason == "Connection Closed Normally"

    for event in kinds:
        context = event["requestContext"]
        assert context["connectedAt"] == connect["requestContext"]["connectedAt"]
        assert len(context["connectionId"]) == 16 and context["connectionId"].endswith("=")
        assert context["domainName"] == f"127.0.0.1:{probe.port}"
        assert context["stage"] == "ws"
    assert len({e["requestContext"]["requestId"] for e in kinds}) == 3


async def test_module_state_survives_between_warm_invocations(probe: ServerProcess) -> None:
    async with websockets.connect(probe.ws_url) as ws:
        first = await ask(ws, {"action": "x"})
        second = await ask(ws, {"action": "x"})
    assert first["greeting"] == "hello from the template"
    assert first["function"] == "local-RecordFunction"
    assert second["warm"] > first["warm"]
    assert 0 < first["remainingMs"] <= 5000


async def test_only_routes_with_a_route_response_answer(probe: ServerProcess) -> None:
    async with websockets.connect(probe.ws_url) as ws:
        await ws.send(json.dumps({"action": "silent"}))
        echoed = await ask(ws, {"action": "after-silent"})
    assert echoed["route"] == "$default"


async def test_a_timed_out_handler_is_ended_and_the_pool_recovers(probe: ServerProcess) -> None:
    async with websockets.connect(probe.ws_url) as ws:
        timed_out = await ask(ws, {"action": "sleep", "seconds": 3})
        assert timed_out["message"] == "Internal server error"
        assert set(timed_out) == {"message", "connectionId", "requestId"}
        after = await ask(ws, {"action": "sleep", "seconds": 0})
        assert after["slept"] == 0
    stats = probe.admin("stats")["functions"]["SlowFunction"]
    assert stats["timeouts"] == 1


async def test_an_integrations_own_timeout_ends_the_wait_sooner(probe: ServerProcess) -> None:
    """*AWS::ApiGatewayV2::Integration* ``TimeoutInMillis`` (50-29,000 ms for WebSocket APIs):
    the hurry route's integration gives the same function 300 ms, the sleep route's the API's
    29 s. The function runs on; its late answer is not sent."""
    async with websockets.connect(probe.ws_url) as ws:
        hurried = await ask(ws, {"action": "hurry", "seconds": 0.8})
        assert hurried["message"] == "Endpoint request timed out"
        assert set(hurried) == {"message", "connectionId", "requestId"}
        patient = await ask(ws, {"action": "sleep", "seconds": 0.8})
        assert patient["slept"] == 0.8


async def test_an_unhandled_error_answers_like_api_gateway(probe: ServerProcess) -> None:
    async with websockets.connect(probe.ws_url) as ws:
        await ws.send(json.dumps({"action": "boom"}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert error["message"] == "Internal server error"
        alive = await ask(ws, {"action": "still-there"})
        assert alive["route"] == "$default"


async def test_a_frame_over_32_kb_closes_with_1009(probe: ServerProcess) -> None:
    async with websockets.connect(probe.ws_url, max_size=None) as ws:
        fits = await ask(ws, {"action": "x", "pad": "a" * (31 * 1024)})
        assert fits["route"] == "$default"
        await ws.send(json.dumps({"action": "x", "pad": "a" * (40 * 1024)}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1009


async def test_a_fragmented_message_may_reach_128_kb(probe: ServerProcess) -> None:
    """Frames stay under 32 KB; the message they make up may be up to 128 KB."""
    body = json.dumps({"action": "x", "pad": "b" * (100 * 1024)})
    parts = [body[i : i + 30 * 1024] for i in range(0, len(body), 30 * 1024)]
    async with websockets.connect(probe.ws_url, max_size=None) as ws:
        await ws.send(iter(parts))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert reply["route"] == "$default"
        too_big = "c" * (129 * 1024)
        await ws.send(iter([too_big[i : i + 30 * 1024] for i in range(0, len(too_big), 30 * 1024)]))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1009


def management_client(server: ServerProcess, **overrides: str) -> Any:
    credentials = json.loads((server.data_dir / "runtime-credentials.json").read_text())
    credentials.update(overrides)
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"http://127.0.0.1:{server.port}/ws",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
        **credentials,
    )


async def test_boto3_posts_gets_and_deletes_through_the_connections_api(
    probe: ServerProcess,
) -> None:
    api = management_client(probe)
    async with websockets.connect(probe.ws_url, user_agent_header="boto-test") as ws:
        cid = (await ask(ws, {"action": "who"}))["connectionId"]
        await asyncio.to_thread(api.post_to_connection, ConnectionId=cid, Data=b'{"pushed":1}')
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"pushed": 1}

        described = await asyncio.to_thread(api.get_connection, ConnectionId=cid)
        assert described["Identity"]["SourceIp"] == "127.0.0.1"
        assert described["Identity"]["UserAgent"] == "boto-test"
        assert described["ConnectedAt"] <= described["LastActiveAt"]

        with pytest.raises(api.exceptions.PayloadTooLargeException):
            await asyncio.to_thread(api.post_to_connection, ConnectionId=cid, Data=b"x" * 131073)

        await asyncio.to_thread(api.delete_connection, ConnectionId=cid)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)

    with pytest.raises(api.exceptions.GoneException):
        await asyncio.to_thread(api.post_to_connection, ConnectionId=cid, Data=b"late")
    with pytest.raises(api.exceptions.GoneException):
        await asyncio.to_thread(api.get_connection, ConnectionId=cid)


async def test_connections_api_refuses_other_credentials(probe: ServerProcess) -> None:
    api = management_client(probe, aws_access_key_id="AKIASOMEONEELSE")
    async with websockets.connect(probe.ws_url) as ws:
        cid = (await ask(ws, {"action": "who"}))["connectionId"]
        with pytest.raises(api.exceptions.ForbiddenException):
            await asyncio.to_thread(api.post_to_connection, ConnectionId=cid, Data=b"no")


async def test_connections_api_refuses_the_right_key_id_with_a_wrong_secret(
    probe: ServerProcess,
) -> None:
    """Issue 15, item 5: the key id alone proves nothing; the signature is recomputed. API
    Gateway answers an unauthorized management call with 403 ForbiddenException
    (apigatewaymanagementapi API reference, PostToConnection, "Errors")."""
    api = management_client(probe, aws_secret_access_key="guessed-secret")
    async with websockets.connect(probe.ws_url, user_agent_header="victim-agent") as ws:
        cid = (await ask(ws, {"action": "who"}))["connectionId"]
        with pytest.raises(api.exceptions.ForbiddenException):
            await asyncio.to_thread(api.post_to_connection, ConnectionId=cid, Data=b"forged")
        with pytest.raises(api.exceptions.ForbiddenException):
            await asyncio.to_thread(api.get_connection, ConnectionId=cid)
        with pytest.raises(api.exceptions.ForbiddenException):
            await asyncio.to_thread(api.delete_connection, ConnectionId=cid)
        # a post is delivered before it is answered: the next frame would be the forged one
        assert (await ask(ws, {"action": "who"}))["connectionId"] == cid


def _forged(server: ServerProcess, method: str, cid: str, *, at: datetime | None = None) -> Any:
    """A request as the attacker sent it: the runtime's real key id, a signature of zeros (or,
    with ``at``, a correctly signed request replayed from that time)."""
    credentials = json.loads((server.data_dir / "runtime-credentials.json").read_text())
    url = f"http://127.0.0.1:{server.port}/ws/@connections/{cid}"
    request = AWSRequest(method=method, url=url, data=b"forged" if method == "POST" else b"")
    signed_at = (at or datetime.now(UTC)).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        SigV4Auth(
            Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"]),
            "execute-api",
            "us-east-1",
        ).add_auth(request)
    headers = dict(request.headers.items())
    if at is None:
        auth = headers["Authorization"]
        headers["Authorization"] = auth[: auth.index("Signature=")] + "Signature=" + "0" * 64
    return urllib.request.Request(url, data=request.body or None, method=method, headers=headers)


def _status(request: Any) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
        error.close()
        return error.code, dict(error.headers), body


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_a_forged_signature_of_zeros_is_403_and_reveals_nothing(
    probe: ServerProcess, method: str
) -> None:
    async with websockets.connect(probe.ws_url, user_agent_header="victim-agent") as ws:
        cid = (await ask(ws, {"action": "who"}))["connectionId"]
        status, headers, body = await asyncio.to_thread(_status, _forged(probe, method, cid))
        assert status == 403
        assert headers["x-amzn-ErrorType"] == "ForbiddenException"
        assert b"victim-agent" not in body and b"127.0.0.1" not in body
        assert (await ask(ws, {"action": "who"}))["connectionId"] == cid  # still open, no frame


async def test_a_signed_request_replayed_after_five_minutes_is_refused(
    probe: ServerProcess,
) -> None:
    """SigV4 requests carry their time; AWS refuses one more than 5 minutes off its clock (IAM
    user guide, "Elements of an AWS API request signature")."""
    async with websockets.connect(probe.ws_url) as ws:
        cid = (await ask(ws, {"action": "who"}))["connectionId"]
        old = datetime.now(UTC) - timedelta(minutes=6)
        status, headers, _ = await asyncio.to_thread(_status, _forged(probe, "POST", cid, at=old))
        assert (status, headers["x-amzn-ErrorType"]) == (403, "ForbiddenException")
        fresh = datetime.now(UTC) - timedelta(minutes=1)
        status, _, _ = await asyncio.to_thread(_status, _forged(probe, "POST", cid, at=fresh))
        assert status == 200
        assert await asyncio.wait_for(ws.recv(), 10) == "forged"
