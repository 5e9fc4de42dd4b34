"""The template's IoT resources plugged into the broker's hooks: its authorizers become the
``Authenticator``, its topic rules the ``PublishSink``; and the ``iot-data`` routes on the
serve port, where functions find them through ``AWS_ENDPOINT_URL_IOT_DATA_PLANE``.

Without ``AWS::IoT::Authorizer`` the broker keeps its open door (see ``hooks.OpenDoor``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from hubbub.runtime.cloudformation.specs import AppSpec
from hubbub.runtime.iot.authorizer import AuthorizerConfig, CustomAuthorizer
from hubbub.runtime.iot.dataplane import SIGNING_NAME, add_dataplane_routes
from hubbub.runtime.iot.rules import Rule, RuleEngine
from hubbub.runtime.sigv4 import SigV4Verifier

if TYPE_CHECKING:
    from hubbub.runtime.iot.service import IotCore

__all__ = ["FunctionFailed", "Pool", "dataplane_env", "wire_iot"]


class FunctionFailed(Exception):
    """The function returned an error (the authorizer then refuses, the rule logs it)."""


class _Result(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def payload(self) -> Any: ...


class Pool(Protocol):
    async def invoke(self, event: Any) -> _Result: ...


def dataplane_env(base_url: str) -> dict[str, str]:
    """How boto3 in a function finds the local data plane (the service's own endpoint
    variable, read by botocore since 1.31)."""
    return {"AWS_ENDPOINT_URL_IOT_DATA_PLANE": base_url}


def wire_iot(
    iot: IotCore,
    app: web.Application,
    spec: AppSpec,
    pools: Mapping[str, Pool],
    secrets: Mapping[str, str],
) -> None:
    async def invoke(function: str, event: Any) -> Any:
        result = await pools[function].invoke(event)
        if not result.ok:
            raise FunctionFailed(f"{function}: {result.payload}")
        return result.payload

    hooks = iot.broker.hooks
    if spec.iot_authorizers:
        configs = {
            name: AuthorizerConfig(
                name=name,
                function=a.function,
                signing_disabled=a.signing_disabled,
                token_key_name=a.token_key_name,
                active=a.active,
            )
            for name, a in spec.iot_authorizers.items()
        }
        hooks.authenticator = CustomAuthorizer(configs, invoke, spec.region, spec.account_id)
    if spec.topic_rules:
        rules = [
            Rule.from_text(r.name, r.sql, r.functions, disabled=r.disabled)
            for r in spec.topic_rules
        ]
        hooks.publish_sink = RuleEngine(rules, invoke)
    verifier = SigV4Verifier(secrets, SIGNING_NAME)
    add_dataplane_routes(app, iot.broker, verifier, iot.broker.quotas)
