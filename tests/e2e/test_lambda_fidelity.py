"""API Gateway and Lambda as AWS documents them, through a real ``hubbub serve`` running a
probe app that imports nothing from hubbub (``tests/e2e/apps/lambdaprobe``): route selection,
binary frames, request ids, the context object and environment, reserved concurrency, import
errors and the init limit. Each test names the AWS page it checks."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.server import ServerProcess
from tests.support.waiting import eventually

PROBE = Path(__file__).parent / "apps" / "lambdaprobe" / "template.yaml"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("lambdaprobe") / "data", template=PROBE).start()
    yield proc
    proc.stop()


def recorded(server: ServerProcess) -> list[dict[str, Any]]:
    path = server.data_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def ask(ws: websockets.ClientConnection, frame: Any, timeout: float = 10) -> Any:
    await ws.send(json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_wrapped_selection_expressions_and_stringified_values_select_routes(
    probe: ServerProcess,
) -> None:
    """AWS: API Gateway developer guide, *Create routes for WebSocket APIs* (route selection
    expressions): ``${request.body.action}`` is the wrapped form of ``$request.body.action``, and
    a selected value that is not a string is stringified before it is matched to a route key."""
    async with websockets.connect(probe.ws_url) as ws:
        assert (await ask(ws, {"action": "join"}))["route"] == "join"
        assert (await ask(ws, {"action": 7}))["route"] == "7"
        assert (await ask(ws, {"action": "nowhere"}))["route"] == "$default"
        assert (await ask(ws, {"no": "action"}))["route"] == "$default"


async def test_a_binary_frame_disconnects_the_client_with_1003(probe: ServerProcess) -> None:
    """AWS: API Gateway developer guide, *Binary media types for WebSocket APIs*: API Gateway
    rejects a binary frame and disconnects the client with code 1003; ``$disconnect`` then runs
    with that status code (*Working with routes for WebSocket APIs*, ``$disconnect``)."""
    async with websockets.connect(probe.ws_url) as ws:
        cid_reply = await ask(ws, {"action": "join"})
        assert cid_reply["route"] == "join"
        await ws.send(b"\x00\x01binary")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    connect = next(
        e for e in reversed(recorded(probe)) if e["requestContext"]["routeKey"] == "$connect"
    )
    cid = connect["requestContext"]["connectionId"]
    disconnect = await eventually(
        lambda: next(
            (
                e
                for e in recorded(probe)
                if e["requestContext"]["connectionId"] == cid
                and e["requestContext"]["routeKey"] == "$disconnect"
            ),
            None,
        ),
        what="$disconnect after the binary frame",
    )
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1003
    kinds = [
        e["requestContext"]["routeKey"]
        for e in recorded(probe)
        if e["requestContext"]["connectionId"] == cid
    ]
    assert "$default" not in kinds  # the binary frame reached no route


async def test_request_ids_are_api_gateway_ids(probe: ServerProcess) -> None:
    """AWS: the WebSocket events API Gateway delivers (the captured events of Powertools' test
    suite): ``requestId`` equals ``extendedRequestId``, an id like ``BFHPhfCWIAMCKlQ=``, and so
    does ``connectionId`` (16 characters, one ``=``)."""
    async with websockets.connect(probe.ws_url) as ws:
        await ask(ws, {"action": "join"})
    events = recorded(probe)[-2:]
    for event in events:
        context = event["requestContext"]
        assert context["requestId"] == context["extendedRequestId"]
        for value in (context["requestId"], context["connectionId"]):
            assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", value), value


async def test_the_context_object_and_environment_are_lambdas(probe: ServerProcess) -> None:
    """AWS: Lambda developer guide, *Using the Lambda context object to retrieve Python function
    information* (as ``awslambdaric``'s ``LambdaContext`` builds it: ``memory_limit_in_mb`` a
    string, ``identity`` an object with None Cognito ids, ``client_context`` None) and *Defined
    runtime environment variables* (``TZ`` ``:UTC``, the log stream name, ``_X_AMZN_TRACE_ID``)."""
    async with websockets.connect(probe.ws_url) as ws:
        got = await ask(ws, {"action": "describe"})
    # Lambda's request id is its own UUID, not API Gateway's request id
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", got["aws_request_id"]
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", got["event_request_id"])
    assert got["memory_limit_in_mb"] == "256"
    assert got["identity"] == {
        "type": "CognitoIdentity",
        "cognito_identity_id": None,
        "cognito_identity_pool_id": None,
    }
    assert got["client_context"] is None
    assert got["TZ"] == ":UTC" and got["utc_offset"] == "+0000"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", got["log_stream_name"])
    assert got["AWS_LAMBDA_LOG_STREAM_NAME"] == got["log_stream_name"]
    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=.+",
        got["_X_AMZN_TRACE_ID"],
    )


async def test_a_route_response_for_an_answer_without_body_sends_nothing(
    probe: ServerProcess,
) -> None:
    """AWS: API Gateway developer guide, *Set up a route response for a WebSocket API* and *Set
    up Lambda proxy integrations*: the route response carries the proxy response's ``body``; an
    answer with no body sends no frame (the next answer is the next frame the client gets)."""
    async with websockets.connect(probe.ws_url) as ws:
        await ws.send(json.dumps({"action": "bare"}))
        assert (await ask(ws, {"action": "join"}))["route"] == "join"


async def test_reserved_concurrency_zero_throttles_behind_api_gateway(
    probe: ServerProcess,
) -> None:
    """AWS: Lambda developer guide, *Configuring reserved concurrency* (0 throttles every
    invocation) and *Handling Lambda errors with an API Gateway API* (an invocation Lambda
    rejects is API Gateway's ``{"message": "Internal server error"}``)."""
    async with websockets.connect(probe.ws_url) as ws:
        answer = await ask(ws, {"action": "disabled"})
    assert answer["message"] == "Internal server error"
    stats = probe.admin("stats")["functions"]["DisabledFunction"]
    assert stats["throttles"] >= 1 and stats["invocations"] == 0


def _log_since(server: ServerProcess, offset: int) -> str:
    return server.log_path.read_text(errors="replace")[offset:]


async def test_an_import_error_is_logged_and_answered_as_lambda(probe: ServerProcess) -> None:
    """AWS: Lambda developer guide, *Troubleshoot invocation issues* / the Python runtime
    (``awslambdaric``): ``Runtime.ImportModuleError: Unable to import module '<module>': No
    module named '<name>'`` in the log, with the invocation's START, END and REPORT lines; the
    caller behind API Gateway gets ``Internal server error``."""
    offset = len(probe.log_path.read_text(errors="replace"))
    async with websockets.connect(probe.ws_url) as ws:
        answer = await ask(ws, {"action": "broken"})
    assert answer["message"] == "Internal server error"
    line = (
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'broken_probe': "
        "No module named 'a_dependency_nobody_installed'"
    )
    report = re.compile(r"REPORT RequestId: (\S+)\t[^\n]*ErrorType: Runtime\.ImportModuleError")
    log = await eventually(
        lambda: text if report.search(text := _log_since(probe, offset)) else None,
        what="the REPORT line of the failed invocation",
    )
    assert line in log
    found = report.search(log)
    assert found is not None
    rid = found.group(1)
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert f"END RequestId: {rid}" in log


async def test_an_import_past_the_init_limit_is_retried_under_the_function_timeout(
    probe: ServerProcess,
) -> None:
    """AWS: Lambda developer guide, *Understanding the Lambda execution environment lifecycle*,
    Init phase: init is limited to 10 s; past it, Lambda retries init in the first invocation
    under the function's timeout. A 12 s import under ``Timeout: 3`` therefore never succeeds:
    the invocation times out (``Sandbox.Timedout``), and API Gateway answers an error."""
    async with websockets.connect(probe.ws_url) as ws:
        answer = await ask(ws, {"action": "slowinit"}, timeout=25)
    assert answer["message"] == "Internal server error"
    stats = probe.admin("stats")["functions"]["SlowInitFunction"]
    assert stats["timeouts"] == 1
