"""Reading IoT Core's resources (``cloudformation.iot``).

CloudFormation's ``AWS::IoT::Authorizer`` (AuthorizerFunctionArn, AuthorizerName,
SigningDisabled, TokenKeyName, Status, EnableCachingForHttp) and ``AWS::IoT::TopicRule``
(RuleName, TopicRulePayload: Sql, AwsIotSqlVersion — default 2015-10-08 —, RuleDisabled,
Actions, ErrorAction); SAM's ``IoTRule`` event (Sql, AwsIotSqlVersion)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation import TemplateError, load_app
from tests.unit.runtime.cloudformation.builders import fn, write


def _authorizer(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::IoT::Authorizer",
        "Properties": {"AuthorizerFunctionArn": {"Fn::GetAtt": ["AuthFn", "Arn"]}, **props},
    }


def _rule(sql: str = "SELECT * FROM 'room/+'", **payload: Any) -> dict[str, Any]:
    actions = payload.pop(
        "Actions", [{"Lambda": {"FunctionArn": {"Fn::GetAtt": ["SendFn", "Arn"]}}}]
    )
    return {
        "Type": "AWS::IoT::TopicRule",
        "Properties": {
            "RuleName": "hubbub",
            "TopicRulePayload": {
                "Sql": sql,
                "AwsIotSqlVersion": "2016-03-23",
                "Actions": actions,
                **payload,
            },
        },
    }


def _load(tmp_path: Path, **resources: Any) -> Any:
    return load_app(write(tmp_path, {"AuthFn": fn(), "SendFn": fn(), **resources}))


def test_an_authorizer(tmp_path: Path) -> None:
    app = _load(
        tmp_path,
        Auth=_authorizer(AuthorizerName="chat", SigningDisabled=True, EnableCachingForHttp=True),
    )
    spec = app.iot_authorizers["chat"]
    assert (spec.logical_id, spec.function, spec.signing_disabled, spec.active) == (
        "Auth",
        "AuthFn",
        True,
        True,
    )
    assert spec.enable_caching_for_http is True
    assert not [u for u in app.unsupported if u[0] == "Auth"]


def test_a_signing_authorizer_is_listed_as_not_emulated(tmp_path: Path) -> None:
    app = _load(tmp_path, Auth=_authorizer(TokenKeyName="token", Status="INACTIVE"))
    spec = app.iot_authorizers["Auth"]
    assert (spec.signing_disabled, spec.token_key_name, spec.active) == (False, "token", False)
    assert ("Auth", "IoT authorizer token signing (refuses all)") in app.unsupported


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"Type": "AWS::IoT::Authorizer", "Properties": {}}, "AuthorizerFunctionArn"),
        (
            _authorizer(SigningDisabled=True, AuthorizerFunctionArn="arn:aws:lambda:x"),
            "names no function",
        ),
        (_authorizer(SigningDisabled=True, Status="ON"), "Status"),
        (_authorizer(SigningDisabled="yes"), "SigningDisabled"),
        (_authorizer(), "TokenKeyName"),
        (_rule("SELECT * FROM"), "FROM"),
        (_rule(""), "Sql"),
        (_rule(Actions=[{"Teleport": {}}]), "unknown rule action"),
        ({"Type": "AWS::IoT::TopicRule", "Properties": {}}, "TopicRulePayload"),
    ],
)
def test_bad_resources_fail_at_load(tmp_path: Path, resource: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _load(tmp_path, Thing=resource)


def test_a_topic_rule(tmp_path: Path) -> None:
    app = _load(
        tmp_path,
        Rule=_rule(
            "SELECT *, topic(2) AS room FROM 'room/+'",
            RuleDisabled=True,
            Actions=[
                {"Lambda": {"FunctionArn": {"Fn::GetAtt": ["SendFn", "Arn"]}}},
                {"Republish": {"Topic": "x", "RoleArn": "arn:aws:iam::1:role/r"}},
            ],
            ErrorAction={"Sqs": {"QueueUrl": "q", "RoleArn": "r"}},
        ),
    )
    (rule,) = app.topic_rules
    assert (rule.name, rule.functions, rule.disabled, rule.sql_version) == (
        "hubbub",
        ("SendFn",),
        True,
        "2016-03-23",
    )
    assert ("Rule", "IoT rule action Republish") in app.unsupported
    assert ("Rule", "IoT rule action ErrorAction") in app.unsupported
    assert not [u for u in app.unsupported if "AWS::IoT" in u[1]]


def test_a_rule_without_a_version_is_listed(tmp_path: Path) -> None:
    resource = _rule()
    del resource["Properties"]["TopicRulePayload"]["AwsIotSqlVersion"]
    del resource["Properties"]["RuleName"]
    app = _load(tmp_path, Rule=resource)
    assert app.topic_rules[0].name == "Rule"
    assert ("Rule", "IoT SQL version 2015-10-08 (evaluated as 2016-03-23)") in app.unsupported


def test_a_sam_iot_rule_event(tmp_path: Path) -> None:
    event = {
        "Type": "IoTRule",
        "Properties": {"Sql": "SELECT * FROM 'a/#'", "AwsIotSqlVersion": "2016-03-23"},
    }
    app = load_app(write(tmp_path, {"Fn": fn(Events={"Ingest": event})}))
    (rule,) = app.topic_rules
    assert (rule.logical_id, rule.name, rule.functions, rule.sql) == (
        "Fn.Ingest",
        "FnIngest",
        ("Fn",),
        "SELECT * FROM 'a/#'",
    )
    assert not [u for u in app.unsupported if u[0] == "Fn.Ingest"]


def test_two_rules_with_one_name_fail(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="second rule"):
        _load(tmp_path, A=_rule(), B=_rule())
