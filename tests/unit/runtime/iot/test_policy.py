"""IoT policies as a custom authorizer returns them.

*AWS IoT Core policy actions* / *action resources* (client/, topic/, topicfilter/ ARNs), *IoT
Core policy variables* (``${iot:ClientId}``, literal ``${*}``), *Publish/Subscribe policy
examples* ("Using wildcard characters in MQTT and AWS IoT Core policies": ``*`` and ``?`` are
the policy wildcards, ``+`` and ``#`` are plain characters)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubbub.runtime.iot.policy import PolicyContext, PolicyError, PolicySet, parse_policy

ARN = "arn:aws:iot:us-east-1:123456789012"
CTX = PolicyContext(region="us-east-1", account="123456789012", client_id="alice-1")


def _doc(*statements: tuple[str, Any, Any]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": e, "Action": a, "Resource": r} for e, a, r in statements],
        }
    )


def _set(*docs: str, ctx: PolicyContext = CTX) -> PolicySet:
    return PolicySet([parse_policy(d) for d in docs], ctx)


CASES: list[tuple[str, str, str, str, bool]] = [
    # (why, policy resource pattern, method, argument, allowed?)
    ("exact topic", f"{ARN}:topic/room/lobby", "publish", "room/lobby", True),
    ("other topic", f"{ARN}:topic/room/lobby", "publish", "room/other", False),
    ("star crosses levels (over-grant)", f"{ARN}:topic/room/*", "publish", "room/a/b/c", True),
    ("star needs the prefix", f"{ARN}:topic/room/*", "publish", "roomx", False),
    ("question mark is one char", f"{ARN}:topic/room/?", "publish", "room/a", True),
    ("question mark not two", f"{ARN}:topic/room/?", "publish", "room/ab", False),
    ("plus is literal in a topic", f"{ARN}:topic/room/+", "publish", "room/a", False),
    ("topicfilter plus is literal", f"{ARN}:topicfilter/room/+", "subscribe", "room/+", True),
    ("topicfilter plus not a name", f"{ARN}:topicfilter/room/+", "subscribe", "room/a", False),
    ("topicfilter star allows #", f"{ARN}:topicfilter/room/*", "subscribe", "room/#", True),
    ("topicfilter hash literal", f"{ARN}:topicfilter/room/#", "subscribe", "room/a", False),
    ("subscribe needs topicfilter", f"{ARN}:topic/room/a", "subscribe", "room/a", False),
    ("receive needs topic", f"{ARN}:topicfilter/room/a", "receive", "room/a", False),
    ("receive on topic", f"{ARN}:topic/room/a", "receive", "room/a", True),
    ("connect own client", f"{ARN}:client/alice-1", "connect", "alice-1", True),
    ("connect other client", f"{ARN}:client/alice-1", "connect", "alice-2", False),
    ("ClientId variable", f"{ARN}:client/${{iot:ClientId}}", "connect", "alice-1", True),
    ("ClientId variable other", f"{ARN}:client/${{iot:ClientId}}", "connect", "bob", False),
    (
        "variable in topic",
        f"{ARN}:topic/user/${{iot:ClientId}}/*",
        "publish",
        "user/alice-1/x",
        True,
    ),
    (
        "variable other user",
        f"{ARN}:topic/user/${{iot:ClientId}}/*",
        "publish",
        "user/bob/x",
        False,
    ),
    (
        "unresolved thing name",
        f"{ARN}:client/${{iot:Connection.Thing.ThingName}}",
        "connect",
        "alice-1",
        False,
    ),
    ("unknown variable", f"{ARN}:topic/${{iot:Nope}}", "publish", "", False),
    ("literal star variable", f"{ARN}:topic/a${{*}}", "publish", "a*", True),
    ("literal star not wildcard", f"{ARN}:topic/a${{*}}", "publish", "ab", False),
    (
        "IsAttached false for custom auth",
        f"{ARN}:topic/${{iot:Connection.Thing.IsAttached}}",
        "publish",
        "false",
        True,
    ),
    ("other region", "arn:aws:iot:eu-west-1:123456789012:topic/a", "publish", "a", False),
    ("other account", "arn:aws:iot:us-east-1:999999999999:topic/a", "publish", "a", False),
    ("wildcard region", "arn:aws:iot:*:*:topic/a", "publish", "a", True),
    ("resource star", "*", "publish", "anything/at/all", True),
    ("case-sensitive resource", f"{ARN}:topic/Room", "publish", "room", False),
    (
        "basic ingest topic",
        f"{ARN}:topic/$aws/rules/hubbub/*",
        "publish",
        "$aws/rules/hubbub/room/a",
        True,
    ),
]


@pytest.mark.parametrize(("why", "resource", "method", "arg", "allowed"), CASES)
def test_resource_matching(why: str, resource: str, method: str, arg: str, allowed: bool) -> None:
    policies = _set(_doc(("Allow", "iot:*", resource)))
    assert getattr(policies, f"can_{method}")(arg) is allowed, why


def test_a_client_id_holding_a_star_matches_only_itself() -> None:
    """Variables are inserted literally: a client named ``*`` gets no wildcard."""
    ctx = PolicyContext(region="us-east-1", account="123456789012", client_id="*")
    policies = _set(_doc(("Allow", "iot:Publish", f"{ARN}:topic/user/${{iot:ClientId}}")), ctx=ctx)
    assert policies.can_publish("user/*")
    assert not policies.can_publish("user/bob")


ACTION_CASES: list[tuple[Any, str, bool]] = [
    ("iot:*", "publish", True),
    ("iot:Publish", "publish", True),
    ("iot:Publish", "receive", False),
    ("iot:publish", "publish", True),  # action names compare case-insensitively
    ("iot:Pub*", "publish", True),
    (["iot:Connect", "iot:Receive"], "receive", True),
    (["iot:Connect", "iot:Receive"], "subscribe", False),
    ("*", "subscribe", True),
    ("iotdata:Publish", "publish", False),
]


@pytest.mark.parametrize(("action", "method", "allowed"), ACTION_CASES)
def test_action_matching(action: Any, method: str, allowed: bool) -> None:
    policies = _set(_doc(("Allow", action, "*")))
    assert getattr(policies, f"can_{method}")("x") is allowed


def test_default_deny() -> None:
    policies = _set(_doc(("Allow", "iot:Connect", "*")))
    assert policies.can_connect("c")
    assert not policies.can_publish("a")
    assert not policies.can_subscribe("a")
    assert not policies.can_receive("a")


def test_explicit_deny_wins_across_documents() -> None:
    allow = _doc(("Allow", "iot:*", f"{ARN}:topic/room/*"))
    deny = _doc(("Deny", "iot:Publish", f"{ARN}:topic/room/secret"))
    policies = _set(allow, deny)
    assert policies.can_publish("room/lobby")
    assert not policies.can_publish("room/secret")
    assert policies.can_receive("room/secret")  # the deny names Publish only


def test_deny_of_subtopics_does_not_deny_the_parent() -> None:
    """*Publish/Subscribe policy examples*: "deny publishing messages to subtopics"."""
    policies = _set(
        _doc(("Allow", "iot:Publish", f"{ARN}:topic/department/*")),
        _doc(("Deny", "iot:Publish", f"{ARN}:topic/department/admins/*")),
    )
    assert policies.can_publish("department/admins")
    assert not policies.can_publish("department/admins/ceo")
    assert policies.can_publish("department/sales/a")


def test_statement_may_be_a_single_object() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
    }
    assert PolicySet([parse_policy(doc)], CTX).can_publish("a")


BAD: list[tuple[Any, str]] = [
    ("{not json", "not JSON"),
    ("[]", "object"),
    (json.dumps({"Version": "2020-01-01", "Statement": []}), "Version"),
    (json.dumps({"Statement": []}), "Statement"),
    (
        json.dumps({"Statement": [{"Effect": "Maybe", "Action": "iot:*", "Resource": "*"}]}),
        "Effect",
    ),
    (json.dumps({"Statement": [{"Effect": "Allow", "Resource": "*"}]}), "Action"),
    (
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": []}]}),
        "Resource",
    ),
    (
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": [1]}]}),
        "Resource",
    ),
    (
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "iot:*", "NotResource": "x", "Resource": "*"}
                ]
            }
        ),
        "NotResource",
    ),
    (
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "iot:*", "Resource": "*", "Condition": {}}
                ]
            }
        ),
        "Condition",
    ),
]


@pytest.mark.parametrize(("document", "message"), BAD)
def test_bad_documents_are_refused_with_a_reason(document: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(document)
