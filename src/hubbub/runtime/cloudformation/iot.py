"""IoT Core's resources: ``AWS::IoT::Authorizer`` (the function called on each CONNECT),
``AWS::IoT::TopicRule`` and SAM's ``IoTRule`` events (a rule whose Lambda action invokes the
function). A rule's SQL is parsed here, so a rule the emulator cannot run fails at load.

Rule names: ``RuleName`` when given, else the logical id (CloudFormation generates a name, so a
template whose clients publish to a Basic Ingest topic names its rule). A SAM ``IoTRule`` event
becomes a rule named ``<Function><EventName>``, the logical id SAM gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.functions import function_events
from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.resources import active
from hubbub.runtime.cloudformation.specs import AppSpec, IotAuthorizerSpec, TopicRuleSpec
from hubbub.runtime.iot.rules import NOT_EMULATED_ACTIONS
from hubbub.runtime.iot.rulesql import RuleSqlError, parse_sql

__all__ = ["AUTHORIZER_TYPE", "IOT_RULE_EVENT", "IOT_TYPES", "TOPIC_RULE_TYPE", "read_iot"]

AUTHORIZER_TYPE = "AWS::IoT::Authorizer"
TOPIC_RULE_TYPE = "AWS::IoT::TopicRule"
IOT_TYPES = frozenset({AUTHORIZER_TYPE, TOPIC_RULE_TYPE})
IOT_RULE_EVENT = "IoTRule"
EMULATED_SQL_VERSION = "2016-03-23"
DEFAULT_SQL_VERSION = "2015-10-08"
"""``AwsIotSqlVersion``'s default in ``AWS::IoT::TopicRule`` (*TopicRulePayload*)."""


def read_iot(app: AppSpec, resources: Mapping[str, Any], resolver: Resolver) -> None:
    """Adds authorizers and rules to ``app``; its functions must have been read already."""
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind in IOT_TYPES and active(resource, resolver):
            props = resolver.resolve(resource.get("Properties") or {})
            if kind == AUTHORIZER_TYPE:
                spec = _authorizer(app, logical_id, props)
                app.iot_authorizers[spec.name] = spec
            else:
                _add_rule(app, _topic_rule(app, logical_id, props))
        for event_name, event in function_events(app, logical_id, resource):
            if event.get("Type") == IOT_RULE_EVENT:
                props = resolver.resolve(event.get("Properties") or {})
                _add_rule(app, _sam_rule(logical_id, event_name, props))


def _function_for_arn(app: AppSpec, arn: Any, where: str) -> str:
    for spec in app.functions.values():
        if str(arn) in (spec.arn, spec.name, spec.logical_id):
            return spec.logical_id
    raise TemplateError(f"{where}: {arn!r} names no function of this template")


def _authorizer(app: AppSpec, logical_id: str, props: Mapping[str, Any]) -> IotAuthorizerSpec:
    if "AuthorizerFunctionArn" not in props:
        raise TemplateError(f"{logical_id}: an authorizer needs AuthorizerFunctionArn")
    status = str(props.get("Status", "ACTIVE"))
    if status not in ("ACTIVE", "INACTIVE"):
        raise TemplateError(f"{logical_id}: Status must be ACTIVE or INACTIVE")
    signing_disabled = props.get("SigningDisabled", False)
    if not isinstance(signing_disabled, bool):
        raise TemplateError(f"{logical_id}: SigningDisabled must be true or false")
    token_key = props.get("TokenKeyName")
    if not signing_disabled:
        if not token_key:
            raise TemplateError(f"{logical_id}: a signing authorizer needs TokenKeyName")
        app.unsupported.append((logical_id, "IoT authorizer token signing (refuses all)"))
    return IotAuthorizerSpec(
        logical_id=logical_id,
        name=str(props.get("AuthorizerName") or logical_id),
        function=_function_for_arn(app, props["AuthorizerFunctionArn"], logical_id),
        signing_disabled=signing_disabled,
        token_key_name=None if token_key is None else str(token_key),
        active=status == "ACTIVE",
        enable_caching_for_http=bool(props.get("EnableCachingForHttp", False)),
    )


def _check_sql(sql: Any, where: str) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise TemplateError(f"{where}: a rule needs its Sql")
    try:
        parse_sql(sql)
    except RuleSqlError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    return sql


def _topic_rule(app: AppSpec, logical_id: str, props: Mapping[str, Any]) -> TopicRuleSpec:
    payload = props.get("TopicRulePayload")
    if not isinstance(payload, Mapping):
        raise TemplateError(f"{logical_id}: a topic rule needs TopicRulePayload")
    functions: list[str] = []
    skipped: list[str] = []
    actions = payload.get("Actions") or []
    if not isinstance(actions, list):
        raise TemplateError(f"{logical_id}: Actions must be a list")
    for action in actions:
        for name, config in (action or {}).items():
            if name == "Lambda":
                arn = (config or {}).get("FunctionArn")
                functions.append(_function_for_arn(app, arn, f"{logical_id}.Lambda"))
            elif name in NOT_EMULATED_ACTIONS:
                skipped.append(name)
            else:
                raise TemplateError(f"{logical_id}: unknown rule action {name}")
    if payload.get("ErrorAction"):
        skipped.append("ErrorAction")
    return TopicRuleSpec(
        logical_id=logical_id,
        name=str(props.get("RuleName") or logical_id),
        sql=_check_sql(payload.get("Sql"), logical_id),
        sql_version=str(payload.get("AwsIotSqlVersion") or DEFAULT_SQL_VERSION),
        functions=tuple(functions),
        disabled=bool(payload.get("RuleDisabled", False)),
        not_emulated=tuple(skipped),
    )


def _sam_rule(function: str, event_name: str, props: Mapping[str, Any]) -> TopicRuleSpec:
    where = f"{function}.{event_name}"
    return TopicRuleSpec(
        logical_id=where,
        name=f"{function}{event_name}",
        sql=_check_sql(props.get("Sql"), where),
        sql_version=str(props.get("AwsIotSqlVersion") or DEFAULT_SQL_VERSION),
        functions=(function,),
    )


def _add_rule(app: AppSpec, rule: TopicRuleSpec) -> None:
    if any(r.name == rule.name for r in app.topic_rules):
        raise TemplateError(f"{rule.logical_id}: a second rule named {rule.name}")
    app.topic_rules.append(rule)
    for action in rule.not_emulated:
        app.unsupported.append((rule.logical_id, f"IoT rule action {action}"))
    if rule.sql_version != EMULATED_SQL_VERSION:
        note = f"IoT SQL version {rule.sql_version} (evaluated as {EMULATED_SQL_VERSION})"
        app.unsupported.append((rule.logical_id, note))
