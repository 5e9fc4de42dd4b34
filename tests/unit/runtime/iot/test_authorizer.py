"""The custom authorizer's event and the checks on its answer.

*Defining your Lambda function* (custom-auth-lambda.html): the event's fields (``token``,
``signatureVerified``, ``protocols``, ``protocolData.mqtt/http``, ``connectionMetadata.id``;
fields that don't apply are left out, the password is base64), and the answer's
(``isAuthenticated``, ``principalId`` matching ``([a-zA-Z0-9]){1,128}``, ``policyDocuments``,
``disconnectAfterInSeconds`` and ``refreshAfterInSeconds`` in 300..86,400). *Creating and
managing custom authorizers*: the function has 5 seconds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hubbub.runtime.iot.authorizer import (
    AuthorizerConfig,
    CustomAuthorizer,
    Granted,
    Refused,
    build_event,
    read_response,
    requested_authorizer,
)
from hubbub.runtime.iot.hooks import ConnectRequest

CONFIG = AuthorizerConfig(
    name="Auth", function="AuthFn", signing_disabled=True, token_key_name="token"
)
ARN = "arn:aws:iot:us-east-1:123456789012"


def _request(**changes: Any) -> ConnectRequest:
    fields: dict[str, Any] = {
        "client_id": "alice-1",
        "username": "alice",
        "password": b"s3cret\x00\xff",
        "protocol_version": 4,
        "transport": "tcp",
        "source_ip": "127.0.0.1",
        "connection_id": "c0ffee",
    }
    fields.update(changes)
    return ConnectRequest(**fields)


def _policy(*resources: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": list(resources)}],
        }
    )


def test_event_over_tcp() -> None:
    event = build_event(_request(), CONFIG)
    assert event == {
        "signatureVerified": False,
        "protocols": ["mqtt"],
        "protocolData": {
            "mqtt": {"username": "alice", "password": "czNjcmV0AP8=", "clientId": "alice-1"}
        },
        "connectionMetadata": {"id": "c0ffee"},
    }


def test_event_over_websocket_has_http_and_the_token() -> None:
    request = _request(
        transport="websocket",
        headers={"Host": "127.0.0.1", "Sec-WebSocket-Protocol": "mqtt"},
        query_string="token=abc&x=1",
    )
    event = build_event(request, CONFIG)
    assert event["token"] == "abc"
    assert event["protocols"] == ["http", "mqtt"]
    assert event["protocolData"]["http"] == {
        "headers": {"Host": "127.0.0.1", "Sec-WebSocket-Protocol": "mqtt"},
        "queryString": "?token=abc&x=1",
    }


def test_fields_the_client_did_not_send_are_left_out() -> None:
    event = build_event(_request(client_id="", username=None, password=None), CONFIG)
    assert event["protocolData"]["mqtt"] == {}


@pytest.mark.parametrize(
    ("changes", "token"),
    [
        ({"headers": {"TOKEN": "from-header"}, "transport": "websocket"}, "from-header"),
        ({"username": "alice?token=from-username"}, "from-username"),
        ({}, None),
    ],
)
def test_token_sources(changes: dict[str, Any], token: str | None) -> None:
    assert build_event(_request(**changes), CONFIG).get("token") == token


def test_the_authorizer_a_client_names() -> None:
    assert requested_authorizer(_request(username="u?x-amz-customauthorizer-name=Other")) == "Other"
    assert requested_authorizer(_request()) is None


GOOD = {
    "isAuthenticated": True,
    "principalId": "alice1",
    "policyDocuments": [_policy(f"{ARN}:client/alice-1")],
    "disconnectAfterInSeconds": 3600,
    "refreshAfterInSeconds": 300,
}


def test_a_good_answer() -> None:
    verdict = read_response(GOOD)
    assert isinstance(verdict, Granted)
    assert (verdict.principal_id, verdict.disconnect_after_s, verdict.refresh_after_s) == (
        "alice1",
        3600,
        300,
    )
    assert len(verdict.policies) == 1


def test_defaults_and_policies_as_objects() -> None:
    answer = {
        "isAuthenticated": True,
        "principalId": "a",
        "policyDocuments": [json.loads(_policy("*"))],
    }
    verdict = read_response(answer)
    assert isinstance(verdict, Granted)
    assert (verdict.disconnect_after_s, verdict.refresh_after_s) == (86_400, None)


BAD: list[tuple[Any, str]] = [
    ("yes", "not a JSON object"),
    ({**GOOD, "isAuthenticated": False}, "false"),
    ({**GOOD, "isAuthenticated": "true"}, "boolean"),
    ({k: v for k, v in GOOD.items() if k != "isAuthenticated"}, "boolean"),
    ({**GOOD, "principalId": ""}, "principalId"),
    ({**GOOD, "principalId": "alice-1"}, "principalId"),
    ({**GOOD, "principalId": "a" * 129}, "principalId"),
    ({**GOOD, "principalId": 7}, "principalId"),
    ({**GOOD, "policyDocuments": _policy("*")}, "not a list"),
    ({**GOOD, "policyDocuments": [_policy("*")] * 11}, "more than 10"),
    ({**GOOD, "policyDocuments": [_policy(*[f"{ARN}:topic/{i:04}" for i in range(60)])]}, "2048"),
    ({**GOOD, "policyDocuments": ["{"]}, "bad policy"),
    ({**GOOD, "disconnectAfterInSeconds": 299}, "outside"),
    ({**GOOD, "disconnectAfterInSeconds": 86_401}, "outside"),
    ({**GOOD, "refreshAfterInSeconds": 100}, "outside"),
    ({**GOOD, "refreshAfterInSeconds": "300"}, "integer"),
    ({**GOOD, "disconnectAfterInSeconds": True}, "integer"),
]


@pytest.mark.parametrize(("answer", "reason"), BAD)
def test_bad_answers_refuse_the_connection(answer: Any, reason: str) -> None:
    verdict = read_response(answer)
    assert isinstance(verdict, Refused)
    assert reason in verdict.reason


def _authorizer(answer: Any, **config: Any) -> tuple[CustomAuthorizer, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    async def invoke(function: str, event: dict[str, Any]) -> Any:
        assert function == "AuthFn"
        seen.append(event)
        if isinstance(answer, Exception):
            raise answer
        if answer == "hang":
            await asyncio.Event().wait()
        return answer

    configs = {"Auth": AuthorizerConfig(**{**vars_of(CONFIG), **config})}
    return CustomAuthorizer(configs, invoke, "us-east-1", "123456789012", timeout_s=0.05), seen


def vars_of(config: AuthorizerConfig) -> dict[str, Any]:
    return {s: getattr(config, s) for s in config.__slots__}


def test_granted_connection_carries_principal_permissions_and_ttl() -> None:
    answer = {
        **GOOD,
        "policyDocuments": [_policy(f"{ARN}:client/${{iot:ClientId}}", f"{ARN}:topic/room/*")],
    }
    authorizer, seen = _authorizer(answer)
    result = asyncio.run(authorizer.authenticate(_request()))
    assert result.allowed
    assert result.principal == "alice1"
    assert result.disconnect_after_s == 3600.0
    assert result.refresh_after_s == 300  # when the broker asks again
    assert result.permissions.can_publish("room/lobby")
    assert not result.permissions.can_publish("desk/1")
    assert seen[0]["protocolData"]["mqtt"]["clientId"] == "alice-1"


@pytest.mark.parametrize(
    ("answer", "config"),
    [
        ({**GOOD, "policyDocuments": [_policy(f"{ARN}:topic/*")]}, {}),  # no iot:Connect
        ({**GOOD, "isAuthenticated": False}, {}),
        (RuntimeError("Unhandled"), {}),
        ("hang", {}),
        (GOOD, {"active": False}),
        (GOOD, {"signing_disabled": False}),
    ],
    ids=["no-connect", "not-authenticated", "function-error", "timeout", "inactive", "signing"],
)
def test_refusals_are_not_authorized(answer: Any, config: dict[str, Any]) -> None:
    authorizer, _seen = _authorizer(answer, **config)
    assert not asyncio.run(authorizer.authenticate(_request())).allowed


def test_an_unknown_authorizer_name_is_refused() -> None:
    authorizer, seen = _authorizer(GOOD)
    request = _request(username="u?x-amz-customauthorizer-name=Nope")
    assert not asyncio.run(authorizer.authenticate(request)).allowed
    assert seen == []
