"""API Gateway WebSocket events as the runtime builds them (``runtime.apigateway.events``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)

from hubbub.runtime.apigateway.events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    message_event,
    request_time,
)
from tests.support import aws_events

NOW_MS = 1_731_324_924_561
CLF = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")


def info(**overrides: Any) -> ConnectionInfo:
    base: dict[str, Any] = {
        "connection_id": "BFHPhfCWIAMCKlQ=",
        "api_id": "abcdef1234",
        "stage": "ws",
        "domain_name": "127.0.0.1:8000",
        "source_ip": "127.0.0.1",
        "user_agent": "pytest",
        "connected_at": NOW_MS - 5000,
        "headers": {"Host": "127.0.0.1:8000"},
    }
    base.update(overrides)
    return ConnectionInfo(**base)


def connect(
    headers: list[tuple[str, str]] | None = None, query: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    return connect_event(
        info(),
        headers=headers if headers is not None else [("Host", "127.0.0.1:8000")],
        query=query or [],
        rid="req-1",
        now_ms=NOW_MS,
    )


def test_request_time_is_clf_as_api_gateway_writes_it() -> None:
    """requestTime is day/Mon/year:HH:MM:SS +0000, matching a captured AWS event."""
    # the captured $connect event has requestTimeEpoch 1731324924561 and this requestTime
    assert request_time(1_731_324_924_561) == "11/Nov/2024:11:35:24 +0000"
    assert request_time(0) == "01/Jan/1970:00:00:00 +0000"


def test_connect_event_validates_against_powertools() -> None:
    """$connect carries headers, multiValueHeaders and a CONNECT request context that parse."""
    event = connect(query=[("token", "abc")])
    parsed = APIGatewayWebSocketConnectEventModel.model_validate(event)
    context = parsed.request_context
    assert context.route_key == "$connect"
    assert context.event_type == "CONNECT"
    assert context.connection_id == "BFHPhfCWIAMCKlQ="
    assert context.api_id == "abcdef1234"
    assert context.stage == "ws"
    assert context.request_id == "req-1"
    assert parsed.is_base64_encoded is False
    assert CLF.match(event["requestContext"]["requestTime"])
    assert event["requestContext"]["requestTimeEpoch"] == NOW_MS
    assert event["requestContext"]["connectedAt"] == NOW_MS - 5000


def test_repeated_headers_fold_like_api_gateway() -> None:
    """A repeated header shows its last value in headers and all values in multiValueHeaders."""
    event = connect(
        headers=[
            ("Host", "h"),
            ("X-Forwarded-For", "1.1.1.1"),
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
        ]
    )
    assert event["headers"] == {"Host": "h", "X-Forwarded-For": "1.1.1.1", "Cookie": "b=2"}
    assert event["multiValueHeaders"] == {
        "Host": ["h"],
        "X-Forwarded-For": ["1.1.1.1"],
        "Cookie": ["a=1", "b=2"],
    }


def test_repeated_query_keys_fold_like_api_gateway() -> None:
    """A repeated query key shows its last value singly and all values in the multi view."""
    event = connect(query=[("token", "t1"), ("room", "a"), ("room", "b")])
    assert event["queryStringParameters"] == {"token": "t1", "room": "b"}
    assert event["multiValueQueryStringParameters"] == {"token": ["t1"], "room": ["a", "b"]}


def test_no_query_string_means_no_query_keys() -> None:
    """Without a query string the event has neither query key, as on AWS (not empty maps)."""
    event = connect()
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event


def test_message_event_validates_against_powertools() -> None:
    """A message route event carries messageId, body and the flag, and parses."""
    event = message_event(
        info(),
        route_key="send",
        body='{"action":"send"}',
        is_base64=False,
        message_id="msg-1",
        rid="req-2",
        now_ms=NOW_MS,
    )
    parsed = APIGatewayWebSocketMessageEventModel.model_validate(event)
    assert parsed.request_context.route_key == "send"
    assert parsed.request_context.message_id == "msg-1"
    assert parsed.request_context.event_type == "MESSAGE"
    assert parsed.request_context.message_direction == "IN"
    assert parsed.body == '{"action":"send"}'
    assert parsed.is_base64_encoded is False
    assert set(event) == {"requestContext", "body", "isBase64Encoded"}


def test_a_binary_message_is_flagged_base64() -> None:
    """A binary frame's event says isBase64Encoded true."""
    event = message_event(
        info(), route_key="$default", body="AAE=", is_base64=True, message_id="m", rid="r", now_ms=1
    )
    assert APIGatewayWebSocketMessageEventModel.model_validate(event).is_base64_encoded is True


def test_disconnect_event_validates_against_powertools() -> None:
    """$disconnect carries the close code and reason and parses."""
    event = disconnect_event(
        info(), status_code=1001, reason="Going away", rid="req-3", now_ms=NOW_MS
    )
    parsed = APIGatewayWebSocketDisconnectEventModel.model_validate(event)
    context = parsed.request_context
    assert context.route_key == "$disconnect"
    assert context.event_type == "DISCONNECT"
    assert context.disconnect_status_code == 1001
    assert context.disconnect_reason == "Going away"
    assert parsed.headers["Host"] == "127.0.0.1:8000"
    assert parsed.multi_value_headers == {k: [v] for k, v in parsed.headers.items()}


def test_the_authorizer_context_rides_on_every_later_event() -> None:
    """Once a connection has an authorizer context, message and disconnect events carry it."""
    authorized = info(authorizer={"principalId": "v_1", "role": "visitor"})
    message = message_event(
        authorized, route_key="$default", body="{}", is_base64=False, message_id="m", rid="r",
        now_ms=NOW_MS,
    )  # fmt: skip
    gone = disconnect_event(authorized, status_code=1000, reason="", rid="r", now_ms=NOW_MS)
    assert message["requestContext"]["authorizer"] == {"principalId": "v_1", "role": "visitor"}
    assert gone["requestContext"]["authorizer"] == {"principalId": "v_1", "role": "visitor"}
    assert "authorizer" not in connect()["requestContext"]


def test_events_without_a_user_agent_leave_it_out() -> None:
    """identity has userAgent only when the client sent one."""
    event = message_event(
        info(user_agent=None), route_key="$default", body="{}", is_base64=False, message_id="m",
        rid="r", now_ms=NOW_MS,
    )  # fmt: skip
    assert event["requestContext"]["identity"] == {"sourceIp": "127.0.0.1"}


@pytest.mark.parametrize("kind", ["connect", "message", "disconnect"])
def test_the_runtime_events_have_the_fields_of_the_captured_aws_events(kind: str) -> None:
    """Every key of a captured-shape AWS event is present in the runtime's, at every level."""
    conn = "BFHPhfCWIAMCKlQ="
    captured = {
        "connect": aws_events.connect_event(conn, query={"token": "t"}),
        "message": aws_events.message_event(conn, "{}", route_key="send"),
        "disconnect": aws_events.disconnect_event(conn),
    }[kind]
    ours = {
        "connect": connect(query=[("token", "t")]),
        "message": message_event(
            info(), route_key="send", body="{}", is_base64=False, message_id="m", rid="r",
            now_ms=NOW_MS,
        ),
        "disconnect": disconnect_event(info(), status_code=1001, reason="x", rid="r", now_ms=1),
    }[kind]  # fmt: skip
    assert set(captured) <= set(ours)
    assert set(captured["requestContext"]) <= set(ours["requestContext"])
