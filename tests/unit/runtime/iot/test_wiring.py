"""The template's IoT resources in the broker's hooks: an authorizer replaces the open door, the
rules become the publish sink, and a failed function is an error the authorizer refuses on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hubbub.runtime.cloudformation import load_app
from hubbub.runtime.iot.authorizer import CustomAuthorizer
from hubbub.runtime.iot.hooks import NoRules, OpenDoor
from hubbub.runtime.iot.rules import RuleEngine
from hubbub.runtime.iot.service import IotCore
from hubbub.runtime.iot.wiring import FunctionFailed, wire_iot
from tests.unit.runtime.cloudformation.builders import fn, write


@dataclass
class _Result:
    ok: bool
    payload: Any


class _Pool:
    def __init__(self, result: _Result) -> None:
        self.result = result
        self.events: list[Any] = []

    async def invoke(self, event: Any) -> _Result:
        self.events.append(event)
        return self.result


IOT = {
    "Auth": {
        "Type": "AWS::IoT::Authorizer",
        "Properties": {
            "AuthorizerFunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]},
            "SigningDisabled": True,
        },
    },
    "Rule": {
        "Type": "AWS::IoT::TopicRule",
        "Properties": {
            "TopicRulePayload": {
                "Sql": "SELECT * FROM 'a'",
                "AwsIotSqlVersion": "2016-03-23",
                "Actions": [{"Lambda": {"FunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}}}],
            }
        },
    },
}


def test_without_iot_resources_the_door_stays_open(tmp_path: Path) -> None:
    spec = load_app(write(tmp_path, {"Fn": fn()}))
    iot = IotCore()
    wire_iot(iot, web.Application(), spec, {}, {"AKIA": "secret"})
    assert isinstance(iot.broker.hooks.authenticator, OpenDoor)
    assert isinstance(iot.broker.hooks.publish_sink, NoRules)


def test_authorizers_and_rules_are_plugged_in(tmp_path: Path) -> None:
    spec = load_app(write(tmp_path, {"Fn": fn(), **IOT}))
    iot = IotCore()
    app = web.Application()
    wire_iot(iot, app, spec, {"Fn": _Pool(_Result(True, {}))}, {"AKIA": "secret"})
    assert isinstance(iot.broker.hooks.authenticator, CustomAuthorizer)
    assert isinstance(iot.broker.hooks.publish_sink, RuleEngine)
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert {"/topics/{topic}", "/connections/{client_id}"} <= paths


def test_a_failed_function_raises_for_the_caller(tmp_path: Path) -> None:
    spec = load_app(write(tmp_path, {"Fn": fn(), **IOT}))
    iot = IotCore()
    pool = _Pool(_Result(False, {"errorType": "Boom"}))
    wire_iot(iot, web.Application(), spec, {"Fn": pool}, {"AKIA": "secret"})
    authorizer = iot.broker.hooks.authenticator
    assert isinstance(authorizer, CustomAuthorizer)
    with pytest.raises(FunctionFailed, match="Boom"):
        asyncio.run(authorizer.invoke("Fn", {"x": 1}))
    assert pool.events == [{"x": 1}]
