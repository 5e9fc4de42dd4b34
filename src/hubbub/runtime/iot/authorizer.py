"""IoT Core's custom authorizers: the event the authorizer's function receives, the checks on
what it answers, and the broker's ``Authenticator`` that calls it on each CONNECT (and again,
with the same credentials, every ``refreshAfterInSeconds`` of the connection).

The event has the fields the *Defining your Lambda function* page lists, and only those that
apply to the connection (``protocolData.mqtt`` always, ``protocolData.http`` over WebSocket,
``clientId`` only when the client sent one, the password base64-encoded). The answer must say
``isAuthenticated``, give a ``principalId`` of 1 to 128 letters and digits, at most 10 policy
documents of at most 2,048 characters each, and ``disconnectAfterInSeconds`` /
``refreshAfterInSeconds`` between 300 and 86,400 when present. Anything else — an error, a
timeout (IoT Core waits 5 s), a malformed answer, a policy IoT Core would not parse — refuses
the connection as IoT Core does: CONNACK "not authorized".

Token signing (``SigningDisabled: false``) is not emulated: without a key to verify the token
against, such an authorizer refuses every connection, and the reason says why.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from hubbub.runtime.iot.hooks import AuthResult, ConnectRequest
from hubbub.runtime.iot.policy import Policy, PolicyContext, PolicyError, PolicySet, parse_policy

__all__ = [
    "AUTHORIZER_TIMEOUT_S",
    "AuthorizerConfig",
    "CustomAuthorizer",
    "Granted",
    "Refused",
    "build_event",
    "read_response",
    "requested_authorizer",
]

log = logging.getLogger("hubbub.runtime.iot")

AUTHORIZER_TIMEOUT_S = 5.0
"""IoT Core's time limit on a custom authorizer's function."""
MAX_POLICY_DOCUMENTS = 10
MAX_POLICY_CHARS = 2048
"""IoT Core's size limit on one policy document (whitespace not counted)."""
TTL_RANGE = (300, 86_400)
_PRINCIPAL = re.compile(r"[A-Za-z0-9]{1,128}")
_NAME_PARAM = "x-amz-customauthorizer-name"


@dataclass(frozen=True, slots=True)
class AuthorizerConfig:
    """An ``AWS::IoT::Authorizer`` as the broker needs it."""

    name: str
    function: str
    """The logical id of the function ``AuthorizerFunctionArn`` names."""
    signing_disabled: bool = False
    token_key_name: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class Granted:
    principal_id: str
    policies: tuple[Policy, ...]
    disconnect_after_s: int = TTL_RANGE[1]
    refresh_after_s: int | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    """For the runtime's log only: the client is told "not authorized" and nothing more."""


def _query(request: ConnectRequest) -> dict[str, str]:
    return dict(parse_qsl(request.query_string, keep_blank_values=True)) or dict(request.query)


def _username_params(request: ConnectRequest) -> dict[str, str]:
    """Parameters a client passes in the MQTT username after ``?`` (the *Connecting to AWS IoT
    Core by using custom authentication* page's way to name the authorizer and the token)."""
    _user, sep, params = (request.username or "").partition("?")
    return dict(parse_qsl(params, keep_blank_values=True)) if sep else {}


def requested_authorizer(request: ConnectRequest) -> str | None:
    """The authorizer a client names with ``x-amz-customauthorizer-name`` (header, query
    string or username), or None for the endpoint's default."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    return (
        headers.get(_NAME_PARAM)
        or _query(request).get(_NAME_PARAM)
        or _username_params(request).get(_NAME_PARAM)
    )


def _token(request: ConnectRequest, key: str | None) -> str | None:
    if not key:
        return None
    headers = {k.lower(): v for k, v in request.headers.items()}
    return (
        headers.get(key.lower()) or _query(request).get(key) or _username_params(request).get(key)
    )


def build_event(request: ConnectRequest, config: AuthorizerConfig) -> dict[str, Any]:
    """The authorizer's event for one CONNECT, as IoT Core builds it."""
    websocket = request.transport == "websocket"
    mqtt: dict[str, Any] = {}
    if request.username is not None:
        mqtt["username"] = request.username
    if request.password is not None:
        mqtt["password"] = base64.b64encode(request.password).decode()
    if request.client_id:
        mqtt["clientId"] = request.client_id
    protocol_data: dict[str, Any] = {"mqtt": mqtt}
    if websocket:
        query = request.query_string
        protocol_data["http"] = {
            "headers": dict(request.headers),
            "queryString": f"?{query}" if query else "",
        }
    event: dict[str, Any] = {}
    token = _token(request, config.token_key_name)
    if token is not None:
        event["token"] = token
    event["signatureVerified"] = False
    event["protocols"] = ["http", "mqtt"] if websocket else ["mqtt"]
    event["protocolData"] = protocol_data
    event["connectionMetadata"] = {"id": request.connection_id}
    return event


def _ttl(answer: Mapping[str, Any], key: str) -> int | Refused | None:
    value = answer.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return Refused(f"{key} is not an integer")
    low, high = TTL_RANGE
    if not low <= value <= high:
        return Refused(f"{key} {value} is outside {low}..{high}")
    return value


def _policies(raw: Any) -> tuple[Policy, ...] | Refused:
    if not isinstance(raw, list):
        return Refused("policyDocuments is not a list")
    if len(raw) > MAX_POLICY_DOCUMENTS:
        return Refused(f"more than {MAX_POLICY_DOCUMENTS} policy documents")
    found: list[Policy] = []
    for document in raw:
        text = document if isinstance(document, str) else json.dumps(document)
        if len("".join(text.split())) > MAX_POLICY_CHARS:
            return Refused(f"a policy document is longer than {MAX_POLICY_CHARS} characters")
        try:
            found.append(parse_policy(document))
        except PolicyError as exc:
            return Refused(f"bad policy document: {exc}")
    return tuple(found)


def read_response(answer: Any) -> Granted | Refused:
    """What the authorizer's function returned, checked as IoT Core checks it."""
    if not isinstance(answer, Mapping):
        return Refused("the answer is not a JSON object")
    authenticated = answer.get("isAuthenticated")
    if not isinstance(authenticated, bool):
        return Refused("isAuthenticated is missing or not a boolean")
    if not authenticated:
        return Refused("isAuthenticated is false")
    principal = answer.get("principalId")
    if not isinstance(principal, str) or not _PRINCIPAL.fullmatch(principal):
        return Refused("principalId is not 1 to 128 letters and digits")
    policies = _policies(answer.get("policyDocuments"))
    if isinstance(policies, Refused):
        return policies
    disconnect = _ttl(answer, "disconnectAfterInSeconds")
    refresh = _ttl(answer, "refreshAfterInSeconds")
    if isinstance(disconnect, Refused):
        return disconnect
    if isinstance(refresh, Refused):
        return refresh
    return Granted(principal, policies, disconnect or TTL_RANGE[1], refresh)


class Invoke(Protocol):
    def __call__(self, function: str, event: dict[str, Any]) -> Awaitable[Any]:
        """The function's return value; raises when the invocation failed."""
        ...


@dataclass(slots=True)
class CustomAuthorizer:
    """The broker's ``Authenticator`` when the template has ``AWS::IoT::Authorizer``s: the one
    the client names, else the first (the endpoint's default authorizer)."""

    authorizers: Mapping[str, AuthorizerConfig]
    invoke: Invoke
    region: str
    account: str
    timeout_s: float = AUTHORIZER_TIMEOUT_S

    def _choose(self, request: ConnectRequest) -> AuthorizerConfig | Refused:
        wanted = requested_authorizer(request)
        if wanted is not None:
            config = self.authorizers.get(wanted)
            if config is None:
                return Refused(f"no authorizer named {wanted!r}")
        else:
            config = next(iter(self.authorizers.values()), None)
            if config is None:
                return Refused("no authorizer")
        if not config.active:
            return Refused(f"authorizer {config.name} is INACTIVE")
        if not config.signing_disabled:
            return Refused(f"authorizer {config.name}: token signing is not emulated")
        return config

    async def decide(self, request: ConnectRequest) -> Granted | Refused:
        config = self._choose(request)
        if isinstance(config, Refused):
            return config
        event = build_event(request, config)
        try:
            answer = await asyncio.wait_for(
                self.invoke(config.function, event), timeout=self.timeout_s
            )
        except TimeoutError:
            return Refused(f"authorizer {config.name} took longer than {self.timeout_s:g} s")
        except Exception as exc:  # the function failed: IoT Core refuses the connection
            return Refused(f"authorizer {config.name} failed: {exc}")
        return read_response(answer)

    async def authenticate(self, request: ConnectRequest) -> AuthResult:
        verdict = await self.decide(request)
        if isinstance(verdict, Refused):
            log.info("MQTT CONNECT %s refused: %s", request.connection_id, verdict.reason)
            return AuthResult(False)
        context = PolicyContext(self.region, self.account, request.client_id)
        permissions = PolicySet(verdict.policies, context)
        if not permissions.can_connect(request.client_id):
            log.info("MQTT CONNECT %s refused: no iot:Connect", request.connection_id)
            return AuthResult(False)
        return AuthResult(
            True,
            principal=verdict.principal_id,
            permissions=permissions,
            disconnect_after_s=float(verdict.disconnect_after_s),
            refresh_after_s=verdict.refresh_after_s,
        )
