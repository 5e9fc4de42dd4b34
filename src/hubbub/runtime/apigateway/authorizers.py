"""Lambda REQUEST authorizers on ``$connect``, as API Gateway runs them.

Missing identity sources answer 401 without invoking the function; the returned IAM policy is
evaluated against the route's method ARN (explicit Deny wins); the policy's ``context`` (and
``principalId``, ``integrationLatency``) becomes ``requestContext.authorizer`` of every later event.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hubbub.runtime.apigateway.events import ConnectionInfo, connect_event
from hubbub.runtime.awsids import extended_request_id
from hubbub.runtime.cloudformation import AuthorizerSpec
from hubbub.runtime.lambda_.pool import FunctionPool

__all__ = ["AuthorizerResult", "policy_allows", "run_authorizer"]


@dataclass(frozen=True, slots=True)
class AuthorizerResult:
    allowed: bool
    status: int = 200
    message: str = ""
    context: dict[str, Any] | None = None


def _missing_source(
    sources: Sequence[str], headers: Sequence[tuple[str, str]], query: Sequence[tuple[str, str]]
) -> bool:
    header_names = {k.lower() for k, v in headers if v}
    query_names = {k for k, v in query if v}
    for source in sources:
        if source.startswith("route.request.header."):
            if source.split(".", 3)[3].lower() not in header_names:
                return True
        elif source.startswith("route.request.querystring.") and (
            source.split(".", 3)[3] not in query_names
        ):
            return True
    return False


def policy_allows(policy: Any, method_arn: str) -> bool:
    if not isinstance(policy, dict):
        return False
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        resources = statement.get("Resource") or []
        if isinstance(resources, str):
            resources = [resources]
        if not any(fnmatch.fnmatchcase(method_arn, str(r)) for r in resources):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


async def run_authorizer(
    spec: AuthorizerSpec,
    pool: FunctionPool,
    info: ConnectionInfo,
    *,
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]],
    request: web.Request,
    limit_bytes: int,
) -> AuthorizerResult:
    if _missing_source(spec.identity_sources, headers, query):
        return AuthorizerResult(False, 401, "Unauthorized")
    region = pool.spec.arn.split(":")[3]
    account = pool.spec.arn.split(":")[4]
    method_arn = f"arn:aws:execute-api:{region}:{account}:{info.api_id}/{info.stage}/$connect"
    base = connect_event(
        info, headers=headers, query=query, rid=extended_request_id(), now_ms=info.connected_at
    )
    event: dict[str, Any] = {"type": "REQUEST", "methodArn": method_arn, **base}
    event["stageVariables"] = {}
    started = time.perf_counter()
    result = await pool.invoke(event)
    latency = int((time.perf_counter() - started) * 1000)
    if not result.ok:
        if (
            isinstance(result.payload, dict)
            and result.payload.get("errorMessage") == "Unauthorized"
        ):
            return AuthorizerResult(False, 401, "Unauthorized")
        return AuthorizerResult(False, 500, "Internal server error")
    payload = result.payload
    if not isinstance(payload, dict) or len(json.dumps(payload)) > limit_bytes:
        return AuthorizerResult(False, 500, "Internal server error")
    if not policy_allows(payload.get("policyDocument"), method_arn):
        return AuthorizerResult(False, 403, "Forbidden")
    context = payload.get("context") or {}
    if not isinstance(context, dict) or any(isinstance(v, dict | list) for v in context.values()):
        return AuthorizerResult(False, 500, "Internal server error")
    return AuthorizerResult(
        True,
        context={
            **context,
            "principalId": payload.get("principalId"),
            "integrationLatency": latency,
        },
    )
